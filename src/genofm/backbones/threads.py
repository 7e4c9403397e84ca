"""Parallel CPU inference as independent single-threaded tasks instead of PyTorch intra-op threads.

PyTorch parallelises each operator over its intra-op threads (OpenMP) and joins them at the end
of every operator. For convolutions of modest size, and on a shared machine where any thread may
be descheduled, the joins dominate: threads spin while waiting and CPU time grows faster than
the work (measured on SpliceAI: 2.5-7x the CPU time at 2 threads than at 1 for the same work).
Independent tasks (models, batch slices) run in Python threads with one intra-op thread each
never wait for each other; the kernels release the GIL, so they run in parallel.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from typing import Callable, Iterator, Sequence, TypeVar

import torch

T = TypeVar("T")


def cpu_workers(device: torch.device | str) -> int:
    """How many single-threaded tasks to run at once: torch's thread setting on CPU, else 1."""
    return torch.get_num_threads() if torch.device(device).type == "cpu" else 1


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``threads`` inside the block, the caller's restored after."""
    before = torch.get_num_threads()
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_tasks(tasks: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """Run ``tasks`` in order of submission on ``workers`` threads of one intra-op thread each.

    Results come back in task order. With one worker (or one task) the tasks run here, in turn.
    The workers inherit the caller's grad mode, inference mode and CPU autocast.
    The caller's thread setting (``torch.get_num_threads()`` at the call, which need not equal
    ``workers``) is restored afterwards (a worker's ``set_num_threads`` also reaches process-wide
    pools such as MKL's).
    """
    if workers <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    caller_threads = torch.get_num_threads()

    # grad mode, inference mode and autocast are per thread: carry the caller's into the workers
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()
    cast, cast_dtype = torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")

    def single_threaded(task: Callable[[], T]) -> T:
        torch.set_num_threads(1)
        with torch.inference_mode(inference), torch.set_grad_enabled(grad), torch.autocast("cpu", cast_dtype, enabled=cast):
            return task()

    try:
        with concurrent.futures.ThreadPoolExecutor(min(workers, len(tasks)), thread_name_prefix="genofm-cpu") as pool:
            return list(pool.map(single_threaded, tasks))
    finally:
        torch.set_num_threads(caller_threads)
