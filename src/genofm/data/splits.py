"""Assign train/valid/test: the user's own splits when given, held-out chromosomes when coordinates
exist, stratified random otherwise.

Benchmarks come with their own splits (an independent test set, train/dev/test files); scores are
only comparable with published ones when those splits are kept, so given splits win in auto mode.

Random splits of genomic windows overstate performance (neighbouring and repeated regions land on
both sides), so chromosome hold-out is the default whenever every example has coordinates. Random
splits assign a sequence and its reverse complement together, and sequences that overlap (share
an exact stretch of ``--overlap-bp`` bases, see :mod:`genofm.data.overlaps`), so neither straddles splits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from genofm.data.chroms import chrom_key
from genofm.data.dedup import canonical
from genofm.data.records import Example
from genofm.errors import GenofmError

SPLIT_MODES = ("auto", "given", "chrom", "random", "cell")
log = logging.getLogger("genofm.prepare")


def resolve_mode(mode: str, examples: list[Example]) -> str:
    with_split = sum(e.split is not None for e in examples)
    if mode in ("auto", "given") and with_split:
        if with_split < len(examples):
            sources = sorted({e.source for e in examples if e.split is None})
            raise GenofmError(
                f"{sources[0]}: {len(examples) - with_split} of {len(examples)} sequences have no given split while others "
                "do; give every input a split (train=FILE, valid=FILE, test=FILE, or a split column), or pass "
                "--split-mode chrom/random to ignore the given splits"
            )
        return "given"
    if mode == "given":
        raise GenofmError(
            "--split-mode given needs splits from the inputs: write them as train=FILE valid=FILE test=FILE "
            "(or SPLIT:LABEL=FILE), or add a split column to the table"
        )
    if with_split:
        log.warning("ignoring the splits given by the inputs (--split-mode %s)", mode)
    with_coords = sum(e.chrom is not None for e in examples)
    if mode == "auto":
        if with_coords == len(examples):
            return "chrom"
        if with_coords:
            log.warning(
                "%d of %d sequences lack coordinates, so the split is random; give coordinates to all "
                "for a held-out-chromosome split", len(examples) - with_coords, len(examples)
            )
        return "random"
    if mode == "cell" and (with_coords < len(examples) or any(e.cell_type is None for e in examples)):
        raise GenofmError(
            "--split-mode cell needs a cell type (LABEL@CELL=PATH) and coordinates for every example; "
            "give each input as LABEL@CELL=PATH with intervals or chr:start-end headers"
        )
    if mode == "chrom" and with_coords < len(examples):
        raise GenofmError(
            f"--split-mode chrom needs coordinates for every sequence, but {len(examples) - with_coords} of "
            f"{len(examples)} have none (FASTA headers like chr1:100-300, BED/GTF inputs, or chrom/start/end "
            "table columns); use --split-mode random"
        )
    return mode


def chrom_splits(examples: list[Example], test_chroms: list[str], valid_chroms: list[str]) -> list[str]:
    test_keys = {chrom_key(c) for c in test_chroms}
    valid_keys = {chrom_key(c) for c in valid_chroms}
    both = test_keys & valid_keys
    if both:
        raise GenofmError(f"chromosome(s) {sorted(both)} are in both --test-chroms and --valid-chroms; give each to one split")
    splits = []
    for example in examples:
        key = chrom_key(example.chrom or "")
        splits.append("test" if key in test_keys else "valid" if key in valid_keys else "train")
    return splits


def cell_splits(examples: list[Example], test_cells: list[str], test_chroms: list[str], valid_chroms: list[str]) -> list[str | None]:
    """Held-out cell types *and* held-out chromosomes (the ENCODE-DREAM scheme).

    Test: the test cell types on the test chromosomes. Valid: the other cell types on the valid
    chromosomes. Train: the other cell types elsewhere. Rows of test cell types off the test
    chromosomes and of training cell types on the test chromosomes are dropped (None), so a test
    region's sequence is never seen in training under another cell type's label.
    """
    if not test_cells:
        raise GenofmError("--split-mode cell needs --test-cells (the cell type(s) held out for testing)")
    if not test_chroms:
        raise GenofmError("--split-mode cell also holds out --test-chroms, so test regions are unseen in training; give them")
    present = {e.cell_type for e in examples}
    unknown = [c for c in test_cells if c not in present]
    if unknown:
        raise GenofmError(f"--test-cells {unknown[0]!r} matches no example's cell type (have {', '.join(sorted(map(str, present)))})")
    if present <= set(test_cells):
        raise GenofmError("--test-cells holds out every cell type; leave at least one for training")
    test_keys, valid_keys = {chrom_key(c) for c in test_chroms}, {chrom_key(c) for c in valid_chroms}
    splits: list[str | None] = []
    for example in examples:
        key = chrom_key(example.chrom or "")
        held_out = example.cell_type in test_cells
        if key in test_keys:
            splits.append("test" if held_out else None)
        elif held_out:
            splits.append(None)
        else:
            splits.append("valid" if key in valid_keys else "train")
    return splits


def random_splits(
    examples: list[Example], test_fraction: float, valid_fraction: float, seed: int, overlap: Sequence[int] | None = None
) -> list[str]:
    """Stratified by label; both strands of a sequence stay together (grouped by canonical form), and
    so do overlapping sequences when ``overlap`` gives their groups (:func:`genofm.data.overlaps.overlap_groups`;
    a group goes where its first member's label sends it)."""
    if not (0 <= test_fraction < 1 and 0 <= valid_fraction < 1 and test_fraction + valid_fraction < 1):
        raise GenofmError("--test-fraction and --valid-fraction must be in [0, 1) and sum to less than 1")
    groups: dict = {}
    for index, example in enumerate(examples):
        key = int(overlap[index]) if overlap is not None else canonical(example.sequence)
        groups.setdefault(key, []).append(index)
    by_label: dict[str, list] = defaultdict(list)
    for key, members in groups.items():
        by_label[examples[members[0]].label].append(key)
    rng = np.random.default_rng(seed)
    splits = ["train"] * len(examples)
    for label in sorted(by_label):
        keys = by_label[label]
        order = rng.permutation(len(keys))
        n = len(keys)
        n_test = _count(n, test_fraction)
        n_valid = min(_count(n, valid_fraction), max(n - n_test - 1, 0))
        for rank, position in enumerate(order):
            split = "test" if rank < n_test else "valid" if rank < n_test + n_valid else "train"
            for member in groups[keys[position]]:
                splits[member] = split
    return splits


def given_splits(
    examples: list[Example], valid_fraction: float, seed: int, overlap: Sequence[int] | None = None
) -> tuple[list[str], str]:
    """The inputs' own splits; without a given validation split, ``valid_fraction`` of train becomes one.

    The test split is never touched (it is the benchmark's); a validation split carved from train
    (stratified, both strands together) lets early stopping and model choice avoid the test split.
    """
    splits = [e.split or "train" for e in examples]
    if "valid" in splits or valid_fraction <= 0:
        return splits, "splits given by the inputs"
    train = [i for i, s in enumerate(splits) if s == "train"]
    carved = random_splits([examples[i] for i in train], 0.0, valid_fraction, seed,
                           [overlap[i] for i in train] if overlap is not None else None)
    for index, split in zip(train, carved):
        splits[index] = split
    n_valid = carved.count("valid")
    log.info("no validation split given: %d training sequences (--valid-fraction %s) form one", n_valid, valid_fraction)
    return splits, f"splits given by the inputs; validation = {n_valid} sequences drawn from train (--valid-fraction {valid_fraction})"


def _count(n: int, fraction: float) -> int:
    """round(n * fraction), but at least one when the fraction is positive and the class has 3+ members."""
    if fraction <= 0:
        return 0
    count = int(round(n * fraction))
    if n >= 3:
        count = max(count, 1)
    return min(count, n - 1) if n > 1 else 0


def check_splits(examples: list[Example], splits: list[str], classes: list[str], mode_detail: str) -> list[str]:
    """Fail on unusable splits (empty or one-class test, one-class train); return warnings for the rest."""
    present: dict[str, set[str]] = {"train": set(), "valid": set(), "test": set()}
    counts = {"train": 0, "valid": 0, "test": 0}
    for example, split in zip(examples, splits):
        present[split].add(example.label)
        counts[split] += 1
    if counts["test"] == 0:
        raise GenofmError(f"the test split is empty ({mode_detail}); choose other --test-chroms or use --split-mode random")
    if len(present["test"]) < 2:
        raise GenofmError(
            f"the test split holds only class {sorted(present['test'])} ({mode_detail}); metrics need every class — "
            "choose other --test-chroms or use --split-mode random"
        )
    if len(present["train"]) < 2:
        raise GenofmError(f"the training split holds only class {sorted(present['train'])} ({mode_detail}); adjust the split options")
    warnings = []
    for split in ("train", "valid", "test"):
        missing = [c for c in classes if c not in present[split]]
        if counts[split] == 0:
            warnings.append(f"the {split} split is empty ({mode_detail})")
        elif missing:
            warnings.append(f"the {split} split has no examples of class(es) {missing}")
    return warnings
