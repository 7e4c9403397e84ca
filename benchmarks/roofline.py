"""Distance to the machine's limit, shared by the benchmark scripts.

A benchmark's speed-up over a reference says nothing about how much is left; the fraction of
the machine's peak does. The peak is measured, not looked up: the best rate of a large square
matmul (fp32, or bf16 on a GPU) and, on a CPU, of a large convolution (oneDNN) in the same
process, right before the workloads, with the same thread count, per wall-clock second and per
CPU-second (the second is what a loaded shared machine leaves steady). The convolution is there
because the two libraries need not reach the same rate: on the AMD EPYC (AVX-512) machine of
2026-12-02 MKL's matmul ran at ~100 GFLOP/s on one thread and oneDNN's convolutions at ~230, so a
matmul-only peak made the full-length SpliceAI reference "1.9x the peak". FLOPs are counted from
each architecture (2 per multiply-add), so the fraction is
``flops_per_sequence * sequences / seconds / peak``. The machine's load average is printed with
every figure because on a shared machine the absolute rates move with it (the ratios much less).
"""

from __future__ import annotations

import dataclasses
import os
import time

import torch


def load_average() -> str:
    """``uptime``'s three load averages and the CPU count, e.g. ``load 3.1 2.8 2.0 on 2 CPUs``."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


@dataclasses.dataclass
class Peak:
    """The best measured rate, per wall-clock second and per CPU-second (all threads summed), and what reached it."""

    wall: float
    cpu: float
    source: str = "matmul"

    def __str__(self) -> str:
        return f"{self.wall / 1e9:.1f} GFLOP/s wall, {self.cpu / 1e9:.1f} GFLOP per CPU-second ({self.source})"


def _best_rate(run, flops: float, repeats: int, cuda: bool) -> tuple[float, float]:
    """``flops`` over the best wall and CPU seconds of ``repeats`` calls of ``run`` after one warm-up."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats + 1):  # the first call warms up
        if cuda:
            torch.cuda.synchronize()
        start, cpu = time.perf_counter(), time.process_time()
        run()
        if cuda:
            torch.cuda.synchronize()
        best_wall = min(best_wall, time.perf_counter() - start)
        best_cpu = min(best_cpu, max(time.process_time() - cpu, 1e-9))
    return flops / best_wall, (flops / best_cpu if not cuda else flops / best_wall)


def machine_peak(device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, size: int = 0, repeats: int = 5) -> Peak:
    """Best rate of an ``n x n @ n x n`` matmul (n = 2048 on CPU, 8192 on GPU) and, on CPU, of a
    128-channel, 9-tap convolution over 8,192 positions (channels-last: oneDNN's direct kernel).

    On a shared CPU the wall-clock rate is this process's share of the machine at that moment;
    the rate per CPU-second is steadier (it only moves with cache and memory contention), so
    the benchmarks report the fraction of both.
    """
    device = torch.device(device)
    cuda = device.type == "cuda"
    n = size or (8192 if cuda else 2048)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    wall, cpu = _best_rate(lambda: torch.matmul(a, b, out=out), 2.0 * n**3, repeats, cuda)
    peak = Peak(wall, cpu, f"fp32 {n}^3 matmul" if dtype == torch.float32 else f"{dtype} {n}^3 matmul")
    if device.type == "cpu":
        channels, width, taps = 128, 8192, 9
        x = torch.randn(1, channels, 1, width, dtype=dtype).contiguous(memory_format=torch.channels_last)
        w = torch.randn(channels, channels, 1, taps, dtype=dtype).contiguous(memory_format=torch.channels_last)
        flops = 2.0 * channels * channels * taps * (width - taps + 1)
        conv_wall, conv_cpu = _best_rate(lambda: torch.nn.functional.conv2d(x, w), flops, repeats, False)
        if conv_cpu > peak.cpu:
            peak = Peak(max(wall, conv_wall), conv_cpu, f"{channels}-channel {taps}-tap convolution; the {n}^3 matmul: {cpu / 1e9:.1f}")
    return peak


def conv1d_flops(conv: torch.nn.Conv1d, length_out: int) -> int:
    """FLOPs of one Conv1d producing ``length_out`` positions per sequence (bias adds not counted)."""
    return 2 * conv.in_channels // conv.groups * conv.out_channels * conv.kernel_size[0] * length_out


def describe(flops_per_item: float, items: float, seconds: float, peak: Peak, cpu_seconds: float | None = None) -> str:
    """``12.3 GFLOP/s = 0.41 of peak`` (wall) and, given CPU seconds, the same per CPU-second."""
    rate = flops_per_item * items / seconds
    text = f"{rate / 1e9:.1f} GFLOP/s = {rate / peak.wall:.2f} of peak"
    if cpu_seconds:
        per_cpu = flops_per_item * items / cpu_seconds
        text += f"; {per_cpu / 1e9:.1f} GFLOP/CPU-s = {per_cpu / peak.cpu:.2f} of peak"
    return text


#: pause before each timed run, so that the previous runner's idle OpenMP workers stop spinning
#: outside the next one's CPU time (see :func:`best_times`)
SETTLE_SECONDS = 0.2


def best_times(runners: dict, repeats: int, warm_up: bool = True) -> dict:
    """Best wall and CPU seconds of each runner and its last output: ``{key: (wall, cpu, out)}``.

    Repeats are interleaved with the order rotated, so that every implementation shares the
    machine's load alike (timing one after the other lets a change in load pass for a speed-up).
    Each timed run starts ``SETTLE_SECONDS`` after the previous one: right after a multi-threaded
    runner, its idle workers were still charged to the process, and SpliceAI's single-threaded
    300-bp batch, timed next, read 1.28x the CPU time it takes alone (1.00 with the pause).
    """
    keys = list(runners)
    outs = {key: runners[key]() for key in keys} if warm_up else dict.fromkeys(keys)
    best = {key: [float("inf"), float("inf")] for key in keys}
    for repeat in range(repeats):
        for key in keys[repeat % len(keys):] + keys[: repeat % len(keys)]:
            time.sleep(SETTLE_SECONDS)
            wall, cpu = time.perf_counter(), time.process_time()
            outs[key] = runners[key]()
            best[key][0] = min(best[key][0], time.perf_counter() - wall)
            best[key][1] = min(best[key][1], time.process_time() - cpu)
    return {key: (best[key][0], best[key][1], outs[key]) for key in keys}
