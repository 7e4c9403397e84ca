"""Track-feature extraction throughput on a genome-sized bigWig, against pyBigWig's per-window reader.

Writes a bigWig over the 24 hg38 chromosome lengths (chr1..chr22, X, Y: 3.09 Gb), with a value
every ``--step`` bases over the whole genome (``addEntries`` fixed-step form, so every base is
covered and "uncovered = zero" and pyBigWig's "mean of covered bases" agree), draws ``--windows``
random windows of ``--length`` bases genome-wide (peak-like: sparse, unsorted, both strands), and
times, in this run, on the same file and windows:

* genofm: :func:`genofm.tracks.features.track_features` (mean and max in ``--bins`` bins);
* reference: per window, ``bw.stats(chrom, start, end, type=..., nBins=B, exact=True)`` for mean
  and max, pyBigWig's own summary reader, the obvious way to write it; run on the first
  ``--reference-windows`` windows (it is the slower one) and compared value by value there.

Throughput is windows per second; the ratio is genofm / reference. The peak RSS of the process
is printed too (the extraction reads one cluster of nearby windows at a time, so memory does not
grow with the genome). Usage::

    python benchmarks/bench_tracks.py                          # 200k windows, step 50 (62M values)
    python benchmarks/bench_tracks.py --windows 1000000 --bins 4 --keep /tmp/genome.bw
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HG38 = {
    "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555, "chr5": 181538259,
    "chr6": 170805979, "chr7": 159345973, "chr8": 145138636, "chr9": 138394717, "chr10": 133797422,
    "chr11": 135086622, "chr12": 133275309, "chr13": 114364328, "chr14": 107043718, "chr15": 101991189,
    "chr16": 90338345, "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
    "chr21": 46709983, "chr22": 50818468, "chrX": 156040895, "chrY": 57227415,
}


def write_genome_bigwig(path: Path, step: int, seed: int = 0) -> float:
    """A bigWig with a smooth random signal every ``step`` bases of every chromosome; returns seconds."""
    import pyBigWig

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(HG38.items()), maxZooms=10)
    chunk = 1 << 20  # values per addEntries call
    for chrom, length in HG38.items():
        n = length // step
        for first in range(0, n, chunk):
            count = min(chunk, n - first)
            noise = rng.gamma(0.6, 1.5, size=count)
            values = np.convolve(noise, np.ones(5) / 5, mode="same").astype(np.float64)
            bw.addEntries(chrom, first * step, values=values, span=step, step=step)
    bw.close()
    return time.perf_counter() - started


def random_windows(n: int, length: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = list(HG38)
    sizes = np.array([HG38[c] for c in names], dtype=np.float64)
    usable = (sizes // 50) * 50 - length  # stay inside the covered part
    chrom = rng.choice(len(names), size=n, p=sizes / sizes.sum())
    start = (rng.random(n) * usable[chrom]).astype(np.int64)
    return pd.DataFrame({"id": [f"w{i}" for i in range(n)], "chrom": np.array(names)[chrom], "start": start,
                         "end": start + length, "strand": rng.choice(["+", "-"], size=n)})


def reference(path: Path, frame: pd.DataFrame, bins: int) -> np.ndarray:
    import pyBigWig

    bw = pyBigWig.open(str(path))
    out = np.zeros((len(frame), 2 * bins), dtype=np.float64)
    for i, (chrom, start, end, strand) in enumerate(frame[["chrom", "start", "end", "strand"]].itertuples(index=False)):
        mean = bw.stats(chrom, int(start), int(end), type="mean", nBins=bins, exact=True)
        high = bw.stats(chrom, int(start), int(end), type="max", nBins=bins, exact=True)
        row = np.array([v if v is not None else 0.0 for v in mean + high])
        if strand == "-":
            row = np.concatenate([row[:bins][::-1], row[bins:][::-1]])
        out[i] = row
    bw.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=200_000)
    parser.add_argument("--reference-windows", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--step", type=int, default=50, help="bases per bigWig value (50: 62M values over 3.09 Gb)")
    parser.add_argument("--keep", type=Path, help="write (or reuse) the bigWig here instead of a temporary folder")
    args = parser.parse_args()

    from genofm.tracks.features import track_features
    from genofm.tracks.sheet import TrackSpec

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "genome.bw"
        if path.exists():
            print(f"bigWig: reusing {path}")
        else:
            seconds = write_genome_bigwig(path, args.step)
            print(f"bigWig: {sum(HG38.values()) / 1e9:.2f} Gb, one value per {args.step} bp "
                  f"({sum(HG38.values()) // args.step:,} values), {path.stat().st_size / 2**20:.0f} MiB, written in {seconds:.1f} s")
        frame = random_windows(args.windows, args.length)
        spec = TrackSpec("genome", "cell", "assay", path, "signal")

        started, cpu = time.perf_counter(), time.process_time()
        result = track_features(frame, [spec], args.bins, dict(HG38))
        genofm_s, genofm_cpu = time.perf_counter() - started, time.process_time() - cpu

        n_ref = min(args.reference_windows, args.windows)
        started, cpu = time.perf_counter(), time.process_time()
        expected = reference(path, frame.iloc[:n_ref], args.bins)
        ref_s, ref_cpu = time.perf_counter() - started, time.process_time() - cpu

    diff = np.abs(result.features[:n_ref].astype(np.float64) - expected)
    scale = np.maximum(np.abs(expected), 1e-6)
    ours, theirs = args.windows / genofm_s, n_ref / ref_s
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"windows: {args.windows:,} x {args.length} bp, {args.bins} bins (mean and max: {2 * args.bins} features)")
    print(f"genofm track_features : {genofm_s:8.2f} s wall, {genofm_cpu:8.2f} s CPU, {ours:10,.0f} windows/s")
    print(f"reference bw.stats    : {ref_s:8.2f} s wall, {ref_cpu:8.2f} s CPU, {theirs:10,.0f} windows/s (first {n_ref:,} windows)")
    print(f"ratio genofm / reference: {ours / theirs:.2f}x (per CPU-second: {(args.windows / genofm_cpu) / (n_ref / ref_cpu):.2f}x)")
    print(f"agreement on the reference windows: max abs diff {diff.max():.2e}, max rel diff {(diff / scale).max():.2e}")
    print(f"peak RSS of this process: {rss:.0f} MiB")
    ok = (diff / scale).max() < 1e-4
    if not ok:
        print("FAIL: genofm's features differ from pyBigWig's exact statistics", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
