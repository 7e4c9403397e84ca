"""From labelled inputs to the rows of a prepared dataset, with an account of every dropped row.

The order of steps matters and is fixed here: read -> window -> filter (on real bases, so padding
asked for by ``--length`` never fails the N filter) -> drop exact duplicates -> subsample -> split
-> drop reverse-complement pairs straddling splits -> augment the training split. Augmenting last
guarantees reverse-complement copies exist only in train, where they cannot leak.

Splits given by the inputs (a benchmark's own train/dev/test) are kept as they are: duplicates,
reverse complements and overlapping sequences (a shared exact stretch of ``--overlap-bp`` bases,
:mod:`genofm.data.overlaps`) across them are measured and reported, and dropped only on request
(``--drop-leaking``), because a published test set changed silently is no longer that benchmark.
Random splits keep overlapping sequences in one split.
"""

from __future__ import annotations

import logging
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from genofm import __version__
from genofm.data.chroms import chrom_sort_key, parse_chrom_list
from genofm.data.dedup import drop_cross_split_pairs, drop_exact_duplicates, measure_leakage
from genofm.data.extract import examples_from_intervals
from genofm.data.fasta import compile_label_regex, read_fasta
from genofm.data.genome import Genome
from genofm.data.inputs import InputSpec, parse_input, sha256
from genofm.data.intervals import read_bed, read_gtf
from genofm.data.labels import check_label
from genofm.data.overlaps import DEFAULT_MIN_OVERLAP, check_min_overlap, overlap_groups
from genofm.data.records import Example
from genofm.data.splits import cell_splits, check_splits, chrom_splits, given_splits, random_splits, resolve_mode
from genofm.data.tables import read_table
from genofm.data.windows import ANCHORS, resize_example
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement

log = logging.getLogger("genofm.prepare")


@dataclass
class PrepareOptions:
    """Every knob of ``genofm-prepare``; recorded verbatim in the summary."""

    genome: str | None = None
    label_regex: str | None = None
    sequence_column: str = "sequence"
    label_column: str | None = None
    id_column: str | None = None
    gtf_feature: str = "exon"
    anchor: str = "auto"
    length: int | None = None
    skip_unknown_chroms: bool = False
    max_n_fraction: float = 0.1
    min_length: int = 20
    max_per_class: int | None = None
    split_mode: str = "auto"
    test_chroms: str = "chr8,chr9"
    test_cells: str = ""
    valid_chroms: str = "chr10"
    test_fraction: float = 0.1
    valid_fraction: float = 0.1
    seed: int = 0
    rc_augment: bool = False
    classes: str | None = None
    drop_leaking: bool = False
    overlap_bp: int = DEFAULT_MIN_OVERLAP

    def validate(self) -> None:
        check_min_overlap(self.overlap_bp)
        if self.length is not None and self.length < 1:
            raise GenofmError(f"--length must be a positive number of bases, not {self.length}")
        if not 0 <= self.max_n_fraction <= 1:
            raise GenofmError(f"--max-n-fraction must lie in [0, 1], not {self.max_n_fraction}")
        if self.min_length < 0:
            raise GenofmError(f"--min-length must be >= 0, not {self.min_length}")
        if self.max_per_class is not None and self.max_per_class < 1:
            raise GenofmError(f"--max-per-class must be >= 1, not {self.max_per_class}")
        if self.anchor not in ANCHORS:
            raise GenofmError(f"--anchor must be one of {', '.join(ANCHORS)}, not {self.anchor!r}")


@dataclass
class Prepared:
    frame: pd.DataFrame
    classes: list[str]
    summary: dict = field(default_factory=dict)


class PrepareRejected(GenofmError):
    """The inputs were read but cannot make a dataset; ``summary`` says what was seen and dropped."""

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary


#: lengths spanning at least this ratio (longest / shortest) get a warning: batches pad to the longest
LENGTH_SPREAD_WARNING = 100


def _per_class(examples: list[Example]) -> Counter:
    return Counter(e.label for e in examples)


def _account(before: Counter, after: Counter, reason: str, by_class: dict[str, Counter]) -> None:
    """Record per class how many rows a step removed (``reason`` when the step has one reason)."""
    for label, count in before.items():
        lost = count - after.get(label, 0)
        if lost > 0:
            by_class.setdefault(label, Counter())[reason] += lost


