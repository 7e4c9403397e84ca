"""genofm on four public labelled datasets, each model's test metrics beside the published numbers.

Runs the tools exactly as a user would (``genofm-prepare`` -> ``genofm-embed`` -> ``genofm-train``
-> ``genofm-interpret compare``) on the datasets in ``../shared/data`` (relative to the repository
root; see its README for sources and licences), for these models:

* ``kmer``: k-mer spectrum + standardised logistic regression; k chosen on the validation split;
* ``spliceai``: the five SpliceAI-10k models' pooled features + logistic regression (all sets but nRC by default);
* ``positional``: position-specific k-mers (``-O positions=N``, k=1 and k=1 + k=2 joined, chosen on the validation
  split) + logistic regression, for the sets whose sequences are aligned (splice junctions, promoters);
* ``stacked``: the SpliceAI features joined with the chosen k-mer spectrum (and, on aligned sets, with the chosen
  position-specific k-mers, with or without the spectrum: the join is chosen on the validation split) in one
  logistic regression (all sets but nRC by default);
* ``cnn``: the from-scratch CNN (``--finetune cnn``): each architecture in ``CNN_CANDIDATES`` (on
  aligned sets also ``ALIGNED_CNN_CANDIDATES``) with seed 0, the best on VALIDATION accuracy
  trained with more seeds, reported as mean +- sd and as the ensemble of the seeds' averaged
  probabilities. Oriented sequences (RNA, TSS-anchored promoters,
  splice junctions) train and predict on their given strand only;
* ``blend``: the mean of the CNN seed ensemble's probabilities and those of the logistic-regression
  model (kmer, positional, spliceai or stacked) best on VALIDATION accuracy, scored from the model
  folders' valid / test prediction files (nothing is re-trained);
* ``selected ensemble``: every model trained for the dataset (all k, joins, CNN candidates and seeds)
  mixed with weights chosen by greedy forward selection on VALIDATION log-loss (genofm's
  ``select_ensemble``, what ``genofm-interpret compare --select-ensemble`` adds). Reported, but not a
  final-pick candidate: its weights were fitted to the validation split, so its validation accuracy
  flatters it against the other rows.

Each dataset's final pick is the model (kmer, positional, spliceai, stacked, the CNN ensemble or the
blend) best on VALIDATION accuracy; the table marks it.

Every choice is made on the validation split (logistic regression's C by CV on train); the table
prints validation beside test metrics, and a second table the CNN's training time per run (wall
seconds, threads, load average at start and end). See docs/public-benchmarks.md for the figures.

Splits: iEnhancer-2L and nRC keep their published train / independent-test files (a validation
split is drawn from train); E. coli promoters and UCI splice have no published split and get a
seeded stratified random 80/10/10 split. The published test sets repeat some training sequences
(reported by genofm-prepare); the table gives accuracy on the whole published test set and on its
leak-free part (test rows whose sequence, on either strand, neither repeats nor shares an exact
40-bp stretch with a sequence of train or valid). The random splits keep such overlapping
sequences (shifted windows of one region) in one split, as genofm-prepare does by default.

Nothing here is hard-coded but the published reference numbers (copied from the data README);
the targets are those of issue 14. Outputs go to ``--workdir`` (default ``benchmarks/work``,
git-ignored); finished steps are reused on a re-run unless ``--fresh``. Usage::

    python benchmarks/public_benchmarks.py                        # everything
    python benchmarks/public_benchmarks.py --datasets uci_splice --models kmer,cnn
    python benchmarks/public_benchmarks.py --cnn-seeds 1 --cnn-candidates basset --workdir /tmp/gbench

Exits 0 with a message when ``../shared/data`` is absent (nothing to benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLICEAI = Path(os.environ.get("GENOFM_CACHE", Path.home() / ".cache" / "genofm")) / "resources" / "spliceai"
MODELS = ("kmer", "positional", "spliceai", "stacked", "cnn")


#: CNN options for sequences given in a meaningful orientation (RNA families, promoters 5'->3',
#: splice junctions): no reverse-complement augmentation, no strand averaging (cnn.py explains why)
ORIENTED = ["-O", "rc_augment=false", "-O", "strand_average=false"]
#: CNN candidates, each trained with seed 0; the one with the best VALIDATION accuracy gets more seeds
CNN_CANDIDATES: dict[str, list[str]] = {
    "basset": ["-O", "architecture=basset"],
    "dilated": ["-O", "architecture=dilated"],
}
#: extra candidates for aligned sequences (``Benchmark.positions``), where an element's exact offset is
#: the signal: the dilated CNN reading every position instead of 8 pooled bins, and the convolution +
#: self-attention network (its size grows with the window, so only short aligned windows get it)
ALIGNED_CNN_CANDIDATES: dict[str, list[str]] = {
    "dilated_full": ["-O", "architecture=dilated", "-O", "bins=0"],
    "transformer": ["-O", "architecture=transformer"],
}
#: the models whose chosen variant may be blended with the CNN ensemble (all logistic regressions)
LOGREG_MODELS = ("kmer", "positional", "spliceai", "stacked")
ALL_CNN_CANDIDATES = {**CNN_CANDIDATES, **ALIGNED_CNN_CANDIDATES}


@dataclass
class Benchmark:
    """One public dataset: how to prepare it, what was published, what genofm must reach."""

    name: str
    inputs: list[str]
    prepare_options: list[str]
    published: str
    targets: dict[str, float]
    kmer_ks: tuple[int, ...] = (4, 5, 6)
    #: sequences given in one meaningful orientation: the CNN trains and predicts on that strand only
    oriented: bool = False
    #: aligned sequences of this length (a splice junction or TSS at a fixed offset): position-specific
    #: k-mers over the whole window are a model of their own; 0 = not aligned (no positional model)
    positions: int = 0
    #: models run unless --models names others (SpliceAI's 10 kb-context embedding takes 15-25 min per
    #: set at one thread here, hours on nRC's 8,689 RNAs of up to 770 nt, so nRC skips it by default)
    models: tuple[str, ...] = ("kmer", "spliceai", "stacked", "cnn")

    @property
    def cnn_options(self) -> list[str]:
        return list(ORIENTED) if self.oriented else []

    @property
    def cnn_candidates(self) -> list[str]:
        """CNN architectures tried with seed 0 unless --cnn-candidates names others."""
        return [*CNN_CANDIDATES, *(ALIGNED_CNN_CANDIDATES if self.positions else {})]


def benchmarks(data: Path) -> dict[str, Benchmark]:
    ie, ec, nrc, uci = data / "ienhancer2l", data / "ecoli_promoters", data / "ncrna_nrc", data / "uci_splice"
    return {
        "ienhancer2l": Benchmark(
            "ienhancer2l",
            [f"train:enhancer={ie / 'enhancer.cv.txt'}", f"train:non={ie / 'non.cv.txt'}",
             f"test:enhancer={ie / 'enhancer.ind.txt'}", f"test:non={ie / 'non.ind.txt'}"],
            ["--classes", "non,enhancer"],
            "indep. test: iEnhancer-2L 0.730/0.46; BERT-Enhancer 0.756/0.515; iEnhancer-5Step 0.79/0.58; "
            "iEnhancer-ELM ~0.80, ensemble 0.830/0.661 (acc/MCC)",
            {"accuracy": 0.80, "mcc": 0.60},
        ),
        "ecoli_promoters": Benchmark(
            "ecoli_promoters", [str(ec / "v9d3.csv")], ["--sequence-column", "seqs", "--label-column", "labels"],
            "iPromoter-2L ~0.82 acc (5-fold CV)", {"accuracy": 0.87}, oriented=True, positions=81,
            models=("kmer", "positional", "spliceai", "stacked", "cnn"),
        ),
        "ncrna_nrc": Benchmark(
            "ncrna_nrc", [f"train={nrc / 'dataset_nRC_train.fasta'}", f"test={nrc / 'dataset_nRC_test.fasta'}"],
            ["--label-regex", r"^(\S+)"], "test acc ~0.82-0.90", {"accuracy": 0.90}, kmer_ks=(3, 4, 5), oriented=True,
            models=("kmer", "cnn"),
        ),
        "uci_splice": Benchmark(
            "uci_splice", [str(uci / "splice.csv")], ["--sequence-column", "Sequence", "--label-column", "Class"],
            "classic methods ~0.95 acc", {"accuracy": 0.96}, kmer_ks=(3, 4, 5), oriented=True, positions=60,
            models=("kmer", "positional", "spliceai", "stacked", "cnn"),
        ),
    }


class Runner:
    """Runs genofm tools, logs each command with its wall time, reuses outputs that already exist."""

    def __init__(self, workdir: Path, fresh: bool, threads: int):
        self.workdir = workdir
        self.fresh = fresh
        self.threads = threads
        self.log = workdir / "commands.log"
        self.times: dict[str, float] = {}

    def tool(self, name: str) -> str:
        local = Path(sys.executable).parent / f"genofm-{name}"
        found = str(local) if local.exists() else shutil.which(f"genofm-{name}")
        if not found:
            sys.exit(f"public_benchmarks: genofm-{name} not found; run `make setup` and `source scripts/env.sh`")
        return found

    def run(self, key: str, tool: str, args: list[str], output: Path) -> Path:
        if output.exists() and not self.fresh:
            return output
        command = [self.tool(tool), *map(str, args)]
        load_start = os.getloadavg()[0]
        started = time.time()
        print(f"[{time.strftime('%H:%M:%S')}] genofm-{tool} {' '.join(map(str, args))}", flush=True)
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(self.threads)})
        seconds = time.time() - started
        with open(self.log, "a") as handle:
            handle.write(f"# {key}: {seconds:.1f} s, exit {result.returncode}\ngenofm-{tool} {' '.join(map(str, args))}\n")
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-3000:])
            raise RuntimeError(f"genofm-{tool} failed for {key} (exit {result.returncode})")
        self.times[key] = seconds
        (output.parent / f".{output.name}.seconds").write_text(f"{seconds:.1f}\n")
        timing = {"seconds": round(seconds, 1), "threads": self.threads, "load_start": load_start,
                  "load_end": os.getloadavg()[0], "cpus": os.cpu_count(), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        (output.parent / f".{output.name}.timing.json").write_text(json.dumps(timing) + "\n")
        return output

    def seconds(self, output: Path) -> float | None:
        marker = output.parent / f".{output.name}.seconds"
        return float(marker.read_text()) if marker.is_file() else None

    def timing(self, output: Path) -> dict:
        """Wall seconds, threads and the 1-minute load average at start and end of the step (when recorded)."""
        marker = output.parent / f".{output.name}.timing.json"
        if marker.is_file():
            return json.loads(marker.read_text())
        return {"seconds": self.seconds(output), "threads": None, "load_start": None, "load_end": None}


def cnn_available(runner: Runner) -> bool:
    """Whether this genofm's genofm-train can train the from-scratch CNN (``--finetune cnn``)."""
    result = subprocess.run([runner.tool("train"), "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    return "cnn" in result.stdout


def _metrics(model_dir: Path, split: str = "test") -> dict:
    """Point estimates from metrics.json: the test split, or its ``valid`` section (None when absent)."""
    document = json.loads((model_dir / "metrics.json").read_text())
    if split == "valid":
        document = document.get("valid")
        if not isinstance(document, dict) or "metrics" not in document:
            return {}
    return {k: v["value"] for k, v in document["metrics"].items()}


def validation_metrics(model_dir: Path, runner: Runner, dataset: Path, embeddings: list[Path]) -> dict:
    """Validation metrics: from metrics.json when genofm-train wrote them, else by genofm-predict on the dataset
    (model folders from genofm versions that did not score the validation split)."""
    found = _metrics(model_dir, "valid")
    if found:
        return found
    from sklearn.metrics import matthews_corrcoef

    predictions = model_dir.parent / f"{model_dir.name}.all_predictions.tsv"
    runner.run(f"predict {model_dir.name}", "predict",
               [dataset, "--model", model_dir, *[a for e in embeddings for a in ("--embeddings", e)], "--output", predictions],
               predictions)
    table = pd.read_csv(predictions, sep="\t", dtype=str, keep_default_na=False)
    frame = pd.read_parquet(dataset, columns=["id", "split", "augmented"])
    valid_ids = set(frame.loc[(frame["split"] == "valid") & ~frame["augmented"], "id"])
    rows = table[table["id"].isin(valid_ids)]
    if rows.empty:
        return {}
    return {"accuracy": float((rows["predicted_label"] == rows["label"]).mean()),
            "mcc": float(matthews_corrcoef(rows["label"], rows["predicted_label"]))}


def leak_free_ids(dataset: Path) -> set[str]:
    """Test ids whose sequence (either strand) neither appears in nor overlaps (genofm-prepare's default
    --overlap-bp: an exact shared stretch of 40 bp) a sequence of train or valid."""
    from genofm.data.overlaps import overlap_groups

    frame = pd.read_parquet(dataset, columns=["id", "sequence", "split", "augmented"])
    frame = frame[~frame["augmented"]]
    groups = overlap_groups(frame["sequence"].tolist())
    seen = set(groups[(frame["split"] != "test").to_numpy()].tolist())
    test = (frame["split"] == "test").to_numpy()
    return {i for i, g in zip(frame["id"][test], groups[test]) if g not in seen}


def accuracy_on(model_dir: Path | None, ids: set[str], table: pd.DataFrame | None = None) -> tuple[float, int]:
    if table is None:
        table = pd.read_csv(model_dir / "test_predictions.tsv", sep="\t", dtype=str, keep_default_na=False)
    rows = table[table["id"].isin(ids)]
    return (float((rows["predicted_label"] == rows["label"]).mean()) if len(rows) else float("nan")), len(rows)


def ensemble_predictions(model_dirs: list[Path], classes: list[str], weights: list[float] | None = None) -> pd.DataFrame:
    """Test rows labelled by the models' (weighted) average probabilities (genofm's ensemble_probabilities, what
    genofm-interpret compare's ensemble rows score)."""
    from genofm.evaluation.seeds import ensemble_probabilities

    ids, truth, proba = ensemble_probabilities(model_dirs, classes, "test", weights)
    names = np.array(classes, dtype=object)
    return pd.DataFrame({"id": ids, "label": names[truth], "predicted_label": names[proba.argmax(axis=1)]})


SHOWN = ("accuracy", "mcc", "auroc")


def ensemble_values(model_dirs: list[Path], classes: list[str], split: str = "test", weights: list[float] | None = None) -> dict:
    """Metric values (no bootstrap) of the models' (weighted) averaged probabilities on one split (genofm's ensemble_metrics)."""
    from genofm.evaluation.seeds import ensemble_metrics

    return {k: v["value"] for k, v in ensemble_metrics(model_dirs, classes, n_bootstrap=0, split=split, weights=weights)["metrics"].items()}


def weighted_metrics(model_dirs: list[Path], weights: list[float], classes: list[str]) -> tuple[dict, dict, pd.DataFrame]:
    """Validation and test metrics, and test predictions, of the weighted mean of the models' probabilities."""
    return (ensemble_values(model_dirs, classes, "valid", weights), ensemble_values(model_dirs, classes, "test", weights),
            ensemble_predictions(model_dirs, classes, weights))


def blend_metrics(cnn_dirs: list[Path], other: Path, classes: list[str]) -> tuple[dict, dict, pd.DataFrame]:
    """The 1:1 mean of the CNN seeds' ensemble and ``other``'s probabilities: ``other`` weighs as much as all seeds."""
    return weighted_metrics([*cnn_dirs, other], [1.0] * len(cnn_dirs) + [float(len(cnn_dirs))], classes)


def selected_ensemble(library: list[Path], classes: list[str]) -> tuple[dict[Path, float], dict, dict, pd.DataFrame]:
    """Caruana's greedy selection over every model folder of a dataset on VALIDATION log-loss (genofm's
    select_ensemble): the weights, validation and test metrics and test predictions of the selected mix."""
    from genofm.evaluation.ensemble_selection import select_ensemble

    weights = select_ensemble(library, classes)
    return (weights, *weighted_metrics(list(weights), list(weights.values()), classes))


def mark_final_pick(rows: list[dict]) -> str | None:
    """Set ``final`` on the row best on validation accuracy among those that are one deployable model each
    (``_final``: a chosen logreg, the CNN ensemble, the blend); returns that row's model."""
    finalists = {i: {"accuracy": float("nan") if r.get("valid_accuracy") is None else r["valid_accuracy"]}
                 for i, r in enumerate(rows) if r.get("_final")}
    for row in rows:
        row["final"] = False
    if not finalists:
        return None
    best, _ = best_on_validation(finalists)
    rows[best]["final"] = True
    return rows[best]["model"]


def best_on_validation(scores: dict[str, dict]) -> tuple[str, str]:
    """The candidate with the best validation accuracy (the first listed on a tie) and a line showing all of them."""
    best = max(scores, key=lambda n: (scores[n].get("accuracy", float("nan")), -list(scores).index(n)))
    return best, ", ".join(f"{name} {value.get('accuracy', float('nan')):.3f}" for name, value in scores.items())


def run_benchmark(bench: Benchmark, models: list[str], runner: Runner, args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """Every model of one dataset; returns the table rows and the CNN's timing rows."""
    out = runner.workdir / bench.name
    out.mkdir(parents=True, exist_ok=True)
    dataset = runner.run(f"{bench.name} prepare", "prepare",
                         [*bench.inputs, *bench.prepare_options, "--seed", "0", "--output", out / "dataset.parquet"],
                         out / "dataset.parquet")
    clean = leak_free_ids(dataset)
    results: list[dict] = []
    timings: list[dict] = []
    model_dirs: list[Path] = []
    library: list[Path] = []  # every model trained here, the pool of the selected ensemble
    threads = ["--threads", str(runner.threads)]

    def embed(backbone: str, options: list[str], name: str, extra: list[str] = ()) -> Path:
        path = out / f"{name}.h5"
        return runner.run(f"{bench.name} embed {name}", "embed",
                          [dataset, "--backbone", backbone, *options, *extra, *threads, "--output", path], path)

    def train(name: str, embeddings: list[Path], extra: list[str] = ()) -> Path:
        path = out / name
        library.append(path)
        return runner.run(f"{bench.name} train {name}", "train",
                          [dataset, *[a for e in embeddings for a in ("--embeddings", e)], *extra, *threads, "--output", path], path)

    def record(model: str, detail: str, model_dir: Path, seconds: float | None, valid: dict, table: pd.DataFrame | None = None,
               metrics: dict | None = None, spread: dict | None = None) -> None:
        metrics = metrics or _metrics(model_dir)
        clean_acc, n_clean = accuracy_on(model_dir, clean, table)
        results.append({"dataset": bench.name, "model": model, "detail": detail,
                        **{f"valid_{k}": valid.get(k) for k in SHOWN}, **{k: metrics.get(k) for k in SHOWN},
                        **{f"{k}_sd": (spread or {}).get(f"{k}_sd") for k in SHOWN},
                        "leak_free_accuracy": clean_acc, "n_leak_free": n_clean, "seconds": seconds,
                        "_dir": model_dir, "_final": model in LOGREG_MODELS})

    best_k = None
    if {"kmer", "stacked"} & set(models):
        scores = {}
        for k in bench.kmer_ks:
            emb = embed("kmer", ["-O", f"k={k}"], f"kmer_k{k}")
            model_dir = train(f"kmer_k{k}_logreg", [emb])
            scores[k] = validation_metrics(model_dir, runner, dataset, [emb])
        best_k = max(scores, key=lambda k: (scores[k].get("accuracy", float("nan")), -k))
        shown = ", ".join(f"k={k} {v.get('accuracy', float('nan')):.3f}" for k, v in scores.items())
        print(f"  {bench.name}: k-mer VALIDATION accuracy {shown}; chose k={best_k}")
        if "kmer" in models:
            model_dir = out / f"kmer_k{best_k}_logreg"
            model_dirs.append(model_dir)
            record("kmer", f"k={best_k} (k of {list(bench.kmer_ks)} by valid acc; C by 5-fold CV on train), logreg", model_dir,
                   (runner.seconds(out / f"kmer_k{best_k}.h5") or 0) + (runner.seconds(model_dir) or 0), scores[best_k])
    positional: list[Path] = []  # the chosen position-specific k-mer embeddings
    positional_name, positional_tag = "", ""  # e.g. "k=1 + k=2" and "12" (in folder names)
    if ("positional" in models or "stacked" in models) and bench.positions:
        window = ["-O", f"positions={bench.positions}"]
        pos1 = embed("kmer", ["-O", "k=1", *window], "pos_k1")
        pos2 = embed("kmer", ["-O", "k=2", *window], "pos_k2")
        candidates = {"k=1": ("1", [pos1]), "k=1 + k=2": ("12", [pos1, pos2])}
        dirs = {name: train(f"pos_k{tag}_logreg", files) for name, (tag, files) in candidates.items()}
        scores = {name: validation_metrics(dirs[name], runner, dataset, files) for name, (_, files) in candidates.items()}
        best, shown = best_on_validation(scores)
        positional_name, (positional_tag, positional) = best, candidates[best]
        print(f"  {bench.name}: positional VALIDATION accuracy {shown}; chose {best}")
        if "positional" in models:
            model_dirs.append(dirs[best])
            record("positional", f"position-specific k-mers {best} over the central {bench.positions} bp (by valid acc; "
                   "C by 5-fold CV on train), logreg", dirs[best],
                   sum(runner.seconds(e) or 0 for e in positional) + (runner.seconds(dirs[best]) or 0), scores[best])
    elif "positional" in models:
        print(f"  {bench.name}: positional skipped: its sequences are not aligned (Benchmark.positions = 0)")
    if {"spliceai", "stacked"} & set(models):
        if not SPLICEAI.is_dir():
            print(f"  {bench.name}: spliceai skipped: {SPLICEAI} not found (make setup extracts the weights)")
        else:
            spliceai = embed("spliceai", ["--weights", SPLICEAI], "spliceai")
            if "spliceai" in models:
                model_dir = train("spliceai_logreg", [spliceai])
                model_dirs.append(model_dir)
                record("spliceai", "5 models, logreg (C by CV on train)", model_dir,
                       (runner.seconds(spliceai) or 0) + (runner.seconds(model_dir) or 0),
                       validation_metrics(model_dir, runner, dataset, [spliceai]))
            if "stacked" in models:
                kmer = out / f"kmer_k{best_k}.h5"
                joins = {f"kmer k={best_k} + spliceai": (f"stacked_k{best_k}_spliceai_logreg", [kmer, spliceai])}
                if positional:
                    joins[f"positional {positional_name} + spliceai"] = (f"stacked_pos{positional_tag}_spliceai_logreg", [*positional, spliceai])
                    joins[f"positional {positional_name} + kmer k={best_k} + spliceai"] = (
                        f"stacked_pos{positional_tag}_k{best_k}_spliceai_logreg", [*positional, kmer, spliceai])
                dirs = {name: train(folder, files) for name, (folder, files) in joins.items()}
                scores = {name: validation_metrics(dirs[name], runner, dataset, joins[name][1]) for name in joins}
                best, shown = best_on_validation(scores)
                if len(joins) > 1:
                    print(f"  {bench.name}: stacked VALIDATION accuracy {shown}; chose {best}")
                for name in joins:
                    chosen = name == best
                    if chosen:
                        model_dirs.append(dirs[name])
                    record("stacked" if chosen else "stacked (not chosen)",
                           f"{name}, logreg" + (" (join by valid acc)" if len(joins) > 1 and chosen else ""), dirs[name],
                           runner.seconds(dirs[name]), scores[name])
    if "cnn" in models:
        if not cnn_available(runner):
            print(f"  {bench.name}: cnn skipped: this genofm-train has no --finetune cnn yet")
        else:
            results_cnn, timing_cnn, seeds, others = run_cnn(bench, runner, args, dataset, out, threads)
            for row in results_cnn:
                tables = row.pop("_table")
                if isinstance(tables, list):  # seeds: the mean of their leak-free accuracies
                    scores = [accuracy_on(None, clean, t) for t in tables]
                    row["leak_free_accuracy"], row["n_leak_free"] = float(np.mean([a for a, _ in scores])), scores[0][1]
                else:
                    row["leak_free_accuracy"], row["n_leak_free"] = accuracy_on(None, clean, tables)
            logregs = {r["model"]: r for r in results if r["model"] in LOGREG_MODELS}
            results.extend(results_cnn)
            timings.extend(timing_cnn)
            model_dirs.extend([*seeds, *others])
            library.extend([*seeds, *others])
            if logregs and len(seeds) > 1:
                best, shown = best_on_validation({m: {"accuracy": r["valid_accuracy"]} for m, r in logregs.items()})
                classes = json.loads((seeds[0] / "model.json").read_text())["classes"]
                valid, test, table = blend_metrics(seeds, logregs[best]["_dir"], classes)
                clean_acc, n_clean = accuracy_on(None, clean, table)
                results.append({"dataset": bench.name, "model": "blend",
                                "detail": f"mean of the cnn {len(seeds)}-seed ensemble's and the {best} logreg's probabilities "
                                f"(logreg by valid acc: {shown})",
                                **{f"valid_{k}": valid.get(k) for k in SHOWN}, **{k: test.get(k) for k in SHOWN},
                                "leak_free_accuracy": clean_acc, "n_leak_free": n_clean, "seconds": None, "_final": True})
    if len(library) > 1:
        classes = json.loads((library[0] / "model.json").read_text())["classes"]
        weights, valid, test, table = selected_ensemble(library, classes)
        clean_acc, n_clean = accuracy_on(None, clean, table)
        members = ", ".join(f"{d.name} {w:.2f}" for d, w in sorted(weights.items(), key=lambda item: -item[1]))
        print(f"  {bench.name}: selected ensemble (VALIDATION log-loss) {members}")
        results.append({"dataset": bench.name, "model": "selected ensemble",
                        "detail": f"greedy forward selection with replacement on valid log-loss (Caruana 2004) from the "
                        f"{len(library)} models trained here; weights: {members}",
                        **{f"valid_{k}": valid.get(k) for k in SHOWN}, **{k: test.get(k) for k in SHOWN},
                        "leak_free_accuracy": clean_acc, "n_leak_free": n_clean, "seconds": None,
                        # not a final-pick candidate: its weights were fitted to the validation split, so its
                        # validation accuracy is not comparable with the other rows' (UCI splice: 0.970 valid, 0.957 test)
                        "_final": False})
    final = mark_final_pick(results)
    if final:
        print(f"  {bench.name}: final pick by VALIDATION accuracy: {final}")
    if model_dirs:
        runner.run(f"{bench.name} compare", "interpret",
                   ["compare", *model_dirs, "--output", out / "comparison"], out / "comparison")
    for row in results:
        for private in ("_dir", "_final"):
            row.pop(private, None)
        row["published"] = bench.published
        row["target"] = ", ".join(f"{k} >= {v}" for k, v in bench.targets.items())
        row["meets_target"] = all(row.get(k) is not None and row[k] >= v for k, v in bench.targets.items())
    return results, timings


def run_cnn(bench: Benchmark, runner: Runner, args: argparse.Namespace, dataset: Path, out: Path,
            threads: list[str]) -> tuple[list[dict], list[dict], list[Path], list[Path]]:
    """CNN candidates with seed 0, the best by VALIDATION accuracy with more seeds; mean +- sd and ensemble rows,
    timing rows, the chosen architecture's seed folders and the other candidates' folders."""
    from genofm.evaluation.seeds import metric_spread

    def train_cnn(name: str, seed: int) -> Path:
        path = out / f"cnn_{name}_s{seed}"
        return runner.run(f"{bench.name} train cnn {name} seed {seed}", "train",
                          [dataset, "--finetune", "cnn", *ALL_CNN_CANDIDATES[name], *bench.cnn_options, *args.cnn_options,
                           "--seed", str(seed), *threads, "--output", path], path)

    candidates = {name: train_cnn(name, 0) for name in args.cnn_candidates or bench.cnn_candidates}
    valid_acc = {name: _metrics(path, "valid").get("accuracy", float("nan")) for name, path in candidates.items()}
    chosen = max(valid_acc, key=lambda n: (valid_acc[n], -list(valid_acc).index(n)))
    choice = ", ".join(f"{n} {a:.3f}" for n, a in valid_acc.items())
    print(f"  {bench.name}: cnn seed-0 VALIDATION accuracy {choice}; chose {chosen}")
    seeds = [candidates[chosen], *[train_cnn(chosen, seed) for seed in range(1, args.cnn_seeds)]]
    strand = "one strand (oriented)" if bench.oriented else "both strands (rc augment + strand average)"
    label = f"{chosen}, {strand}; architecture by valid acc ({choice}), epoch by valid loss"
    classes = json.loads((seeds[0] / "model.json").read_text())["classes"]
    rows, timings = [], []
    for name, path in candidates.items():
        if name != chosen:
            rows.append({"dataset": bench.name, "model": "cnn (not chosen)", "detail": f"{name}, seed 0",
                         **{f"valid_{k}": _metrics(path, "valid").get(k) for k in SHOWN}, **{k: _metrics(path).get(k) for k in SHOWN},
                         "seconds": runner.seconds(path),
                         "_table": pd.read_csv(path / "test_predictions.tsv", sep="\t", dtype=str, keep_default_na=False)})
    test_rows = [_metrics(p) for p in seeds]
    valid_rows = [_metrics(p, "valid") for p in seeds]
    test_spread, valid_spread = metric_spread(test_rows), metric_spread(valid_rows)
    rows.append({"dataset": bench.name, "model": f"cnn, {len(seeds)} seeds mean \u00b1 sd", "detail": label,
                 **{f"valid_{k}": valid_spread.get(k) for k in SHOWN}, **{k: test_spread.get(k) for k in SHOWN},
                 **{f"{k}_sd": test_spread.get(f"{k}_sd") for k in SHOWN},
                 **{f"valid_{k}_sd": valid_spread.get(f"{k}_sd") for k in SHOWN},
                 "seconds": float(np.mean([runner.seconds(p) or np.nan for p in seeds])), "_final": len(seeds) == 1,
                 "_table": [pd.read_csv(p / "test_predictions.tsv", sep="\t", dtype=str, keep_default_na=False) for p in seeds]})
    if len(seeds) > 1:
        test_ens = ensemble_values(seeds, classes)
        try:
            valid_ens = ensemble_values(seeds, classes, "valid")
        except Exception:  # noqa: BLE001 - model folders from a genofm that wrote no valid_predictions.tsv
            valid_ens = {}
        rows.append({"dataset": bench.name, "model": f"cnn, ensemble of {len(seeds)} seeds", "detail": label,
                     **{f"valid_{k}": valid_ens.get(k) for k in SHOWN}, **{k: test_ens.get(k) for k in SHOWN},
                     "seconds": sum(runner.seconds(p) or 0 for p in seeds), "_table": ensemble_predictions(seeds, classes), "_final": True})
    frame = pd.read_parquet(dataset, columns=["split", "sequence"])
    train = frame[frame["split"] == "train"]
    for name, path in [*[(n, p) for n, p in candidates.items() if n != chosen], *[(chosen, p) for p in seeds]]:
        log = json.loads((path / "model.json").read_text())["training_log"]
        timings.append({"dataset": bench.name, "run": path.name, "train_rows": len(train),
                        "length": json.loads((path / "model.json").read_text())["finetune"]["config"]["length"],
                        "epochs": log["epochs_run"], "best_epoch": log["best_epoch"], **runner.timing(path)})
    return rows, timings, seeds, [p for n, p in candidates.items() if n != chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the public datasets (default ../shared/data)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "work", help="where outputs go")
    parser.add_argument("--datasets", default=None, help="comma-separated subset of the datasets")
    parser.add_argument("--models", default=None,
                        help=f"comma-separated subset of {', '.join(MODELS)} (default: each dataset's own list; spliceai and stacked on all but ncrna_nrc; positional where sequences are aligned)")
    parser.add_argument("--cnn-seeds", type=int, default=5, help="seeds of the chosen CNN (mean +- sd and ensemble)")
    parser.add_argument("--cnn-candidates", default=None,
                        help=f"CNN architectures tried with seed 0, the best on VALIDATION accuracy kept ({', '.join(ALL_CNN_CANDIDATES)}; "
                        f"default {', '.join(CNN_CANDIDATES)}, and {', '.join(ALIGNED_CNN_CANDIDATES)} on aligned sets)")
    parser.add_argument("--cnn-option", dest="cnn_options", action="append", default=[], metavar="KEY=VALUE",
                        help="extra -O option for every CNN run (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="threads per tool")
    parser.add_argument("--fresh", action="store_true", help="recompute every step instead of reusing outputs")
    args = parser.parse_args()
    args.cnn_candidates = args.cnn_candidates.split(",") if args.cnn_candidates else []
    args.cnn_options = [a for kv in args.cnn_options for a in ("-O", kv)]
    if not args.data.is_dir():
        print(f"public_benchmarks: skipped: {args.data} not found (the public datasets live only in ../shared/data)")
        return 0
    available = benchmarks(args.data)
    chosen = args.datasets.split(",") if args.datasets else list(available)
    models = args.models.split(",") if args.models else None
    unknown = ([d for d in chosen if d not in available] + [m for m in models or [] if m not in MODELS]
               + [c for c in args.cnn_candidates if c not in ALL_CNN_CANDIDATES])
    if unknown:
        parser.error(f"unknown dataset(s)/model(s)/candidate(s) {unknown}; datasets: {', '.join(available)}; "
                     f"models: {', '.join(MODELS)}; cnn candidates: {', '.join(ALL_CNN_CANDIDATES)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    runner = Runner(args.workdir, args.fresh, args.threads)
    rows, timings = [], []
    for name in chosen:
        print(f"== {name}", flush=True)
        found, timed = run_benchmark(available[name], models or list(available[name].models), runner, args)
        rows.extend(found)
        timings.extend(timed)
    table = pd.DataFrame(rows)
    table.to_csv(args.workdir / "benchmark.tsv", sep="\t", index=False)
    pd.DataFrame(timings).to_csv(args.workdir / "cnn_timing.tsv", sep="\t", index=False)
    print_table(table)
    print_timings(timings)
    print(f"\nfull tables: {args.workdir / 'benchmark.tsv'}, {args.workdir / 'cnn_timing.tsv'}; commands and times: {runner.log}")
    return 0


def _fmt(value, sd=None) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if sd is None or (isinstance(sd, float) and np.isnan(sd)):
        return f"{value:.3f}"
    return f"{value:.3f} \u00b1 {sd:.3f}"


def print_table(table: pd.DataFrame) -> None:
    """One Markdown table: validation and test metrics beside the published numbers and the targets."""
    print("\nChoices: k-mer k, positional k, stacked join, CNN architecture, CNN epoch, the blend's logreg, the selected ensemble's weights "
          "and each dataset's final pick on the VALIDATION split; logreg C by 5-fold CV on train; the test split chose nothing.")
    header = ("| dataset | model | final pick (best valid acc) | valid acc | valid MCC | test acc | test MCC | test AUROC "
              "| test acc, leak-free rows (n) | target (test) met | published (test) |")
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in table.to_dict("records"):
        get = lambda key: row.get(key)  # noqa: E731
        met = "" if row["model"].endswith("(not chosen)") else f"{'yes' if row['meets_target'] else 'no'} ({row['target']})"
        pick = "**yes**" if row.get("final") else ""
        print(f"| {row['dataset']} | {row['model']}: {row['detail']} | {pick} | {_fmt(get('valid_accuracy'), get('valid_accuracy_sd'))} | "
              f"{_fmt(get('valid_mcc'), get('valid_mcc_sd'))} | {_fmt(get('accuracy'), get('accuracy_sd'))} | "
              f"{_fmt(get('mcc'), get('mcc_sd'))} | {_fmt(get('auroc'), get('auroc_sd'))} | "
              f"{_fmt(get('leak_free_accuracy'))} ({get('n_leak_free')}) | {met} | {row['published']} |")


def print_timings(timings: list[dict]) -> None:
    """The CNN's training time per run: wall seconds on CPU, threads, load average (1 min) at start and end."""
    if not timings:
        return
    print("\nCNN training time (genofm-train wall seconds, incl. evaluation; CPU; load = 1-minute load average at start -> end):\n")
    print("| dataset | run | train rows x length | epochs (best) | wall s | threads | load start -> end | CPUs |")
    print("|---|---|---|---|---|---|---|---|")
    for t in timings:
        load = "" if t.get("load_start") is None else f"{t['load_start']:.2f} -> {t['load_end']:.2f}"
        wall = "" if t.get("seconds") is None else f"{t['seconds']:.1f}"
        print(f"| {t['dataset']} | {t['run']} | {t['train_rows']} x {t['length']} | {t['epochs']} ({t['best_epoch']}) | "
              f"{wall} | {t.get('threads') or '?'} | {load} | {t.get('cpus') or '?'} |")


if __name__ == "__main__":
    sys.exit(main())
