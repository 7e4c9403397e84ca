"""Typer front-ends: one small app per tool, plus the ``genofm`` umbrella."""
