"""Shared fixtures: small synthetic genomes and labelled FASTA files with planted motifs.

Kept generic so every tool's tests can build realistic inputs in ``tmp_path`` within milliseconds.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

#: what ``make setup`` extracts (scripts/fetch_resources.py): the janggu peaks, the SpliceAI weights
RESOURCES = Path(os.environ.get("GENOFM_CACHE", Path.home() / ".cache" / "genofm")) / "resources"
JANGGU = RESOURCES / "janggu"
SPLICEAI_WEIGHTS = RESOURCES / "spliceai"
#: the benchmark scripts (not a package): loaded by path with :func:`benchmark_script`
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
#: set by scripts/test.sh (make test, CI): a test whose resources are missing fails instead of skipping
REQUIRE_RESOURCES = os.environ.get("GENOFM_REQUIRE_RESOURCES") == "1"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "needs_resources(*paths, reason): skip when a path is missing, or fail when GENOFM_REQUIRE_RESOURCES=1",
    )


def pytest_runtest_setup(item):
    """Tests marked ``needs_resources``: skipped on a bare checkout, failed in CI."""
    for mark in item.iter_markers("needs_resources"):
        missing = [str(path) for path in mark.args if not Path(path).exists()]
        if not missing:
            continue
        message = f"{mark.kwargs.get('reason', 'needs the bundled resources')}: missing {', '.join(missing)}"
        if REQUIRE_RESOURCES:
            pytest.fail(f"{message} (GENOFM_REQUIRE_RESOURCES=1; run make setup)", pytrace=False)
        pytest.skip(f"{message} (run make setup)")


def run_entry_point(main, prog: str, args) -> int:
    """Run a console entry point in-process with ``sys.argv`` set; return its exit status.

    One way for every test to call a tool without a subprocess (fast, and coverage sees it):
    typer's ``SystemExit`` becomes the status; ``sys.argv`` is restored whatever happens.
    """
    import sys

    old = sys.argv
    sys.argv = [prog, *map(str, args)]
    try:
        main()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old


def train_in_process(args) -> None:
    """``genofm-train ARGS`` in-process for fixtures that need a trained model; fails the test otherwise."""
    from genofm.cli.train import main as train_main

    status = run_entry_point(train_main, "genofm-train", args)
    assert status == 0, f"genofm-train {' '.join(map(str, args))} exited {status}"


def console_script(name: str) -> Path:
    """Where ``name`` is on PATH, or a path that does not exist (for ``needs_resources``)."""
    import shutil

    return Path(shutil.which(name) or f"/nonexistent/PATH/{name}")

PLANTED_MOTIF = "TGACTCA"  # AP-1 site, planted in the positive class of ``labelled_fastas``


def random_dna(rng: np.random.Generator, length: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=length))


def write_fasta(path: Path, records: dict[str, str] | list[tuple[str, str]], width: int = 60) -> Path:
    """Write ``name -> sequence`` records, wrapping lines at ``width`` like real FASTA files."""
    items = records.items() if isinstance(records, dict) else records
    with open(path, "w") as handle:
        for name, sequence in items:
            handle.write(f">{name}\n")
            for i in range(0, len(sequence), width):
                handle.write(sequence[i : i + width] + "\n")
            if not sequence:
                handle.write("\n")
    return path


@pytest.fixture
def dna():
    """``dna(rng, length)``: a random A/C/G/T string drawn from a numpy Generator."""
    return random_dna


@pytest.fixture
def fasta_writer():
    """``fasta_writer(path, records)``: write ``{name: sequence}`` or ``[(name, sequence)]`` as wrapped FASTA."""
    return write_fasta


@pytest.fixture
def planted_motif() -> str:
    return PLANTED_MOTIF


@pytest.fixture
def genome_fasta(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A 6-chromosome genome (chr1, chr2, chr8, chr9, chr10: 3 kb each; chrM: 500 bp), seeded."""
    rng = np.random.default_rng(7)
    chroms = {name: random_dna(rng, 3000) for name in ("chr1", "chr2", "chr8", "chr9", "chr10")}
    chroms["chrM"] = random_dna(rng, 500)
    path = write_fasta(tmp_path / "genome.fa", chroms)
    return path, chroms


@pytest.fixture
def labelled_fastas(tmp_path: Path) -> dict[str, Path]:
    """``pos``/``neg`` FASTA files (30 x 100 bp each) with ``chrN:start-end`` headers on 5 chromosomes.

    Positives carry :data:`PLANTED_MOTIF` at a random offset; negatives are plain random DNA.
    """
    rng = np.random.default_rng(11)
    chroms = ["chr1", "chr2", "chr8", "chr9", "chr10"]
    paths = {}
    for label, offset in (("pos", 0), ("neg", 50_000)):
        records = []
        for i in range(30):
            sequence = random_dna(rng, 100)
            if label == "pos":
                at = int(rng.integers(0, 100 - len(PLANTED_MOTIF)))
                sequence = sequence[:at] + PLANTED_MOTIF + sequence[at + len(PLANTED_MOTIF) :]
            chrom = chroms[i % len(chroms)]
            start = offset + 1000 * i
            records.append((f"{chrom}:{start}-{start + 100}", sequence))
        paths[label] = write_fasta(tmp_path / f"{label}.fa", records)
    return paths


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's torch code on one thread: on a busy 2-core machine two threads ran
    small operations many times slower, and results must not depend on the thread count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def benchmark_script(monkeypatch):
    """``load(name)``: benchmarks/<name>.py imported as a module (it imports its sibling roofline.py)."""

    def load(name: str):
        monkeypatch.syspath_prepend(str(BENCHMARKS))
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
