"""genofm-prepare end to end: every input kind, windowing, splits, leakage removal, bad inputs."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import json
from pathlib import Path

import numpy as np
import pysam
import pytest

from genofm.cli.prepare import main
from genofm.data.dataset import read_dataset
from genofm.data.dedup import canonical
from genofm.sequence import reverse_complement
from conftest import JANGGU, console_script, run_entry_point

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def run(args: list[str], capsys) -> tuple[int, str]:
    """Run the installed entry point in-process; return (exit status, stderr)."""
    code = run_entry_point(main, "genofm-prepare", args)
    return code, capsys.readouterr().err


def prepare_ok(args, capsys, out: Path):
    code, err = run([*args, "--output", out / "ds.parquet", "--summary", out / "summary.json"], capsys)
    assert code == 0, err
    frame, classes = read_dataset(out / "ds.parquet")
    summary = json.loads((out / "summary.json").read_text())
    return frame, classes, summary


def assert_fails(args, capsys, out: Path, *fragments: str) -> str:
    code, err = run([*args, "--output", out / "ds.parquet", "--summary", out / "summary.json"], capsys)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("genofm-prepare: error:")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    leftovers = list(out.iterdir()) if out.exists() else []
    # inputs that were read but cannot make a dataset leave only the summary of what was seen, marked as an error
    if out / "summary.json" in leftovers:
        assert "error" in json.loads((out / "summary.json").read_text())
        leftovers.remove(out / "summary.json")
    assert leftovers == [], leftovers  # neither outputs nor temp files
    return lines[0]


def assert_no_leakage(frame):
    keys = frame.assign(key=frame["sequence"].map(canonical)).groupby("key")["split"].nunique()
    assert (keys == 1).all()


# ---------------------------------------------------------------- happy paths per input kind


def test_per_class_fasta_with_coordinate_headers(labelled_fastas, tmp_path, capsys, planted_motif):
    out = tmp_path / "out"
    frame, classes, summary = prepare_ok([f"pos={labelled_fastas['pos']}", f"neg={labelled_fastas['neg']}"], capsys, out)
    assert classes == ["neg", "pos"] and summary["positive_class"] == "pos"
    assert len(frame) == 60 and frame["id"].is_unique
    assert set(frame.loc[frame["split"] == "test", "chrom"]) == {"chr8", "chr9"}
    assert set(frame.loc[frame["split"] == "valid", "chrom"]) == {"chr10"}
    assert set(frame.loc[frame["split"] == "train", "chrom"]) == {"chr1", "chr2"}
    assert frame.loc[frame["label"] == "pos", "sequence"].str.contains(planted_motif).all()
    first = frame.iloc[0]
    assert (first["chrom"], first["start"], first["end"], first["strand"]) == ("chr1", 0, 100, ".")
    assert summary["split_mode"] == "chrom"
    assert summary["counts"]["test"] == {"neg": 12, "pos": 12}
    assert sum(summary["totals"].values()) == 60
    assert [i["kind"] for i in summary["inputs"]] == ["fasta", "fasta"]
    assert all(len(i["sha256"]) == 64 for i in summary["inputs"])
    assert summary["chromosomes"]["test"] == ["chr8", "chr9"]


def test_header_regex_labels_and_random_stratified_split(tmp_path, capsys, dna, fasta_writer):
    rng = np.random.default_rng(3)
    records = [(f"{'famA' if i % 2 else 'famB'} record{i}", dna(rng, 60)) for i in range(80)]
    records.append(("famA dup", records[1][1]))  # duplicate name + sequence: dropped
    path = fasta_writer(tmp_path / "mixed.fasta", records)
    out = tmp_path / "out"
    frame, classes, summary = prepare_ok([path, "--label-regex", r"^(\S+)", "--seed", "5"], capsys, out)
    assert classes == ["famA", "famB"]
    assert summary["split_mode"] == "random"
    assert summary["dropped"] == {"duplicate_sequence": 1}
    for split in ("test", "valid"):
        assert summary["counts"][split] == {"famA": 4, "famB": 4}  # 10% of 40 per class
    assert frame["chrom"].isna().all() and frame["strand"].isna().all()
    gz = tmp_path / "mixed.fasta.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    again, _, _ = prepare_ok([gz, "--label-regex", r"^(\S+)", "--seed", "5"], capsys, tmp_path / "again")
    assert again["split"].tolist() == frame["split"].tolist()  # seeded; gzip read the same
    assert again["sequence"].tolist() == frame["sequence"].tolist()


def test_csv_and_tsv_tables(tmp_path, capsys, dna):
    rng = np.random.default_rng(4)
    seqs = [dna(rng, 40) for _ in range(40)]
    csv = tmp_path / "data.csv"
    csv.write_text("Class, Name,  Sequence\n" + "".join(f"{i % 2},  n{i},  {s.lower()}\n" for i, s in enumerate(seqs[:20])))
    tsv = tmp_path / "more.tsv"
    tsv.write_text("Class\tName\tSequence\n" + "".join(f"{i % 2}\tm{i}\t{s[:10]}RYK{s[13:]}\n" for i, s in enumerate(seqs[20:])))
    out = tmp_path / "out"
    frame, classes, summary = prepare_ok(
        [csv, tsv, "--sequence-column", "Sequence", "--label-column", "Class", "--id-column", "Name", "--max-n-fraction", "0.2"],
        capsys,
        out,
    )
    assert classes == ["0", "1"]
    assert frame.loc[frame["id"] == "n3", "sequence"].item() == seqs[3]  # upper-cased
    assert frame.loc[frame["id"] == "m0", "sequence"].item() == seqs[20][:10] + "NNN" + seqs[20][13:]
    assert [i["kind"] for i in summary["inputs"]] == ["table", "table"]


def test_genome_bed_with_strand(genome_fasta, tmp_path, capsys):
    genome, chroms = genome_fasta
    bed = tmp_path / "regions.bed"
    bed.write_text(
        "track name=test\n"
        + "".join(f"chr1\t{100 + 50 * i}\t{180 + 50 * i}\tp{i}\t0\t{'+-'[i % 2]}\n" for i in range(6))
        + "".join(f"chr8\t{100 + 50 * i}\t{180 + 50 * i}\tp{i + 6}\t0\t+\n" for i in range(3))
    )
    neg = tmp_path / "neg.bed"
    neg.write_text("".join(f"chr2\t{500 + 100 * i}\t{580 + 100 * i}\n" for i in range(6)) + "chr9\t10\t90\nchr9\t200\t280\n")
    out = tmp_path / "out"
    frame, classes, summary = prepare_ok([f"pos={bed}", f"neg={neg}", "--genome", genome], capsys, out)
    row = frame.set_index("id").loc["p1"]
    assert row["strand"] == "-" and (row["start"], row["end"]) == (150, 230)
    assert row["sequence"] == reverse_complement(chroms["chr1"][150:230])
    assert frame.set_index("id").loc["p0", "sequence"] == chroms["chr1"][100:180]
    assert frame.set_index("id").loc["chr9:10-90(.)", "sequence"] == chroms["chr9"][10:90]
    assert set(frame.loc[frame["split"] == "test", "label"]) == {"pos", "neg"}
    assert Path(f"{genome}.fai").is_file()
    assert summary["genome"]["path"] == str(genome)


def test_narrowpeak_windows_centre_on_summit(genome_fasta, tmp_path, capsys):
    genome, chroms = genome_fasta
    peaks = tmp_path / "peaks.narrowPeak"
    lines = [f"chr{c}\t{s}\t{s + 300}\tpk{c}_{s}\t1000\t.\t5.0\t10\t8\t{40 + s // 100}\n" for c in (1, 8) for s in (200, 900, 1600)]
    peaks.write_text("".join(lines))
    background = tmp_path / "bg.bed"
    background.write_text("".join(f"chr{c}\t{s}\t{s + 300}\n" for c in (2, 9) for s in (100, 1000, 2000)))
    out = tmp_path / "out"
    frame, _, _ = prepare_ok([f"peak={peaks}", f"bg={background}", "--genome", genome, "--length", "64"], capsys, out)
    row = frame.set_index("id").loc["pk1_900"]
    summit = 900 + 40 + 9
    assert row["sequence"] == chroms["chr1"][summit - 32 : summit + 32]
    assert (row["start"], row["end"]) == (summit - 32, summit + 32)
    bg = frame.set_index("id").loc["chr2:1000-1300(.)"]
    assert bg["sequence"] == chroms["chr2"][1118:1182]  # centre of the interval
    assert frame["sequence"].str.len().eq(64).all()


def test_gtf_features_are_one_based(genome_fasta, tmp_path, capsys):
    genome, chroms = genome_fasta
    gtf = tmp_path / "genes.gtf"
    rows = []
    for i, (chrom, strand, kind) in enumerate([("chr1", "+", "a"), ("chr1", "-", "b"), ("chr8", "+", "a"), ("chr8", "-", "b"),
                                               ("chr2", "+", "a"), ("chr2", "-", "b"), ("chr9", "+", "a"), ("chr9", "-", "b")]):
        start = 101 + 200 * i
        rows.append(f"{chrom}\ttest\tgene\t{start}\t{start + 499}\t.\t{strand}\t.\tgene_id \"g{i}\"; gene_type \"{kind}\";\n")
        rows.append(f"{chrom}\ttest\texon\t{start}\t{start + 59}\t.\t{strand}\t.\tgene_id \"g{i}\"; transcript_id \"t{i}\"; exon_number \"1\"; gene_type \"{kind}\";\n")
    gtf.write_text("#!genome-build test\n" + "".join(rows))
    out = tmp_path / "out"
    frame, classes, _ = prepare_ok([gtf, "--genome", genome, "--label-column", "gene_type"], capsys, out)
    assert classes == ["a", "b"] and len(frame) == 8
    exon = frame.set_index("id").loc["t0:exon1"]
    assert exon["sequence"] == chroms["chr1"][100:160] and (exon["start"], exon["end"]) == (100, 160)
    # genes with the TSS (five-prime end) at the window centre
    frame, _, _ = prepare_ok(
        [gtf, "--genome", genome, "--label-column", "gene_type", "--gtf-feature", "gene", "--anchor", "five-prime", "--length", "40"],
        capsys,
        tmp_path / "tss",
    )
    minus = frame.set_index("id").loc["g1"]  # chr1:300-800 on the minus strand: TSS = base 799
    assert minus["sequence"] == reverse_complement(chroms["chr1"][780:820])
    assert minus["sequence"][20] == reverse_complement(chroms["chr1"][799])


def test_bgzipped_genome(genome_fasta, tmp_path, capsys):
    genome, chroms = genome_fasta
    bgz = tmp_path / "genome.fa.gz"
    pysam.tabix_compress(str(genome), str(bgz))
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t10\t70\ta\t0\t-\nchr8\t10\t70\nchr2\t100\t160\nchr9\t300\t360\n")
    out = tmp_path / "out"
    frame, _, _ = prepare_ok([f"x={bed}", f"y={write_bed_neg(tmp_path)}", "--genome", bgz], capsys, out)
    assert frame.set_index("id").loc["a", "sequence"] == reverse_complement(chroms["chr1"][10:70])
    assert Path(f"{bgz}.gzi").is_file() and Path(f"{bgz}.fai").is_file()


def write_bed_neg(tmp_path: Path) -> Path:
    path = tmp_path / "neg.bed"
    path.write_text("chr1\t1000\t1060\nchr8\t1000\t1060\nchr2\t1000\t1060\nchr9\t1000\t1060\n")
    return path


def test_bed_label_column_by_number_and_header_name(genome_fasta, tmp_path, capsys):
    genome, _ = genome_fasta
    bed = tmp_path / "labelled.bed"
    body = "".join(f"chr{c}\t{s}\t{s + 50}\t{'up' if s % 200 else 'down'}\n" for c in (1, 2, 8, 9) for s in (100, 300, 400, 600))
    bed.write_text(body)
    frame, classes, _ = prepare_ok([bed, "--genome", genome, "--label-column", "4"], capsys, tmp_path / "a")
    assert classes == ["down", "up"] and len(frame) == 16
    headed = tmp_path / "headed.bed"
    headed.write_text("#chrom\tstart\tend\tclass\n" + body)
    frame2, _, _ = prepare_ok([headed, "--genome", genome, "--label-column", "class"], capsys, tmp_path / "b")
    assert frame2["label"].tolist() == frame["label"].tolist()


# ---------------------------------------------------------------- windows


def test_windows_clip_at_chromosome_ends_and_pad_with_n(genome_fasta, tmp_path, capsys):
    genome, chroms = genome_fasta
    bed = tmp_path / "edges.bed"
    bed.write_text("chr1\t5\t25\tleft\t0\t+\nchr1\t2980\t3000\tright\t0\t-\nchr8\t500\t520\ta\nchr9\t500\t520\tb\n")
    neg = tmp_path / "neg.bed"
    neg.write_text("chr2\t500\t520\nchr8\t900\t920\nchr9\t900\t920\n")
    frame, _, summary = prepare_ok(
        [f"e={bed}", f"n={neg}", "--genome", genome, "--length", "60", "--max-n-fraction", "0"], capsys, tmp_path / "out"
    )
    rows = frame.set_index("id")
    left = rows.loc["left"]  # window -15..45 -> 15 N then chr1[0:45]
    assert left["sequence"] == "N" * 15 + chroms["chr1"][:45]
    assert (left["start"], left["end"]) == (0, 45)
    right = rows.loc["right"]  # window 2960..3020 on minus: 20 N beyond the end, then reverse-complemented
    assert right["sequence"] == reverse_complement(chroms["chr1"][2960:3000] + "N" * 20)
    assert right["sequence"].startswith("N" * 20) and (right["start"], right["end"]) == (2960, 3000)
    assert summary["padded_rows"] == 2 and summary["real_bases"]["min"] == 40


def test_fasta_resize_pads_and_crops_keeping_coordinates_honest(tmp_path, capsys, dna, fasta_writer):
    rng = np.random.default_rng(5)
    short = {f"chr{c}:{1000 * i}-{1000 * i + 30}": dna(rng, 30) for c in (1, 8, 10) for i in range(4)}
    long = {f"chr{c}:{1000 * i}-{1000 * i + 90}(-)": dna(rng, 90) for c in (1, 8, 10) for i in range(4)}
    a, b = fasta_writer(tmp_path / "a.fa", short), fasta_writer(tmp_path / "b.fa", long)
    frame, _, summary = prepare_ok([f"s={a}", f"l={b}", "--length", "50"], capsys, tmp_path / "out")
    rows = frame.set_index("id")
    padded = rows.loc["chr1:0-30"]
    assert padded["sequence"] == "N" * 10 + short["chr1:0-30"] + "N" * 10
    assert (padded["start"], padded["end"]) == (0, 30)
    cropped = rows.loc["chr8:1000-1090(-)"]
    assert cropped["sequence"] == long["chr8:1000-1090(-)"][20:70]
    # minus strand: the first 20 kept bases are cut from the genomic end side
    assert (cropped["start"], cropped["end"], cropped["strand"]) == (1020, 1070, "-")
    assert summary["lengths"] == {"min": 50, "max": 50, "mean": 50.0, "median": 50}


def test_chromosome_names_are_harmonised(tmp_path, capsys, dna, fasta_writer):
    rng = np.random.default_rng(9)
    chroms = {name: dna(rng, 1000) for name in ("1", "8", "10", "MT")}
    genome = fasta_writer(tmp_path / "ens.fa", chroms)
    bed = tmp_path / "ucsc.bed"
    bed.write_text("chr1\t0\t50\tp1\nchrM\t100\t150\tpm\nchr8\t0\t50\tp8\nchr10\t0\t50\tp10\n")
    neg = tmp_path / "neg.bed"
    neg.write_text("chr1\t500\t550\nchrM\t300\t350\nchr8\t500\t550\nchr10\t500\t550\n")
    frame, _, summary = prepare_ok([f"p={bed}", f"n={neg}", "--genome", genome], capsys, tmp_path / "out")
    rows = frame.set_index("id")
    assert rows.loc["pm", "chrom"] == "MT" and rows.loc["pm", "sequence"] == chroms["MT"][100:150]
    assert rows.loc["p8", "split"] == "test" and rows.loc["p10", "split"] == "valid"  # chr8 default matches "8"
    assert summary["chromosomes"]["train"] == ["1", "MT"]


def test_skip_unknown_chroms_counts_them(genome_fasta, tmp_path, capsys):
    genome, _ = genome_fasta
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t50\nchr8\t0\t50\nchrUn_x\t0\t50\nchr2\t0\t50\n")
    neg = write_bed_neg(tmp_path)
    _, _, summary = prepare_ok([f"a={bed}", f"b={neg}", "--genome", genome, "--skip-unknown-chroms"], capsys, tmp_path / "out")
    assert summary["dropped"]["unknown_chromosome"] == 1


# ---------------------------------------------------------------- splits and leakage


def test_split_mode_choice(labelled_fastas, tmp_path, capsys):
    args = [f"pos={labelled_fastas['pos']}", f"neg={labelled_fastas['neg']}"]
    frame, _, summary = prepare_ok([*args, "--split-mode", "random", "--test-fraction", "0.2"], capsys, tmp_path / "r")
    assert summary["split_mode"] == "random" and summary["counts"]["test"] == {"neg": 6, "pos": 6}
    frame, _, summary = prepare_ok([*args, "--test-chroms", "chr1", "--valid-chroms", "2"], capsys, tmp_path / "c")
    assert set(frame.loc[frame["split"] == "test", "chrom"]) == {"chr1"}
    assert set(frame.loc[frame["split"] == "valid", "chrom"]) == {"chr2"}


def test_duplicates_and_reverse_complement_leakage_removed(tmp_path, capsys, dna, fasta_writer):
    rng = np.random.default_rng(12)
    base = [dna(rng, 40) for _ in range(12)]
    pos = [(f"chr1:{i * 100}-{i * 100 + 40}", s) for i, s in enumerate(base[:6])]
    pos += [("chr8:0-40", reverse_complement(base[0])), ("chr8:100-140", base[6]), ("chr10:0-40", base[1])]
    pos += [("chr2:0-40", base[2])]  # exact duplicate, same label: keep first
    neg = [(f"chr2:{i * 100}-{i * 100 + 40}", s) for i, s in enumerate(base[7:11])]
    neg += [("chr9:0-40", base[11]), ("chr9:500-540", base[3])]  # base[3] also a positive: conflicting labels
    a, b = fasta_writer(tmp_path / "p.fa", pos), fasta_writer(tmp_path / "n.fa", neg)
    frame, _, summary = prepare_ok([f"p={a}", f"n={b}", "--min-length", "10"], capsys, tmp_path / "out")
    assert summary["dropped"] == {"conflicting_labels": 2, "duplicate_sequence": 2, "reverse_complement_in_other_split": 1}
    assert base[3] not in set(frame["sequence"])
    assert reverse_complement(base[0]) not in set(frame["sequence"])  # test copy of a training sequence
    assert frame["sequence"].is_unique
    assert_no_leakage(frame)


def test_rc_augment_only_in_train(labelled_fastas, tmp_path, capsys):
    args = [f"pos={labelled_fastas['pos']}", f"neg={labelled_fastas['neg']}", "--rc-augment"]
    frame, _, summary = prepare_ok(args, capsys, tmp_path / "out")
    aug = frame[frame["augmented"]]
    original = frame[~frame["augmented"]]
    assert len(aug) == (original["split"] == "train").sum() == 24
    assert set(aug["split"]) == {"train"}
    assert aug["id"].str.endswith("_rc").all() and frame["id"].is_unique
    by_id = original.set_index("id")["sequence"]
    for _, row in aug.iterrows():
        assert row["sequence"] == reverse_complement(by_id[row["id"].removesuffix("_rc")])
    assert summary["augmented"] == {"neg": 12, "pos": 12}
    assert summary["counts"]["train"] == {"neg": 12, "pos": 12}


def test_max_per_class_and_class_order(labelled_fastas, tmp_path, capsys):
    args = [f"pos={labelled_fastas['pos']}", f"neg={labelled_fastas['neg']}", "--split-mode", "random"]
    frame, classes, summary = prepare_ok([*args, "--max-per-class", "10", "--classes", "pos,neg"], capsys, tmp_path / "out")
    assert classes == ["pos", "neg"] and summary["positive_class"] == "neg"
    assert frame["label"].value_counts().to_dict() == {"pos": 10, "neg": 10}
    assert summary["dropped"] == {"subsampled": 40}
    again, _, _ = prepare_ok([*args, "--max-per-class", "10", "--classes", "pos,neg"], capsys, tmp_path / "again")
    assert again["id"].tolist() == frame["id"].tolist()


# ---------------------------------------------------------------- bad inputs


def test_malformed_fasta(tmp_path, capsys, fasta_writer):
    bad = tmp_path / "bad.fa"
    bad.write_text("this is not fasta\n>x\nACGT\n")
    ok = fasta_writer(tmp_path / "ok.fa", {"y": "ACGT" * 10})
    assert_fails([f"a={bad}", f"b={ok}"], capsys, tmp_path / "out", str(bad), "line 1", "'>'")
    digits = tmp_path / "digits.fa"
    digits.write_text(">r1\nACGTACGT\n>r2\nACG7T\n")
    assert_fails([f"a={digits}", f"b={ok}"], capsys, tmp_path / "out", str(digits), "record 2", "'r2'")


def test_malformed_bed(genome_fasta, tmp_path, capsys):
    genome, _ = genome_fasta
    bed = tmp_path / "bad.bed"
    bed.write_text("chr1\t10\t50\nchr1\tten\t50\n")
    assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}", "--genome", genome], capsys, tmp_path / "out", str(bed), "line 2")
    bed.write_text("chr1\t10\t50\nchr1\t10\n")
    assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}", "--genome", genome], capsys, tmp_path / "out", "line 2", "3")
    bed.write_text("chr1\t10\t50\tx\t0\tplus\n")
    assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}", "--genome", genome], capsys, tmp_path / "out", "strand")


def test_unknown_chromosome(genome_fasta, tmp_path, capsys):
    genome, _ = genome_fasta
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t50\nchr22\t0\t50\n")
    message = assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}", "--genome", genome], capsys, tmp_path / "out",
                           "chr22", "--skip-unknown-chroms", "chr1")
    assert str(bed) in message


def test_interval_past_chromosome_end(genome_fasta, tmp_path, capsys):
    genome, _ = genome_fasta
    bed = tmp_path / "r.bed"
    bed.write_text("chrM\t450\t600\n")
    assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}", "--genome", genome], capsys, tmp_path / "out", "runs past the end", "assembly")


def test_all_n_and_too_short_sequences(tmp_path, capsys, fasta_writer):
    all_n = fasta_writer(tmp_path / "n.fa", {"a": "N" * 50, "b": "NNNRYNNNNNNNNNNNNNNNNNNNN"})
    short = fasta_writer(tmp_path / "s.fa", {"c": "ACGTACG", "d": "ACG"})
    assert_fails([f"x={all_n}", f"y={short}"], capsys, tmp_path / "out", "filtered out", "too_many_n", "too_short")


def test_single_class(labelled_fastas, tmp_path, capsys):
    assert_fails([f"pos={labelled_fastas['pos']}"], capsys, tmp_path / "out", "one class", "pos")


def test_missing_file_and_missing_label(labelled_fastas, tmp_path, capsys):
    assert_fails([f"pos={labelled_fastas['pos']}", f"neg={tmp_path / 'nope.fa'}"], capsys, tmp_path / "out", "nope.fa", "not found")
    assert_fails([labelled_fastas["pos"], f"neg={labelled_fastas['neg']}"], capsys, tmp_path / "out", "LABEL=", "--label-regex")


def test_empty_test_split_and_chrom_mode_without_coordinates(labelled_fastas, tmp_path, capsys, dna, fasta_writer):
    args = [f"pos={labelled_fastas['pos']}", f"neg={labelled_fastas['neg']}"]
    assert_fails([*args, "--test-chroms", "chr21"], capsys, tmp_path / "out", "test split is empty", "chr21")
    plain = fasta_writer(tmp_path / "plain.fa", {f"r{i}": dna(np.random.default_rng(i), 50) for i in range(10)})
    assert_fails([f"a={plain}", *args, "--split-mode", "chrom"], capsys, tmp_path / "out", "--split-mode random")


def test_genome_problems(genome_fasta, tmp_path, capsys):
    genome, _ = genome_fasta
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t50\n")
    plain_gz = tmp_path / "plain.fa.gz"
    plain_gz.write_bytes(gzip.compress(genome.read_bytes()))
    assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}", "--genome", plain_gz], capsys, tmp_path / "out", "bgzip", str(plain_gz))
    fenced = tmp_path / "fenced"
    fenced.mkdir()
    copy = fenced / "g.fa"
    copy.write_bytes(genome.read_bytes())
    Path(f"{copy}.fai").mkdir()  # the index path exists but cannot be written
    assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}", "--genome", copy], capsys, tmp_path / "out", "cannot be written", "samtools faidx")
    assert_fails([f"a={bed}", f"b={write_bed_neg(tmp_path)}"], capsys, tmp_path / "out", "--genome")


def test_narrowpeak_without_summit_column(genome_fasta, tmp_path, capsys):
    genome, _ = genome_fasta
    peaks = tmp_path / "p.narrowPeak"
    peaks.write_text("chr1\t0\t50\tx\t0\t.\n")
    assert_fails([f"a={peaks}", f"b={write_bed_neg(tmp_path)}", "--genome", genome], capsys, tmp_path / "out", "column 10")


# ---------------------------------------------------------------- real data


@pytest.mark.needs_resources(JANGGU / "sample.fa", JANGGU / "sample2.fa", reason="bundled janggu peaks")
def test_default_janggu_data_chrom_split(tmp_path, capsys):
    frame, classes, summary = prepare_ok(
        [f"oct4={JANGGU / 'sample.fa'}", f"mafk={JANGGU / 'sample2.fa'}"], capsys, tmp_path / "out"
    )
    assert classes == ["mafk", "oct4"] and summary["split_mode"] == "chrom"
    assert summary["chromosomes"]["test"] == ["chr8", "chr9"] and summary["chromosomes"]["valid"] == ["chr10"]
    totals = summary["totals"]
    assert totals["train"] > 5 * totals["test"] > 0 and totals["valid"] > 0
    for split in ("train", "valid", "test"):
        counts = summary["counts"][split]
        assert 0.8 < counts["oct4"] / counts["mafk"] < 1.25  # both classes in every split, roughly balanced
    assert frame["sequence"].str.len().eq(200).all()
    assert_no_leakage(frame)


@pytest.mark.skipif(not (SHARED / "ienhancer2l").is_dir(), reason="../shared/data not present")
def test_ienhancer_headers_give_chromosome_split(tmp_path, capsys):
    frame, _, summary = prepare_ok(
        [f"enhancer={SHARED / 'ienhancer2l/enhancer.cv.txt'}", f"non={SHARED / 'ienhancer2l/non.cv.txt'}"],
        capsys,
        tmp_path / "out",
    )
    assert summary["split_mode"] == "chrom" and frame["chrom"].str.startswith("chr").all()
    assert summary["chromosomes"]["test"] == ["chr8", "chr9"]


def test_same_file_twice(labelled_fastas, tmp_path, capsys):
    assert_fails([f"a={labelled_fastas['pos']}", f"b={labelled_fastas['pos']}"], capsys, tmp_path / "out", "given twice")
    assert_fails([f"a@K562={labelled_fastas['pos']}", f"b@K562={labelled_fastas['pos']}"], capsys, tmp_path / "out",
                 "given twice as input for cell type K562")


def test_same_file_in_two_cell_types_with_other_labels(labelled_fastas, tmp_path, capsys):
    """(region, cell type) examples: one file's regions bound in one cell type and unbound in another."""
    pos, neg = labelled_fastas["pos"], labelled_fastas["neg"]
    frame, _, _ = prepare_ok([f"pos@K562={pos}", f"neg@K562={neg}", f"neg@HepG2={pos}", f"pos@HepG2={neg}"], capsys, tmp_path / "out")
    assert set(frame["cell_type"]) == {"K562", "HepG2"}
    assert frame["id"].is_unique
    for cell in ("K562", "HepG2"):
        assert set(frame.loc[frame["cell_type"] == cell, "label"]) == {"pos", "neg"}


