"""A randomly initialised Sei release folder with the official layout, for tests and smoke runs.

The real release (Zenodo 4906997) is 3.3 GB and under an academic-use licence, so it is never
bundled. This writes the same five files with the same formats: ``sei.pth`` (a plain dict of
tensors with the official ``module.model.`` key prefix, saved with ``torch.save``),
``target.names`` (``cell | assay | source`` lines, some ENCODE lines with a replicate field),
``seqclass.names``, ``projvec_targets.npy`` (61 x n_targets) and ``histone_inds.npy`` - but with
a Sei of the same topology and tiny widths, so it loads through exactly the code path a real
download does.

    python -m genofm.testing.tiny_sei --out DIR [--n-targets 50] [--channels 8,12,16] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from genofm.atomic import atomic_path
from genofm.backbones.sei_model import Sei
from genofm.backbones.sei_targets import Target, is_histone_assay

TINY_CHANNELS = (8, 12, 16)
CELLS = ("HepG2", "K562", "GM12878", "HeLa-S3", "A549 (EtOH_0.02pct)", "H1")
TFS = ("CTCF", "ZNF274", "POLR2A", "MYC", "TP53", "USF-1", "USF1", "AFF4", "CBX8", "TCF12")
HISTONES = ("H3K4me3", "H3K27ac", "H3K36me3", "H3K9me3", "H2A.Z", "H3K27me3")
ACCESSIBILITY = ("DNase", "ATAC-seq")
SEQCLASS_GROUPS = ("PC", "L", "TN", "E", "TF", "HET", "P", "CTCF")
N_PROJECTIONS = 61  # the official projection matrix has 61 rows, of which the first 40 are named


def synthetic_targets(n: int, seed: int = 0) -> list[Target]:
    """``n`` distinct profile names mixing TFs, histone marks and accessibility like target.names."""
    rng = np.random.default_rng(seed)
    assays = [a for a in TFS] + [a for a in HISTONES] + [a for a in ACCESSIBILITY]
    targets, seen = [], set()
    for i in range(n):
        assay = assays[i % len(assays)] if i < len(assays) else assays[int(rng.integers(len(assays)))]
        cell = CELLS[int(rng.integers(len(CELLS)))]
        kind = i % 4
        if kind == 0:
            target = Target(cell, assay, "ENCODE", str(1 + i % 2))
        elif kind == 1:
            target = Target(cell, assay, "Roadmap" if is_histone_assay(assay) else "ENCODE")
        else:
            target = Target(cell, assay, f"ID:{1000 + i}")
        if target.name in seen:
            target = Target(cell, assay, f"ID:{1000 + i}")
        seen.add(target.name)
        targets.append(target)
    return targets


def synthetic_seqclass_names(n: int = 40) -> list[str]:
    counters: dict[str, int] = {}
    names = []
    for i in range(n):
        group = SEQCLASS_GROUPS[i % len(SEQCLASS_GROUPS)]
        counters[group] = counters.get(group, 0) + 1
        names.append(f"{group}{counters[group]} Synthetic class {i + 1}")
    return names


def random_sei(channels: Sequence[int] = TINY_CHANNELS, n_targets: int = 50, seed: int = 0) -> Sei:
    """A Sei with random weights; the last layer is scaled up so probabilities spread out."""
    torch.manual_seed(seed)
    model = Sei(channels, n_targets)
    with torch.no_grad():
        model.classifier[2].weight.mul_(8.0)
    return model.eval()


def write_tiny_release(
    out: str | Path, n_targets: int = 50, channels: Sequence[int] = TINY_CHANNELS, seed: int = 0, prefix: str = "module.model."
) -> Path:
    """Write a release folder at ``out`` (atomically) and return its path."""
    out = Path(out)
    model = random_sei(channels, n_targets, seed)
    targets = synthetic_targets(n_targets, seed)
    rng = np.random.default_rng(seed + 1)
    with atomic_path(out, directory=True) as tmp:
        state = {prefix + k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        torch.save(state, tmp / "sei.pth")
        (tmp / "target.names").write_text("".join(t.name + "\n" for t in targets))
        (tmp / "seqclass.names").write_text("".join(n + "\n" for n in synthetic_seqclass_names()))
        np.save(tmp / "projvec_targets.npy", rng.random((N_PROJECTIONS, n_targets)).astype(np.float32))
        histone = [i for i, t in enumerate(targets) if is_histone_assay(t.assay)]
        np.save(tmp / "histone_inds.npy", np.asarray(histone, dtype=np.int64))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m genofm.testing.tiny_sei", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write (replaced if it exists)")
    parser.add_argument("--n-targets", type=int, default=50, help="number of chromatin profiles (official: 21907)")
    parser.add_argument("--channels", default=",".join(map(str, TINY_CHANNELS)), help="widths of the three levels (official: 480,640,960)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for weights and names")
    args = parser.parse_args(argv)
    channels = tuple(int(c) for c in args.channels.split(","))
    if len(channels) != 3 or min(channels) < 1 or args.n_targets < 1:
        parser.error("--channels needs three positive integers and --n-targets a positive integer")
    print(write_tiny_release(args.out, args.n_targets, channels, args.seed))


if __name__ == "__main__":
    main()
