"""Bad-input suite: every failure a user can fix is one line, exit 2, and leaves nothing behind.

Each case runs a tool's real entry point (in-process, as the console script does) from a scratch
folder, and checks: exit status 2; exactly one stderr line ``genofm-<tool>: error: ...`` that holds
the expected fragments (the file or option at fault, and the fix); no Python traceback; and the
scratch folder holds exactly what it held before (no output, no ``.NAME.*.tmp``). The few runs
that need a real process (signals, kill -9, the parent's death) start one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_entry_point, write_fasta

TOOLS = {
    "prepare": "genofm.cli.prepare",
    "embed": "genofm.cli.embed",
    "train": "genofm.cli.train",
    "predict": "genofm.cli.predict",
    "interpret": "genofm.cli.interpret",
    "genofm": "genofm.cli.main",
}


def run_tool(tool: str, args, capsys) -> tuple[int, str]:
    import importlib

    module = importlib.import_module(TOOLS[tool])
    code = run_entry_point(module.main, "genofm" if tool == "genofm" else f"genofm-{tool}", args)
    return code, capsys.readouterr().err


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A dataset, k-mer embeddings, a trained model and weight files, made once with the tools."""
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    motif = "TGACTCA"
    records = {}
    for label in ("pos", "neg"):
        seqs = {}
        for i in range(40):
            seq = "".join(rng.choice(list("ACGT"), size=120))
            if label == "pos":
                seq = seq[:50] + motif + seq[57:]
            chrom = ["chr1", "chr2", "chr8", "chr10"][i % 4]
            seqs[f"{chrom}:{i * 1000}-{i * 1000 + 120}"] = seq
        records[label] = write_fasta(root / f"{label}.fa", seqs)
    write_fasta(root / "alln.fa", {"chr1:0-100": "N" * 100, "chr8:0-100": "N" * 90 + "ACGTACGTAC"})
    write_fasta(root / "short.fa", {"chr1:0-10": "ACGTACGTAC", "chr8:0-8": "ACGTACGT"})
    (root / "notes.txt").write_text("not a dataset\n")
    (root / "afile").write_text("a file, not a folder\n")
    (root / "notes.bed").write_text("chr1\t0\t50\n")

    from genofm.cli import embed, prepare, train

    def call(module, args):
        status = run_entry_point(module.main, "genofm", args)
        assert status == 0, f"{args}: exit {status}"

    call(prepare, [f"pos={records['pos']}", f"neg={records['neg']}", "-o", root / "ds.parquet"])
    call(embed, [root / "ds.parquet", "-b", "kmer", "-O", "k=3", "-o", root / "k3.h5"])
    call(embed, [root / "ds.parquet", "-b", "kmer", "-O", "k=2", "-o", root / "k2.h5"])
    call(train, [root / "ds.parquet", "-e", root / "k3.h5", "-o", root / "model", "--bootstrap", "0", "--cv-folds", "2"])

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo this must never run",))

    from genofm.testing.tiny_lm import write_model

    evil = write_model("dnabert2", root / "evil_lm")
    for name in ("model.safetensors", "pytorch_model.bin"):
        (evil / name).unlink(missing_ok=True)
    torch.save({"bert.embeddings.word_embeddings.weight": torch.zeros(2), "x": Payload()}, evil / "pytorch_model.bin")
    torch.save({"module.model.lconv1.0.weight": torch.zeros(1), "x": Payload()}, root / "evil_sei.pth")
    return root


R = "{root}"  # placeholder for the world folder in the case table

