"""The one rule for class labels, shared by the tools and the pipeline's samplesheet schema.

Labels become column names (``prob_<label>``), file-name parts and HTML/Galaxy identifiers, so they
are kept to letters, digits, '_', '.', '+' and '-', starting with a letter or digit.
``assets/schema_input.json`` uses the same pattern (a unit test keeps the two equal).
"""

from __future__ import annotations

import re

from genofm.errors import GenofmError

#: a class label: a letter or digit, then letters, digits, '_', '.', '+' or '-'
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.+-]*"
_LABEL = re.compile(LABEL_PATTERN)


def check_label(label: str, source: str) -> None:
    """Refuse a label outside the rule, naming the file it came from and a usable spelling."""
    if _LABEL.fullmatch(label):
        return
    suggestion = re.sub(r"[^A-Za-z0-9_.+-]+", "_", label.encode("ascii", "replace").decode().replace("?", "_")).strip("_.+-") or "class1"
    raise GenofmError(
        f"{source}: label {label!r} is not allowed; labels use letters, digits, '_', '.', '+' or '-' and start with a "
        f"letter or digit (e.g. {suggestion!r})"
    )
