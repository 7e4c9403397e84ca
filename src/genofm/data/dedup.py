"""Exact and reverse-complement duplicates, the commonest source of train/test leakage.

Peak sets from related experiments share regions, and a double-stranded region can appear once
per strand. A model scored on a test sequence it saw in training (on either strand) looks better
than it is, so duplicates are resolved here, before and after splitting.
"""

from __future__ import annotations

from collections import Counter

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


def measure_leakage(examples: list[Example], splits: list[str]) -> dict:
    """How many rows of each later split repeat an earlier split's sequence, exactly or as a reverse complement.

    Reported for every dataset so that a benchmark kept as published (whose splits may leak) says
    so. ``pairs`` counts rows of the later split (``train->test``: test rows whose sequence, on
    either strand, is in train); the totals count each leaking row once.
    """
    order = list(SPLIT_PRIORITY)
    by_split: dict[str, set[str]] = {s: set() for s in order}
    for example, split in zip(examples, splits):
        by_split[split].add(example.sequence)
    pairs: dict[str, dict[str, int]] = {}
    total_exact = total_rc = 0
    for example, split in zip(examples, splits):
        rc = reverse_complement(example.sequence)
        worst = None
        for earlier in order[: order.index(split)]:
            kind = "exact_duplicates" if example.sequence in by_split[earlier] else (
                "reverse_complements" if rc in by_split[earlier] else None)
            if kind is None:
                continue
            counts = pairs.setdefault(f"{earlier}->{split}", {"exact_duplicates": 0, "reverse_complements": 0})
            counts[kind] += 1
            worst = "exact_duplicates" if kind == "exact_duplicates" or worst == "exact_duplicates" else kind
        total_exact += worst == "exact_duplicates"
        total_rc += worst == "reverse_complements"
    within = sum(splits.count(split) - len(seqs) for split, seqs in by_split.items())
    return {
        "exact_duplicates_across_splits": total_exact,
        "reverse_complements_across_splits": total_rc,
        "duplicates_within_splits": within,
        "pairs": pairs,
    }


def drop_cross_split_pairs(examples: list[Example], splits: list[str]) -> tuple[list[Example], list[str], int]:
    """Drop copies of a sequence (either strand) outside the earliest split (train < valid < test) holding it."""
    best: dict[str, int] = {}
    keys = [canonical(e.sequence) for e in examples]
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
