"""Sei explainer: profile names -> cell/assay/source, factor and family aggregates, sequence classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genofm.interpret import EXPLAINERS, ExplainContext, resolve
from genofm.interpret.sei_features import annotate, assay_aggregate, explain, family_aggregate
from genofm.testing.tiny_sei import write_tiny_release

PROFILES = {
    "HepG2 | ZNF274 | ENCODE": 2.0,
    "K562 | ZNF274 | ID:1": 1.0,
    "GM12878 | ZNF-274 | ID:2": -0.5,  # spelling variant of the same factor
    "K562 | CBX8 | ENCODE": -1.5,
    "H1 | H3K27ac | Roadmap": 0.3,
    "H1 | H3K4me3 | Roadmap": 0.2,
    "HeLa-S3 | DNase | ENCODE": 0.1,
    "A549 | CTCF | ENCODE | 1": 0.05,
}


def ranked_table(profiles: dict[str, float], klass: str = "pos") -> pd.DataFrame:
    frame = pd.DataFrame({"feature": list(profiles), "class": klass, "coefficient": list(profiles.values())})
    frame["abs_coefficient"] = frame["coefficient"].abs()
    frame["rank"] = frame["abs_coefficient"].rank(ascending=False, method="first").astype(int)
    frame["stability"] = np.nan
    return frame.sort_values("rank").reset_index(drop=True)


def context(tmp_path: Path, **kw) -> ExplainContext:
    base = dict(out_dir=tmp_path, model={"backbone": {"backbone": "sei", "options": {"length": 256}}}, classes=["neg", "pos"], top=3)
    base.update(kw)
    return ExplainContext(**base)


def test_registered_for_sei():
    assert resolve(EXPLAINERS["sei"]) is explain


def test_annotate_splits_names_and_families():
    rows = annotate(ranked_table(PROFILES)).set_index("feature")
    assert rows.loc["A549 | CTCF | ENCODE | 1", ["cell_type", "assay", "source", "replicate"]].tolist() == ["A549", "CTCF", "ENCODE", "1"]
    assert rows.loc["H1 | H3K27ac | Roadmap", "family"] == "histone"
    assert rows.loc["HeLa-S3 | DNase | ENCODE", "family"] == "accessibility"
    assert rows.loc["K562 | CBX8 | ENCODE", "family"] == "tf"


def test_assay_aggregate_means_signs_and_counts():
    table = assay_aggregate(annotate(ranked_table(PROFILES)))
    znf = table[table["assay"].isin(["ZNF274", "ZNF-274"])]
    assert len(znf) == 1  # ZNF-274 merged with ZNF274
    row = znf.iloc[0]
    assert row["n_profiles"] == 3 and row["n_cell_types"] == 3 and row["best_rank"] == 1
    assert row["mean_coefficient"] == pytest.approx((2.0 + 1.0 - 0.5) / 3)
    assert row["frac_positive"] == pytest.approx(2 / 3)
    assert row["strongest_profile"] == "HepG2 | ZNF274 | ENCODE"
    assert table.iloc[0]["assay"] == "CBX8"  # largest |mean| first
    assert table.set_index("assay").loc["CBX8", "frac_positive"] == 0.0
    assert row["score"] == pytest.approx(2.5 / np.sqrt(3))


def test_family_aggregate_and_share_of_top():
    table = family_aggregate(annotate(ranked_table(PROFILES)), top=3).set_index("family")
    assert table.loc["tf", "n_profiles"] == 5 and table.loc["histone", "n_profiles"] == 2 and table.loc["accessibility", "n_profiles"] == 1
    assert table.loc["tf", "share_of_top"] == 1.0 and table.loc["histone", "n_in_top"] == 0
    assert table.loc["histone", "mean_coefficient"] == pytest.approx(0.25)


def test_histone_inds_from_the_release_override_the_name_rule(tmp_path):
    folder = tmp_path / "release"
    folder.mkdir()
    names = list(PROFILES)
    (folder / "target.names").write_text("\n".join(names) + "\n")
    np.save(folder / "histone_inds.npy", np.array([names.index("K562 | CBX8 | ENCODE")]))
    sections = explain(ranked_table(PROFILES), context(tmp_path, weights=folder, dataset=None))
    family = next(s for s in sections if "families" in s.title).tables["sei_family_aggregate"].set_index("family")
    assert family.loc["histone", "n_profiles"] == 1  # only what histone_inds lists


def test_explain_writes_tables_and_figures(tmp_path):
    sections = explain(ranked_table(PROFILES), context(tmp_path))
    titles = [s.title for s in sections]
    assert any("top features" in t for t in titles) and any("across cell types" in t for t in titles)
    top = sections[0].tables["sei_top_features"]
    assert top["rank"].tolist() == [1, 2, 3] and top.iloc[0]["assay"] == "ZNF274"
    for section in sections:
        for figure in section.figures:
            assert (tmp_path / figure).stat().st_size > 1000
    skipped = sections[-1]
    assert "Not computed" in skipped.text and not skipped.tables  # no weights/dataset: a note, not a failure


def test_multi_class_tables_are_per_class(tmp_path):
    ranked = pd.concat([ranked_table(PROFILES, "a"), ranked_table({k: -v for k, v in PROFILES.items()}, "b")])
    table = assay_aggregate(annotate(ranked))
    cbx8 = table[table["assay"] == "CBX8"].set_index("class")
    assert cbx8.loc["a", "mean_coefficient"] == -1.5 and cbx8.loc["b", "mean_coefficient"] == 1.5
    sections = explain(ranked, context(tmp_path, classes=["a", "b", "c"]))
    assert set(sections[0].tables["sei_top_features"]["class"]) == {"a", "b"}


def test_seqclass_and_trunk_features(tmp_path):
    seqclass = ranked_table({"P Promoter": 1.0, "PC1 Polycomb / Heterochromatin": -0.5, "E1 Stem cell": 0.2})
    sections = explain(seqclass, context(tmp_path))
    table = sections[0].tables["sei_seqclass_groups"]
    assert set(table["group"]) == {"P", "PC", "E"}
    trunk = ranked_table({"trunk_c000_s00": 1.0, "trunk_c001_s03": 0.5})
    assert "no biological names" in explain(trunk, context(tmp_path))[0].text


def test_sequence_class_profile_per_label(tmp_path):
    release = write_tiny_release(tmp_path / "model")
    rng = np.random.default_rng(0)
    dataset = pd.DataFrame(
        {
            "sequence": ["".join(rng.choice(list("AT" if i % 2 else "GC"), size=150)) for i in range(8)],
            "label": ["pos" if i % 2 else "neg" for i in range(8)],
            "augmented": [False] * 7 + [True],
        }
    )
    sections = explain(ranked_table(PROFILES), context(tmp_path, weights=release, dataset=dataset))
    profile = sections[-1]
    table = profile.tables["sei_seqclass_by_label"]
    assert len(table) == 40 and list(table.columns[:3]) == ["sequence_class", "neg", "pos"]
    assert np.allclose(table["difference (pos - neg)"], table["pos"] - table["neg"])
    assert (tmp_path / profile.figures[0]).is_file()
    # the same numbers as running the backbone by hand on the non-augmented rows
    from genofm.backbones.sei import SeiBackbone, SeiOptions

    backbone = SeiBackbone(SeiOptions(output="seqclass", length=256), release)
    rows = dataset[~dataset["augmented"]]
    expected = backbone.embed_batch(rows[rows["label"] == "pos"]["sequence"].tolist()).mean(axis=0)
    np.testing.assert_allclose(table["pos"], expected, rtol=1e-5)
