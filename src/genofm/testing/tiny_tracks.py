"""Synthetic epigenomic tracks over labelled peaks, in real formats, for pipeline tests and demos.

Given labelled FASTA files whose headers carry coordinates (``chr1:100-300``, like the bundled
Oct4/MafK peaks), writes a tracks sheet and, per cell type, a DNase bigWig (pyBigWig) whose
signal over a peak is high when the peak's class is the ``--signal-class`` and low otherwise,
plus an H3K4me3 bgzipped bedGraph with a tabix index (pysam) that is noise. The label therefore
depends on one assay's signal, which the track features and the stacked heads can learn.

    python -m genofm.testing.tiny_tracks --out DIR Oct4=sample.fa MafK=sample2.fa --signal-class Oct4 [--cells K562,HepG2]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Sequence

import numpy as np

_HEADER = re.compile(r"^(\S+?):(\d+)-(\d+)")


def peak_coordinates(fasta: Path) -> list[tuple[str, int, int]]:
    """(chrom, start, end) from ``>chrom:start-end`` FASTA headers (0-based, BED-style)."""
    out = []
    with open(fasta) as handle:
        for line in handle:
            if line.startswith(">"):
                found = _HEADER.match(line[1:].strip())
                if found:
                    out.append((found.group(1), int(found.group(2)), int(found.group(3))))
    return out


def write_tracks(out: Path, labelled: dict[str, Path], signal_class: str, cells: Sequence[str], seed: int = 0) -> Path:
    """Write the bigWigs, bedGraphs and ``tracks.tsv`` into ``out``; returns the sheet."""
    import pysam
    import pyBigWig

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    peaks = sorted({(c, s, e, label) for label, path in labelled.items() for c, s, e in peak_coordinates(path)})
    if not peaks:
        raise SystemExit("no chr:start-end headers found in the FASTA files")
    lengths: dict[str, int] = {}
    for chrom, _, end, _ in peaks:
        lengths[chrom] = max(lengths.get(chrom, 0), end + 10_000)
    rows = ["name\tcell_type\tassay\tfile"]
    for cell in cells:
        by_chrom: dict[str, list[tuple[int, int, float]]] = {}
        marks: list[str] = []
        for chrom, start, end, label in peaks:
            level = rng.normal(6.0, 1.5) if label == signal_class else rng.normal(1.5, 1.0)
            middle = (start + end) // 2
            by_chrom.setdefault(chrom, []).append((middle - 50, middle + 50, max(0.0, float(level))))
            marks.append(f"{chrom}\t{start}\t{end}\t{abs(rng.normal(2.0, 1.0)):.3f}\n")
        bw = pyBigWig.open(str(out / f"{cell}.DNase.bw"), "w")
        bw.addHeader(sorted(lengths.items()))
        for chrom, _ in sorted(lengths.items()):
            merged, last = [], -1
            for s, e, v in sorted(by_chrom.get(chrom, [])):
                if s >= last:  # overlapping peak centres: keep the first
                    merged.append((s, e, v))
                    last = e
            if merged:
                bw.addEntries([chrom] * len(merged), [m[0] for m in merged], ends=[m[1] for m in merged], values=[m[2] for m in merged])
        bw.close()
        plain = out / f"{cell}.H3K4me3.bedGraph"
        ordered = sorted(marks, key=lambda line: (line.split("\t")[0], int(line.split("\t")[1])))
        merged_marks, last = [], ("", -1)
        for line in ordered:
            chrom, start, end, _ = line.split("\t")
            if chrom != last[0] or int(start) >= last[1]:
                merged_marks.append(line)
                last = (chrom, int(end))
        plain.write_text("".join(merged_marks))
        pysam.tabix_index(str(plain), preset="bed", force=True)
        rows.append(f"{cell}_dnase\t{cell}\tDNase\t{cell}.DNase.bw")
        rows.append(f"{cell}_h3k4me3\t{cell}\tH3K4me3\t{cell}.H3K4me3.bedGraph.gz")
    sheet = out / "tracks.tsv"
    sheet.write_text("\n".join(rows) + "\n")
    return sheet


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", metavar="LABEL=FASTA")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--signal-class", required=True, help="class whose peaks get high DNase signal")
    parser.add_argument("--cells", default="K562", help="comma-separated cell types")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    labelled = dict(item.split("=", 1) for item in args.inputs)
    sheet = write_tracks(args.out, {k: Path(v) for k, v in labelled.items()}, args.signal_class,
                         [c for c in args.cells.split(",") if c], args.seed)
    print(sheet)


if __name__ == "__main__":
    main()
