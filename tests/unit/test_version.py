"""genofm's version lives in one place (``genofm.__version__``); everything else takes it from there."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

from genofm import __version__, pipeline_sync

ROOT = Path(__file__).resolve().parents[2]


def test_package_metadata_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "genofm.__version__"}


def test_pipeline_carries_the_package_version():
    config = (ROOT / "nextflow.config").read_text()
    manifest = re.search(r"^manifest\s*\{(.*?)^\}", config, re.S | re.M).group(1)
    assert re.search(r"^\s*version\s*=\s*'([^']*)'", manifest, re.M).group(1) == __version__
    assert re.search(r"^\s*container_tag\s*=\s*'([^']*)'", config, re.M).group(1) == __version__
    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    tag = next(g["properties"]["container_tag"] for g in schema["$defs"].values() if "container_tag" in g.get("properties", {}))
    assert tag["default"] == __version__


def test_sync_writes_a_new_version_everywhere_nextflow_reads_it(tmp_path, monkeypatch):
    for name in ("nextflow.config", "nextflow_schema.json"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    monkeypatch.setattr(pipeline_sync, "__version__", "9.8.7")
    assert sorted(pipeline_sync.sync(tmp_path)) == ["nextflow.config", "nextflow_schema.json"]
    config = (tmp_path / "nextflow.config").read_text()
    assert "version         = '9.8.7'" in config and "container_tag              = '9.8.7'" in config
    assert '"default": "9.8.7"' in (tmp_path / "nextflow_schema.json").read_text()
    assert pipeline_sync.sync(tmp_path, write=False) == []


def test_container_builds_take_the_version_from_the_package():
    printed = subprocess.run(["bash", str(ROOT / "scripts" / "version.sh")], capture_output=True, text=True, check=True).stdout.strip()
    assert printed == __version__
    assert __version__ not in (ROOT / "containers" / "Containerfile").read_text()
    assert "scripts/version.sh" in (ROOT / "containers" / "build.sh").read_text()
