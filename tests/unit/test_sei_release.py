"""Loading an official-format Sei release: strict keys, safe unpickling, clear errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from genofm.backbones.sei_release import load_sei, open_release
from genofm.errors import GenofmError
from genofm.testing.tiny_sei import random_sei, write_tiny_release


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_tiny_release(tmp_path_factory.mktemp("sei") / "model")


def _state(prefix: str = "module.model.") -> dict[str, torch.Tensor]:
    return {prefix + k: v.clone() for k, v in random_sei(seed=3).state_dict().items()}


def test_official_prefixed_checkpoint_loads_strictly_with_same_weights(release):
    saved = torch.load(release / "sei.pth", weights_only=True)
    assert all(k.startswith("module.model.") for k in saved) and len(saved) == 38
    model = load_sei(release / "sei.pth")
    assert model.channels == (8, 12, 16) and model.n_targets == 50 and model.spline_df == 16
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved["module.model." + key])
    trunk = load_sei(release / "sei.pth", classifier=False)
    assert trunk.classifier is None and "classifier.0.weight" not in trunk.state_dict()


def test_unprefixed_checkpoint_and_state_dict_wrapper_load(tmp_path):
    bare = _state(prefix="")
    torch.save(bare, tmp_path / "bare.pth")
    torch.save({"state_dict": _state()}, tmp_path / "wrapped.pth")
    a, b = load_sei(tmp_path / "bare.pth"), load_sei(tmp_path / "wrapped.pth")
    assert torch.equal(a.lconv1[0].weight, b.lconv1[0].weight)


def test_legacy_non_zip_checkpoint_loads_without_mmap(tmp_path):
    path = tmp_path / "legacy.pth"
    torch.save(_state(), path, _use_new_zipfile_serialization=False)
    model = load_sei(path)
    assert torch.equal(model.dconv5[1].weight, _state()["module.model.dconv5.1.weight"])


def test_checkpoint_is_memory_mapped_and_assigned_without_copy(release, monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        result = real_load(*args, **kwargs)
        calls.append((kwargs, result))
        return result

    monkeypatch.setattr(torch, "load", spy)
    model = load_sei(release / "sei.pth")
    (kwargs, loaded), = calls
    assert kwargs["weights_only"] is True and kwargs["mmap"] is True and kwargs["map_location"] == "cpu"
    # assign=True: the parameters *are* the memory-mapped tensors, no second copy exists
    for key, param in model.state_dict().items():
        assert param.data_ptr() == loaded["module.model." + key].data_ptr(), key


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda s: s.pop("module.model.conv2.3.bias"), "missing tensor 'conv2.3.bias'"),
        (lambda s: s.update({"module.model.extra.weight": torch.zeros(2)}), "unexpected tensor 'extra.weight'"),
        (lambda s: s.update({"module.model.dconv3.1.weight": torch.zeros(16, 16, 3)}), "tensor 'dconv3.1.weight' has shape (16, 16, 3)"),
        (lambda s: s.update({"module.model.classifier.2.weight": torch.zeros(50, 49)}), "'classifier.2.weight'"),
        (lambda s: s.pop("module.model.lconv1.0.weight"), "missing tensor 'lconv1.0.weight'"),
    ],
)
def test_bad_checkpoints_name_the_first_offending_key(tmp_path, edit, needle):
    state = _state()
    edit(state)
    path = tmp_path / "sei.pth"
    torch.save(state, path)
    with pytest.raises(GenofmError) as info:
        load_sei(path)
    assert needle in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickles_with_python_objects_are_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "sei.pth"
    torch.save({"module.model.lconv1.0.weight": torch.zeros(1), "payload": Payload()}, path)
    with pytest.raises(GenofmError, match="holds pickled Python code .*which genofm will not run"):
        load_sei(path)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(GenofmError, match="not a loadable Sei checkpoint|not a Sei state dict"):
        load_sei(plain)
    text = tmp_path / "text.pth"
    text.write_text("hello")
    with pytest.raises(GenofmError, match=str(text)):
        load_sei(text)


def test_release_folder_lists_every_missing_file(tmp_path, release):
    folder = tmp_path / "partial"
    folder.mkdir()
    (folder / "sei.pth").write_bytes((release / "sei.pth").read_bytes())
    (folder / "target.names").write_text((release / "target.names").read_text())
    with pytest.raises(GenofmError) as info:
        open_release(folder)
    message = str(info.value)
    for name in ("seqclass.names", "projvec_targets.npy", "histone_inds.npy"):
        assert name in message
    assert "target.names," not in message and "4906997" in message
    # trunk-only use needs sei.pth alone, as a folder or as the file itself
    assert open_release(folder, need_metadata=False).checkpoint == folder / "sei.pth"
    assert open_release(folder / "sei.pth", need_metadata=False).checkpoint == folder / "sei.pth"
    with pytest.raises(GenofmError, match="release folder"):
        open_release(folder / "sei.pth")
    with pytest.raises(GenofmError, match="not found"):
        open_release(tmp_path / "nowhere")


def test_release_metadata_is_read_and_cross_checked(tmp_path, release):
    rel = open_release(release)
    assert len(rel.targets) == 50 and len(rel.seqclass_names) == 40 and rel.projection.shape == (61, 50)
    assert any(t.replicate for t in rel.targets)
    bad = tmp_path / "bad"
    write_tiny_release(bad)
    np.save(bad / "projvec_targets.npy", np.zeros((61, 49), dtype=np.float32))
    with pytest.raises(GenofmError, match="49 columns"):
        open_release(bad)
    write_tiny_release(bad)
    (bad / "target.names").write_text("no separators here\n")
    with pytest.raises(GenofmError, match=r"target.names:1"):
        open_release(bad)


def test_tiny_release_cli_writes_the_official_layout(tmp_path, capsys):
    from genofm.testing.tiny_sei import main

    main(["--out", str(tmp_path / "rel"), "--n-targets", "30", "--channels", "4,6,8", "--seed", "2"])
    assert capsys.readouterr().out.strip() == str(tmp_path / "rel")
    assert sorted(p.name for p in (tmp_path / "rel").iterdir()) == sorted(
        ["sei.pth", "target.names", "seqclass.names", "projvec_targets.npy", "histone_inds.npy"]
    )
    model = load_sei(tmp_path / "rel" / "sei.pth")
    assert model.channels == (4, 6, 8) and model.n_targets == 30
    rel = open_release(tmp_path / "rel")
    assert len(rel.targets) == 30 and rel.projection.shape == (61, 30)
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x"), "--channels", "4,6"])
