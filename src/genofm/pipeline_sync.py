"""Writes what the Nextflow pipeline takes from the Python package into the pipeline's files.

Two facts live in the package and are copied, not retyped, into files Nextflow reads:

- the backbone catalogue (:mod:`genofm.catalogue`) -> ``nextflow_schema.json``'s ``--backbones``,
  ``--finetune_backbones`` and ``--<backbone>_dir`` parameters;
- the split modes of ``genofm-prepare`` (:data:`genofm.data.splits.SPLIT_MODES`) -> ``--split_mode``'s
  allowed values;
- the version (``genofm.__version__``) -> ``manifest.version`` and the ``container_tag`` default in
  ``nextflow.config``, and that default in ``nextflow_schema.json``. (Nextflow reads its config
  before any Python runs, so the config holds a copy; container labels and the package metadata
  read the version directly.)

``python -m genofm.pipeline_sync`` rewrites them in place (run it after changing the catalogue or
the version); ``python -m genofm.pipeline_sync --check`` exits 1 and names the stale files.
``tests/unit/test_pipeline_sync.py`` runs the check, so a stale copy fails CI.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from genofm import __version__
from genofm.catalogue import CATALOGUE, format_schema, schema_with_catalogue
from genofm.data.splits import SPLIT_MODES

ROOT = Path(__file__).resolve().parents[2]

_MANIFEST_VERSION = re.compile(r"(^manifest\s*\{.*?^\s*version\s*=\s*')([^']*)(')", re.S | re.M)
_CONTAINER_TAG = re.compile(r"(^\s*container_tag\s*=\s*')([^']*)(')", re.M)


def synced_schema(text: str) -> str:
    """``nextflow_schema.json`` with the catalogue's parameters, the split modes and the version's image tag."""
    schema = schema_with_catalogue(json.loads(text))
    for group in schema["$defs"].values():
        tag = group.get("properties", {}).get("container_tag")
        if tag is not None:
            tag["default"] = __version__
        split_mode = group.get("properties", {}).get("split_mode")
        if split_mode is not None:
            split_mode["enum"] = list(SPLIT_MODES)
    return format_schema(schema)


def synced_config(text: str) -> str:
    """``nextflow.config`` with ``manifest.version`` and the ``container_tag`` default set to the version."""
    for pattern, what in ((_MANIFEST_VERSION, "manifest.version"), (_CONTAINER_TAG, "params.container_tag")):
        if not pattern.search(text):
            raise SystemExit(f"nextflow.config: no {what} = '...' to write the version into")
        text = pattern.sub(lambda m: f"{m.group(1)}{__version__}{m.group(3)}", text, count=1)
    return text


def config_params(text: str) -> set[str]:
    """Names assigned in the ``params { ... }`` block of a nextflow.config."""
    block = re.search(r"^params\s*\{(.*?)^\}", text, re.S | re.M)
    return set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", block.group(1), re.M)) if block else set()


def missing_weights_params(text: str) -> list[str]:
    """Weights parameters of catalogued backbones that nextflow.config's params block lacks."""
    params = config_params(text)
    return sorted(e.weights_parameter for e in CATALOGUE if e.weights_parameter and e.weights_parameter not in params)


def sync(root: Path = ROOT, write: bool = True) -> list[str]:
    """Bring the pipeline files up to date (or only report); the names of the files that were stale."""
    stale = []
    for name, render in (("nextflow_schema.json", synced_schema), ("nextflow.config", synced_config)):
        path = root / name
        text = path.read_text()
        wanted = render(text)
        if wanted != text:
            stale.append(name)
            if write:
                path.write_text(wanted)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genofm.pipeline_sync", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the pipeline's folder (default: this checkout)")
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1 when any)")
    args = parser.parse_args(argv)
    missing = missing_weights_params((args.root / "nextflow.config").read_text())
    if missing:
        print(f"nextflow.config: add {', '.join(f'{p} = null' for p in missing)} to the params block", file=sys.stderr)
    stale = sync(args.root, write=not args.check)
    verb = "stale" if args.check else "updated"
    for name in stale:
        print(f"{verb}: {name}")
    return 1 if (missing or (args.check and stale)) else 0


if __name__ == "__main__":
    sys.exit(main())
