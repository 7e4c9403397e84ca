"""The ``genofm`` umbrella dispatches to each tool's own command line."""

from __future__ import annotations

import subprocess

import pytest

from genofm import __version__
from genofm.cli.main import TOOLS, main
from conftest import console_script
from test_train_fixtures import run_tool


def test_umbrella_help_lists_the_five_tools(monkeypatch, capsys):
    code, out, _ = run_tool(main, ["--help"], monkeypatch, capsys)
    assert code == 0
    for tool in ("prepare", "embed", "train", "predict", "interpret"):
        assert tool in out
    assert set(TOOLS) == {"prepare", "embed", "train", "predict", "interpret"}


def test_genofm_train_help_is_the_train_tools_help(monkeypatch, capsys):
    code, out, _ = run_tool(main, ["train", "--help"], monkeypatch, capsys)
    assert code == 0
    assert "Usage: genofm train" in out and "--embeddings" in out and "--finetune" in out and "held-out test split" in out


def test_umbrella_reports_errors_under_the_tools_name(tmp_path, monkeypatch, capsys):
    code, _, err = run_tool(main, ["train", str(tmp_path / "missing.parquet"), "-o", str(tmp_path / "m"), "-e", "x.h5"], monkeypatch, capsys)
    assert code == 2 and err.startswith("genofm-train: error:") and "dataset not found" in err


def test_umbrella_version_and_unknown_tool(monkeypatch, capsys):
    code, out, _ = run_tool(main, ["--version"], monkeypatch, capsys)
    assert code == 0 and __version__ in out
    code, _, err = run_tool(main, ["fly"], monkeypatch, capsys)
    assert code == 2 and "fly" in err


@pytest.mark.needs_resources(console_script("genofm"), reason="genofm is not installed as a console script")
def test_installed_console_script_dispatches():
    result = subprocess.run(["genofm", "interpret", "compare", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "comparison.tsv" in result.stdout


def test_umbrella_versions_are_yaml_lines_the_pipeline_records(monkeypatch, capsys):
    import importlib.metadata
    import platform

    code, out, _ = run_tool(main, ["--versions"], monkeypatch, capsys)
    assert code == 0
    versions = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert versions["genofm"] == __version__
    assert versions["python"] == platform.python_version()
    assert versions["torch"] == importlib.metadata.version("torch")
    assert versions["scikit-learn"] == importlib.metadata.version("scikit-learn")