def _lost_classes(seen: Counter, kept: Counter, by_class: dict[str, Counter]) -> str:
    """'B' (60 read: too_many_n 58, too_short 2) for every class with nothing left."""
    parts = []
    for label in sorted(seen):
        if kept.get(label, 0) == 0:
            reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(by_class.get(label, Counter()).items()))
            parts.append(f"{label!r} ({seen[label]} read: {reasons or 'none dropped'})")
    return "; ".join(parts)


def _length_warning(examples: list[Example]) -> str | None:
    lengths = [len(e.sequence) for e in examples]
    if not lengths or min(lengths) == 0 or max(lengths) / min(lengths) < LENGTH_SPREAD_WARNING:
        return None
    return (
        f"sequence lengths span {min(lengths)}-{max(lengths)} bp (x{max(lengths) / min(lengths):.0f}); genofm-embed sorts "
        "batches by length and tiles what exceeds --memory-budget, but features pooled over very different lengths are "
        "hard to compare: consider --length to cut fixed windows"
    )


def _read_inputs(specs: list[InputSpec], options: PrepareOptions, dropped: Counter) -> tuple[list[Example], list[dict]]:
    label_regex = compile_label_regex(options.label_regex)
    genome: Genome | None = None
    needs_genome = [s for s in specs if s.kind in ("bed", "narrowpeak", "gtf")]
    if needs_genome and options.genome is None:
        raise GenofmError(f"{needs_genome[0].path}: interval files need --genome to read their sequences; give the reference FASTA")
    if options.genome is not None:
        genome = Genome(options.genome)
    examples: list[Example] = []
    described: list[dict] = []
    try:
        for spec in specs:
            if spec.kind == "fasta":
                found = read_fasta(spec, label_regex)
                if options.length is not None:
                    found = [resize_example(e, options.length) for e in found]
            elif spec.kind == "table":
                found = read_table(spec, options.sequence_column, options.label_column or "label", options.id_column)
                if options.length is not None:
                    found = [resize_example(e, options.length) for e in found]
            else:
                assert genome is not None
                if spec.kind == "gtf":
                    intervals = read_gtf(spec, options.gtf_feature, options.label_column)
                else:
                    intervals = read_bed(spec, options.label_column)
                found, unknown = examples_from_intervals(
                    intervals, genome, options.length, options.anchor, options.skip_unknown_chroms
                )
                if unknown:
                    dropped["unknown_chromosome"] += unknown
                    log.warning("%s: dropped %d intervals on chromosomes missing from the genome", spec.path, unknown)
            if spec.split is not None:
                for example in found:
                    example.split = spec.split
            if spec.cell_type is not None:
                for example in found:
                    example.cell_type = spec.cell_type
            log.info("%s: %d %s records%s", spec.path, len(found), spec.kind, f" ({spec.split} split)" if spec.split else "")
            described.append({"path": str(spec.path), "label": spec.label, "kind": spec.kind, "records": len(found), "sha256": sha256(spec.path)}
                             | ({"cell_type": spec.cell_type} if spec.cell_type is not None else {}))
            examples.extend(found)
    finally:
        if genome is not None:
            genome.close()
    return examples, described


def _filter(examples: list[Example], options: PrepareOptions, dropped: Counter, by_class: dict[str, Counter]) -> list[Example]:
    kept = []
    for example in examples:
        if example.real_length < options.min_length:
            reason = "too_short"
        elif example.n_fraction > options.max_n_fraction:
            reason = "too_many_n"  # also non-DNA text: other symbols were read as N
        else:
            kept.append(example)
            continue
        dropped[reason] += 1
        by_class.setdefault(example.label, Counter())[reason] += 1
    return kept


def _subsample(examples: list[Example], max_per_class: int | None, seed: int, dropped: Counter) -> list[Example]:
    if max_per_class is None:
        return examples
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        by_label.setdefault(example.label, []).append(index)
    keep: set[int] = set()
    for label in sorted(by_label):
        indices = by_label[label]
        if len(indices) > max_per_class:
            chosen = rng.choice(len(indices), size=max_per_class, replace=False)
            keep.update(indices[i] for i in chosen)
            dropped["subsampled"] += len(indices) - max_per_class
        else:
            keep.update(indices)
    return [e for i, e in enumerate(examples) if i in keep]


