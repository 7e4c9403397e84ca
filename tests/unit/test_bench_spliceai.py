"""benchmarks/bench_spliceai.py: without TensorFlow the Keras reference says so instead of failing."""

from __future__ import annotations

import importlib.util
import sys

import pytest


@pytest.fixture()
def bench(benchmark_script):
    return benchmark_script("bench_spliceai")


def test_keras_reference_without_tensorflow_says_why(bench, tmp_path):
    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is importable here; the missing-reference path cannot be shown")
    session, message = bench.KerasSession.start(sys.executable, tmp_path, ["ACGT"], threads=1)
    assert session is None
    assert message.startswith("Keras reference not available") and "tensorflow" in message.lower()


def test_keras_reference_with_a_missing_interpreter(bench, tmp_path):
    session, message = bench.KerasSession.start(str(tmp_path / "no-python"), tmp_path, ["ACGT"], threads=1)
    assert session is None and "not available" in message


def test_keras_session_interleaves_runs_and_stops_on_request(bench, tmp_path, monkeypatch):
    """The session protocol (request, ready, run, done) against a stand-in timer: one timing per
    run, the best of them kept, the last run's probabilities returned, and the process ended."""
    timer = tmp_path / "spliceai_keras_timer.py"
    timer.write_text(
        "import json, sys\n"
        "request = json.loads(sys.stdin.readline())\n"
        "print(json.dumps({'ready': True, 'tensorflow': 'stand-in'}), flush=True)\n"
        "walls = iter([3.0, 1.5, 2.0])\n"
        "for line in sys.stdin:\n"
        "    if line.strip() == 'run':\n"
        "        wall = next(walls)\n"
        "        print(json.dumps({'wall': wall, 'cpu': wall + 0.1}), flush=True)\n"
        "    elif line.strip() == 'done':\n"
        "        print(json.dumps({'probabilities': [[[0.5, 0.25]] * len(s) for s in request['sequences']]}), flush=True)\n"
        "        break\n"
    )
    monkeypatch.setattr(bench, "__file__", str(tmp_path / "bench_spliceai.py"))
    session, message = bench.KerasSession.start(sys.executable, tmp_path, ["ACG"], threads=1)
    assert session is not None and message == "official Keras models"
    for _ in range(3):
        session.run()
    answer = session.finish()
    assert answer["wall"] == 1.5 and answer["cpu"] == pytest.approx(1.6) and answer["tensorflow"] == "stand-in"
    assert answer["probabilities"] == [[[0.5, 0.25]] * 3]
    assert session.process.returncode == 0


def _weights():
    from genofm.backbones.spliceai import default_weights_dir

    return [default_weights_dir() / f"spliceai{i}.h5" for i in range(1, 6)]


@pytest.mark.needs_resources(*_weights(), reason="official SpliceAI weights")
def test_benchmark_checks_accuracy_against_float64(bench, tmp_path, capsys):
    """One short run: every row carries genofm's and the float32 reference's error from the float64
    features, and genofm's stays within the 1e-5 target (its float32 rounding, not a formula slip)."""
    import json

    out = tmp_path / "bench.json"
    bench.main(["--lengths", "100", "--threads", "1", "--n", "1", "--repeats", "1", "--json", str(out)])
    (row,) = json.loads(out.read_text())["rows"]
    assert 0 < row["max_diff_vs_float64"] <= 1e-5
    assert 0 < row["reference_max_diff_vs_float64"] < 1e-4
    assert "max|diff| from float64" in capsys.readouterr().out
