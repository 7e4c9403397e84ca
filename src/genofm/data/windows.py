"""Centre-and-resize rules, shared by sequences read from files and intervals cut from a genome.

Both paths follow :func:`genofm.sequence.center_pad` (floor on the left), so a 200-bp FASTA record
padded to 300 and the same 200-bp interval extended into the genome put the original bases at the
same offset. Windows are computed in genome coordinates but mirrored on the minus strand, so that
after reverse-complementing the anchor (summit, 5' end) sits at the same index on both strands.
"""

from __future__ import annotations

from genofm.data.records import Example
from genofm.sequence import center_pad

ANCHORS = ("auto", "center", "summit", "five-prime", "three-prime")


def centre_offset(n: int, length: int) -> int:
    """Offset of a ``length`` window's left end relative to an ``n``-long sequence, as center_pad does."""
    return (n - length) // 2 if n >= length else -((length - n) // 2)


def resize_example(example: Example, length: int) -> Example:
    """Centre-crop or N-pad a sequence that came without a genome (coordinates follow a crop)."""
    n = len(example.sequence)
    if n == length:
        return example
    example.sequence = center_pad(example.sequence, length)
    if n < length:
        example.padding += length - n
        return example
    offset = (n - length) // 2
    if example.start is not None and example.end is not None and example.end - example.start == n:
        if example.strand == "-":
            example.start = example.start + (n - offset - length)
        else:
            example.start = example.start + offset
        example.end = example.start + length
    return example


def interval_window(
    start: int,
    end: int,
    strand: str,
    length: int | None,
    anchor: str = "center",
    summit: int | None = None,
) -> tuple[int, int]:
    """Genome window ``[ws, we)`` of ``length`` bases around an interval (its own extent without length).

    ``anchor``: ``center`` of the interval, ``summit`` (offset from ``start``, narrowPeak column 10;
    falls back to the centre when unknown), ``five-prime``/``three-prime`` end of the interval on
    its strand (e.g. the TSS of a transcript). Base anchors land at index ``length // 2`` of the
    strand-corrected window.
    """
    if length is None:
        return start, end
    minus = strand == "-"
    if anchor == "summit" and summit is not None and summit >= 0:
        point = start + summit
    elif anchor == "five-prime":
        point = end - 1 if minus else start
    elif anchor == "three-prime":
        point = start if minus else end - 1
    else:
        offset = centre_offset(end - start, length)
        if minus:
            return end - offset - length, end - offset
        return start + offset, start + offset + length
    if minus:
        we = point + 1 + length // 2
        return we - length, we
    ws = point - length // 2
    return ws, ws + length
