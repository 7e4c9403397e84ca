"""Epigenomic tracks beside sequence: features from bigWig/bedGraph/BED, bad input, the ablation, a held-out cell type.

Every track file is written here in its real format (bigWig with pyBigWig, bgzipped + tabix
bedGraph with pysam, BED). The labelled task depends on one assay's signal in each example's own
cell type while the sequences are random, so sequence alone cannot learn it and tracks can.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pyBigWig
import pytest

from genofm.cli.embed import main as embed_main
from genofm.cli.interpret import main as interpret_main
from genofm.cli.prepare import main as prepare_main
from genofm.cli.train import main as train_main
from genofm.embeddings import read_embeddings
from genofm.errors import GenofmError
from genofm.tracks.features import signal_stats, track_features
from genofm.tracks.sheet import TrackSpec, read_sheet
from test_train_fixtures import run_tool

FAST = ["--cs", "3", "--cv-folds", "3", "--bootstrap", "50"]
CHROMS = {"chr1": 40_000, "chr2": 40_000, "chr8": 40_000, "chr9": 40_000, "chr10": 40_000}


def write_genome(path: Path, lengths: dict[str, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for chrom, length in lengths.items():
            handle.write(f">{chrom}\n")
            seq = "".join(rng.choice(list("ACGT"), size=length))
            for i in range(0, length, 60):
                handle.write(seq[i : i + 60] + "\n")
    return path


def write_bigwig(path: Path, lengths: dict[str, int], intervals: dict[str, list[tuple[int, int, float]]]) -> Path:
    """A bigWig with the given (start, end, value) intervals per chromosome (sorted, non-overlapping)."""
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(lengths.items()))
    for chrom in lengths:
        rows = sorted(intervals.get(chrom, []))
        if rows:
            bw.addEntries([chrom] * len(rows), [r[0] for r in rows], ends=[r[1] for r in rows], values=[float(r[2]) for r in rows])
    bw.close()
    return path


def write_bedgraph(path: Path, intervals: dict[str, list[tuple[int, int, float]]], tabix: bool = False) -> Path:
    lines = [f"{c}\t{s}\t{e}\t{v}\n" for c in intervals for s, e, v in sorted(intervals[c])]
    path.write_text("".join(lines))
    if tabix:
        return Path(pysam.tabix_index(str(path), preset="bed", force=True))
    return path


def random_signal(rng, lengths, step=50, fill=0.7):
    out = {}
    for chrom, length in lengths.items():
        starts = np.arange(0, length - step, step)
        starts = starts[rng.random(starts.size) < fill]
        out[chrom] = [(int(s), int(s) + step, round(float(rng.random() * 10), 3)) for s in starts]
    return out


# --- feature extraction ---------------------------------------------------------------------------

def test_bin_statistics_match_a_per_window_reference(tmp_path):
    rng = np.random.default_rng(0)
    signal = random_signal(rng, {"chr1": 30_000, "chr2": 20_000})
    bw = write_bigwig(tmp_path / "s.bw", {"chr1": 30_000, "chr2": 20_000}, signal)
    n = 300
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(n)], "chrom": rng.choice(["chr1", "chr2"], n)})
    frame["start"] = [int(rng.integers(0, 19_000)) for _ in range(n)]
    frame["end"] = frame["start"] + 200 + rng.integers(0, 7, n)  # bins of unequal length
    frame["strand"] = rng.choice(["+", "-", "."], n)
    result = track_features(frame, [TrackSpec("s", "K562", "DNase", bw, "signal")], 4)
    assert result.names[:2] == ["K562|DNase|mean|0", "K562|DNase|mean|1"] and result.names[-1] == "K562|DNase|max|3"
    reader = pyBigWig.open(str(bw))
    for i, row in frame.iterrows():
        values = np.nan_to_num(reader.values(row.chrom, row.start, row.end, numpy=True))
        edges = (np.arange(5) * (row.end - row.start)) // 4
        mean = [values[edges[j] : edges[j + 1]].mean() for j in range(4)]
        high = [values[edges[j] : edges[j + 1]].max() for j in range(4)]
        if row.strand == "-":
            mean, high = mean[::-1], high[::-1]
        np.testing.assert_allclose(result.features[i], mean + high, rtol=1e-5, atol=1e-5)
    covered = reader.stats("chr1", 100, 150, type="mean", exact=True)[0]  # the library's own reader agrees on covered bases
    assert covered is None or signal_stats(np.nan_to_num(reader.values("chr1", 100, 150, numpy=True)), np.array([0]), np.array([50]), 1)[0, 0] == pytest.approx(covered, rel=1e-5)


def test_bedgraph_plain_and_tabix_give_the_bigwig_features(tmp_path):
    rng = np.random.default_rng(1)
    lengths = {"chr1": 20_000}
    signal = random_signal(rng, lengths)
    frame = pd.DataFrame({"id": ["a", "b", "c"], "chrom": ["chr1"] * 3, "start": [0, 5_000, 19_700], "end": [300, 5_250, 20_000],
                          "strand": ["+", "-", "+"]})
    specs = [
        TrackSpec("bw", "K562", "DNase", write_bigwig(tmp_path / "s.bw", lengths, signal), "signal"),
        TrackSpec("plain", "HepG2", "DNase", write_bedgraph(tmp_path / "s.bedGraph", signal), "signal"),
        TrackSpec("tabix", "GM12878", "DNase", write_bedgraph(tmp_path / "t.bedGraph", signal, tabix=True), "signal"),
    ]
    X = track_features(frame, specs, 3).features
    np.testing.assert_allclose(X[:, :6], X[:, 6:12], rtol=1e-6)
    np.testing.assert_allclose(X[:, :6], X[:, 12:], rtol=1e-6)


def test_peak_and_state_fractions(tmp_path):
    peaks = tmp_path / "p.narrowPeak"
    peaks.write_text("chr1\t100\t150\tp1\t0\t.\t1\t1\t1\t25\nchr1\t140\t200\tp2\t0\t.\t1\t1\t1\t25\nchr1\t900\t950\tp3\t0\t.\t1\t1\t1\t25\n")
    states = tmp_path / "s.bed"
    states.write_text("track name=chromhmm\nchr1\t0\t150\t1_TssA\nchr1\t150\t400\t10_TssBiv\nchr1\t400\t1000\t2_TssAFlnk\n")
    frame = pd.DataFrame({"id": ["a", "b"], "chrom": ["chr1", "chr1"], "start": [100, 300], "end": [300, 500], "strand": ["+", "+"]})
    specs = [TrackSpec("p", "K562", "ATAC", peaks, "peaks"), TrackSpec("s", "K562", "ChromHMM", states, "states")]
    result = track_features(frame, specs, 2)
    assert result.names == ["K562|ATAC|peak_fraction|all", "K562|ChromHMM|state=1_TssA|all",
                            "K562|ChromHMM|state=2_TssAFlnk|all", "K562|ChromHMM|state=10_TssBiv|all"]
    np.testing.assert_allclose(result.features, [[0.5, 0.25, 0.0, 0.75], [0.0, 0.0, 0.5, 0.5]])


def test_sheet_errors_name_the_file_and_the_fix(tmp_path):
    bw = write_bigwig(tmp_path / "s.bw", {"chr1": 1000}, {})
    bed = tmp_path / "x.bed"
    bed.write_text("chr1\t0\t10\n")
    cases = [
        ("name\tcell\tassay\tfile\n", "lacks column"),
        (f"name\tcell_type\tassay\tfile\na\tK562\tDNase\t{bw}\na\tHepG2\tDNase\t{bw}\n", "used twice"),
        (f"name\tcell_type\tassay\tfile\na\tK562\tDNase\t{bw}\nb\tK562\tDNase\t{bw}\n", "two 'DNase' tracks"),
        ("name\tcell_type\tassay\tfile\na\tK562\tDNase\tmissing.bw\n", "not found"),
        (f"name\tcell_type\tassay\tfile\na\tK562\tATAC\t{bed}\n", "add a kind column"),
        (f"name\tcell_type\tassay\tfile\na\tK|562\tDNase\t{bw}\n", r"free of '\|'"),
    ]
    for text, message in cases:
        sheet = tmp_path / "sheet.tsv"
        sheet.write_text(text)
        with pytest.raises(GenofmError, match=message):
            read_sheet(sheet)
    sheet = tmp_path / "ok.csv"
    sheet.write_text("name,cell_type,assay,file,kind\na,K562,DNase,s.bw,\nb,K562,ATAC,x.bed,peaks\n")
    specs = read_sheet(sheet)
    assert [s.kind for s in specs] == ["signal", "peaks"] and specs[0].path == bw
    staged = tmp_path / "staged"
    staged.mkdir()
    (staged / "s.bw").write_bytes(bw.read_bytes())
    (staged / "x.bed").write_bytes(bed.read_bytes())
    sheet.write_text("name,cell_type,assay,file,kind\na,K562,DNase,/data/elsewhere/s.bw,\nb,K562,ATAC,x.bed,peaks\n")
    assert [s.path for s in read_sheet(sheet, staged)] == [staged / "s.bw", staged / "x.bed"]
    with pytest.raises(GenofmError, match="not found in"):
        read_sheet(sheet, tmp_path / "nowhere")


def test_bad_tracks_are_refused(tmp_path):
    frame = pd.DataFrame({"id": ["a"], "chrom": ["chr1"], "start": [100], "end": [300], "strand": ["+"]})
    other = write_bigwig(tmp_path / "hg19.bw", {"chr1": 5000}, {"chr1": [(0, 100, 1.0)]})
    with pytest.raises(GenofmError, match="another assembly"):  # lengths differ from the genome's
        track_features(frame, [TrackSpec("o", "K562", "DNase", other, "signal")], 2, {"chr1": 4000})
    far = frame.assign(start=[4900], end=[5100])
    with pytest.raises(GenofmError, match="past the track's chromosome end"):
        track_features(far, [TrackSpec("o", "K562", "DNase", other, "signal")], 2)
    ensembl = write_bigwig(tmp_path / "ens.bw", {"1": 5000}, {"1": [(100, 300, 2.0)]})
    named = track_features(frame, [TrackSpec("e", "K562", "DNase", ensembl, "signal")], 1)  # chr1 = 1
    assert named.features[0, 0] == pytest.approx(2.0)
    mouse = write_bigwig(tmp_path / "mm.bw", {"chrZ": 5000}, {"chrZ": [(0, 100, 1.0)]})
    with pytest.raises(GenofmError, match="none of the examples' chromosomes"):
        track_features(frame, [TrackSpec("m", "K562", "DNase", mouse, "signal")], 1)
    gz = tmp_path / "s.bedGraph.gz"
    pysam.tabix_compress(str(write_bedgraph(tmp_path / "s.bedGraph", {"chr1": [(0, 10, 1.0)]})), str(gz), force=True)
    with pytest.raises(GenofmError, match="tabix -p bed"):
        track_features(frame, [TrackSpec("g", "K562", "DNase", gz, "signal")], 1)
    states = tmp_path / "states.bed"
    states.write_text("chr1\t0\t100\n")
    with pytest.raises(GenofmError, match="chromatin-state BED"):
        track_features(frame, [TrackSpec("s", "K562", "ChromHMM", states, "states")], 1)
    header = tmp_path / "header.bed"
    header.write_text("chrom\tbegin\tfinish\tstate\nchr1\t0\t100\tE1\n")
    with pytest.raises(GenofmError, match="integer start and end"):
        track_features(frame, [TrackSpec("h", "K562", "ChromHMM", header, "states")], 1)
    gap = write_bigwig(tmp_path / "gap.bw", {"chr1": 5000}, {"chr1": [(2000, 2100, 1.0)]})
    result = track_features(frame, [TrackSpec("g", "K562", "DNase", gap, "signal")], 2)
    assert (result.features == 0).all() and result.coverage[0]["windows_without_signal"] == 1  # policy: zero, counted


# --- the task: (region, cell type) examples, the ablation and a held-out cell type ------------------

CELLS = ("A", "B", "C")


@pytest.fixture(scope="module")
def cell_task(tmp_path_factory):
    """Regions on 5 chromosomes; in each cell type a region is bound where that cell type's DNase is high.

    H3K4me3 is noise in every cell type; sequences are random, so the label is not in the sequence.
    """
    tmp = tmp_path_factory.mktemp("tracks")
    rng = np.random.default_rng(5)
    genome = write_genome(tmp / "genome.fa", CHROMS)
    regions = [(chrom, int(start)) for chrom in CHROMS for start in np.arange(1_000, 37_000, 600)]
    bound = {cell: rng.random(len(regions)) < 0.5 for cell in CELLS}
    rows = ["name\tcell_type\tassay\tfile"]
    for cell in CELLS:
        dnase, mark = {}, {}
        for (chrom, start), hit in zip(regions, bound[cell]):
            level = rng.normal(6.0, 1.0) if hit else rng.normal(1.0, 0.7)
            dnase.setdefault(chrom, []).append((start + 50, start + 150, max(0.0, level)))
            mark.setdefault(chrom, []).append((start, start + 200, abs(rng.normal(2.0, 1.0))))
        write_bigwig(tmp / f"{cell}_dnase.bw", CHROMS, dnase)
        write_bedgraph(tmp / f"{cell}_h3k4me3.bedGraph", mark, tabix=True)
        rows.append(f"{cell}_dnase\t{cell}\tDNase\t{cell}_dnase.bw")
        rows.append(f"{cell}_h3k4me3\t{cell}\tH3K4me3\t{cell}_h3k4me3.bedGraph.gz")
        for label, mask in (("bound", bound[cell]), ("unbound", ~bound[cell])):
            (tmp / f"{cell}_{label}.bed").write_text("".join(f"{c}\t{s}\t{s + 200}\n" for (c, s), m in zip(regions, mask) if m))
    (tmp / "tracks.tsv").write_text("\n".join(rows) + "\n")
    return tmp, genome


def _prepare(tmp: Path, genome: Path, monkeypatch, capsys, *extra):
    inputs = [f"{label}@{cell}={tmp / f'{cell}_{label}.bed'}" for cell in CELLS for label in ("bound", "unbound")]
    args = [*inputs, "--genome", genome, "--output", tmp / "ds.parquet", "--split-mode", "cell", "--test-cells", "C",
            "--tracks", tmp / "tracks.tsv", "--track-bins", "2", "--classes", "unbound,bound", *extra]
    return run_tool(prepare_main, args, monkeypatch, capsys)


def test_prepare_writes_cell_type_examples_and_their_track_features(cell_task, monkeypatch, capsys):
    tmp, genome = cell_task
    code, _, err = _prepare(tmp, genome, monkeypatch, capsys)
    assert code == 0, err
    from genofm.data.dataset import read_dataset

    frame, classes = read_dataset(tmp / "ds.parquet")
    assert classes == ["unbound", "bound"] and set(frame["cell_type"]) == {"A", "B", "C"}
    assert set(frame.loc[frame["split"] == "test", "cell_type"]) == {"C"}
    assert set(frame.loc[frame["split"] == "test", "chrom"]) == {"chr8", "chr9"}
    assert "C" not in set(frame.loc[frame["split"] != "test", "cell_type"])
    assert not set(frame.loc[frame["split"] != "test", "chrom"]) & {"chr8", "chr9"}
    summary = json.loads((tmp / "ds.summary.json").read_text())
    assert summary["split_mode"] == "cell" and summary["cell_types"]["test"] == {"C": int((frame["split"] == "test").sum())}
    emb = read_embeddings([tmp / "ds.tracks.h5"])
    assert emb.provenance["backbone"] == "tracks" and emb.provenance["options"] == {"bins": 2, "layout": "own"}
    assert emb.feature_names[:2] == ["own|DNase|mean|0", "own|DNase|mean|1"] and len(emb.feature_names) == 8
    assert {t["cell_type"] for t in emb.provenance["tracks"]} == set(CELLS)
    assert list(emb.feature_groups) == ["assay:DNase", "cell:own", "kind:signal", "assay:H3K4me3"] or set(emb.feature_groups) >= {"assay:DNase", "assay:H3K4me3"}
    assert summary["tracks"]["n_features"] == 8 and len(summary["tracks"]["coverage"]) == 6
    # the same region has each cell type's own signal
    X = emb.align(frame["id"])
    same = frame[(frame["chrom"] == "chr1") & (frame["start"] == frame["start"].min())]
    assert len(same) == 2 and len({tuple(X[i]) for i in same.index}) == 2


def test_the_ablation_sequence_only_fails_tracks_and_both_learn_a_held_out_cell_type(cell_task, monkeypatch, capsys):
    tmp, genome = cell_task
    if not (tmp / "ds.parquet").exists():
        assert _prepare(tmp, genome, monkeypatch, capsys)[0] == 0
    dataset, tracks = tmp / "ds.parquet", tmp / "ds.tracks.h5"
    code, _, err = run_tool(embed_main, [dataset, "--backbone", "kmer", "-O", "k=4", "--output", tmp / "kmer.h5", "--device", "cpu"],
                            monkeypatch, capsys)
    assert code == 0, err
    runs = {"sequence only": [tmp / "kmer.h5"], "tracks only": [tracks], "both": [tmp / "kmer.h5", tracks]}
    table = []
    for name, files in runs.items():
        model = tmp / name.replace(" ", "_")
        args = [dataset, *[a for f in files for a in ("-e", f)], "-o", model, *FAST]
        code, _, err = run_tool(train_main, args, monkeypatch, capsys)
        assert code == 0, err
        metrics = json.loads((model / "metrics.json").read_text())["metrics"]
        document = json.loads((model / "model.json").read_text())
        table.append({"features": name, "backbone": document["backbone"]["backbone"], "n_features": len(document["feature_names"]),
                      "test_auroc": metrics["auroc"]["value"], "test_mcc": metrics["mcc"]["value"],
                      "test_accuracy": metrics["accuracy"]["value"]})
    result = pd.DataFrame(table).set_index("features")
    with capsys.disabled():  # the table quoted in the closing note (pytest -s)
        print("\nablation (test split = held-out cell type C on held-out chromosomes chr8, chr9)\n" + result.to_string())
    assert result.loc["sequence only", "test_auroc"] < 0.65
    assert result.loc["tracks only", "test_auroc"] > 0.95
    assert result.loc["both", "test_auroc"] > 0.95
    assert result.loc["both", "backbone"] == "kmer+tracks"
    code, _, err = run_tool(interpret_main, ["compare", *[tmp / n.replace(" ", "_") for n in runs], "-o", tmp / "ablation"], monkeypatch, capsys)
    assert code == 0, err
    compared = pd.read_csv(tmp / "ablation" / "comparison.tsv", sep="\t")
    assert len(compared) == 3 and compared["backbone"].nunique() == 3

    out = tmp / "explained"
    args = ["model", tmp / "tracks_only", "-o", out, "--dataset", dataset, "-e", tracks, "--refits", "5", "--top", "4"]
    code, _, err = run_tool(interpret_main, args, monkeypatch, capsys)
    assert code == 0, err
    by_assay = pd.read_csv(out / "tracks_by_assay.tsv", sep="\t").set_index("assay")
    assert by_assay.loc["DNase", "share"] > 0.8 and by_assay.loc["DNase", "signed_weight"] > 0
    assert {"tracks_by_statistic.tsv", "tracks_by_bin.tsv", "tracks_by_cell_type.tsv"} <= {p.name for p in out.iterdir()}

    out = tmp / "explained_both"
    args = ["model", tmp / "both", "-o", out, "--dataset", dataset, "-e", tmp / "kmer.h5", "-e", tracks, "--refits", "0", "--top", "10"]
    code, _, err = run_tool(interpret_main, args, monkeypatch, capsys)
    assert code == 0, err
    shares = pd.read_csv(out / "backbone_shares.tsv", sep="\t").set_index("backbone")
    assert shares.loc["tracks", "weight_share"] > shares.loc["kmer", "weight_share"] / 10  # 8 track features vs 136 k-mers
    assert shares.loc["tracks", "best_rank"] == 1 and (out / "tracks_by_assay.tsv").is_file()


def test_a_bad_track_leaves_no_partial_output(cell_task, tmp_path, monkeypatch, capsys):
    tmp, genome = cell_task
    wrong = write_bigwig(tmp_path / "hg19.bw", {c: n + 1000 for c, n in CHROMS.items()}, {"chr1": [(0, 10, 1.0)]})
    sheet = tmp_path / "bad.tsv"
    sheet.write_text("name\tcell_type\tassay\tfile\n" + "".join(f"{c}\t{c}\tDNase\t{wrong}\n" for c in CELLS))
    out = tmp_path / "bad.parquet"
    inputs = [f"{label}@{cell}={tmp / f'{cell}_{label}.bed'}" for cell in CELLS for label in ("bound", "unbound")]
    code, _, err = run_tool(prepare_main, [*inputs, "--genome", genome, "--output", out, "--tracks", sheet], monkeypatch, capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("genofm-prepare: error:") and err.count("error:") == 1
    assert "another assembly" in last and "hg19.bw" in last
    assert not list(tmp_path.glob("bad*parquet*")) and not list(tmp_path.glob("*.h5*")) and not list(tmp_path.glob("bad.summary*"))


def test_without_cell_types_each_track_is_its_own_block_and_interpretation_names_the_cell_type(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(9)
    genome = write_genome(tmp_path / "genome.fa", CHROMS)
    regions = [(chrom, int(start)) for chrom in CHROMS for start in np.arange(1_000, 37_000, 600)]
    bound = rng.random(len(regions)) < 0.5
    rows = ["name\tcell_type\tassay\tfile"]
    for cell in ("K562", "HepG2"):
        signal = {}
        for (chrom, start), hit in zip(regions, bound):
            level = rng.normal(6.0, 1.0) if (hit and cell == "K562") else rng.normal(2.0, 1.5)  # only K562 follows the label
            signal.setdefault(chrom, []).append((start + 50, start + 150, max(0.0, level)))
        write_bigwig(tmp_path / f"{cell}.bw", CHROMS, signal)
        rows.append(f"{cell}\t{cell}\tDNase\t{cell}.bw")
    (tmp_path / "tracks.tsv").write_text("\n".join(rows) + "\n")
    for label, mask in (("bound", bound), ("unbound", ~bound)):
        (tmp_path / f"{label}.bed").write_text("".join(f"{c}\t{s}\t{s + 200}\n" for (c, s), m in zip(regions, mask) if m))
    dataset = tmp_path / "ds.parquet"
    code, _, err = run_tool(prepare_main, [f"bound={tmp_path / 'bound.bed'}", f"unbound={tmp_path / 'unbound.bed'}", "--genome", genome,
                                           "--output", dataset, "--tracks", tmp_path / "tracks.tsv", "--track-bins", "1"], monkeypatch, capsys)
    assert code == 0, err
    tracks = tmp_path / "ds.tracks.h5"
    assert read_embeddings([tracks]).feature_names == ["K562|DNase|mean|0", "K562|DNase|max|0", "HepG2|DNase|mean|0", "HepG2|DNase|max|0"]
    code, _, err = run_tool(train_main, [dataset, "-e", tracks, "-o", tmp_path / "model", *FAST], monkeypatch, capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "model" / "metrics.json").read_text())["metrics"]["auroc"]["value"] > 0.95
    out = tmp_path / "explained"
    code, _, err = run_tool(interpret_main, ["model", tmp_path / "model", "-o", out, "--dataset", dataset, "-e", tracks, "--refits", "5"],
                            monkeypatch, capsys)
    assert code == 0, err
    by_cell = pd.read_csv(out / "tracks_by_cell_type.tsv", sep="\t").set_index("cell_type")
    assert by_cell.loc["K562", "share"] > 0.7 and by_cell.loc["K562", "stability"] > 0.5


def test_tiny_tracks_over_labelled_peaks_are_readable(labelled_fastas, tmp_path):
    from genofm.testing.tiny_tracks import write_tracks

    sheet = write_tracks(tmp_path / "tt", {"pos": labelled_fastas["pos"], "neg": labelled_fastas["neg"]}, "pos", ["K562", "HepG2"])
    specs = read_sheet(sheet)
    assert [(s.cell_type, s.assay, s.kind) for s in specs] == [("K562", "DNase", "signal"), ("K562", "H3K4me3", "signal"),
                                                                ("HepG2", "DNase", "signal"), ("HepG2", "H3K4me3", "signal")]
    frame = pd.DataFrame({"id": ["p", "n"], "chrom": ["chr1", "chr1"], "start": [0, 50_000], "end": [100, 50_100], "strand": ["+", "+"]})
    X = track_features(frame, specs, 1).features
    assert X[0, 0] > X[1, 0]  # pos peaks carry the DNase signal
