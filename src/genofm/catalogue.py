"""The catalogue of backbones: the one place that says which backbones exist and what each needs.

Everything else is derived from :data:`CATALOGUE`: ``genofm.backbones.REGISTRY`` (what
``genofm-embed --backbone`` accepts), ``genofm.finetune.FINETUNERS`` (what ``genofm-train
--finetune`` accepts), ``genofm-embed --list-backbones``, and the pipeline's parameters in
``nextflow_schema.json`` (``--backbones``, ``--finetune_backbones`` and one ``--<name>_dir`` per
backbone that needs weights), which :func:`schema_properties` renders and ``python -m
genofm.pipeline_sync`` writes; a unit test fails when the pipeline files disagree with this file.
Adding a backbone is one entry here plus its class.

Importing this module imports no model code (no torch), so the CLI's ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class BackboneEntry:
    """One backbone: its name, where its code lives, the weights it needs and its feature groups."""

    #: the name users pass to ``--backbone``, ``--finetune`` and the pipeline's ``--backbones``
    name: str
    #: one line for listings and the pipeline's ``--help``
    summary: str
    #: ``module:Class`` of its :class:`genofm.backbones.base.Backbone` (frozen feature extractor),
    #: or None for a backbone that is only trained end to end
    embedder: str | None
    #: ``module:Class`` of its finetuner (``genofm-train --finetune``), or None
    finetuner: str | None
    #: what its weights folder holds, or None when it needs no weights; a backbone with weights
    #: gets the pipeline parameter ``--<name>_dir``, staged into its tasks
    weights: str | None
    #: named feature families in its embeddings (``genofm-train --feature-group``)
    feature_groups: tuple[str, ...] = ()

    @property
    def weights_parameter(self) -> str | None:
        """The pipeline parameter with this backbone's weights folder (``spliceai_dir``)."""
        return f"{self.name}_dir" if self.weights else None


CATALOGUE: tuple[BackboneEntry, ...] = (
    BackboneEntry(
        name="kmer",
        summary="normalised k-mer spectrum, reverse-complement collapsed (no weights)",
        embedder="genofm.backbones.kmer:KmerBackbone",
        finetuner=None,
        weights=None,
    ),
    BackboneEntry(
        name="spliceai",
        summary="SpliceAI-10k, the five official models averaged (PyTorch port of the Keras files)",
        embedder="genofm.backbones.spliceai:SpliceAIBackbone",
        finetuner=None,
        weights=(
            "a folder holding the official spliceai1.h5 ... spliceai5.h5, or one of those files (genofm-embed "
            "defaults to $GENOFM_CACHE/resources/spliceai, which make setup extracts from the spliceai wheel)"
        ),
        feature_groups=("splice_sites", "penultimate"),
    ),
    BackboneEntry(
        name="sei",
        summary="Sei: 21,907 chromatin profiles, 40 sequence classes, or the pooled trunk",
        embedder="genofm.backbones.sei:SeiBackbone",
        finetuner="genofm.finetune.fsei:SeiFinetuner",
        weights=(
            "the extracted model/ folder of Zenodo record 4906997 (sei.pth, target.names, seqclass.names, "
            "projvec_targets.npy, histone_inds.npy; academic-use licence, see docs/sei.md); for -O output=trunk "
            "or trunk_mean sei.pth alone is enough. Needs ~3.5 GiB RAM (weights memory-mapped) plus ~0.6 GB of "
            "activations at 4096 bp (batches run in chunks)"
        ),
        feature_groups=("tf", "histone", "accessibility"),
    ),
    BackboneEntry(
        name="dnabert2",
        summary="DNABERT-2-117M (genofm's own PyTorch implementation, no remote code)",
        embedder="genofm.backbones.dnabert2:DNABERT2Backbone",
        finetuner="genofm.finetune.lm:LMFinetuner",
        weights="DNABERT-2 folder (zhihan1996/DNABERT-2-117M): config.json, model.safetensors or pytorch_model.bin, tokenizer.json",
    ),
    BackboneEntry(
        name="dnabert6",
        summary="DNABERT-6 (transformers BertModel over overlapping 6-mers)",
        embedder="genofm.backbones.hf_lm:DNABERT6Backbone",
        finetuner="genofm.finetune.lm:LMFinetuner",
        weights="DNABERT-6 folder (zhihan1996/DNA_bert_6): config.json, model.safetensors or pytorch_model.bin, vocab.txt",
    ),
    BackboneEntry(
        name="gpt2dna",
        summary="GPT-2 DNA (dnagpt/human_gpt2-v1, transformers GPT2Model)",
        embedder="genofm.backbones.hf_lm:GPT2DNABackbone",
        finetuner="genofm.finetune.lm:LMFinetuner",
        weights="GPT-2 DNA folder (dnagpt/human_gpt2-v1): config.json, model.safetensors or pytorch_model.bin, tokenizer.json (or vocab.json + merges.txt)",
    ),
    BackboneEntry(
        name="cnn",
        summary="a convolutional network trained from scratch (basset, dilated or transformer architecture)",
        embedder=None,
        finetuner="genofm.finetune.cnn:CNNTrainer",
        weights=None,
    ),
)

BY_NAME: dict[str, BackboneEntry] = {entry.name: entry for entry in CATALOGUE}


def entry(name: str) -> BackboneEntry:
    """The catalogue entry of ``name``; KeyError for an unknown backbone (callers word the error)."""
    return BY_NAME[name]


