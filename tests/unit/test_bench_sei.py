"""benchmarks/bench_sei.py: the executed-FLOP count follows the trunk genofm runs, on either CPU engine."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from genofm.testing.tiny_sei import random_sei

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture()
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports its sibling roofline.py
    spec = importlib.util.spec_from_file_location("bench_sei", BENCHMARKS / "bench_sei.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
