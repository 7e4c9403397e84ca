"""Sei network: upstream key layout, the length-adaptive B-spline, and the padding fast path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.interpolate import splev

from genofm.backbones.sei_fastpath import PaddedTrunk
from genofm.backbones.sei_model import Sei, bspline_basis
from genofm.sequence import one_hot
from genofm.testing.tiny_sei import random_sei

OFFICIAL_KEYS = [
    f"{module}.{index}.{kind}"
    for module, index in [
        ("lconv1", 0), ("lconv1", 1), ("conv1", 0), ("conv1", 2), ("lconv2", 2), ("lconv2", 3), ("conv2", 1), ("conv2", 3),
        ("lconv3", 2), ("lconv3", 3), ("conv3", 1), ("conv3", 3), ("dconv1", 1), ("dconv2", 1), ("dconv3", 1),
        ("dconv4", 1), ("dconv5", 1), ("classifier", 0), ("classifier", 2),
    ]
    for kind in ("weight", "bias")
]


def test_state_dict_keys_match_the_official_checkpoint():
    with torch.device("meta"):
        full = Sei()
    state = full.state_dict()
    assert sorted(state) == sorted(OFFICIAL_KEYS) and len(state) == 38
    assert state["classifier.0.weight"].shape == (21907, 15360)
    assert state["classifier.2.weight"].shape == (21907, 21907)
    assert state["dconv5.1.weight"].shape == (960, 960, 5)
    assert full.dconv5[1].dilation == (25,) and full.dconv5[1].padding == (50,)
    assert sum(p.numel() for p in full.parameters()) == 889_979_983


def test_tiny_sei_has_same_keys_and_trunk_only_drops_classifier():
    tiny = Sei((8, 12, 16), 50)
    assert sorted(tiny.state_dict()) == sorted(OFFICIAL_KEYS)
    trunk_only = Sei((8, 12, 16), 50, classifier=False)
    assert sorted(trunk_only.state_dict()) == sorted(k for k in OFFICIAL_KEYS if not k.startswith("classifier"))


@pytest.mark.parametrize("length", [256, 37, 16])
def test_spline_basis_matches_fitpack_and_partitions_unity(length):
    basis = bspline_basis(length)
    assert basis.shape == (length, 16)
    np.testing.assert_allclose(basis.sum(axis=1), 1.0, atol=1e-6)
    assert (basis >= 0).all()
    x = np.arange(length, dtype=float)
    inner = np.percentile(x, 100 * np.linspace(0, 1, 14)[1:-1])
    knots = np.sort(np.concatenate([[x.min(), x.max()] * 4, inner]))
    ref = np.stack([splev(x, (knots, np.eye(16)[i], 3)) for i in range(16)], axis=1)
    np.testing.assert_allclose(basis, ref, atol=1e-6)
    # the basis is mirror-symmetric: column k read backwards is column 15 - k
    np.testing.assert_allclose(basis[::-1, ::-1], basis, atol=1e-6)


def test_spline_adapts_to_input_length_and_model_runs_on_both():
    assert bspline_basis(256).shape != bspline_basis(37).shape  # 4096 bp and 600 bp windows
    model = random_sei()
    with torch.inference_mode():
        for length, positions in ((4096, 256), (600, 37)):
            x = torch.from_numpy(one_hot(["ACGT" * 100], length, unknown=0.25))
            h = model.trunk(x)
            assert h.shape == (1, 16, positions)
            out = model(x)
            assert out.shape == (1, 50) and ((out >= 0) & (out <= 1)).all() and out.std() > 0.05


def test_spline_transformation_caches_basis_per_length():
    model = random_sei()
    spline = model.spline_tr[1]
    a = spline.basis(37, torch.device("cpu"), torch.float32)
    assert spline.basis(37, torch.device("cpu"), torch.float32) is a
    assert spline.basis(256, torch.device("cpu"), torch.float32).shape == (256, 16)


def _sharpened(seed: int = 0) -> Sei:
    """A tiny Sei with larger weights, so any error in the fast path shows up clearly."""
    model = random_sei(seed=seed)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model


@pytest.mark.parametrize("length", [4096, 600])
def test_padding_fast_path_equals_dense_trunk(length):
    model = _sharpened()
    fast = PaddedTrunk(model)
    rng = np.random.default_rng(0)
    for n in (0, 1, 37, 599, length + 50):
        seqs = ["".join(rng.choice(list("ACGT"), size=max(n - k, 0))) for k in (0, 7)]
        x = torch.from_numpy(one_hot(seqs, length, unknown=0.25))
        x = torch.cat([x, x.flip(1, 2)])
        with torch.inference_mode():
            dense, patched = model.trunk(x), fast(x)
        scale = float(dense.abs().max())
        assert float((dense - patched).abs().max()) <= 1e-5 * max(scale, 1.0), (length, n)


def test_padding_fast_path_sees_a_change_far_from_the_sequence():
    """A base placed in the padding region must change the output exactly as in the dense trunk."""
    model = _sharpened(1)
    fast = PaddedTrunk(model)
    seq = "N" * 1800 + "ACGTTGCA" * 25 + "N" * 2096
    edited = "G" + seq[1:]  # one informative base at the very left edge
    x = torch.from_numpy(one_hot([seq, edited], 4096, unknown=0.25))
    with torch.inference_mode():
        dense, patched = model.trunk(x), fast(x)
    assert float((dense[0] - dense[1]).abs().max()) > 1e-4
    assert float((dense - patched).abs().max()) <= 1e-5 * float(dense.abs().max())


def test_padding_fast_path_refuses_training_mode():
    model = random_sei().train()
    with pytest.raises(RuntimeError):
        PaddedTrunk(model)(torch.full((1, 4, 256), 0.25))


@pytest.mark.parametrize("length", [4096, 600, 256])
def test_merged_channels_last_dense_trunk_equals_plain_trunk(length):
    """The dense inference walk (merged conv pairs with edge correction, chunked batches) equals Sei.trunk."""
    model = _sharpened(2)
    fast = PaddedTrunk(model, max_positions=2 * length)  # forces 3 chunks for 5 rows
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGTN"), size=length)) for _ in range(5)]
    x = torch.from_numpy(one_hot(seqs, length, unknown=0.25))
    with torch.inference_mode():
        dense, merged = model.trunk(x), fast.dense(x)
    assert merged.shape == dense.shape and merged.is_contiguous()
    assert float((dense - merged).abs().max()) <= 1e-5 * max(float(dense.abs().max()), 1.0)


def test_conv_pairs_without_activation_are_merged_and_others_are_not():
    from genofm.backbones.sei_fastpath import _compile_block, _Conv, _ConvPair, _Pool

    model = random_sei()
    kinds = {name: [type(op) for op in _compile_block(getattr(model, name))] for name in ("lconv1", "conv1", "lconv2", "dconv3")}
    assert kinds["lconv1"] == [_ConvPair]  # 4 -> C1 -> C1: one kernel-17 convolution
    assert kinds["conv1"] == [_Conv, _Conv]  # ReLU between: kept apart, ReLU fused
    assert kinds["lconv2"][0] is _Pool
    assert kinds["dconv3"] == [_Conv]


def test_padding_fast_path_at_the_right_edge_and_after_a_weight_change():
    """Patches that reach the window's right end use the merged pair's edge correction; new weights are picked up."""
    model = _sharpened(3)
    fast = PaddedTrunk(model)
    seq = "N" * 3900 + "ACGGTCAT" * 24 + "G" * 4
    x = torch.from_numpy(one_hot([seq, seq[::-1]], 4096, unknown=0.25))
    with torch.inference_mode():
        dense, patched = model.trunk(x), fast(x)
    assert float((dense - patched).abs().max()) <= 1e-5 * float(dense.abs().max())
    with torch.no_grad():
        model.lconv1[0].weight.mul_(-1.0)
    with torch.inference_mode():
        dense2, patched2 = model.trunk(x), fast(x)
    assert float((dense2 - dense).abs().max()) > 1e-3
    assert float((dense2 - patched2).abs().max()) <= 1e-5 * float(dense2.abs().max())


@pytest.mark.parametrize("channels,kernel,dilation", [(3, 17, 1), (80, 9, 1), (72, 5, 4)])
def test_convolution_as_matrix_products_equals_conv1d(channels, kernel, dilation):
    """Both CPU kernels of the fast path (per-tap products, unfolded taps) equal conv1d, also with one-sided padding."""
    from genofm.backbones.sei_fastpath import _taps, conv_rows, conv_unfolded

    torch.manual_seed(0)
    x = torch.randn(3, channels, 50)
    weight, bias = torch.randn(7, channels, kernel), torch.randn(7)
    radius = dilation * (kernel - 1) // 2
    rows = x.transpose(1, 2).contiguous()
    for left, right in ((radius, radius), (radius, 0), (0, 2 * radius)):
        expected = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (left, right)), weight, bias, dilation=dilation)
        for out in (conv_rows(rows, _taps(weight), bias, dilation, left, right), conv_unfolded(rows, weight, bias, dilation, left, right)):
            assert out.shape == (3, expected.shape[-1], 7) and out.is_contiguous()
            assert float((out.transpose(1, 2) - expected).abs().max()) <= 1e-5 * float(expected.abs().max())


@pytest.mark.parametrize("engine", ["gemm", "winograd", "conv2d"])
def test_every_cpu_engine_equals_the_plain_trunk_and_balances_tasks(engine):
    """Each CPU engine (MKL products, oneDNN Winograd, plain conv2d) equals Sei.trunk, dense and patched, with 2 workers and 1-row tasks."""
    model = _sharpened(4)
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGT"), size=n)) for n in (600, 120, 600, 33)]
    x = torch.from_numpy(one_hot(seqs, 600, unknown=0.25))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.inference_mode():
            plain = model.trunk(x)
            balanced, one_task_each = PaddedTrunk(model, engine=engine), PaddedTrunk(model, engine=engine, tasks_per_worker=1)
            outs = [balanced.dense(x), one_task_each.dense(x), balanced(x[1:2]), one_task_each(x[1:2])]
    finally:
        torch.set_num_threads(threads)
    scale = float(plain.abs().max())
    for out in outs[:2]:
        assert float((out - plain).abs().max()) <= 1e-5 * scale
    for out in outs[2:]:
        assert float((out - plain[1:2]).abs().max()) <= 1e-5 * scale


def test_cpu_engine_follows_the_processor_vendor_and_unknown_engines_are_refused(monkeypatch):
    """MKL products on Intel, oneDNN Winograd elsewhere; "auto" resolves when the trunk is built."""
    from genofm.backbones import sei_fastpath

    monkeypatch.setattr(sei_fastpath, "_cpu_vendor", lambda: "GenuineIntel")
    assert sei_fastpath.cpu_engine() == "gemm" and PaddedTrunk(random_sei()).engine == "gemm"
    monkeypatch.setattr(sei_fastpath, "_cpu_vendor", lambda: "AuthenticAMD")
    assert sei_fastpath.cpu_engine() == "winograd" and PaddedTrunk(random_sei()).engine == "winograd"
    assert PaddedTrunk(random_sei(), engine="conv2d").engine == "conv2d"
    with pytest.raises(ValueError, match="unknown Sei convolution engine 'mkl'"):
        PaddedTrunk(random_sei(), engine="mkl")


@pytest.mark.parametrize("products", ["mkl", "onednn"])
@pytest.mark.parametrize("kernel", [5, 9, 17])
def test_winograd_convolution_equals_conv1d(kernel, products):
    """F(2, 3) Winograd, with MKL or oneDNN products, equals conv1d for odd and even output lengths and one-sided padding."""
    from genofm.backbones.sei_fastpath import _taps, conv_winograd, winograd_filters, winograd_taps

    torch.manual_seed(kernel)
    weight, bias = torch.randn(6, 5, kernel), torch.randn(6)
    transformed = (winograd_taps if products == "mkl" else winograd_filters)(_taps(weight))
    radius = (kernel - 1) // 2
    for n in (1, 2, 23, 40):
        x = torch.randn(2, 5, n)
        rows = x.transpose(1, 2).contiguous()
        for left, right in ((radius, radius), (radius, 0), (0, 2 * radius), (radius + 1, radius)):
            if left + n + right < kernel:
                continue
            expected = torch.nn.functional.conv1d(torch.nn.functional.pad(x, (left, right)), weight, bias)
            out = conv_winograd(rows, transformed, bias, kernel, left, right)
            assert out.shape == (2, expected.shape[-1], 6) and out.is_contiguous()
            assert float((out.transpose(1, 2) - expected).abs().max()) <= 1e-5 * float(expected.abs().max()), (n, left, right)


@pytest.mark.parametrize("engine,layout", [("gemm", 4), ("winograd", 5)])
def test_trunk_with_winograd_on_every_undilated_convolution_equals_plain_trunk(monkeypatch, engine, layout):
    """Full-size Sei uses Winograd for its wide undilated layers; lowering the width threshold runs it in a tiny Sei."""
    from genofm.backbones import sei_fastpath

    monkeypatch.setattr(sei_fastpath, "NARROW_INPUT", 1)
    model = _sharpened(5)
    fast = PaddedTrunk(model, engine=engine)
    assert fast._plan()["conv1"][0].taps(torch.float32).dim() == layout  # the engine's Winograd transforms in use
    assert fast._plan()["lconv2"][1].taps(torch.float32).dim() == layout  # and the merged pair's
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGTN"), size=n)) for n in (600, 250, 31)]
    x = torch.from_numpy(one_hot(seqs, 600, unknown=0.25))
    with torch.inference_mode():
        plain, dense, patched = model.trunk(x), fast.dense(x), fast(x[1:])
    scale = float(plain.abs().max())
    assert float((dense - plain).abs().max()) <= 1e-5 * scale
    assert float((patched - plain[1:]).abs().max()) <= 1e-5 * scale
