"""Reading Sei's 21,907 chromatin-profile names and sorting them into assay families.

Each line of ``target.names`` is ``cell type | assay or TF | source`` (78 ENCODE lines carry a
fourth replicate field). The intron-retention study (Daoud & Ben-Hur 2025) split the outputs by
the assay field into transcription factors (9,471), histone marks (10,064) and accessibility
(2,372); the rule here reproduces those counts on the official file:

* ``histone``: the indices in ``histone_inds.npy`` when the release folder is at hand, otherwise
  assays named like a histone or histone variant (``H3K27ac``, ``H2A.Z``, ``H2AFZ``, ``H3F3A``...),
  which selects the same 10,064 profiles;
* ``accessibility``: assay exactly ``DNase`` or ``ATAC-seq`` (ENCODE's derived peak sets such as
  ``DNase.hot`` stay with the third group, as in the paper's counts);
* ``tf``: everything else (TFs, cofactors, chromatin regulators, Pol II).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable, Sequence

import numpy as np

FAMILIES = ("tf", "histone", "accessibility")
ACCESSIBILITY_ASSAYS = frozenset({"DNase", "ATAC-seq"})
_HISTONE = re.compile(r"^((H2A|H2B|H3|H4|H1)(\.|K|R|S|T|Z|X|\b|ac|me|ph|ub|/)|H2AF|H3F3|H2A1|HISTONE\b)", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Target:
    """One chromatin profile: where it was measured, what was measured, and by whom."""

    cell_type: str
    assay: str
    source: str
    replicate: str = ""

    @property
    def name(self) -> str:
        parts = [self.cell_type, self.assay, self.source] + ([self.replicate] if self.replicate else [])
        return " | ".join(parts)


def parse_target(line: str) -> Target | None:
    """``"HepG2 | ZNF274 | ENCODE"`` -> Target; None when the text is not a profile name."""
    parts = [p.strip() for p in str(line).split("|")]
    if len(parts) not in (3, 4) or not all(parts[:3]):
        return None
    return Target(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else "")


def is_histone_assay(assay: str) -> bool:
    """Histone marks and variants by name, for when ``histone_inds.npy`` is not available."""
    return bool(_HISTONE.match(assay.strip()))


def assay_family(assay: str, histone: bool | None = None) -> str:
    """``tf``, ``histone`` or ``accessibility`` for one assay (``histone`` overrides the name rule)."""
    if histone if histone is not None else is_histone_assay(assay):
        return "histone"
    if assay.strip() in ACCESSIBILITY_ASSAYS:
        return "accessibility"
    return "tf"


def families(targets: Sequence[Target], histone_inds: Iterable[int] | None = None) -> list[str]:
    """The family of every target, using ``histone_inds`` when given."""
    hist = None
    if histone_inds is not None:
        hist = np.zeros(len(targets), dtype=bool)
        hist[np.asarray(list(histone_inds), dtype=np.int64)] = True
    return [assay_family(t.assay, None if hist is None else bool(hist[i])) for i, t in enumerate(targets)]


def feature_groups(targets: Sequence[Target], histone_inds: Iterable[int] | None = None) -> dict[str, np.ndarray]:
    """Column indices of each family, the groups ``genofm-train --feature-group`` selects."""
    fams = np.array(families(targets, histone_inds))
    return {name: np.flatnonzero(fams == name).astype(np.int64) for name in FAMILIES}


def normalise_assay(assay: str) -> str:
    """Key that merges spelling variants of one factor across sources (``USF-1`` and ``USF1``)."""
    return re.sub(r"[\s_\-]", "", assay).upper()
