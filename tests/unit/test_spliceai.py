"""SpliceAI port: graph mapping, exact fast path, features, bad weight files, a splice-site sanity check."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
import torch

from genofm.backbones.spliceai import SpliceAIBackbone, SpliceAIOptions, default_weights_dir
from genofm.backbones.spliceai_keras import load_spliceai_net, read_spliceai_h5
from genofm.backbones.spliceai_model import SPLICEAI_10K_SKIPS, SPLICEAI_10K_UNITS, SpliceAINet
from genofm.errors import GenofmError
from genofm.sequence import reverse_complement

WEIGHTS = default_weights_dir()
needs_weights = pytest.mark.needs_resources(*(WEIGHTS / f"spliceai{i}.h5" for i in range(1, 6)), reason="official SpliceAI weights")


def onehot(rng: np.random.Generator, batch: int, length: int) -> torch.Tensor:
    codes = rng.integers(0, 5, size=(batch, length))  # 4 = N, all-zero column
    return torch.from_numpy(np.eye(5, dtype=np.float32)[codes][..., :4].transpose(0, 2, 1).copy())


def randomised(net: SpliceAINet, seed: int) -> SpliceAINet:
    """Give BatchNorm non-trivial statistics so a wrong constant would show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.normal_(0, 0.5, generator=gen)
                module.running_var.uniform_(0.5, 2.0, generator=gen)
                module.weight.normal_(1, 0.3, generator=gen)
                module.bias.normal_(0, 0.5, generator=gen)
            elif isinstance(module, torch.nn.Conv1d):
                module.bias.normal_(0, 0.5, generator=gen)
    return net.eval()


