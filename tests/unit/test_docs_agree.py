"""The docs say what the code does: feature-name help and the test profile have one source each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genofm.backbones import REGISTRY, backbone_class

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_backbone_explains_its_feature_names_in_docs_and_report(name):
    help_text = backbone_class(name).feature_help
    assert len(help_text) > 80, f"{name}: feature_help is empty or too short"
    docs = (ROOT / "docs" / "features.md").read_text()
    assert f"## {name}\n\n{help_text}\n" in docs, f"docs/features.md is out of date for {name}; copy its feature_help there"


def _test_config() -> dict[str, str]:
    text = (ROOT / "conf" / "test.config").read_text()
    return dict(re.findall(r"^\s*(max_per_class|shard_size|backbones|backbone_options)\s*=\s*'?([^'\n]+?)'?\s*$", text, re.M))


def test_usage_and_readme_describe_the_test_profile_as_configured():
    config = _test_config()
    per_class = int(config["max_per_class"])
    row = next(line for line in (ROOT / "docs" / "usage.md").read_text().splitlines() if line.startswith("| `test` |"))
    assert f"{per_class:,} per class" in row and f"max_per_class = {per_class}" in row
    assert f"shards of {int(config['shard_size'])} sequences" in row
    models = re.search(r"spliceai:models=([\d,]+)", config.get("backbone_options", ""))
    assert ("all five models" in row) == (models is None)
    readme = (ROOT / "README.md").read_text()
    assert f"--max_per_class {per_class}" in readme and f"{per_class:,} of the" in readme