#: (id, tool, arguments, fragments the error line must hold)
CASES = [
    # --- command-line usage (issue 12, item 1): one line, exit 2, not a traceback
    ("embed-unknown-option", "embed", [f"{R}/ds.parquet", "-b", "kmer", "--frobnicate", "-o", "e.h5"], ["No such option: --frobnicate", "--help"]),
    ("embed-negative-batch", "embed", [f"{R}/ds.parquet", "-b", "kmer", "--batch-size", "-5", "-o", "e.h5"], ["--batch-size", "greater than or equal to 1"]),
    ("embed-missing-backbone", "embed", [f"{R}/ds.parquet", "-o", "e.h5"], ["Missing option", "--backbone"]),
    ("embed-missing-output", "embed", [f"{R}/ds.parquet", "-b", "kmer"], ["Missing option", "--output"]),
    ("embed-bad-int", "embed", [f"{R}/ds.parquet", "-b", "kmer", "--batch-size", "many", "-o", "e.h5"], ["--batch-size", "valid integer"]),
    ("train-cv-folds-1", "train", [f"{R}/ds.parquet", "-e", f"{R}/k3.h5", "-o", "m", "--cv-folds", "1"], ["--cv-folds", "greater than or equal to 2"]),
    ("train-bad-head", "train", [f"{R}/ds.parquet", "-e", f"{R}/k3.h5", "-o", "m", "--head", "forest"], ["--head", "forest"]),
    ("predict-missing-model", "predict", [f"{R}/ds.parquet", "-o", "p.tsv"], ["Missing option", "--model"]),
    ("prepare-unknown-option", "prepare", [f"pos={R}/pos.fa", "--frobnicate", "-o", "d.parquet"], ["No such option: --frobnicate"]),
    ("prepare-missing-output", "prepare", [f"pos={R}/pos.fa", f"neg={R}/neg.fa"], ["Missing option", "--output"]),
    ("interpret-top-0", "interpret", ["model", f"{R}/model", "-o", "x", "--top", "0"], ["--top"]),
    ("interpret-no-subcommand-arg", "interpret", ["compare", "-o", "x"], ["Missing argument", "MODEL_DIR"]),
    ("umbrella-unknown-option", "genofm", ["embed", f"{R}/ds.parquet", "-b", "kmer", "--frobnicate", "-o", "e.h5"], ["genofm-embed: error: No such option"]),
    ("umbrella-unknown-tool", "genofm", ["embedd"], ["No such command", "embedd"]),
    # --- outputs the operating system refuses (item 2)
    ("prepare-output-is-folder", "prepare", [f"pos={R}/pos.fa", f"neg={R}/neg.fa", "-o", "."], ["--output", "is an existing folder", "give a file path"]),
    ("prepare-output-parent-is-file", "prepare", [f"pos={R}/pos.fa", f"neg={R}/neg.fa", "-o", f"{R}/afile/d.parquet"], ["afile", "is a file, not a folder"]),
    ("prepare-summary-parent-is-file", "prepare", [f"pos={R}/pos.fa", f"neg={R}/neg.fa", "-o", "d.parquet", "--summary", f"{R}/afile/s.json"], ["--summary", "afile", "is a file"]),
    ("embed-output-is-folder", "embed", [f"{R}/ds.parquet", "-b", "kmer", "-o", "."], ["--output", "is an existing folder"]),
    ("embed-output-parent-is-file", "embed", [f"{R}/ds.parquet", "-b", "kmer", "-o", f"{R}/afile/e.h5"], ["afile", "is a file, not a folder"]),
    ("train-output-is-file", "train", [f"{R}/ds.parquet", "-e", f"{R}/k3.h5", "-o", f"{R}/afile"], ["--output", "is an existing file", "this output is a folder"]),
    ("predict-output-is-folder", "predict", [f"{R}/ds.parquet", "-m", f"{R}/model", "-e", f"{R}/k3.h5", "-o", "."], ["--output", "is an existing folder"]),
    ("interpret-output-parent-is-file", "interpret", ["model", f"{R}/model", "-o", f"{R}/afile/x"], ["afile", "is a file, not a folder"]),
    ("compare-output-is-file", "interpret", ["compare", f"{R}/model", "-o", f"{R}/afile"], ["is an existing file"]),
    # --- prepare: inputs and filtering (item 4)
    ("prepare-missing-input", "prepare", [f"pos={R}/pos.fa", f"neg={R}/nope.fa", "-o", "d.parquet"], ["nope.fa", "not found"]),
    ("prepare-label-with-space", "prepare", [f"pos={R}/pos.fa", f"neg class={R}/neg.fa", "-o", "d.parquet"], ["neg.fa", "label 'neg class'", "'neg_class'"]),
    ("prepare-label-non-ascii", "prepare", [f"pos={R}/pos.fa", f"négatif={R}/neg.fa", "-o", "d.parquet"], ["neg.fa", "label 'négatif'", "letters, digits"]),
    ("prepare-summary-is-output", "prepare", [f"pos={R}/pos.fa", f"neg={R}/neg.fa", "-o", "d.parquet", "--summary", "d.parquet"], ["--summary", "another name"]),
    ("prepare-bad-split-mode", "prepare", [f"pos={R}/pos.fa", f"neg={R}/neg.fa", "-o", "d.parquet", "--split-mode", "bogus"], ["--split-mode", "bogus"]),
    ("prepare-length-0", "prepare", [f"pos={R}/pos.fa", f"neg={R}/neg.fa", "-o", "d.parquet", "--length", "0"], ["--length"]),
    ("prepare-bed-without-genome", "prepare", [f"pos={R}/notes.bed", f"neg={R}/neg.fa", "-o", "d.parquet"], ["--genome"]),
    ("prepare-input-given-twice", "prepare", [f"pos={R}/pos.fa", f"neg={R}/pos.fa", "-o", "d.parquet"], ["pos.fa", "given twice"]),
    # --- embed: datasets, backbones, options
    ("embed-missing-dataset", "embed", [f"{R}/nope.parquet", "-b", "kmer", "-o", "e.h5"], ["nope.parquet"]),
    ("embed-dataset-not-parquet", "embed", [f"{R}/notes.txt", "-b", "kmer", "-o", "e.h5"], ["notes.txt", "genofm-prepare"]),
    ("embed-unknown-backbone", "embed", [f"{R}/ds.parquet", "-b", "nope", "-o", "e.h5"], ["unknown backbone 'nope'", "kmer"]),
    ("embed-option-not-pair", "embed", [f"{R}/ds.parquet", "-b", "kmer", "-O", "k6", "-o", "e.h5"], ["-O 'k6'", "key=value"]),
    ("embed-unknown-option-key", "embed", [f"{R}/ds.parquet", "-b", "kmer", "-O", "kk=6", "-o", "e.h5"], ["no option 'kk'", "its options are k"]),
    ("embed-k-out-of-range", "embed", [f"{R}/ds.parquet", "-b", "kmer", "-O", "k=99", "-o", "e.h5"], ["k=99", "between 1 and"]),
    ("embed-shard-index", "embed", [f"{R}/ds.parquet", "-b", "kmer", "--shard-index", "3", "--shard-count", "2", "-o", "e.h5"], ["--shard-index 3", "--shard-count 2"]),
    ("embed-memory-budget-0", "embed", [f"{R}/ds.parquet", "-b", "kmer", "--memory-budget", "0", "-o", "e.h5"], ["--memory-budget"]),
    ("embed-kmer-with-weights", "embed", [f"{R}/ds.parquet", "-b", "kmer", "-w", f"{R}/notes.txt", "-o", "e.h5"], ["takes no --weights"]),
    ("embed-missing-weights", "embed", [f"{R}/ds.parquet", "-b", "dnabert2", "-w", f"{R}/nope", "-o", "e.h5"], ["nope", "weights not found"]),
    # --- weights that hold code (item 5)
    ("embed-pickled-code-lm", "embed", [f"{R}/ds.parquet", "-b", "dnabert2", "-w", f"{R}/evil_lm", "-o", "e.h5"], ["pytorch_model.bin", "holds pickled Python code", "will not run", "safetensors"]),
    ("embed-pickled-code-sei", "embed", [f"{R}/ds.parquet", "-b", "sei", "-O", "output=trunk", "-w", f"{R}/evil_sei.pth", "-o", "e.h5"], ["evil_sei.pth", "holds pickled Python code", "will not run"]),
    # --- train, predict, interpret
    ("train-no-embeddings", "train", [f"{R}/ds.parquet", "-o", "m"], ["--embeddings", "--finetune"]),
    ("train-embeddings-missing", "train", [f"{R}/ds.parquet", "-e", f"{R}/nope.h5", "-o", "m"], ["nope.h5", "genofm-embed"]),
    ("train-embeddings-not-hdf5", "train", [f"{R}/ds.parquet", "-e", f"{R}/notes.txt", "-o", "m"], ["notes.txt", "genofm-embed"]),
    ("predict-model-missing", "predict", [f"{R}/ds.parquet", "-m", f"{R}/nomodel", "-e", f"{R}/k3.h5", "-o", "p.tsv"], ["nomodel"]),
    ("predict-other-backbone-options", "predict", [f"{R}/ds.parquet", "-m", f"{R}/model", "-e", f"{R}/k2.h5", "-o", "p.tsv"], ["k2.h5"]),
    ("interpret-model-missing", "interpret", ["model", f"{R}/nomodel", "-o", "x"], ["nomodel"]),
    ("compare-model-missing", "interpret", ["compare", f"{R}/nomodel", "-o", "x"], ["nomodel"]),
]


