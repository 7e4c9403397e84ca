"""Turn genomic intervals into windowed, strand-corrected examples cut from the genome.

An interval on a chromosome the genome lacks is almost always a naming or build mismatch, so it
stops the run (naming a few of the genome's chromosomes) unless the user opts to drop such
intervals. An interval that runs past its chromosome's end means a different genome build and is
always an error; only the *window* around an interval may run past an end, and that part is
N-padded.
"""

from __future__ import annotations

from genofm.data.genome import Genome
from genofm.data.intervals import Interval
from genofm.data.records import Example
from genofm.data.windows import interval_window
from genofm.errors import GenofmError


def examples_from_intervals(
    intervals: list[Interval],
    genome: Genome,
    length: int | None,
    anchor: str,
    skip_unknown_chroms: bool,
) -> tuple[list[Example], int]:
    """Examples for ``intervals`` and the number dropped for lying on chromosomes the genome lacks."""
    examples: list[Example] = []
    unknown = 0
    for interval in intervals:
        chrom = genome.resolve(interval.chrom)
        if chrom is None:
            if skip_unknown_chroms:
                unknown += 1
                continue
            raise GenofmError(
                f"{interval.source}: line {interval.line}: chromosome {interval.chrom!r} is not in genome {genome.path} "
                f"(it has {genome.matcher.examples()}); use the genome build the intervals come from, "
                "or drop such intervals with --skip-unknown-chroms"
            )
        chrom_length = genome.lengths[chrom]
        if interval.end > chrom_length:
            raise GenofmError(
                f"{interval.source}: line {interval.line}: interval {interval.chrom}:{interval.start}-{interval.end} "
                f"runs past the end of {chrom} ({chrom_length} bp) in {genome.path}; are intervals and genome "
                "from the same assembly?"
            )
        use_anchor = ("summit" if interval.summit is not None else "center") if anchor == "auto" else anchor
        ws, we = interval_window(interval.start, interval.end, interval.strand, length, use_anchor, interval.summit)
        sequence, real_start, real_end, padding = genome.window(chrom, ws, we, interval.strand)
        examples.append(
            Example(
                name=interval.name,
                sequence=sequence,
                label=interval.label,
                source=interval.source,
                chrom=chrom,
                start=real_start,
                end=real_end,
                strand=interval.strand,
                padding=padding,
            )
        )
    return examples, unknown