def _classes(examples: list[Example], requested: str | None) -> list[str]:
    present = sorted({e.label for e in examples})
    if requested:
        classes = [c.strip() for c in requested.split(",") if c.strip()]
        if len(set(classes)) != len(classes):
            raise GenofmError(f"--classes {requested!r} names a class twice")
        unknown = sorted(set(present) - set(classes))
        absent = [c for c in classes if c not in present]
        if unknown or absent:
            raise GenofmError(
                f"--classes {requested!r} does not match the labels found ({', '.join(present)}); "
                "list each label exactly once"
            )
    else:
        classes = present
    if not classes:
        raise GenofmError("no sequences are left after removing duplicates with conflicting labels; check the inputs' labels")
    if len(classes) < 2:
        raise GenofmError(
            f"only one class ({classes[0]!r}) is left after filtering; a classifier needs at least two — "
            "give another labelled input (e.g. neg=background.fa)"
        )
    return classes


def _unique_ids(names: list[str]) -> list[str]:
    taken: set[str] = set()
    ids = []
    for name in names:
        candidate, k = name, 1
        while candidate in taken:
            k += 1
            candidate = f"{name}.{k}"
        taken.add(candidate)
        ids.append(candidate)
    return ids


def _augment(examples: list[Example], splits: list[str], dropped: Counter) -> list[tuple[int, Example]]:
    """Reverse-complement copies of training rows (with the row they copy) unless that strand is already a row."""
    existing = {e.sequence for e in examples}
    copies = []
    for index, (example, split) in enumerate(zip(examples, splits)):
        if split != "train":
            continue
        rc = reverse_complement(example.sequence)
        if rc in existing:
            dropped["rc_copy_already_present"] += 1
            continue
        flipped = {"+": "-", "-": "+"}.get(example.strand or "", example.strand)
        copies.append((index, Example(example.name, rc, example.label, example.source, example.chrom,
                                      example.start, example.end, flipped, example.padding, cell_type=example.cell_type)))
    return copies


def _frame(examples: list[Example], splits: list[str], augmented: list[tuple[int, Example]]) -> pd.DataFrame:
    ids = _unique_ids([e.name if e.cell_type is None else f"{e.cell_type}:{e.name}" for e in examples])
    aug_ids = _unique_ids(ids + [f"{ids[index]}_rc" for index, _ in augmented])[len(ids):]
    rows = examples + [copy for _, copy in augmented]
    frame = pd.DataFrame(
        {
            "id": ids + aug_ids,
            "sequence": [e.sequence for e in rows],
            "label": [e.label for e in rows],
            "split": splits + ["train"] * len(augmented),
            "chrom": [e.chrom for e in rows],
            "start": pd.array([e.start for e in rows], dtype="Int64"),
            "end": pd.array([e.end for e in rows], dtype="Int64"),
            "strand": [(e.strand or ".") if e.chrom is not None else e.strand for e in rows],
            "source": [e.source for e in rows],
            "augmented": [False] * len(examples) + [True] * len(augmented),
        }
    )
    if any(e.cell_type is not None for e in rows):
        frame["cell_type"] = [e.cell_type for e in rows]
    return frame


def _length_stats(values: list[int]) -> dict:
    if not values:
        return {}
    return {"min": min(values), "max": max(values), "mean": round(statistics.fmean(values), 2), "median": statistics.median(values)}


