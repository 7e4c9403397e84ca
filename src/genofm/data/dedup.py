"""Exact and reverse-complement duplicates, the commonest source of train/test leakage.

Peak sets from related experiments share regions, and a double-stranded region can appear once
per strand. A model scored on a test sequence it saw in training (on either strand) looks better
than it is, so duplicates are resolved here, before and after splitting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from genofm.data.records import Example
from genofm.sequence import reverse_complement

SPLIT_PRIORITY = {"train": 0, "valid": 1, "test": 2}


def canonical(sequence: str) -> str:
    """The lexicographically smaller of a sequence and its reverse complement (same key for both strands)."""
    rc = reverse_complement(sequence)
    return rc if rc < sequence else sequence


def drop_exact_duplicates(examples: list[Example]) -> tuple[list[Example], dict[str, int]]:
    """Keep the first copy of each sequence; drop every copy of a sequence seen with two labels.

    With (region, cell type) examples the key is the pair: the same region may be bound in one cell
    type and unbound in another, which is exactly what track features are for.
    """
    labels: dict[tuple, set[str]] = {}
    for example in examples:
        labels.setdefault((example.cell_type, example.sequence), set()).add(example.label)
    kept: list[Example] = []
    seen: set[tuple] = set()
    dropped: Counter[str] = Counter()
    for example in examples:
        key = (example.cell_type, example.sequence)
        if len(labels[key]) > 1:
            dropped["conflicting_labels"] += 1
        elif key in seen:
            dropped["duplicate_sequence"] += 1
        else:
            seen.add(key)
            kept.append(example)
    return kept, dict(dropped)


def measure_leakage(examples: list[Example], splits: list[str], groups: Sequence[int] | None = None) -> dict:
    """How many rows of each later split repeat an earlier split's sequence, exactly or as a reverse
    complement, or (with ``groups`` from :func:`genofm.data.overlaps.overlap_groups`) overlap one.

    Reported for every dataset so that a benchmark kept as published (whose splits may leak) says
    so. ``pairs`` counts rows of the later split (``train->test``: test rows whose sequence, on
    either strand, is in train); the totals count each leaking row once, by its worst kind
    (exact, then reverse complement, then overlap).
    """
    order = list(SPLIT_PRIORITY)
    kinds = ("exact_duplicates", "reverse_complements", "overlapping")
    by_split: dict[str, set[str]] = {s: set() for s in order}
    groups_by_split: dict[str, set[int]] = {s: set() for s in order}
    for index, (example, split) in enumerate(zip(examples, splits)):
        by_split[split].add(example.sequence)
        if groups is not None:
            groups_by_split[split].add(int(groups[index]))
    pairs: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(kinds, 0)
    for index, (example, split) in enumerate(zip(examples, splits)):
        rc = reverse_complement(example.sequence)
        worst = None
        for earlier in order[: order.index(split)]:
            if example.sequence in by_split[earlier]:
                kind = "exact_duplicates"
            elif rc in by_split[earlier]:
                kind = "reverse_complements"
            elif groups is not None and int(groups[index]) in groups_by_split[earlier]:
                kind = "overlapping"
            else:
                continue
            counts = pairs.setdefault(f"{earlier}->{split}", dict.fromkeys(kinds if groups is not None else kinds[:2], 0))
            counts[kind] += 1
            worst = kind if worst is None else min(worst, kind, key=kinds.index)
        if worst is not None:
            totals[worst] += 1
    within = sum(splits.count(split) - len(seqs) for split, seqs in by_split.items())
    report = {
        "exact_duplicates_across_splits": totals["exact_duplicates"],
        "reverse_complements_across_splits": totals["reverse_complements"],
        "duplicates_within_splits": within,
        "pairs": pairs,
    }
    if groups is not None:
        report["overlapping_across_splits"] = totals["overlapping"]
    return report


def drop_cross_split_pairs(
    examples: list[Example], splits: list[str], groups: Sequence[int] | None = None
) -> tuple[list[Example], list[str], int]:
    """Drop copies of a sequence (either strand) outside the earliest split (train < valid < test)
    holding it; with ``groups`` (overlap groups), every row outside the earliest split holding its group."""
    best: dict = {}
    keys = [int(g) for g in groups] if groups is not None else [canonical(e.sequence) for e in examples]
    for key, split in zip(keys, splits):
        rank = SPLIT_PRIORITY[split]
        if rank < best.get(key, 3):
            best[key] = rank
    kept, kept_splits, dropped = [], [], 0
    for example, key, split in zip(examples, keys, splits):
        if SPLIT_PRIORITY[split] == best[key]:
            kept.append(example)
            kept_splits.append(split)
        else:
            dropped += 1
    return kept, kept_splits, dropped
