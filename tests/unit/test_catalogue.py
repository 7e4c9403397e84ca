"""The catalogue of backbones is the one list: the registries, the pipeline schema and config follow it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from genofm import catalogue, pipeline_sync
from genofm.backbones import REGISTRY, backbone_class
from genofm.backbones.sei_targets import FAMILIES
from genofm.finetune import FINETUNERS

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "run `python -m genofm.pipeline_sync`"


def test_registries_are_the_catalogue():
    assert REGISTRY == catalogue.embedders()
    assert FINETUNERS == catalogue.finetuners()
    assert len(catalogue.BY_NAME) == len(catalogue.CATALOGUE), "backbone names must be unique"
    for entry in catalogue.CATALOGUE:
        assert entry.embedder or entry.finetuner, f"{entry.name}: neither embeds nor trains"


def test_every_catalogued_class_exists_under_its_name():
    for name in REGISTRY:
        cls = backbone_class(name)
        assert cls.name == name
        assert cls.weights_help == (catalogue.entry(name).weights or "no weights needed")
    for name, target in FINETUNERS.items():
        module_name, attr = target.split(":")
        assert hasattr(importlib.import_module(module_name), attr), f"{name}: {target} not found"


def test_declared_feature_groups_are_the_backbones_own():
    assert catalogue.entry("sei").feature_groups == FAMILIES
    assert catalogue.entry("kmer").feature_groups == ()


def test_nextflow_schema_carries_the_catalogue():
    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    properties = {name: spec for group in schema["$defs"].values() for name, spec in group.get("properties", {}).items()}
    for name, spec in catalogue.schema_properties().items():
        assert properties.get(name) == spec, f"nextflow_schema.json --{name} is out of date; {REGENERATE}"


def test_pipeline_files_are_in_sync_with_the_package():
    assert pipeline_sync.sync(ROOT, write=False) == [], f"stale pipeline files; {REGENERATE}"


def test_nextflow_config_declares_every_weights_parameter():
    text = (ROOT / "nextflow.config").read_text()
    assert pipeline_sync.missing_weights_params(text) == []
    params = pipeline_sync.config_params(text)
    stale = {p for p in params if p.endswith("_dir") and p.removesuffix("_dir") not in catalogue.BY_NAME}
    assert stale <= {"input_base_dir", "singularity_image_dir"}, f"weights parameters of unknown backbones: {sorted(stale)}"


def test_schema_rendering_adds_and_removes_weights_parameters():
    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    group = next(g for g in schema["$defs"].values() if "backbones" in g.get("properties", {}))
    del group["properties"]["sei_dir"]
    group["properties"]["retired_dir"] = {"type": "string", "fa_icon": "fas fa-weight-hanging"}
    rendered = catalogue.schema_with_catalogue(schema)
    names = {n for g in rendered["$defs"].values() for n in g.get("properties", {})}
    assert "sei_dir" in names and "retired_dir" not in names


def test_schema_split_modes_are_prepares_and_stack_needs_two_backbones():
    import re

    from genofm.data.splits import SPLIT_MODES

    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    properties = {name: spec for group in schema["$defs"].values() for name, spec in group.get("properties", {}).items()}
    assert properties["split_mode"]["enum"] == list(SPLIT_MODES)
    stack = re.compile(properties["stack"]["pattern"])
    assert stack.fullmatch("kmer,spliceai") and stack.fullmatch("kmer,spliceai,sei")
    assert not stack.fullmatch("kmer") and not stack.fullmatch("kmer,foo")