def _summary(frame, classes, dropped, described, options, mode, warnings, examples, by_class) -> dict:
    original = frame[~frame["augmented"]]
    counts = {split: {c: int(((original["split"] == split) & (original["label"] == c)).sum()) for c in classes}
              for split in ("train", "valid", "test")}
    aug = frame[frame["augmented"]]
    chromosomes = {}
    if original["chrom"].notna().any():
        for split in ("train", "valid", "test"):
            names = original.loc[original["split"] == split, "chrom"].dropna().unique().tolist()
            chromosomes[split] = sorted(names, key=chrom_sort_key)
    summary = {
        "genofm_version": __version__,
        "rows": int(len(frame)),
        "classes": classes,
        "positive_class": classes[-1] if len(classes) == 2 else None,
        "split_mode": mode,
        "counts": counts,
        "totals": {split: int(sum(counts[split].values())) for split in counts},
        "augmented": {c: int((aug["label"] == c).sum()) for c in classes},
        "chromosomes": chromosomes,
        **({"cell_types": {split: {str(c): int(n) for c, n in original.loc[original["split"] == split, "cell_type"].value_counts().sort_index().items()}
                           for split in ("train", "valid", "test")}} if "cell_type" in frame.columns else {}),
        "lengths": _length_stats([len(e.sequence) for e in examples]),
        "real_bases": _length_stats([e.real_length for e in examples]),
        "padded_rows": int(sum(e.padding > 0 for e in examples)),
        "dropped": dict(sorted(dropped.items())),
        "dropped_per_class": {label: dict(sorted(c.items())) for label, c in sorted(by_class.items())},
        "inputs": described,
        "options": asdict(options),
        "warnings": warnings,
    }
    if options.genome:
        summary["genome"] = {"path": options.genome, "sha256": sha256(Path(options.genome))}
    return summary


def prepare(inputs: list[str], options: PrepareOptions) -> Prepared:
    """Read, window, clean, de-duplicate, split and augment; raise GenofmError on unusable input."""
    options.validate()
    if not inputs:
        raise GenofmError("no inputs; give at least one [LABEL=]PATH")
    specs = [parse_input(text) for text in inputs]
    # one file may hold the regions of several cell types (LABEL@CELL=PATH, e.g. bound in one cell
    # type and unbound in another); within a cell type, a file given twice is a mistake
    seen: dict[tuple[Path, str | None], InputSpec] = {}
    for spec in specs:
        previous = seen.setdefault((spec.path.resolve(), spec.cell_type), spec)
        if previous is not spec:
            where = f" for cell type {spec.cell_type}" if spec.cell_type is not None else ""
            raise GenofmError(f"{spec.path}: given twice as input{where}; give each file once")
    dropped: Counter[str] = Counter()
    examples, described = _read_inputs(specs, options, dropped)
    for example in examples:
        check_label(example.label, example.source)
    seen = _per_class(examples)
    by_class: dict[str, Counter] = {}
    try:
        return _prepare_examples(examples, options, dropped, described, seen, by_class)
    except PrepareRejected:
        raise
    except GenofmError as exc:
        raise PrepareRejected(str(exc), {
            "genofm_version": __version__,
            "error": str(exc),
            "read_per_class": dict(sorted(seen.items())),
            "dropped": dict(sorted(dropped.items())),
            "dropped_per_class": {label: dict(sorted(c.items())) for label, c in sorted(by_class.items())},
            "inputs": described,
            "options": asdict(options),
        }) from None