@pytest.mark.parametrize("tool, args, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(world, tool, args, fragments, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before_here, before_world = snapshot(tmp_path), snapshot(world)
    args = [a.replace(R, str(world)) for a in args]
    code, err = run_tool(tool, args, capsys)
    assert code == 2, err
    assert "Traceback" not in err, err
    prog = "genofm-embed" if tool == "genofm" and args[0] == "embed" else ("genofm" if tool == "genofm" else f"genofm-{tool}")
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert snapshot(tmp_path) == before_here
    assert snapshot(world) == before_world


def test_the_suite_has_at_least_40_distinct_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


def test_a_class_filtered_away_is_explained_per_reason_and_summarised(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for bad, reason in (("alln.fa", "too_many_n"), ("short.fa", "too_short")):
        code, err = run_tool("prepare", [f"pos={world}/pos.fa", f"neg={world / bad}", "-o", "d.parquet", "--summary", "s.json"], capsys)
        assert code == 2
        line = err.strip().splitlines()[-1]
        assert f"nothing is left of 'neg' (2 read: {reason} 2)" in line and "s.json" in line, line
        summary = json.loads(Path("s.json").read_text())
        assert summary["dropped_per_class"] == {"neg": {reason: 2}} and summary["read_per_class"] == {"neg": 2, "pos": 40}
        assert "error" in summary and sorted(os.listdir()) == ["s.json"]
        Path("s.json").unlink()


def test_a_split_left_with_one_class_names_the_parameters(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = run_tool("prepare", [f"pos={world}/pos.fa", f"neg={world}/neg.fa", "-o", "d.parquet", "--max-per-class", "3"], capsys)
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert "--max-per-class (pipeline: --max_per_class)" in line and "--test-chroms" in line, line


def test_label_rule_is_the_pipeline_samplesheet_rule():
    from genofm.data.labels import LABEL_PATTERN

    schema = json.loads((Path(__file__).parents[2] / "assets" / "schema_input.json").read_text())
    assert schema["items"]["properties"]["label"]["pattern"] == f"^({LABEL_PATTERN})?$"
    # a cell type joins the label in LABEL@CELL=PATH, so it keeps to the same characters
    assert schema["items"]["properties"]["cell_type"]["pattern"] == f"^({LABEL_PATTERN})?$"


# ---------------------------------------------------------------- temporaries and signals (items 3, 12)

SLOW_TOOL = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import typer
    from genofm.atomic import atomic_path
    from genofm.cli.common import run_app

    app = typer.Typer()

    @app.command()
    def main(output: Path, seconds: float = 60.0, directory: bool = False):
        with atomic_path(output, directory=directory) as tmp:
            (tmp / "part" if directory else tmp).write_text("partial")
            print("writing", flush=True)
            time.sleep(seconds)

    run_app(app, "genofm-slow")()
    """
)


@pytest.fixture()
def slow_tool(tmp_path):
    script = tmp_path / "slow_tool.py"
    script.write_text(SLOW_TOOL)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), os.environ.get("PYTHONPATH", "")])}
    return script, env


def start(cmd, env, **kw) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    assert proc.stdout.readline().strip() == "writing", proc.stderr.read()
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("directory", [False, True])
def test_termination_signals_stop_cleanly_without_temporaries(slow_tool, tmp_path, signum, directory):
    script, env = slow_tool
    out = tmp_path / "out" / "result"
    args = [sys.executable, str(script), str(out)] + (["--directory"] if directory else [])
    proc = start(args, env)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    assert err.strip().splitlines()[-1] == f"genofm-slow: stopped by {signal.Signals(signum).name}; no output written"
    assert os.listdir(tmp_path / "out") == []


def test_a_killed_runs_temporary_is_removed_by_the_next_run_but_a_live_ones_is_not(slow_tool, tmp_path):
    script, env = slow_tool
    out = tmp_path / "result.txt"
    killed = start([sys.executable, str(script), str(out)], env)
    killed.kill()
    killed.wait()
    left = [p for p in os.listdir(tmp_path) if p.startswith(".result.txt.")]
    assert len(left) == 1  # kill -9 leaves the temporary ...
    live = start([sys.executable, str(script), str(out)], env)
    try:
        live_tmp = set(os.listdir(tmp_path)) - set(left) - {"slow_tool.py"}
        assert len(live_tmp) == 1 and left[0] not in os.listdir(tmp_path)  # ... which the next run removed
        done = subprocess.run([sys.executable, str(script), str(out), "--seconds", "0"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert out.read_text() == "partial" and live_tmp <= set(os.listdir(tmp_path))  # a live writer's is kept
    finally:
        live.kill()
        live.wait()
    # own pattern only: look-alike names are never touched
    (tmp_path / ".result.txt.notours.tmp").write_text("x")
    (tmp_path / ".other.txt.abcdefgh.tmp").write_text("x")
    from genofm.atomic import clean_stale

    removed = clean_stale(out)
    assert [p.name for p in removed] == sorted(live_tmp)
    assert (tmp_path / ".result.txt.notours.tmp").exists() and (tmp_path / ".other.txt.abcdefgh.tmp").exists()


def alive(pid: int) -> bool:
    """Running (a zombie that nobody reaped has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_a_tool_stops_when_its_parent_shell_dies(slow_tool, tmp_path):
    script, env = slow_tool
    out = tmp_path / "out" / "result"
    out.parent.mkdir()
    shell = subprocess.Popen(
        ["bash", "-c", f'"{sys.executable}" "{script}" "{out}" & echo $!; wait'], env=env, stdout=subprocess.PIPE, text=True
    )
    child = int(shell.stdout.readline())
    deadline = time.time() + 30
    while time.time() < deadline and not any(p.startswith(".result.") for p in os.listdir(out.parent)):
        time.sleep(0.1)
    shell.kill()  # like kill -9 of a task's shell: the tool must not live on as an orphan
    shell.wait()
    while time.time() < deadline and alive(child):
        time.sleep(0.1)
    if alive(child):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the tool outlived its parent shell")
    assert os.listdir(tmp_path / "out") == []
