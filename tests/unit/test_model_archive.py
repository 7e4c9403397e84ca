"""genofm-train --archive: one zip that predict and interpret read exactly like the model folder."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from genofm.cli.interpret import main as interpret_main
from genofm.cli.predict import main as predict_main
from genofm.errors import GenofmError
from genofm.model_archive import model_folder, write_archive
from conftest import train_in_process
from test_train_fixtures import planted_frame, run_tool, write_inputs

FAST = ["--cs", "3", "--cv-folds", "3", "--bootstrap", "50"]
CLASSES = ["mafk", "oct4"]


@pytest.fixture(scope="module")
def archived(tmp_path_factory):
    """A kmer logreg model written both as a folder and as an archive by one genofm-train run."""
    tmp = tmp_path_factory.mktemp("archive")
    frame = planted_frame(CLASSES, n_per_class=40)
    dataset, embeddings = write_inputs(tmp, frame, CLASSES, k=4)
    folder, archive = tmp / "model", tmp / "model.zip"
    train_in_process([dataset, "-e", embeddings[0], "-o", folder, "--archive", archive, *FAST])
    return tmp, dataset, embeddings[0], folder, archive


def test_archive_holds_every_file_of_the_folder(archived):
    _, _, _, folder, archive = archived
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
    assert names == sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert {"model.json", "model.safetensors", "metrics.json", "test_predictions.tsv"} <= set(names)


def test_predict_from_archive_equals_predict_from_folder(archived, monkeypatch, capsys):
    tmp, dataset, embeddings, folder, archive = archived
    tables = []
    for model, out in ((folder, tmp / "from_folder.tsv"), (archive, tmp / "from_archive.tsv")):
        code, _, err = run_tool(predict_main, [dataset, "--model", model, "-e", embeddings, "-o", out], monkeypatch, capsys)
        assert code == 0, err
        tables.append(pd.read_csv(out, sep="\t"))
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_interpret_and_compare_read_archives(archived, monkeypatch, capsys):
    tmp, dataset, embeddings, folder, archive = archived
    out = tmp / "explained"
    code, _, err = run_tool(interpret_main, ["model", archive, "-o", out, "--refits", "2"], monkeypatch, capsys)
    assert code == 0, err
    assert (out / "report.html").is_file() and (out / "features.tsv").is_file()
    code, _, err = run_tool(interpret_main, ["compare", archive, folder, "-o", tmp / "cmp", "--name", "a", "--name", "b"], monkeypatch, capsys)
    assert code == 0, err
    table = pd.read_csv(tmp / "cmp" / "comparison.tsv", sep="\t")
    assert sorted(table["dataset"]) == ["a", "b"]
    assert table["auroc"].iloc[0] == table["auroc"].iloc[1]


def test_extracted_folder_is_removed_afterwards(archived):
    *_, archive = archived
    with model_folder(archive) as folder:
        assert (folder / "model.json").is_file()
    assert not folder.exists()


@pytest.mark.parametrize(
    "members, message",
    [
        ({"../evil.json": "{}", "model.json": "{}"}, "points outside the model"),
        ({"/etc/evil": "x", "model.json": "{}"}, "points outside the model"),
        ({"metrics.json": "{}"}, "zip without model.json"),
    ],
)
def test_unsafe_or_foreign_archives_are_refused(tmp_path, members, message):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    with pytest.raises(GenofmError, match=message):
        with model_folder(bad):
            pass
    assert not (tmp_path / "evil.json").exists()


def test_not_a_model_is_one_error_line(tmp_path, archived, monkeypatch, capsys):
    _, dataset, embeddings, *_ = archived
    text = tmp_path / "model.txt"
    text.write_text("not a zip\n")
    code, _, err = run_tool(predict_main, [dataset, "--model", text, "-e", embeddings, "-o", tmp_path / "p.tsv"], monkeypatch, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (f"genofm-predict: error: {text}: neither a model folder nor a zip model archive; "
                                            "pass the folder or the --archive file written by genofm-train")
    assert not (tmp_path / "p.tsv").exists()
    with pytest.raises(GenofmError, match="not a model folder"):
        write_archive(tmp_path, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()
