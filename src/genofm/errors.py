"""One exception type for every problem a user can fix.

The command-line layer turns a ``GenofmError`` into a single ``error: ...`` line and a non-zero
exit, so messages must name the offending file and say what to do about it.
"""


class GenofmError(Exception):
    """A user-facing error: bad input, wrong checkpoint, mismatched features."""
