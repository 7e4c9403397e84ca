"""Keeping freed memory in the process heap, so that each forward pass does not fault its pages in again.

PyTorch's CPU allocator hands every tensor to the C library's ``malloc`` and ``free``. glibc
returns the free top of its heap to the system once it exceeds a trim threshold, and serves large
blocks by ``mmap`` (unmapped again on ``free``); both thresholds adapt upwards only up to 32 MB
on 64-bit systems. A model's forward pass frees and allocates the same few-MB activations layer
after layer, so with the defaults the memory went back to the kernel and came back as fresh pages,
each a page fault and a page of zeroing. SpliceAI embedding 32 sequences of 300 bp (one thread,
AMD EPYC, 2026-12-02, three processes each, alternating): 1.73-2.16 s per call with glibc's
defaults (7,700-308,000 page faults per call) against 1.63-1.75 s with the memory kept (~1,600
faults); two 1-kb sequences: 0.19-0.21 s (~20,000 faults) against 0.17 s; at 10 kb no difference
beyond the spread between processes (+-10%); peak RSS 0.86-0.96 GB either way. TensorFlow, and
so the official Keras SpliceAI, keeps its own pool (the BFC allocator).

:func:`keep_freed_memory` sets fixed thresholds with glibc's ``mallopt`` (which also turns the
adaptation off): the heap keeps up to ``TRIM_THRESHOLD`` of free memory instead of returning it,
and blocks up to ``MMAP_THRESHOLD`` come from the heap. The peak memory is unchanged (the same
tensors are live at the peak); what changes is that the process keeps its peak until it ends, as
the genofm tools, which run one job and exit, can. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: free heap memory kept instead of being returned to the system
TRIM_THRESHOLD = 1 << 30
#: blocks from this size up are mapped (and unmapped when freed) on their own: glibc's largest
#: adaptive value, so that only rare very large tensors go back to the system when freed
MMAP_THRESHOLD = 32 << 20


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds for a process that runs models; True if they were set."""
    try:  # glibc answers this without reading any file (platform.libc_ver scans the interpreter binary)
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (AttributeError, ValueError, OSError):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