def _prepare_examples(examples, options, dropped, described, seen, by_class) -> Prepared:
    total = len(examples)
    examples = _filter(examples, options, dropped, by_class)
    if not examples:
        raise GenofmError(
            f"all {total} sequences were filtered out: {_lost_classes(seen, Counter(), by_class)}; check the inputs or relax "
            "--min-length / --max-n-fraction"
        )
    mode = resolve_mode(options.split_mode, examples)
    before = _per_class(examples)
    if mode != "given":
        examples, duplicates = drop_exact_duplicates(examples)
        dropped.update(duplicates)
    _account(before, _per_class(examples), "duplicate_or_conflicting_label", by_class)
    before = _per_class(examples)
    examples = _subsample(examples, options.max_per_class, options.seed, dropped)
    _account(before, _per_class(examples), "subsampled", by_class)
    kept = _per_class(examples)
    if len(kept) < 2 and len(seen) >= 2:
        raise GenofmError(
            f"only class {sorted(kept)} is left after filtering; nothing is left of {_lost_classes(seen, kept, by_class)}; "
            "relax --min-length / --max-n-fraction or fix those inputs"
        )
    classes = _classes(examples, options.classes)
    overlap = overlap_groups([e.sequence for e in examples], options.overlap_bp) if options.overlap_bp else None
    if mode == "given":
        splits, detail = given_splits(examples, options.valid_fraction, options.seed, overlap)
    elif mode == "chrom":
        test_chroms, valid_chroms = parse_chrom_list(options.test_chroms), parse_chrom_list(options.valid_chroms)
        splits = chrom_splits(examples, test_chroms, valid_chroms)
        present = sorted({e.chrom for e in examples if e.chrom}, key=chrom_sort_key)
        detail = f"test chromosomes {test_chroms}, valid {valid_chroms}; data on {', '.join(present[:12])}{' ...' if len(present) > 12 else ''}"
    elif mode == "cell":
        test_cells = parse_chrom_list(options.test_cells)
        test_chroms, valid_chroms = parse_chrom_list(options.test_chroms), parse_chrom_list(options.valid_chroms)
        assigned = cell_splits(examples, test_cells, test_chroms, valid_chroms)
        outside = sum(s is None for s in assigned)
        if outside:
            dropped["held_out_cell_type_off_test_chromosomes_or_training_cell_type_on_them"] += outside
        examples = [e for e, s in zip(examples, assigned) if s is not None]
        if overlap is not None:
            overlap = overlap[[s is not None for s in assigned]]
        splits = [s for s in assigned if s is not None]
        detail = f"test cell types {test_cells} on chromosomes {test_chroms}, valid chromosomes {valid_chroms}"
    else:
        splits = random_splits(examples, options.test_fraction, options.valid_fraction, options.seed, overlap)
        detail = f"random split, test fraction {options.test_fraction}"
        if overlap is not None:
            detail += f"; sequences sharing {options.overlap_bp}+ bp kept in one split"
    if options.max_per_class is not None and dropped.get("subsampled"):
        detail += f"; only {options.max_per_class} per class kept by --max-per-class (pipeline: --max_per_class), raise it"
    leakage = measure_leakage(examples, splits, overlap)
    if mode != "given" or options.drop_leaking:
        # given splits asked to be leak-free drop overlaps too; held-out chromosomes drop copies only
        # (windows on different chromosomes that share 40 bp are mostly repeats, measured and reported)
        examples, splits, leaked = drop_cross_split_pairs(examples, splits, overlap if mode == "given" else None)
        if leaked:
            reason = "leaking_across_given_splits" if mode == "given" else "reverse_complement_in_other_split"
            dropped[reason] += leaked
            log.info("dropped %d sequences whose copy (either strand)%s is in an earlier split", leaked,
                     " or overlapping sequence" if mode == "given" and overlap is not None else "")
    elif leakage["exact_duplicates_across_splits"] or leakage["reverse_complements_across_splits"] or leakage.get("overlapping_across_splits"):
        log.warning(
            "the given splits leak: %d rows repeat an earlier split's sequence, %d its reverse complement%s (%s); "
            "kept as given, --drop-leaking removes them",
            leakage["exact_duplicates_across_splits"], leakage["reverse_complements_across_splits"],
            f" and {leakage['overlapping_across_splits']} share {options.overlap_bp}+ bp with one" if overlap is not None else "",
            ", ".join(f"{k} " + "+".join(str(n) for n in v.values()) for k, v in leakage["pairs"].items()),
        )
    if mode in ("chrom", "cell") and leakage.get("overlapping_across_splits"):
        log.info("%d rows share %d+ bp (either strand) with a row of an earlier split (shared repeats or overlapping "
                 "windows); kept, see the summary's leakage", leakage["overlapping_across_splits"], options.overlap_bp)
    warnings = check_splits(examples, splits, classes, detail)
    spread = _length_warning(examples)
    if spread:
        warnings.append(spread)
    for warning in warnings:
        log.warning(warning)
    augmented = _augment(examples, splits, dropped) if options.rc_augment else []
    frame = _frame(examples, splits, augmented)
    summary = _summary(frame, classes, dropped, described, options, mode, warnings, examples, by_class)
    summary["split_detail"] = detail
    summary["leakage"] = {"measured_before_removal": leakage, "kept": mode == "given" and not options.drop_leaking}
    log.info(
        "prepared %d rows (%s; %d reverse-complement training copies) in %d classes, %s split; dropped %s",
        len(frame), ", ".join(f"{k} {v}" for k, v in summary["totals"].items()), len(augmented), len(classes), mode,
        dict(dropped) or "nothing",
    )
    return Prepared(frame=frame, classes=classes, summary=summary)
