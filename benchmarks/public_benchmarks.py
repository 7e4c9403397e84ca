"""genofm on four public labelled datasets, each model's test metrics beside the published numbers.

Runs the tools exactly as a user would (``genofm-prepare`` -> ``genofm-embed`` -> ``genofm-train``
-> ``genofm-interpret compare``) on the datasets in ``../shared/data`` (relative to the repository
root; see its README for sources and licences), for these models:

* ``kmer``: k-mer spectrum + standardised logistic regression; k chosen on the validation split;
* ``spliceai``: the five SpliceAI-10k models' pooled features + logistic regression;
* ``stacked``: the chosen k-mer and the SpliceAI features joined in one logistic regression;
* ``cnn``: the from-scratch CNN (``--finetune cnn``), several seeds, reported as the ensemble of
  the seeds' averaged probabilities (each seed and the mean +- sd are in comparison.tsv).

Splits: iEnhancer-2L and nRC keep their published train / independent-test files (a validation
split is drawn from train); E. coli promoters and UCI splice have no published split and get a
seeded stratified random 80/10/10 split. The published test sets repeat some training sequences
(reported by genofm-prepare); the table gives accuracy on the whole published test set and on its
leak-free part (test rows whose sequence, on either strand, is not in train or valid).

Nothing here is hard-coded but the published reference numbers (copied from the data README);
the targets are those of issue 14. Outputs go to ``--workdir`` (default ``benchmarks/work``,
git-ignored); finished steps are reused on a re-run unless ``--fresh``. Usage::

    python benchmarks/public_benchmarks.py                        # everything
    python benchmarks/public_benchmarks.py --datasets uci_splice --models kmer,cnn
    python benchmarks/public_benchmarks.py --cnn-seeds 1 --threads 2

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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SPLICEAI = Path(os.environ.get("GENOFM_CACHE", Path.home() / ".cache" / "genofm")) / "resources" / "spliceai"
MODELS = ("kmer", "spliceai", "stacked", "cnn")


@dataclass
class Benchmark:
    """One public dataset: how to prepare it, what was published, what genofm must reach."""

    name: str
    inputs: list[str]
    prepare_options: list[str]
    published: str
    targets: dict[str, float]
    kmer_ks: tuple[int, ...] = (4, 5, 6)
    cnn_options: list[str] = field(default_factory=list)


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
            "iPromoter-2L ~0.82 acc (5-fold CV)", {"accuracy": 0.87},
        ),
        "ncrna_nrc": Benchmark(
            "ncrna_nrc", [f"train={nrc / 'dataset_nRC_train.fasta'}", f"test={nrc / 'dataset_nRC_test.fasta'}"],
            ["--label-regex", r"^(\S+)"], "test acc ~0.82-0.90", {"accuracy": 0.90}, kmer_ks=(3, 4, 5),
        ),
        "uci_splice": Benchmark(
            "uci_splice", [str(uci / "splice.csv")], ["--sequence-column", "Sequence", "--label-column", "Class"],
            "classic methods ~0.95 acc", {"accuracy": 0.96}, kmer_ks=(3, 4, 5),
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
        return output

    def seconds(self, output: Path) -> float | None:
        marker = output.parent / f".{output.name}.seconds"
        return float(marker.read_text()) if marker.is_file() else None


def cnn_available(runner: Runner) -> bool:
    """Whether this genofm's genofm-train can train the from-scratch CNN (``--finetune cnn``)."""
    result = subprocess.run([runner.tool("train"), "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    return "cnn" in result.stdout


def _metrics(model_dir: Path) -> dict:
    document = json.loads((model_dir / "metrics.json").read_text())
    return {k: v["value"] for k, v in document["metrics"].items()}


def validation_score(model_dir: Path, runner: Runner, dataset: Path, embeddings: list[Path]) -> float:
    """Validation accuracy: from metrics.json when genofm-train wrote it, else by genofm-predict on the dataset."""
    document = json.loads((model_dir / "metrics.json").read_text())
    for key in ("valid", "validation"):
        section = document.get(key)
        if isinstance(section, dict) and "metrics" in section:
            return float(section["metrics"]["accuracy"]["value"])
    predictions = model_dir.parent / f"{model_dir.name}.all_predictions.tsv"
    runner.run(f"predict {model_dir.name}", "predict",
               [dataset, "--model", model_dir, *[a for e in embeddings for a in ("--embeddings", e)], "--output", predictions],
               predictions)
    table = pd.read_csv(predictions, sep="\t", dtype=str, keep_default_na=False)
    frame = pd.read_parquet(dataset, columns=["id", "split", "augmented"])
    valid_ids = set(frame.loc[(frame["split"] == "valid") & ~frame["augmented"], "id"])
    rows = table[table["id"].isin(valid_ids)]
    if rows.empty:
        return float("nan")
    return float((rows["predicted_label"] == rows["label"]).mean())


def leak_free_ids(dataset: Path) -> set[str]:
    """Test ids whose sequence (either strand) appears in neither train nor valid."""
    from genofm.data.dedup import canonical

    frame = pd.read_parquet(dataset, columns=["id", "sequence", "split", "augmented"])
    seen = {canonical(s) for s in frame.loc[frame["split"] != "test", "sequence"]}
    test = frame[(frame["split"] == "test") & ~frame["augmented"]]
    return {i for i, s in zip(test["id"], test["sequence"]) if canonical(s) not in seen}


def accuracy_on(model_dir: Path | None, ids: set[str], table: pd.DataFrame | None = None) -> tuple[float, int]:
    if table is None:
        table = pd.read_csv(model_dir / "test_predictions.tsv", sep="\t", dtype=str, keep_default_na=False)
    rows = table[table["id"].isin(ids)]
    return (float((rows["predicted_label"] == rows["label"]).mean()) if len(rows) else float("nan")), len(rows)


def ensemble_predictions(model_dirs: list[Path]) -> pd.DataFrame:
    """Average of the seeds' test probabilities (what genofm-interpret compare's ensemble row scores)."""
    tables = [pd.read_csv(d / "test_predictions.tsv", sep="\t", dtype={"id": str, "label": str}, keep_default_na=False).set_index("id")
              for d in model_dirs]
    columns = [c for c in tables[0].columns if c.startswith("prob_")]
    proba = np.mean([t.loc[tables[0].index, columns].to_numpy(dtype=float) for t in tables], axis=0)
    classes = np.array([c[len("prob_"):] for c in columns], dtype=object)
    return pd.DataFrame({"id": tables[0].index, "label": tables[0]["label"].to_numpy(), "predicted_label": classes[proba.argmax(axis=1)]})


def run_benchmark(bench: Benchmark, models: list[str], runner: Runner, args: argparse.Namespace) -> list[dict]:
    out = runner.workdir / bench.name
    out.mkdir(parents=True, exist_ok=True)
    dataset = runner.run(f"{bench.name} prepare", "prepare",
                         [*bench.inputs, *bench.prepare_options, "--seed", "0", "--output", out / "dataset.parquet"],
                         out / "dataset.parquet")
    clean = leak_free_ids(dataset)
    results: list[dict] = []
    model_dirs: list[Path] = []
    threads = ["--threads", str(runner.threads)]

    def embed(backbone: str, options: list[str], name: str, extra: list[str] = ()) -> Path:
        path = out / f"{name}.h5"
        return runner.run(f"{bench.name} embed {name}", "embed",
                          [dataset, "--backbone", backbone, *options, *extra, *threads, "--output", path], path)

    def train(name: str, embeddings: list[Path], extra: list[str] = ()) -> Path:
        path = out / name
        return runner.run(f"{bench.name} train {name}", "train",
                          [dataset, *[a for e in embeddings for a in ("--embeddings", e)], *extra, "--output", path], path)

    def record(model: str, detail: str, model_dir: Path, seconds: float | None, table: pd.DataFrame | None = None,
               metrics: dict | None = None) -> None:
        metrics = metrics or _metrics(model_dir)
        clean_acc, n_clean = accuracy_on(model_dir, clean, table)
        results.append({"dataset": bench.name, "model": model, "detail": detail, **{k: metrics.get(k) for k in ("accuracy", "mcc", "auroc")},
                        "leak_free_accuracy": clean_acc, "n_leak_free": n_clean, "seconds": seconds})

    best_k = None
    if {"kmer", "stacked"} & set(models):
        scores = {}
        for k in bench.kmer_ks:
            emb = embed("kmer", ["-O", f"k={k}"], f"kmer_k{k}")
            model_dir = train(f"kmer_k{k}_logreg", [emb])
            scores[k] = validation_score(model_dir, runner, dataset, [emb])
        best_k = max(scores, key=lambda k: (scores[k], -k))
        print(f"  {bench.name}: k-mer validation accuracy {', '.join(f'k={k} {v:.3f}' for k, v in scores.items())}; chose k={best_k}")
        if "kmer" in models:
            model_dir = out / f"kmer_k{best_k}_logreg"
            model_dirs.append(model_dir)
            record("kmer", f"k={best_k} (valid acc {scores[best_k]:.3f}), logreg", model_dir,
                   (runner.seconds(out / f"kmer_k{best_k}.h5") or 0) + (runner.seconds(model_dir) or 0))
    if {"spliceai", "stacked"} & set(models):
        if not SPLICEAI.is_dir():
            print(f"  {bench.name}: spliceai skipped: {SPLICEAI} not found (make setup extracts the weights)")
        else:
            spliceai = embed("spliceai", ["--weights", SPLICEAI], "spliceai")
            if "spliceai" in models:
                model_dir = train("spliceai_logreg", [spliceai])
                model_dirs.append(model_dir)
                record("spliceai", "5 models, logreg", model_dir, (runner.seconds(spliceai) or 0) + (runner.seconds(model_dir) or 0))
            if "stacked" in models:
                kmer = out / f"kmer_k{best_k}.h5"
                model_dir = train(f"stacked_k{best_k}_spliceai_logreg", [kmer, spliceai])
                model_dirs.append(model_dir)
                record("stacked", f"kmer k={best_k} + spliceai, logreg", model_dir, runner.seconds(model_dir))
    if "cnn" in models:
        if not cnn_available(runner):
            print(f"  {bench.name}: cnn skipped: this genofm-train has no --finetune cnn yet")
        else:
            seeds = []
            for seed in range(args.cnn_seeds):
                path = out / f"cnn_{args.cnn_architecture}_s{seed}"
                runner.run(f"{bench.name} train cnn seed {seed}", "train",
                           [dataset, "--finetune", "cnn", "-O", f"architecture={args.cnn_architecture}", *bench.cnn_options,
                            "--seed", str(seed), *threads, "--output", path], path)
                seeds.append(path)
            model_dirs.extend(seeds)
            seconds = [runner.seconds(p) for p in seeds]
            each = [_metrics(p) for p in seeds]
            if len(seeds) > 1:
                from genofm.evaluation.seeds import ensemble_metrics

                classes = json.loads((seeds[0] / "model.json").read_text())["classes"]
                ens = {k: v["value"] for k, v in ensemble_metrics(seeds, classes, n_bootstrap=0)["metrics"].items()}
                accs = [m["accuracy"] for m in each]
                record("cnn", f"{args.cnn_architecture}, ensemble of {len(seeds)} seeds (acc per seed {np.mean(accs):.3f} "
                       f"\u00b1 {np.std(accs, ddof=1):.3f})", seeds[0], sum(s or 0 for s in seconds),
                       table=ensemble_predictions(seeds), metrics=ens)
            else:
                record("cnn", f"{args.cnn_architecture}, seed 0", seeds[0], seconds[0])
    if model_dirs:
        runner.run(f"{bench.name} compare", "interpret",
                   ["compare", *model_dirs, "--output", out / "comparison"], out / "comparison")
    for row in results:
        row["published"] = bench.published
        row["target"] = ", ".join(f"{k} >= {v}" for k, v in bench.targets.items())
        row["meets_target"] = all(row.get(k) is not None and row[k] >= v for k, v in bench.targets.items())
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="folder with the public datasets (default ../shared/data)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "work", help="where outputs go")
    parser.add_argument("--datasets", default=None, help="comma-separated subset of the datasets")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}")
    parser.add_argument("--cnn-seeds", type=int, default=3, help="CNN seeds (ensembled)")
    parser.add_argument("--cnn-architecture", default="dilated", help="CNN architecture option (basset or dilated)")
    parser.add_argument("--threads", type=int, default=2, help="threads per tool")
    parser.add_argument("--fresh", action="store_true", help="recompute every step instead of reusing outputs")
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"public_benchmarks: skipped: {args.data} not found (the public datasets live only in ../shared/data)")
        return 0
    available = benchmarks(args.data)
    chosen = args.datasets.split(",") if args.datasets else list(available)
    models = args.models.split(",")
    unknown = [d for d in chosen if d not in available] + [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"unknown dataset(s)/model(s) {unknown}; datasets: {', '.join(available)}; models: {', '.join(MODELS)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    runner = Runner(args.workdir, args.fresh, args.threads)
    rows = []
    for name in chosen:
        print(f"== {name}", flush=True)
        rows.extend(run_benchmark(available[name], models, runner, args))
    table = pd.DataFrame(rows)
    table.to_csv(args.workdir / "benchmark.tsv", sep="\t", index=False)
    print_table(table)
    print(f"\nfull table: {args.workdir / 'benchmark.tsv'}; commands and times: {runner.log}")
    return 0


def print_table(table: pd.DataFrame) -> None:
    """One Markdown table: test metrics beside the published numbers and the targets."""
    header = "| dataset | model | test acc | test MCC | test AUROC | acc, leak-free test rows (n) | target met | time (s) | published |"
    print("\n" + header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in table.itertuples(index=False):
        fmt = lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"
        print(f"| {row.dataset} | {row.model}: {row.detail} | {fmt(row.accuracy)} | {fmt(row.mcc)} | {fmt(row.auroc)} | "
              f"{fmt(row.leak_free_accuracy)} ({row.n_leak_free}) | {'yes' if row.meets_target else 'no'} ({row.target}) | "
              f"{'' if row.seconds is None else f'{row.seconds:.0f}'} | {row.published} |")


if __name__ == "__main__":
    sys.exit(main())