def test_bad_label_regex(labelled_fastas, tmp_path, capsys):
    assert_fails([labelled_fastas["pos"], "--label-regex", "chr"], capsys, tmp_path / "out", "capture group")
    assert_fails([labelled_fastas["pos"], "--label-regex", "^(pos"], capsys, tmp_path / "out", "not a valid regular expression")
    assert_fails([labelled_fastas["pos"], "--label-regex", r"^(chr8)"], capsys, tmp_path / "out", "record 1", "does not match")


@pytest.mark.needs_resources(console_script("genofm-prepare"), reason="genofm-prepare is not installed on PATH (pip install -e .)")
def test_installed_entry_point(labelled_fastas, tmp_path):
    exe = shutil.which("genofm-prepare")
    helped = subprocess.run([exe, "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert helped.returncode == 0 and "--rc-augment" in helped.stdout and "--test-chroms" in helped.stdout
    out = tmp_path / "out"
    failed = subprocess.run([exe, f"pos={labelled_fastas['pos']}", "--output", str(out / "d.parquet")], capture_output=True, text=True)
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines()[-1].startswith("genofm-prepare: error: only one class")
    assert [p.name for p in out.iterdir()] == ["d.summary.json"] and "error" in json.loads((out / "d.summary.json").read_text())
