"""Distance to the machine's limit, shared by the benchmark scripts.

A benchmark's speed-up over a reference says nothing about how much is left; the fraction of
the machine's peak does. The peak is measured, not looked up: the best rate of a large square
matmul (fp32, or bf16 on a GPU) in the same process, right before the workloads, with the same
thread count. FLOPs are counted from each architecture (2 per multiply-add), so the fraction is
``flops_per_sequence * sequences / seconds / peak``. The machine's load average is printed with
every figure because on a shared machine the absolute rates move with it (the ratios much less).
"""

from __future__ import annotations

import os
import time

import torch


def load_average() -> str:
    """``uptime``'s three load averages and the CPU count, e.g. ``load 3.1 2.8 2.0 on 2 CPUs``."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def matmul_peak(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, size: int = 0, repeats: int = 5) -> float:
    """Best FLOP/s of an ``n x n @ n x n`` matmul (n = 2048 on CPU, 8192 on GPU)."""
    device = torch.device(device)
    n = size or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):  # the first call warms up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best


def conv1d_flops(conv: torch.nn.Conv1d, length_out: int) -> int:
    """FLOPs of one Conv1d producing ``length_out`` positions per sequence (bias adds not counted)."""
    return 2 * conv.in_channels // conv.groups * conv.out_channels * conv.kernel_size[0] * length_out


def describe(flops_per_item: float, items: float, seconds: float, peak: float) -> str:
    """``12.3 GFLOP/s = 0.41 of peak`` for ``items`` of ``flops_per_item`` in ``seconds``."""
    rate = flops_per_item * items / seconds
    return f"{rate / 1e9:.1f} GFLOP/s = {rate / peak:.2f} of peak"