def embedders() -> dict[str, str]:
    """name -> ``module:Class`` of every backbone ``genofm-embed`` can run."""
    return {e.name: e.embedder for e in CATALOGUE if e.embedder}


def finetuners() -> dict[str, str]:
    """name -> ``module:Class`` of every backbone ``genofm-train --finetune`` can train."""
    return {e.name: e.finetuner for e in CATALOGUE if e.finetuner}


# --- the pipeline's parameters, rendered for nextflow_schema.json ----------------------------------


def _list_parameter(flag: str, names: list[str], description: str, icon: str, default: str | None = None,
                    at_least: int = 1) -> dict:
    """A comma-separated list of catalogue names; ``at_least=2`` for lists that join backbones (--stack)."""
    if at_least not in (1, 2):
        raise ValueError(f"at_least={at_least}: the pattern expresses one or two names at least")
    alternatives = "|".join(names)
    spec: dict = {"type": "string"}
    if default is not None:
        spec["default"] = default
    spec["pattern"] = f"^({alternatives})(,({alternatives})){'*' if at_least == 1 else '+'}$"
    spec["errorMessage"] = (
        f"--{flag} must be a comma-separated list of: {', '.join(names)}"
        if at_least == 1
        else f"--{flag} must name two or more of: {', '.join(names)}, comma-separated (e.g. {','.join(names[:2])})"
    )
    spec["description"] = description
    spec["fa_icon"] = icon
    return spec


def schema_properties() -> dict[str, dict]:
    """The ``nextflow_schema.json`` properties this catalogue decides, by parameter name."""
    embed_names = list(embedders())
    tune_names = list(finetuners())
    no_weights = [e.name for e in CATALOGUE if e.embedder and not e.weights]
    scratch = [e.name for e in CATALOGUE if e.name in tune_names and not e.weights]
    properties = {
        "backbones": _list_parameter(
            "backbones",
            embed_names,
            "Comma-separated backbones to embed with: "
            + ", ".join(f"{n} (no weights)" if n in no_weights else n for n in embed_names)
            + ".",
            "fas fa-layer-group",
            default="kmer",
        ),
        "finetune_backbones": _list_parameter(
            "finetune_backbones",
            tune_names,
            "Comma-separated models to train end to end on sequences: backbones fine-tuned from "
            "their weights ("
            + ", ".join(n for n in tune_names if n not in scratch)
            + "; GPU advised; each needs its --<backbone>_dir) and/or models trained from scratch "
            "without weights ("
            + ", ".join(scratch)
            + "; trains on CPU in minutes; --backbone_options 'cnn:architecture=dilated' picks the "
            "dilated residual CNN instead of the Basset-like one).",
            "fas fa-tools",
        ),
        # a stacked head joins two or more backbones, so the list pattern asks for a second name
        "stack": _list_parameter(
            "stack",
            embed_names,
            "Comma-separated backbones (two or more) whose embeddings are joined for one extra head per dataset "
            "(comparison row e.g. kmer+spliceai), beside the single backbones; each is embedded even when --backbones omits it.",
            "fas fa-layer-group",
            at_least=2,
        ),
    }
    for e in CATALOGUE:
        if e.weights_parameter:
            properties[e.weights_parameter] = {
                "type": "string",
                "format": "directory-path",
                "exists": True,
                "description": f"Weights of the {e.name} backbone: {e.weights}.",
                "fa_icon": "fas fa-weight-hanging",
            }
    return properties


def schema_with_catalogue(schema: dict) -> dict:
    """``schema`` with every catalogue-decided property replaced in place (order kept); weights
    parameters of new backbones are added to the group that holds ``backbones``."""
    wanted = schema_properties()
    groups = schema["$defs"]
    home = next(name for name, group in groups.items() if "backbones" in group.get("properties", {}))
    weights_params = {e.weights_parameter for e in CATALOGUE if e.weights_parameter}
    for group in groups.values():
        props = group.get("properties", {})
        for name in list(props):
            if name in wanted:
                props[name] = wanted[name]
            elif name.endswith("_dir") and props[name].get("fa_icon") == "fas fa-weight-hanging" and name not in weights_params:
                del props[name]  # the weights parameter of a backbone no longer in the catalogue
    present = {name for group in groups.values() for name in group.get("properties", {})}
    for name, spec in wanted.items():
        if name not in present:
            groups[home]["properties"][name] = spec
    return schema


def format_schema(schema: dict) -> str:
    """JSON as the repository writes it (4-space indent, short lists of scalars on one line)."""
    text = json.dumps(schema, indent=4, ensure_ascii=False)

    def inline(match: re.Match) -> str:
        items = [item.strip() for item in match.group(2).split(",\n")]
        return f"{match.group(1)}[{', '.join(items)}]"

    text = re.sub(r'(: )\[\n((?:\s+(?:"[^"\n]*"|-?[0-9.]+|true|false|null),?\n)+?)\s*\]', inline, text)
    # one-key objects (the allOf references) on one line
    return re.sub(r'\{\n\s+("[^"\n]*": "[^"\n]*")\n\s*\}', r"{ \1 }", text) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m genofm.catalogue``: the catalogue, one line a backbone."""
    argparse.ArgumentParser(prog="python -m genofm.catalogue", description="List the backbone catalogue.").parse_args(argv)
    for e in CATALOGUE:
        uses = ", ".join(u for u, ok in (("embed", e.embedder), ("fine-tune", e.finetuner)) if ok)
        print(f"{e.name}: {e.summary} [{uses}]; weights: {e.weights or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
