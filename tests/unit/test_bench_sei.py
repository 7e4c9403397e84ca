"""benchmarks/bench_sei.py: the executed-FLOP count follows the trunk genofm runs, on either CPU engine."""

from __future__ import annotations

import pytest

from genofm.testing.tiny_sei import random_sei


@pytest.fixture()
def bench(benchmark_script):
    return benchmark_script("bench_sei")


def test_executed_flops_count_winograd_products_on_both_engines(bench, monkeypatch):
    """Both engines run the same Winograd products, so the count is the same and below the plain trunk's."""
    from genofm.backbones import sei_fastpath

    monkeypatch.setattr(sei_fastpath, "NARROW_INPUT", 1)  # Winograd on the tiny Sei's narrow layers too
    model = random_sei()
    counts = {}
    for vendor in ("GenuineIntel", "AuthenticAMD"):
        monkeypatch.setattr(sei_fastpath, "_cpu_vendor", lambda vendor=vendor: vendor)
        counts[vendor] = bench.executed_trunk_flops(model, 512)
    plain = bench.reference_flops_trunk(model, 512)
    assert counts["GenuineIntel"] == counts["AuthenticAMD"]
    assert counts["GenuineIntel"] < plain
