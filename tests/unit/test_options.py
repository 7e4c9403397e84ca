"""``-O key=value``: one parser for every tool; unknown keys are errors, never ignored."""

from __future__ import annotations

import dataclasses
from typing import Optional

import pytest

from genofm.backbones.kmer import KmerOptions
from genofm.errors import GenofmError
from genofm.interpret.model_report import check_options
from genofm.options import describe, for_backbone, from_pairs, option, split_pairs


@dataclasses.dataclass
class Toy:
    size: int = option(3, "how many")
    rate: float = option(0.5, "how fast")
    strict: bool = option(True, "refuse sloppiness")
    label: Optional[str] = option(None, "a name")


def test_split_pairs_keeps_everything_after_the_first_equals_sign():
    assert split_pairs(["k=6", " motif_ids = MA0139.1,MA0140.2 ", "expr=a=b"]) == {"k": "6", "motif_ids": "MA0139.1,MA0140.2", "expr": "a=b"}
    with pytest.raises(GenofmError, match="-O 'k6' is not key=value"):
        split_pairs(["k6"])
    with pytest.raises(GenofmError, match="has no key"):
        split_pairs(["=6"])


def test_from_pairs_converts_to_the_declared_types():
    toy = from_pairs(Toy, {"size": "7", "rate": "1e-3", "strict": "off", "label": "none"}, "toy")
    assert toy == Toy(size=7, rate=1e-3, strict=False, label=None)
    assert from_pairs(Toy, {"label": "x"}, "toy").label == "x"
    assert from_pairs(Toy, None, "toy") == Toy()


@pytest.mark.parametrize(("pairs", "message"), [
    ({"colour": "red"}, "toy has no option 'colour'; its options are label, rate, size, strict"),
    ({"size": "many"}, "toy option size='many' is not a valid int"),
    ({"strict": "maybe"}, "toy option strict='maybe' is not a valid bool"),
])
def test_from_pairs_refuses_unknown_keys_and_bad_values(pairs, message):
    with pytest.raises(GenofmError, match=message):
        from_pairs(Toy, pairs, "toy")


def test_backbone_options_use_the_same_parser():
    assert KmerOptions.from_pairs({"k": "5"}, "kmer").k == 5
    with pytest.raises(GenofmError, match="backbone 'kmer' has no option 'kk'"):
        KmerOptions.from_pairs({"kk": "5"}, "kmer")


def test_for_backbone_keeps_plain_and_own_qualified_keys():
    pairs = split_pairs(["k=6", "kmer:rc_collapse=false", "spliceai:models=1"])
    assert for_backbone(pairs, "kmer") == {"k": "6", "rc_collapse": "false"}
    assert for_backbone(pairs, "spliceai") == {"k": "6", "models": "1"}
    with pytest.raises(GenofmError, match="'kmr' is not a backbone"):
        for_backbone({"kmr:k": "6"}, "kmer")


def test_describe_lists_every_option_with_its_default_and_help():
    lines = describe(Toy)
    assert lines[0] == "    -O size=<int>  (default 3)  how many"
    assert len(lines) == 4


def test_interpret_refuses_options_no_explainer_declares():
    kmer = [("kmer", "genofm.interpret.motifs:explain_kmers")]
    check_options({"motif_show": "5", "jaspar-release": "JASPAR2024"}, kmer)
    with pytest.raises(GenofmError, match=r"-O motif_shows: not an option of this model's explainers \(kmer\)"):
        check_options({"motif_shows": "5"}, kmer)
    with pytest.raises(GenofmError, match="their options are none"):
        check_options({"motif_show": "5"}, [])
    stacked = kmer + [("sei", "genofm.interpret.sei_features:explain")]
    check_options({"motif_show": "5", "seqclass_max": "10"}, stacked)


def test_interpret_options_may_name_the_backbone_they_are_for():
    kmer = [("kmer", "genofm.interpret.motifs:explain_kmers")]
    sei = [("sei", "genofm.interpret.sei_features:explain")]
    check_options({"kmer:motif_show": "5", "seqclass_max": "10"}, sei)  # k-mer options dropped for a Sei model
    check_options({"kmer:motif_show": "5"}, kmer)
    with pytest.raises(GenofmError, match="kmer:motif_shows"):
        check_options({"kmer:motif_shows": "5"}, kmer)
    with pytest.raises(GenofmError, match="'kmr' is not a backbone"):
        check_options({"kmr:motif_show": "5"}, sei)
