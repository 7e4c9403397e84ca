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
    """Keep the first copy of each sequence; drop every copy of a sequence seen with two labels."""
    labels: dict[str, set[str]] = {}
    for example in examples:
        labels.setdefault(example.sequence, set()).add(example.label)
    kept: list[Example] = []
    seen: set[str] = set()
    dropped: Counter[str] = Counter()
    for example in examples:
        if len(labels[example.sequence]) > 1:
            dropped["conflicting_labels"] += 1
        elif example.sequence in seen:
            dropped["duplicate_sequence"] += 1
        else:
            seen.add(example.sequence)
            kept.append(example)
    return kept, dict(dropped)


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