@pytest.mark.parametrize("extra_crop", [0, 7])
def test_fast_path_equals_full_length_on_a_small_random_network(extra_crop):
    torch.manual_seed(0)
    shapes = ((3, 1), (5, 2), (3, 4), (5, 3))
    radius = sum(2 * d * (k - 1) // 2 for k, d in shapes)
    net = randomised(SpliceAINet(shapes, skip_points=(0, 2, 4), channels=6, crop=radius + extra_crop, eps=1e-3), 1)
    rng = np.random.default_rng(0)
    for length in (1, 2, 9, 40):
        x = onehot(rng, 3, length)
        with torch.inference_mode():
            fast = net(x)
            full = net.forward_full(torch.nn.functional.pad(x, (net.crop, net.crop)))
        for a, b in zip(fast, full):
            assert a.shape == b.shape
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_a_crop_smaller_than_the_receptive_field_is_refused():
    with pytest.raises(ValueError, match="receptive radius"):
        SpliceAINet(((3, 1),), skip_points=(0, 1), channels=4, crop=1)


@needs_weights
def test_graph_is_mapped_from_model_config():
    graph, state = read_spliceai_h5(WEIGHTS / "spliceai2.h5")
    assert tuple(graph.unit_shapes) == SPLICEAI_10K_UNITS
    assert tuple(graph.skip_points) == SPLICEAI_10K_SKIPS
    assert graph.crop == (5000, 5000) and graph.eps == pytest.approx(1e-3)
    assert state["units.15.conv2.weight"].shape == (32, 32, 41)
    assert state["head.weight"].shape == (3, 32, 1)
    assert load_spliceai_net(WEIGHTS / "spliceai2.h5").receptive_radius == 5000


@needs_weights
@pytest.mark.parametrize("model", [5])
def test_fast_path_equals_full_length_with_real_weights(model):
    net = load_spliceai_net(WEIGHTS / f"spliceai{model}.h5")
    rng = np.random.default_rng(model)
    for batch, length in ((1, 1), (2, 30)):
        x = onehot(rng, batch, length)
        with torch.inference_mode():
            probs, pen = net(x)
            full_probs, full_pen = net.forward_full(torch.nn.functional.pad(x, (5000, 5000)))
        torch.testing.assert_close(probs, full_probs, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(pen, full_pen, atol=1e-3, rtol=1e-4)


@needs_weights
def test_threaded_models_equal_single_threaded_and_restore_the_thread_count(monkeypatch):
    """At 2 torch threads the (model, batch slice) tasks run in 2 threads of 1 intra-op thread: same features."""
    from genofm.backbones import spliceai

    monkeypatch.setattr(spliceai, "PARALLEL_MIN_POSITIONS", 0)  # these short test sequences run in parallel too
    parallel = []
    real_run_tasks = spliceai.run_tasks
    monkeypatch.setattr(spliceai, "run_tasks", lambda tasks, workers: parallel.append(workers) or real_run_tasks(tasks, workers))
    backbone = SpliceAIBackbone(SpliceAIOptions(models="1,3,5", bins=3), None)
    rng = np.random.default_rng(4)
    seqs = ["".join(rng.choice(list("ACGTN"), size=n)) for n in (150, 7, 301)]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = backbone.embed_batch(seqs)
        torch.set_num_threads(2)
        threaded = backbone.embed_batch(seqs)
        assert torch.get_num_threads() == 2
        one_row = backbone.embed_batch(seqs[:1])  # fewer rows than threads: models still run in parallel
    finally:
        torch.set_num_threads(before)
    assert parallel == [2, 2]  # the 2-thread calls, not the 1-thread one
    np.testing.assert_allclose(threaded, single, rtol=1e-5, atol=1e-5)  # batch slices may round differently
    np.testing.assert_allclose(one_row[0], single[0], rtol=1e-5, atol=1e-5)


def test_parallel_tasks_only_for_batches_worth_a_second_thread():
    """The fixed rule: no parallel tasks on one worker, for one task, or under PARALLEL_MIN_POSITIONS positions."""
    from genofm.backbones.spliceai import PARALLEL_MIN_POSITIONS, parallel_slices

    assert parallel_slices(2, 10_000, 5, 1) == 0  # one worker: models in turn
    assert parallel_slices(1, 10_000, 1, 2) == 0  # one task
    assert parallel_slices(2, 100, 5, 2) == 0  # 200 positions: too short for a second thread
    assert parallel_slices(2, PARALLEL_MIN_POSITIONS // 2, 5, 2) == 2
    assert parallel_slices(1, 5_000, 5, 2) == 1  # one sequence: the five models in parallel
    assert parallel_slices(32, 200, 5, 2) == 2
    assert parallel_slices(3, 2_000, 5, 8) == 3
    assert parallel_slices(3, 1_000, 5, 8) == 0  # 3,000 positions


def test_small_operators_outside_the_tasks_run_on_one_thread(monkeypatch):
    """One-hot coding, ensemble mean and pooling run on one intra-op thread; the caller's count comes back."""
    from genofm.backbones import spliceai

    seen = []
    backbone = SpliceAIBackbone.__new__(SpliceAIBackbone)  # no weights needed: models replaced below
    backbone.device, backbone.precision, backbone.channels = "cpu", "fp32", 2
    backbone.options = SpliceAIOptions(bins=2)
    backbone.model_labels = ["1"]

    def fake_run_nets(x, workers):
        seen.append((torch.get_num_threads(), workers))
        return [(torch.full((x.shape[0], 3, x.shape[-1]), 1 / 3), torch.zeros(x.shape[0], 2, x.shape[-1]))]

    backbone.nets = [None]
    monkeypatch.setattr(backbone, "_run_nets", fake_run_nets)
    real_pool = spliceai.SpliceAIBackbone._pool
    monkeypatch.setattr(spliceai.SpliceAIBackbone, "_pool", lambda self, *a: seen.append(torch.get_num_threads()) or real_pool(self, *a))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        features = backbone.embed_batch(["ACGT", "GGA"])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [(1, 2), 1]  # the models would get 2 workers; everything here ran on 1 intra-op thread
    assert features.shape == (2, len(backbone.feature_names))


@needs_weights
def test_features_of_a_batch_equal_features_of_each_sequence_alone():
    backbone = SpliceAIBackbone(SpliceAIOptions(models="4", bins=4), None)
    seqs = ["ACGTNNACGGTAAGTCCAG", "TTTCTTTTCCAGG", "A" * 31, "GT"]
    together = backbone.embed_batch(seqs)
    assert together.shape == (4, len(backbone.feature_names)) == (4, 2 * (2 + 4) + 64)
    assert np.isfinite(together).all()
    for i, seq in enumerate(seqs):
        np.testing.assert_allclose(backbone.embed_batch([seq])[0], together[i], rtol=1e-4, atol=1e-4)
    names = backbone.feature_names
    assert names[:3] == ["acceptor_max_log10", "acceptor_mean_log10", "acceptor_bin01_max_log10"]
    assert names[-2:] == ["m4_pen31_mean", "m4_pen31_max"]
    groups = backbone.feature_groups()
    assert sorted(np.concatenate(list(groups.values()))) == list(range(len(names)))
    assert [names[i] for i in groups["splice_sites"]][-1] == "donor_bin04_max_log10"
    prov = backbone.provenance()
    assert prov["backbone"] == "spliceai" and prov["options"] == {"models": "4", "bins": 4} and len(prov["weights_sha256"]) == 64


@needs_weights
def test_real_exon_intron_boundaries_score_at_the_junction():
    """Primate junctions from the UCI splice-junction set: exon|intron (donor) and intron|exon (acceptor).

    With the official 5,000-N flanks, the ensemble puts its donor (acceptor) maximum exactly at
    the last exonic (first exonic) base, far above shuffled copies of the same sequences.
    """
    donors = [  # 30 exonic + 30 intronic bases (GT at 30-31)
        "AGACCCGCCGGGAGGCGGAGGACCTGCAGGGTGAGCCCCACCGCCCCTCCGTGCCCCCGC",
        "GAGGTGAAGGACGTCCTTCCCCAGGAGCCGGTGAGAAGCGCAGTCGGGGGCACGGGGATG",
        "GCTCAGCCCCCAGGTCACCCAGGAACTGACGTGAGTGTCCCCATCCCGGCCCTTGACCCT",
    ]
    acceptors = [  # 30 intronic bases ending in AG, then 30 exonic
        "GCGGTTGATTGACAGTTTCTCCTTCCCCAGACTGGCCAATCACAGGCAGGAAGATGAAGG",
        "CCTGAACCACCTTCAACTTGTTCCACACAGGATGCCAGGCCAAGGTGGAGCAACCGGTGG",
        "GCGCACACCCTCCCGCTCTTTCGGCTGCAGGACGCTGATGGACGAGACCATGAAGGAGTT",
    ]
    rng = np.random.default_rng(0)
    shuffled = ["".join(rng.permutation(list(s))) for s in donors + acceptors]
    backbone = SpliceAIBackbone(SpliceAIOptions(), None)
    reverse = [reverse_complement(s) for s in donors]
    probs = backbone.predict(donors + acceptors + shuffled + reverse)[0].numpy()
    donor, acceptor = probs[:3, 2], probs[3:6, 1]
    assert (donor.argmax(axis=1) == 29).all() and (acceptor.argmax(axis=1) == 30).all()
    assert donor.max(axis=1).min() > 0.1 and acceptor.max(axis=1).min() > 0.03
    # a shuffle can create a weak site by chance, but none as strong as the real junctions
    assert donor.max(axis=1).min() > 2 * probs[6:9, 2].max()
    assert acceptor.max(axis=1).min() > 2 * probs[9:12, 1].max()
    # the reverse complement of a donor junction is not a donor on this strand
    assert probs[12:15, 2].max() < donor.max(axis=1).min()


# --- bad weight files ------------------------------------------------------------------


def test_a_text_file_is_not_a_model(tmp_path):
    bad = tmp_path / "spliceai1.h5"
    bad.write_text("not a model\n")
    with pytest.raises(GenofmError, match=r"spliceai1\.h5: not an HDF5 file"):
        load_spliceai_net(bad)


def test_an_hdf5_file_without_a_keras_graph_is_refused(tmp_path):
    bad = tmp_path / "weights.h5"
    with h5py.File(bad, "w") as handle:
        handle["something"] = np.zeros(3)
    with pytest.raises(GenofmError, match=r"weights\.h5: HDF5 file without a Keras model_config"):
        load_spliceai_net(bad)


@needs_weights
def test_an_hdf5_file_with_the_graph_but_without_the_layers_is_refused(tmp_path):
    bad = tmp_path / "graph_only.h5"
    with h5py.File(WEIGHTS / "spliceai1.h5", "r") as src, h5py.File(bad, "w") as dst:
        dst.attrs["model_config"] = src.attrs["model_config"]
        dst.create_group("model_weights")
    with pytest.raises(GenofmError, match=r"graph_only\.h5: no weights for layer conv1d_1"):
        load_spliceai_net(bad)


@needs_weights
def test_a_kernel_of_the_wrong_shape_is_refused(tmp_path):
    bad = tmp_path / "spliceai1.h5"
    shutil.copy(WEIGHTS / "spliceai1.h5", bad)
    with h5py.File(bad, "r+") as handle:
        group = handle["model_weights/conv1d_3/conv1d_3"]
        del group["kernel:0"]
        group["kernel:0"] = np.zeros((11, 32, 16), dtype=np.float32)
    with pytest.raises(GenofmError, match=r"spliceai1\.h5: layer conv1d_3 kernel has shape \(11, 32, 16\)"):
        load_spliceai_net(bad)


@needs_weights
def test_a_graph_that_is_not_spliceai_is_refused(tmp_path):
    bad = tmp_path / "other.h5"
    shutil.copy(WEIGHTS / "spliceai1.h5", bad)
    with h5py.File(bad, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["name"] == "activation_5":
                layer["config"]["activation"] = "tanh"
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(GenofmError, match=r"other\.h5: layer activation_5 is not a ReLU"):
        load_spliceai_net(bad)


@needs_weights
def test_weights_folder_options_are_checked(tmp_path):
    shutil.copy(WEIGHTS / "spliceai1.h5", tmp_path / "spliceai1.h5")
    with pytest.raises(GenofmError, match="missing spliceai3.h5"):
        SpliceAIBackbone(SpliceAIOptions(models="1,3"), tmp_path)
    with pytest.raises(GenofmError, match="comma-separated integers"):
        SpliceAIBackbone(SpliceAIOptions(models="one"), tmp_path)
    single = SpliceAIBackbone(SpliceAIOptions(bins=0), tmp_path / "spliceai1.h5")
    assert single.model_labels == ["1"] and len(single.feature_names) == 4 + 64
    with pytest.raises(GenofmError, match="not found"):
        SpliceAIBackbone(SpliceAIOptions(), tmp_path / "absent")


# --- FFT convolution (the fast path's 21- and 41-tap dilated units) ---------------------------

def _direct_and_float64(x, weight, bias, dilation, padding):
    from genofm.backbones.spliceai_model import _conv

    direct = _conv(x, weight, bias, dilation=dilation, padding=padding)
    exact = _conv(x.double(), weight.double(), bias.double(), dilation=dilation, padding=padding)
    return direct, exact


@pytest.mark.parametrize(
    "kernel,dilation,width,padding,batch",
    [
        (41, 25, 1013, 500, 2),  # 'same' padding at both ends, length not a multiple of d
        (41, 25, 6007, 0, 1),  # no padding (the window-cut case)
        (41, 25, 2600, 137, 3),  # padding narrower than the radius
        (21, 10, 4409, 100, 2),  # several blocks per phase in one chunk, padded whole
        (21, 10, 2205, 0, 1),
    ],
)
def test_fft_convolution_equals_the_direct_one(monkeypatch, kernel, dilation, width, padding, batch):
    """Same output as oneDNN's direct convolution, both within float32 rounding of a float64 run,
    with each phase transformed whole (the length ``fft_length`` picks for these windows) and in
    overlap-save blocks of every blocked length.

    Inputs ~N(0, 1), weights ~N(0, 0.05^2): outputs are O(1), and float32 rounding of either
    method stays below ~1e-5 absolute (measured: direct up to 9e-6 at 41 taps, FFT ~2e-6); a
    misplaced phase, block overlap, bias or padding gives errors of order 1. These windows fit one
    chunk, padded whole.
    """
    from genofm.backbones import spliceai_model
    from genofm.backbones.spliceai_model import SpectrumCache, fft_conv, fft_length, smooth_length

    gen = torch.Generator().manual_seed(kernel + width)
    weight = torch.randn(32, 32, kernel, generator=gen) * 0.05
    bias = torch.randn(32, generator=gen)
    x = torch.randn(batch, 32, 1, width, generator=gen).contiguous(memory_format=torch.channels_last)
    out_len = width + 2 * padding - dilation * (kernel - 1)
    phase_in = -(-out_len // dilation) + kernel - 1
    whole = smooth_length(phase_in)
    assert fft_length(kernel, dilation, out_len) == (whole if kernel == 41 else None)  # 21 taps: direct
    direct, exact = _direct_and_float64(x, weight, bias, dilation, padding)
    whole_calls = []
    real_whole = spliceai_model._whole_phase_conv
    monkeypatch.setattr(spliceai_model, "_whole_phase_conv", lambda *a: whole_calls.append(a[6]) or real_whole(*a))
    for n in (whole, *spliceai_model.FFT_SIZES):
        step = n - kernel + 1
        if step < kernel:
            continue
        if n < phase_in:
            blocks = -(-(-(-out_len // dilation)) // step)
            per_chunk = max(1, spliceai_model.FFT_CHUNK_ELEMENTS // (dilation * 32 * n))
            assert spliceai_model._chunks(blocks, per_chunk, step * dilation, (kernel - 1) * dilation, padding, width) == [(0, blocks)]
        fft = fft_conv(x, SpectrumCache().get(weight, n), bias, kernel, dilation, padding, n)
        assert fft.shape == direct.shape == (batch, 32, 1, out_len)
        assert (fft.double() - exact).abs().max().item() < 1e-5
        torch.testing.assert_close(fft, direct, atol=2e-5, rtol=0)
    assert whole in whole_calls  # each phase in one transform
    assert all(n >= phase_in for n in whole_calls)


@pytest.mark.parametrize("batch,width,padding", [(1, 3013, 260), (3, 3000, 0)])
def test_whole_phase_fft_with_input_gradients_equals_the_one_without(batch, width, padding):
    """Whole phases go through scipy's pocketfft without gradients and through torch.fft with
    gradients to the input (attributions): the same convolution either way, within float32
    rounding of float64, and the gradients those of the direct convolution."""
    from genofm.backbones.spliceai_model import SpectrumCache, fft_conv, smooth_length

    kernel, dilation = 41, 25
    gen = torch.Generator().manual_seed(batch)
    weight = torch.randn(32, 32, kernel, generator=gen) * 0.05
    bias = torch.randn(32, generator=gen)
    x = torch.randn(batch, 32, 1, width, generator=gen).contiguous(memory_format=torch.channels_last)
    out_len = width + 2 * padding - dilation * (kernel - 1)
    n = smooth_length(-(-out_len // dilation) + kernel - 1)
    spectrum = SpectrumCache().get(weight, n)
    direct, exact = _direct_and_float64(x, weight, bias, dilation, padding)
    with torch.inference_mode():
        without = fft_conv(x, spectrum, bias, kernel, dilation, padding, n)
    x_grad = x.clone().requires_grad_(True)
    with torch.no_grad():  # a leaf that requires gradients, none recorded: pocketfft on a detached view
        torch.testing.assert_close(fft_conv(x_grad, spectrum, bias, kernel, dilation, padding, n), without, atol=0, rtol=0)
    with_grad = fft_conv(x_grad, spectrum, bias, kernel, dilation, padding, n)
    for out in (without, with_grad):
        assert out.shape == exact.shape
        assert (out.detach().double() - exact).abs().max().item() < 1e-5
    upstream = torch.randn(exact.shape, generator=gen)
    (grad,) = torch.autograd.grad((with_grad * upstream).sum(), x_grad)
    x_direct = x.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((_direct_and_float64(x_direct, weight, bias, dilation, padding)[0] * upstream).sum(), x_direct)
    torch.testing.assert_close(grad, expected, atol=2e-5, rtol=0)


@pytest.mark.parametrize("kernel,dilation,width,padding", [(41, 1, 5000, 0), (21, 2, 4409, 20), (41, 2, 3001, 37)])
def test_fft_convolution_in_many_small_chunks_equals_the_direct_one(monkeypatch, kernel, dilation, width, padding):
    """SpliceAI's windows fit one chunk per sequence; inputs longer than FFT_CHUNK_ELEMENTS (here made
    small) go in several, and the blocks that read the padding in chunks of their own (blocks of 128:
    the lengths for phases longer than WHOLE_PHASE_MAX)."""
    from genofm.backbones import spliceai_model
    from genofm.backbones.spliceai_model import SpectrumCache, _chunks, fft_conv

    monkeypatch.setattr(spliceai_model, "FFT_CHUNK_ELEMENTS", 1 << 14)
    gen = torch.Generator().manual_seed(kernel * width)
    weight = torch.randn(32, 32, kernel, generator=gen) * 0.05
    bias = torch.randn(32, generator=gen)
    x = torch.randn(1, 32, 1, width, generator=gen).contiguous(memory_format=torch.channels_last)
    out_len = width + 2 * padding - dilation * (kernel - 1)
    n = 128
    assert -(-out_len // dilation) + kernel - 1 > n  # blocks, not whole phases
    step = n - kernel + 1
    blocks = -(-(-(-out_len // dilation)) // step)
    per_chunk = max(1, (1 << 14) // (dilation * 32 * n))
    chunks = _chunks(blocks, per_chunk, step * dilation, (kernel - 1) * dilation, padding, width)
    assert len(chunks) > 2 and all(0 < count <= per_chunk for _, count in chunks)
    assert [first for first, _ in chunks] == [0, *np.cumsum([count for _, count in chunks])[:-1].tolist()]
    assert sum(count for _, count in chunks) == blocks
    fft = fft_conv(x, SpectrumCache().get(weight, n), bias, kernel, dilation, padding, n)
    direct, exact = _direct_and_float64(x, weight, bias, dilation, padding)
    assert (fft.double() - exact).abs().max().item() < 1e-5
    torch.testing.assert_close(fft, direct, atol=2e-5, rtol=0)


@pytest.mark.parametrize("kernel,dilation,width,want", [(11, 4, 300, 20), (11, 4, 10, 30), (21, 10, 4409, 100), (41, 25, 1013, 500), (41, 25, 1000, 500)])
def test_windows_widened_with_the_constant(kernel, dilation, width, want):
    """The fast path writes a convolution's input into a window wider by the constant beyond it
    (``_wider``), not zeros: the windowed convolution (direct at 11 and 21 taps, FFT at 41, also
    with whole phases) equals a float64 convolution of the input with constant columns
    concatenated on both sides."""
    from genofm.backbones.spliceai_model import SpectrumCache, _conv, _windowed_conv, _wider

    gen = torch.Generator().manual_seed(kernel + width)
    weight = torch.randn(32, 32, kernel, generator=gen) * 0.05
    bias = torch.randn(32, generator=gen)
    fill = torch.randn(32, generator=gen, dtype=torch.float64) * 3
    x = torch.randn(2, 32, 1, width, generator=gen).contiguous(memory_format=torch.channels_last)
    radius = dilation * (kernel - 1) // 2
    extra = want + radius  # the input held 0 beyond the sequence, the output wanted ``want`` beyond it
    edge = fill.view(1, 32, 1, 1).expand(2, 32, 1, extra)
    exact = _conv(torch.cat([edge, x.double(), edge], dim=-1), weight.double(), bias.double(), dilation=dilation)
    with torch.inference_mode():
        buffer, middle = _wider(x, extra, fill, 0, 0)
        middle.copy_(x)
        out = _windowed_conv(buffer, extra, want, weight, bias, dilation, radius, SpectrumCache())
    assert out.shape == exact.shape
    assert (out.double() - exact).abs().max().item() < 1e-5
    with pytest.raises(RuntimeError, match="narrower than the non-constant reach"):
        _wider(x, 1, fill, 0, 5)  # beyond a window narrower than the reach the values are not the constant


@pytest.mark.parametrize("batch", [1, 3])
def test_pointwise_convolution_equals_conv1d_on_a_window(batch):
    """The 1x1 convolutions (stem, skips, head) as one matrix product, on a window cut from a wider tensor."""
    from genofm.backbones.spliceai_model import _as_2d, _pointwise

    gen = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, 6, 50, generator=gen, dtype=torch.float64)
    weight, bias = torch.randn(5, 6, 1, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64)
    window = _as_2d(x)[..., 7:40]  # a slice of a channels-last tensor, as the skips read it
    out = _pointwise(window, weight, bias)
    assert out.shape == (batch, 5, 1, 33) and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out.squeeze(2), torch.nn.functional.conv1d(x[..., 7:40], weight, bias), atol=1e-12, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_batchnorm_relu_of_the_fast_path_equals_batchnorm(dtype):
    """addcmul in float32/64 (exact up to rounding); BatchNorm itself in reduced precision (float32 scale)."""
    from genofm.backbones.spliceai_model import _affine_relu, _bn_affine

    bn = randomised(SpliceAINet(((3, 1),), skip_points=(0, 1), channels=5, crop=2), 5).units[0].bn1.double()
    x = torch.randn(2, 5, 1, 9, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    bn = bn.to(torch.float32) if dtype != torch.float64 else bn
    y = _affine_relu(x.to(dtype), bn, *_bn_affine(bn))
    expected = torch.relu(torch.nn.functional.batch_norm(x.to(dtype), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))
    assert y.dtype == dtype
    torch.testing.assert_close(y, expected, atol=1e-12 if dtype == torch.float64 else 0, rtol=1e-12 if dtype == torch.float64 else 0)


def test_fft_is_chosen_only_for_the_long_dilated_units():
    from genofm.backbones.spliceai_model import fft_length

    assert fft_length(11, 4, 20000) is None  # slower than direct at every length measured
    assert fft_length(21, 10, 20000) is None  # 1.05-1.5x slower than direct on the AVX-512 machine
    assert fft_length(41, 25, 999) is None and fft_length(41, 25, 1000) == 80  # 40 outputs + 40 taps per phase
    assert fft_length(41, 25, 12000) == 540  # 480 + 40 inputs per phase, in one transform
    assert fft_length(41, 25, 200000) == 512  # 8,040 per phase: 17 blocks of 472 outputs


def test_smooth_length_is_the_smallest_5_smooth_number_not_below():
    from genofm.backbones.spliceai_model import smooth_length

    def smooth(v):
        for p in (2, 3, 5):
            while v % p == 0:
                v //= p
        return v == 1

    for minimum in range(1, 3000):
        assert smooth_length(minimum) == next(v for v in range(minimum, 2 * minimum + 1) if smooth(v))


def test_input_gradients_of_the_fast_path_equal_the_full_length_ones(monkeypatch):
    """Attributions need gradients to the input through the fast path (weights frozen): the FFT
    convolutions (whole phases by torch.fft then) and the widened windows must pass them on."""
    from genofm.backbones import spliceai_model

    whole_phases = []
    real_whole = spliceai_model._whole_phase_conv
    monkeypatch.setattr(spliceai_model, "_whole_phase_conv", lambda *a: whole_phases.append(a[0].requires_grad) or real_whole(*a))
    torch.manual_seed(5)
    net = randomised(SpliceAINet(SPLICEAI_10K_UNITS, SPLICEAI_10K_SKIPS, channels=8), 5)
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    x = onehot(np.random.default_rng(5), 1, 1500).requires_grad_(True)
    fast = torch.autograd.grad(net(x)[1].sum(), x)[0]
    assert whole_phases and all(whole_phases)  # the 41-tap units transformed whole phases, with gradients
    full_x = x.detach().clone().requires_grad_(True)
    full = torch.autograd.grad(net.forward_full(torch.nn.functional.pad(full_x, (net.crop, net.crop)))[1].sum(), full_x)[0]
    torch.testing.assert_close(fast, full, atol=1e-3, rtol=1e-4)


def test_every_41_tap_convolution_of_a_10_kb_forward_transforms_whole_phases(monkeypatch):
    """At 10 kb each 41-tap convolution's window (10-15 kb) is one transform per phase, of the
    5-smooth length that holds its inputs; with the FFT off, or gradients to the weights, none is."""
    from genofm.backbones import spliceai_model

    lengths = []
    real_whole = spliceai_model._whole_phase_conv
    monkeypatch.setattr(spliceai_model, "_whole_phase_conv", lambda *a: lengths.append(a[6]) or real_whole(*a))
    net = SpliceAINet().eval()
    x = onehot(np.random.default_rng(6), 1, 10000)
    with torch.inference_mode():
        net(x)
    # outputs 13,000, 14,000, 15,000, 14,000, 13,000, 12,000, 11,000 and 10,000: 520-600 per phase plus 40 taps
    assert lengths == [576, 600, 640, 600, 576, 540, 480, 450]
    lengths.clear()
    net.use_fft = False
    with torch.inference_mode():
        net(x)
    net.use_fft = True
    net(x)  # gradients to the weights: direct
    assert lengths == []


def test_spectrum_cache_follows_the_weights():
    """conv1's BatchNorm-folded weights are new tensors on every call: the cache must notice a change."""
    from genofm.backbones.spliceai_model import SpectrumCache

    cache = SpectrumCache()
    weight = torch.randn(4, 3, 5)
    first = cache.get(weight, 16)
    assert cache.get(weight.clone(), 16) is first
    torch.testing.assert_close(first, torch.fft.rfft(weight.double(), n=16).conj().permute(2, 1, 0).to(torch.complex64))
    weight[0, 0, 0] += 1.0
    assert not torch.equal(cache.get(weight, 16), first)


def test_spectrum_cache_keeps_the_most_recently_used_lengths():
    """Whole-phase lengths follow the window, so a run over many batch lengths must not keep a spectrum per length."""
    from genofm.backbones.spliceai_model import SpectrumCache

    cache = SpectrumCache()
    weight = torch.randn(4, 3, 5)
    first = cache.get(weight, 16)
    for n in (18, 20, 24):
        cache.get(weight, n)
    assert cache.get(weight, 16) is first  # 4 lengths held; using 16 again makes it the newest
    cache.get(weight, 25)  # evicts 18, the least recently used
    assert sorted(n for n, _ in cache._entries) == [16, 20, 24, 25]


def test_fast_path_with_fft_units_equals_full_length(monkeypatch):
    """The real unit shapes (21 and 41 taps take the FFT path) on a narrow random network, batch > 1."""
    from genofm.backbones import spliceai_model

    calls, whole_phases = [], []
    real_fft_conv, real_whole = spliceai_model.fft_conv, spliceai_model._whole_phase_conv
    monkeypatch.setattr(spliceai_model, "fft_conv", lambda *a: calls.append(a[3]) or real_fft_conv(*a))
    monkeypatch.setattr(spliceai_model, "_whole_phase_conv", lambda *a: whole_phases.append(a[0].shape[0]) or real_whole(*a))
    torch.manual_seed(3)
    net = randomised(SpliceAINet(SPLICEAI_10K_UNITS, SPLICEAI_10K_SKIPS, channels=8), 3)
    rng = np.random.default_rng(3)
    for batch, length in ((2, 1), (1, 777), (2, 2100)):
        x = onehot(rng, batch, length)
        with torch.inference_mode():
            fast = net(x)
            full = net.forward_full(torch.nn.functional.pad(x, (net.crop, net.crop)))
        for a, b in zip(fast, full):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)
    assert set(calls) == {41}
    assert 2 in whole_phases  # whole phases of a batch of two
    calls.clear()
    net.use_fft = False  # the benchmark's all-direct forward
    with torch.inference_mode():
        direct = net(x)
    assert calls == []
    for a, b in zip(direct, fast):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)
    net.use_fft = True
    with_grad = net(x)  # gradients to the weights enabled: direct, the cached spectra being detached
    assert calls == []
    torch.testing.assert_close(with_grad[1].detach(), fast[1], atol=1e-4, rtol=1e-5)


def test_unit_constants_are_cached_per_state_of_the_weights():
    """The fast path's per-unit constants are reused while the weights stay, recomputed after any change."""
    torch.manual_seed(4)
    net = randomised(SpliceAINet(((3, 1), (5, 2), (3, 3)), (0, 1, 3), channels=6, crop=40), 4)
    other = randomised(SpliceAINet(((3, 1), (5, 2), (3, 3)), (0, 1, 3), channels=6, crop=40), 5)
    x = onehot(np.random.default_rng(4), 2, 30)

    def check():
        with torch.inference_mode():
            fast = net(x)
            full = net.forward_full(torch.nn.functional.pad(x, (net.crop, net.crop)))
        for a, b in zip(fast, full):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        return net._constants[1]

    first = check()
    assert check() is first  # unchanged weights: reused
    with torch.no_grad():
        net.units[1].bn1.running_var.mul_(3.0)  # an in-place change of a buffer
    second = check()
    assert second is not first
    net.load_state_dict(other.state_dict())  # in-place copies into every parameter
    assert check() is not second
    third = net._constants
    with_grad = net(x)  # gradients enabled: the constants computed in the graph, the cache neither used nor replaced
    assert net._constants is third
    assert net._unit_constants()[0].weight1.requires_grad and with_grad[1].requires_grad
