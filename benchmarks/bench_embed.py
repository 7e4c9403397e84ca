"""Embedding speed and memory of the kmer and spliceai backbones, each against a reference run now.

For every configuration a fresh subprocess embeds seeded random sequences (so its peak RSS,
from ``resource.getrusage``, belongs to that configuration alone) and reports wall time, CPU
time and peak RSS; features are compared with a straightforward reference computed in the same
run on the same inputs:

* kmer: a plain Python ``Counter`` over every position, mapped to canonical k-mers;
* spliceai: the five official models run over the full L + 10,000 positions
  (``SpliceAINet.forward_full``, what Keras computes) instead of the windowed fast path. The
  full computation is ~5x slower, so by default it runs on the first ``--reference-size``
  sequences only; the speed ratio compares per-sequence throughput and the equality check covers
  exactly those sequences (the output says so).

On a shared machine wall-clock throughput depends on the other load; sequences per CPU-second
is the steadier figure. Usage::

    python benchmarks/bench_embed.py                      # kmer 1k+10k, spliceai 1k (ref on 64)
    python benchmarks/bench_embed.py --backbones kmer --sizes 1000,10000
    python benchmarks/bench_embed.py --backbones spliceai --spliceai-sizes 1000 --reference-size 1000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np


def random_sequences(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("ACGT"))
    return ["".join(row) for row in letters[rng.integers(0, 4, size=(n, length))]]


def kmer_reference(sequences: list[str], k: int, names: list[str]) -> np.ndarray:
    """Count every k-mer with a Counter, merge reverse complements, divide by the total."""
    complement = str.maketrans("ACGT", "TGCA")
    column = {name: i for i, name in enumerate(names)}
    out = np.zeros((len(sequences), len(names)), dtype=np.float64)
    for row, seq in enumerate(sequences):
        counts = Counter(seq[i : i + k] for i in range(len(seq) - k + 1) if set(seq[i : i + k]) <= set("ACGT"))
        for kmer, count in counts.items():
            rc = kmer.translate(complement)[::-1]
            out[row, column[min(kmer, rc)]] += count
        total = out[row].sum()
        if total:
            out[row] /= total
    return out.astype(np.float32)


def worker(args: argparse.Namespace) -> None:
    """Embed in this process and print one JSON line; features go to ``args.save``."""
    import torch

    from genofm.backbones import backbone_class
    from genofm.heap import keep_freed_memory

    keep_freed_memory()  # as the genofm tools do (genofm.cli.common.run_app)
    if args.threads:
        torch.set_num_threads(args.threads)
    sequences = random_sequences(args.size, args.length)
    cls = backbone_class(args.backbone)
    backbone = cls(cls.Options(), None, "cpu", "fp32")
    if args.backbone == "spliceai" and args.impl == "reference":
        for net in backbone.nets:  # the full L + 10,000 computation Keras performs
            net.forward = lambda x, net=net: net.forward_full(torch.nn.functional.pad(x, (net.crop, net.crop)))
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    batch = args.batch_size or backbone.default_batch_size
    wall, cpu = time.perf_counter(), time.process_time()
    if args.backbone == "kmer" and args.impl == "reference":
        features = kmer_reference(sequences, backbone.options.k, backbone.feature_names)
    else:
        with torch.inference_mode():
            features = np.concatenate([backbone.embed_batch(sequences[i : i + batch]) for i in range(0, len(sequences), batch)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    np.save(args.save, features)
    print(json.dumps({
        "wall_s": wall, "cpu_s": cpu, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "baseline_rss_mib": baseline_rss, "threads": torch.get_num_threads(), "batch": batch,
    }))


def measure(backbone: str, impl: str, size: int, opts: argparse.Namespace, folder: Path) -> tuple[dict, np.ndarray]:
    save = folder / f"{backbone}_{impl}_{size}.npy"
    command = [sys.executable, __file__, "--worker", "--backbone", backbone, "--impl", impl, "--size", str(size),
               "--length", str(opts.length), "--save", str(save), "--threads", str(opts.threads or 0)]
    if opts.batch_size:
        command += ["--batch-size", str(opts.batch_size)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"worker failed ({backbone} {impl} {size}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(save)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", default="kmer,spliceai", help="comma-separated: kmer, spliceai")
    parser.add_argument("--sizes", default="1000,10000", help="numbers of sequences for kmer")
    parser.add_argument("--spliceai-sizes", default="1000", help="numbers of sequences for spliceai (10000 takes ~10x as long)")
    parser.add_argument("--reference-size", type=int, default=64, help="sequences the full-length SpliceAI reference runs on")
    parser.add_argument("--length", type=int, default=200, help="sequence length in bp")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    parser.add_argument("--batch-size", type=int, default=0, help="0 = the backbone's default")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backbone", help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        worker(opts)
        return

    print(f"{'backbone':9} {'n':>6} {'impl':10} {'seq/s':>9} {'seq/CPU-s':>10} {'peak RSS MiB':>13} {'(after import)':>14}  comparison")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backbone in opts.backbones.split(","):
            sizes = opts.sizes if backbone == "kmer" else opts.spliceai_sizes
            for size in (int(s) for s in sizes.split(",")):
                fast, fast_features = measure(backbone, "fast", size, opts, folder)
                ref_size = size if backbone == "kmer" else min(size, opts.reference_size)
                ref, ref_features = measure(backbone, "reference", ref_size, opts, folder)
                diff = float(np.abs(fast_features[:ref_size] - ref_features).max())
                ratio = (size / fast["wall_s"]) / (ref_size / ref["wall_s"])
                cpu_ratio = (size / fast["cpu_s"]) / (ref_size / ref["cpu_s"])
                for impl, result, n in (("fast", fast, size), ("reference", ref, ref_size)):
                    note = ""
                    if impl == "fast":
                        subset = "" if ref_size == size else f" (reference on the first {ref_size} of these sequences)"
                        note = f"max|diff| {diff:.2e}, speed-up {ratio:.1f}x wall, {cpu_ratio:.1f}x CPU{subset}"
                    print(f"{backbone:9} {n:6d} {impl:10} {n / result['wall_s']:9.1f} {n / result['cpu_s']:10.1f} "
                          f"{result['peak_rss_mib']:13.0f} {result['baseline_rss_mib']:14.0f}  {note}", flush=True)
    print(f"length {opts.length} bp, random ACGT, fp32 CPU, torch threads {fast['threads']}; spliceai = all five models averaged")


if __name__ == "__main__":
    main()
