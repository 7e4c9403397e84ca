"""Make every file the Galaxy wrappers' tests and the workflow test read; nothing here is committed.

Two kinds of data:

* ``tools/genofm/test-data/``: synthetic sequences with planted motifs (an Oct4 octamer and a
  MafK MARE), written as one FASTA per class, a labelled TSV, and a small genome with BED
  intervals; then the binary inputs of the downstream tools (prepared dataset, k-mer embeddings,
  a model archive) made by running the genofm tools themselves, so they always match the
  installed genofm's formats. Bad inputs for the ``expect_failure`` cases sit beside them.
* ``workflows/test-data/``: the bundled Oct4 and MafK peaks (``scripts/setup.sh`` extracts them
  from the janggu wheel into ``$GENOFM_CACHE/resources/janggu``), copied as they are; the workflow
  subsamples them exactly as the Nextflow test profile does (1,000 per class, seed 0).

``--loc FILE --weights-dir DIR`` also writes the test data table: tiny random models in the
official layouts (``genofm.testing``) under DIR, the real SpliceAI models from the set-up cache,
and one ``genofm_weights`` row per model in FILE.

    python galaxy/make_test_data.py [--loc FILE --weights-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TEST_DATA = HERE / "tools" / "genofm" / "test-data"
WORKFLOW_DATA = HERE / "workflows" / "test-data"

OCT4 = "ATGCAAAT"  # the octamer bound by POU5F1
MAFK = "TGCTGACTCAGCA"  # the Maf recognition element bound by MAFK
MOTIFS = {"Oct4": OCT4, "MafK": MAFK}
CHROMS = [f"chr{i}" for i in range(1, 13)]  # chr8/chr9 test, chr10 valid: genofm's default split
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def planted(rng: np.random.Generator, motif: str, length: int) -> str:
    """A random sequence with ``motif`` on a random strand at a random position."""
    seq = list(rng.choice(list("ACGT"), size=length))
    site = motif if rng.random() < 0.5 else revcomp(motif)
    pos = int(rng.integers(0, length - len(site)))
    seq[pos : pos + len(site)] = site
    return "".join(seq)


def write_fasta(path: Path, records: list[tuple[str, str]]) -> None:
    with open(path, "w") as handle:
        for name, seq in records:
            handle.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                handle.write(seq[i : i + 60] + "\n")


def synthetic_inputs(out: Path, n_per_class: int = 48, length: int = 120) -> None:
    """FASTA per class (coordinates in headers), a labelled TSV, a genome with labelled BED intervals."""
    rng = np.random.default_rng(20240601)
    rows = []
    for label, motif in MOTIFS.items():
        records = []
        for i in range(n_per_class):
            chrom = CHROMS[i % len(CHROMS)]
            start = 1000 * (i + 1) + (0 if label == "Oct4" else 500_000)
            seq = planted(rng, motif, length)
            records.append((f"{chrom}:{start}-{start + length}", seq))
            rows.append((f"{label.lower()}_{i}", seq, label))
        write_fasta(out / f"{label.lower()}.fa", records)
    order = rng.permutation(len(rows))
    with open(out / "sequences.tsv", "w") as handle:
        handle.write("id\tsequence\tclass\n")
        for i in order:
            handle.write("\t".join(rows[i]) + "\n")
    # a table without the label column the test asks for: the first expect_failure case
    with open(out / "unlabelled.tsv", "w") as handle:
        handle.write("id\tsequence\n")
        for i in order[:10]:
            handle.write(f"{rows[i][0]}\t{rows[i][1]}\n")
    # genome: 12 chromosomes of random sequence, motifs planted at the BED intervals' centres
    size, width = 12_000, 160
    genome = {c: list(rng.choice(list("ACGT"), size=size)) for c in CHROMS}
    with open(out / "peaks.bed", "w") as bed:
        for index in range(2 * 5 * len(CHROMS)):
            label = "Oct4" if index % 2 == 0 else "MafK"
            chrom = CHROMS[(index // 2) % len(CHROMS)]
            start = 200 + 1000 * (index // (2 * len(CHROMS))) * 2 + (0 if label == "Oct4" else 1000)
            site = MOTIFS[label] if rng.random() < 0.5 else revcomp(MOTIFS[label])
            mid = start + width // 2 - len(site) // 2
            genome[chrom][mid : mid + len(site)] = site
            strand = "+" if rng.random() < 0.5 else "-"
            bed.write(f"{chrom}\t{start}\t{start + width}\t{label}\t0\t{strand}\n")
    write_fasta(out / "genome.fa", [(c, "".join(s)) for c, s in genome.items()])
    # a BED line whose end precedes its start: the second expect_failure case
    (out / "broken.bed").write_text("chr1\t500\t400\tOct4\t0\t+\n")


def run(*args: str) -> None:
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def tool_outputs(out: Path) -> None:
    """Inputs of embed/train/predict/interpret tests, made by genofm itself from the synthetic FASTA."""
    bindir = Path(sys.executable).parent
    tool = lambda name: str(bindir / name) if (bindir / name).exists() else name  # noqa: E731
    run(tool("genofm-prepare"), f"Oct4={out / 'oct4.fa'}", f"MafK={out / 'mafk.fa'}",
        "--output", str(out / "planted.parquet"), "--summary", str(out / "planted.summary.json"))
    run(tool("genofm-embed"), str(out / "planted.parquet"), "--backbone", "kmer", "-O", "k=4",
        "--output", str(out / "planted_kmer4.h5"))
    run(tool("genofm-train"), str(out / "planted.parquet"), "--embeddings", str(out / "planted_kmer4.h5"),
        "--output", str(out / "planted_model"), "--archive", str(out / "planted_model.zip"),
        "--cs", "3", "--cv-folds", "3", "--bootstrap", "100")
    # the training run's own test-split predictions: what predict must reproduce from the archive
    shutil.copyfile(out / "planted_model" / "test_predictions.tsv", out / "planted_test_predictions.tsv")
    shutil.rmtree(out / "planted_model")
    # 3-mer features: a second model for compare
    run(tool("genofm-embed"), str(out / "planted.parquet"), "--backbone", "kmer", "-O", "k=3",
        "--output", str(out / "planted_kmer3.h5"))
    run(tool("genofm-train"), str(out / "planted.parquet"), "--embeddings", str(out / "planted_kmer3.h5"),
        "--output", str(out / "planted_model_k3"), "--archive", str(out / "planted_model_k3.zip"),
        "--cs", "3", "--cv-folds", "3", "--bootstrap", "100")
    shutil.rmtree(out / "planted_model_k3")
    (out / "not_a_model.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: no model.json


def workflow_inputs(out: Path, cache: Path) -> None:
    janggu = cache / "resources" / "janggu"
    for name in ("sample.fa", "sample2.fa"):
        source = janggu / name
        if not source.is_file():
            sys.exit(f"make_test_data: {source} missing; run scripts/setup.sh first")
        shutil.copyfile(source, out / name)


def weights_table(loc: Path, weights_dir: Path, cache: Path) -> None:
    """Tiny random models in the official layouts plus the real SpliceAI models, one .loc row each."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    spliceai = cache / "resources" / "spliceai"
    if not (spliceai / "spliceai1.h5").is_file():
        sys.exit(f"make_test_data: {spliceai}/spliceai1.h5 missing; run scripts/setup.sh first")
    rows.append(("spliceai_official", "spliceai", "SpliceAI-10k, official models 1-5 (Illumina)", spliceai))
    for model in ("dnabert2", "dnabert6", "gpt2dna"):
        folder = weights_dir / f"tiny_{model}"
        if not (folder / "config.json").is_file():
            run(sys.executable, "-m", "genofm.testing.tiny_lm", "--model", model, "--out", str(folder))
        rows.append((f"tiny_{model}", model, f"{model} tiny random test model", folder))
    folder = weights_dir / "tiny_sei"
    if not (folder / "sei.pth").is_file():
        run(sys.executable, "-m", "genofm.testing.tiny_sei", "--out", str(folder))
    rows.append(("tiny_sei", "sei", "Sei tiny random test model", folder))
    loc.parent.mkdir(parents=True, exist_ok=True)
    with open(loc, "w") as handle:
        handle.write("#value\tbackbone\tname\tpath\n")
        for row in rows:
            handle.write("\t".join(map(str, row)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loc", type=Path, help="write the test genofm_weights.loc here")
    parser.add_argument("--weights-dir", type=Path, help="folder for the tiny test models (with --loc)")
    args = parser.parse_args()
    cache = Path(os.environ.get("GENOFM_CACHE", Path.home() / ".cache" / "genofm"))
    TEST_DATA.mkdir(parents=True, exist_ok=True)
    WORKFLOW_DATA.mkdir(parents=True, exist_ok=True)
    synthetic_inputs(TEST_DATA)
    tool_outputs(TEST_DATA)
    workflow_inputs(WORKFLOW_DATA, cache)
    if args.loc:
        if not args.weights_dir:
            parser.error("--loc needs --weights-dir")
        weights_table(args.loc, args.weights_dir, cache)


if __name__ == "__main__":
    main()
