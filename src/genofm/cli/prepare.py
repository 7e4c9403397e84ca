"""``genofm-prepare``: labelled sequences or intervals -> the Parquet dataset every other tool reads."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from genofm.atomic import atomic_path, check_output
from genofm.cli.common import run_app, setup_logging, version_callback
from genofm.data.dataset import write_dataset
from genofm.data.overlaps import DEFAULT_MIN_OVERLAP, KMER, REPEAT_SEQUENCES
from genofm.data.prepare import PrepareOptions, PrepareRejected, prepare
from genofm.data.splits import SPLIT_MODES
from genofm.data.windows import ANCHORS
from genofm.errors import GenofmError

log = logging.getLogger("genofm.prepare")

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.command(
    epilog=(
        "Examples:  genofm-prepare oct4=peaks_oct4.fa mafk=peaks_mafk.fa --output ds.parquet --length 200  |  "
        "genofm-prepare pos=peaks.narrowPeak neg=background.bed --genome hg38.fa --length 1000 --rc-augment "
        "--output ds.parquet  |  genofm-prepare splice.csv --sequence-column Sequence --label-column Class "
        "--output ds.parquet  |  genofm-prepare train=train.csv dev=dev.csv test=test.csv --output ds.parquet"
    )
)
def main_command(
    inputs: Annotated[List[str], typer.Argument(metavar="INPUT...", help="Labelled inputs, each [SPLIT:][LABEL=]PATH. SPLIT (train, valid or dev, test) keeps a benchmark's "
        "own splits: train=train.csv test=test.csv, or test:enhancer=enhancer.test.fa. FASTA (.fa/.fasta/.fna, optionally .gz): one file per class "
        "(LABEL=file.fa) or labels from headers via --label-regex. CSV/TSV: --sequence-column and "
        "--label-column (optional chrom/start/end/strand columns give coordinates). With --genome: BED "
        "(strand in column 6), narrowPeak (windows centred on the summit) or GTF (--gtf-feature rows), "
        "labelled by LABEL= or --label-column. A CSV/TSV 'split' column (train/valid/dev/test) also gives splits.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Prepared dataset to write (Parquet; written atomically).", show_default=False)],
    summary: Annotated[Optional[Path], typer.Option("--summary", help="JSON summary to write: counts per split x class, length statistics, dropped rows by reason, "
        "split chromosomes, input checksums, options. Default: OUTPUT with .summary.json.", show_default=False)] = None,
    genome: Annotated[Optional[Path], typer.Option("--genome", help="Reference FASTA (plain or bgzip) for BED/narrowPeak/GTF inputs; its .fai (and .gzi) index is "
        "built next to it when missing. Chromosome names are matched across conventions (chr1 = 1, chrM = MT).", show_default=False)] = None,
    length: Annotated[Optional[int], typer.Option("--length", help="Centre every example on a window of this many bases. Intervals extend into the genome (N beyond "
        "chromosome ends); sequences without a genome are centre-cropped or N-padded. Default: keep each "
        "sequence/interval as it is.", show_default=False)] = None,
    anchor: Annotated[str, typer.Option("--anchor", help=f"What an interval window is centred on: {', '.join(ANCHORS)}. auto = the summit for narrowPeak, "
        "the centre otherwise; five-prime/three-prime are strand-aware ends (e.g. the TSS of a GTF transcript).")] = "auto",
    label_regex: Annotated[Optional[str], typer.Option("--label-regex", help="Regular expression whose first group, searched in each FASTA header, is the label "
        "(e.g. '^(\\S+)' for '>5S_rRNA ...'); used for FASTA inputs given without LABEL=.", show_default=False)] = None,
    sequence_column: Annotated[str, typer.Option("--sequence-column", help="CSV/TSV column holding the sequences.")] = "sequence",
    label_column: Annotated[Optional[str], typer.Option("--label-column", help="Where labels are when an input has no LABEL=: CSV/TSV column name (default 'label'); BED-like "
        "column number (1-based) or name (name, score, a header-row name); GTF attribute (e.g. gene_type).", show_default=False)] = None,
    id_column: Annotated[Optional[str], typer.Option("--id-column", help="CSV/TSV column with row identifiers (default: FILE:LINE).", show_default=False)] = None,
    gtf_feature: Annotated[str, typer.Option("--gtf-feature", help="GTF feature type (column 3) to use. exon gives short, non-redundant windows; use gene or "
        "transcript with --anchor five-prime --length N for promoter windows.")] = "exon",
    skip_unknown_chroms: Annotated[bool, typer.Option("--skip-unknown-chroms", help="Drop intervals on chromosomes the genome lacks (counted in the summary) instead of stopping.")] = False,
    max_n_fraction: Annotated[float, typer.Option("--max-n-fraction", help="Drop examples with more than this fraction of N among their real (non-padding) bases.")] = 0.1,
    min_length: Annotated[int, typer.Option("--min-length", help="Drop examples with fewer real (non-padding) bases than this.")] = 20,
    max_per_class: Annotated[Optional[int], typer.Option("--max-per-class", help="Keep at most this many examples per class (seeded random subsample; for quick runs).", show_default=False)] = None,
    split_mode: Annotated[str, typer.Option("--split-mode", help=f"How to split: {', '.join(SPLIT_MODES)}. auto = the inputs' own splits when given (SPLIT:PATH or a "
        "split column; without a given validation split, --valid-fraction of train becomes one), else held-out "
        "chromosomes when every example has coordinates, else stratified random. cell = held-out cell types "
        "(--test-cells) on held-out chromosomes (--test-chroms), for LABEL@CELL=PATH inputs: train on some cell "
        "types, test on an unseen one.")] = "auto",
    drop_leaking: Annotated[bool, typer.Option("--drop-leaking/--keep-leaking", help="With given splits: drop rows whose sequence (either strand) already sits in an earlier split "
        "(train, then valid, then test), or overlaps one (see --overlap-bp). Default: keep the benchmark as published; the leakage is measured "
        "and reported in the summary either way. Chromosome and random splits always drop copies (either strand).")] = False,
    overlap_bp: Annotated[int, typer.Option("--overlap-bp", help="Sequences sharing an exact stretch of at least this many bases (either strand; shifted windows "
        "of one region) overlap: random splits keep them in one split, and overlaps across any splits are counted in the "
        f"summary's leakage. Found by {KMER}-mer minimizers (a shorter shared stretch of {KMER}+ bp may count too; {KMER}-mers "
        f"in more than {REPEAT_SEQUENCES} sequences are repeats and link nothing). 0 = only identical sequences.", min=0)] = DEFAULT_MIN_OVERLAP,
    test_cells: Annotated[str, typer.Option("--test-cells", help="Comma-separated cell types held out for the test split (cell mode).")] = "",
    tracks: Annotated[Optional[Path], typer.Option("--tracks", help="Tracks sheet (CSV/TSV: name, cell_type, assay, file[, kind]) of epigenomic tracks: bigWig or "
        "bedGraph signal (bgzipped bedGraph needs a tabix index), BED/narrowPeak peaks, or chromatin-state BED "
        "(kind states). Writes per-window features (cell_type|assay|statistic|bin) to --tracks-output, an "
        "embedding file of the 'tracks' backbone for genofm-train alone or beside sequence embeddings. With "
        "LABEL@CELL=PATH inputs every example reads its own cell type's tracks (features named own|assay|...).", show_default=False)] = None,
    track_bins: Annotated[int, typer.Option("--track-bins", help="Equal bins per window for the signal mean and max.")] = 4,
    tracks_dir: Annotated[Optional[Path], typer.Option("--tracks-dir", help="Find each track file by its file name in this folder instead of at the sheet's path "
        "(for pipelines that stage the files).", show_default=False)] = None,
    tracks_output: Annotated[Optional[Path], typer.Option("--tracks-output", help="Track-feature embedding file to write (HDF5). Default: OUTPUT with .tracks.h5.", show_default=False)] = None,
    test_chroms: Annotated[str, typer.Option("--test-chroms", help="Comma-separated chromosomes held out for the test split (chrom mode).")] = "chr8,chr9",
    valid_chroms: Annotated[str, typer.Option("--valid-chroms", help="Comma-separated chromosomes held out for the validation split (chrom mode).")] = "chr10",
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="Test fraction per class (random mode).")] = 0.1,
    valid_fraction: Annotated[float, typer.Option("--valid-fraction", help="Validation fraction per class (random mode).")] = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Seed for random splits and --max-per-class subsampling.")] = 0,
    rc_augment: Annotated[bool, typer.Option("--rc-augment", help="Add a reverse-complement copy of every training example (augmented=True, id suffix _rc); "
        "never added to valid or test.")] = False,
    classes: Annotated[Optional[str], typer.Option("--classes", help="Comma-separated class order (must list every label once). Default: sorted labels. For binary "
        "tasks the LAST class is the positive one (AUROC, precision/recall).", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debugging detail.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the genofm version and exit.")] = False,
) -> None:
    """Turn labelled FASTA/CSV/TSV files, or BED/narrowPeak/GTF intervals cut from a genome, into a
    prepared dataset: windowed, strand-corrected, upper-case A/C/G/T/N sequences with labels and
    train/valid/test splits.

    Cleaning: non-ACGT symbols become N; examples failing --min-length or --max-n-fraction are
    dropped; exact duplicate sequences are kept once (a sequence seen with two labels is dropped
    entirely); a sequence whose reverse complement sits in another split is kept only in the
    earliest split (train, then valid, then test); random splits keep overlapping sequences
    (--overlap-bp) in one split. Splits given by the inputs are kept as they are
    (leakage across them is measured and reported; --drop-leaking removes it). Coordinates are 0-based half-open (FASTA headers
    like chr1:100-300 are read as BED-style, 0-based starts) and describe the real bases of each
    window. Every dropped row is counted by reason in the summary.
    """
    setup_logging(verbose)
    check_output(output)
    summary_path = summary if summary is not None else output.with_name(output.name.removesuffix(".parquet") + ".summary.json")
    if summary_path.resolve() == output.resolve():
        raise GenofmError(f"--summary {summary_path} is the same file as --output; give it another name")
    check_output(summary_path, option="--summary")
    if split_mode not in SPLIT_MODES:
        raise GenofmError(f"--split-mode must be one of {', '.join(SPLIT_MODES)}, not {split_mode!r}")
    options = PrepareOptions(
        genome=str(genome) if genome is not None else None,
        label_regex=label_regex,
        sequence_column=sequence_column,
        label_column=label_column,
        id_column=id_column,
        gtf_feature=gtf_feature,
        anchor=anchor,
        length=length,
        skip_unknown_chroms=skip_unknown_chroms,
        max_n_fraction=max_n_fraction,
        min_length=min_length,
        max_per_class=max_per_class,
        split_mode=split_mode,
        test_chroms=test_chroms,
        test_cells=test_cells,
        valid_chroms=valid_chroms,
        test_fraction=test_fraction,
        valid_fraction=valid_fraction,
        seed=seed,
        rc_augment=rc_augment,
        classes=classes,
        drop_leaking=drop_leaking,
        overlap_bp=overlap_bp,
    )
    specs = None
    if tracks is not None:
        from genofm.tracks.sheet import read_sheet

        specs = read_sheet(tracks, tracks_dir)  # a bad sheet fails before the inputs are read
        tracks_output = tracks_output or output.with_name(output.name.removesuffix(".parquet") + ".tracks.h5")
        check_output(tracks_output, option="--tracks-output")
    elif tracks_output is not None or tracks_dir is not None:
        raise GenofmError("--tracks-output and --tracks-dir need --tracks (the sheet of track files)")
    try:
        prepared = prepare(inputs, options)
    except PrepareRejected as exc:
        # no dataset, but the summary of what was read and dropped (per class and reason) helps fix the inputs
        exc.summary["output"] = None
        with atomic_path(summary_path) as tmp_summary:
            tmp_summary.write_text(json.dumps(exc.summary, indent=2) + "\n")
        raise GenofmError(f"{exc} (what was read and dropped: {summary_path})") from None
    prepared.summary["output"] = str(output)
    with contextlib.ExitStack() as stack:
        tmp_output = stack.enter_context(atomic_path(output))
        tmp_summary = stack.enter_context(atomic_path(summary_path))
        if specs is not None:
            from genofm.tracks.features import write_track_embeddings

            result = write_track_embeddings(prepared.frame, specs, track_bins, stack.enter_context(atomic_path(tracks_output)),
                                            _genome_lengths(genome))
            prepared.summary["tracks"] = {"sheet": str(tracks), "output": str(tracks_output), "bins": track_bins,
                                          "n_features": len(result.names), "coverage": result.coverage}
        write_dataset(prepared.frame, tmp_output, prepared.classes)
        tmp_summary.write_text(json.dumps(prepared.summary, indent=2) + "\n")
    log.info("wrote %s and %s%s", output, summary_path, f" and {tracks_output}" if specs is not None else "")


def _genome_lengths(genome: Optional[Path]) -> Optional[dict]:
    """Chromosome lengths of --genome, for the track assembly checks."""
    if genome is None:
        return None
    from genofm.data.genome import Genome

    reference = Genome(genome)
    try:
        return dict(reference.lengths)
    finally:
        reference.close()


main = run_app(app, "genofm-prepare")
