"""DNABERT-2: the plain-torch architecture against a hand computation, and official-folder loading."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from genofm.backbones.dnabert2 import DNABERT2Backbone, load_dnabert2
from genofm.backbones.dnabert2_model import DNABERT2Config, DNABERT2Model, alibi_slopes
from genofm.backbones.lm_common import LMOptions
from genofm.errors import GenofmError
from genofm.testing.tiny_lm import write_dnabert2


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_dnabert2(tmp_path_factory.mktemp("d2") / "DNABERT-2-117M")


def _naive_forward(model: DNABERT2Model, ids: list[int], n_real: int) -> np.ndarray:
    """Per-token, per-head loops in float64 following the published MosaicBERT/DNABERT-2 equations."""
    cfg = model.config
    p = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    heads, d = cfg.num_attention_heads, cfg.hidden_size // cfg.num_attention_heads
    slopes = [2.0 ** -(8.0 / heads * (i + 1)) for i in range(heads)]  # power-of-two head counts

    def layer_norm(x, w, b):
        mu, var = x.mean(), x.var()
        return (x - mu) / math.sqrt(var + cfg.layer_norm_eps) * w + b

    T = len(ids)
    h = [layer_norm(p["embeddings.word_embeddings.weight"][t] + p["embeddings.token_type_embeddings.weight"][0],
                    p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"]) for t in ids]
    for layer in range(cfg.num_hidden_layers):
        pre = f"encoder.layer.{layer}."
        W, b = p[pre + "attention.self.Wqkv.weight"], p[pre + "attention.self.Wqkv.bias"]
        qkv = [W @ x + b for x in h]
        new_h = []
        for i in range(T):
            context = np.zeros(cfg.hidden_size)
            for head in range(heads):
                q = qkv[i][head * d:(head + 1) * d]
                scores = []
                for j in range(T):
                    k = qkv[j][cfg.hidden_size + head * d: cfg.hidden_size + (head + 1) * d]
                    s = float(q @ k) / math.sqrt(d) - slopes[head] * abs(i - j)
                    s += 0.0 if j < n_real else -10000.0
                    scores.append(s)
                scores = np.array(scores)
                w = np.exp(scores - scores.max())
                w /= w.sum()
                for j in range(T):
                    v = qkv[j][2 * cfg.hidden_size + head * d: 2 * cfg.hidden_size + (head + 1) * d]
                    context[head * d:(head + 1) * d] += w[j] * v
            attn = p[pre + "attention.output.dense.weight"] @ context + p[pre + "attention.output.dense.bias"]
            x = layer_norm(attn + h[i], p[pre + "attention.output.LayerNorm.weight"], p[pre + "attention.output.LayerNorm.bias"])
            g = p[pre + "mlp.gated_layers.weight"] @ x
            inter = cfg.intermediate_size
            act = np.array([0.5 * a * (1.0 + math.erf(a / math.sqrt(2.0))) for a in g[:inter]]) * g[inter:]
            out = p[pre + "mlp.wo.weight"] @ act + p[pre + "mlp.wo.bias"]
            new_h.append(layer_norm(out + x, p[pre + "mlp.layernorm.weight"], p[pre + "mlp.layernorm.bias"]))
        h = new_h
    return np.stack(h)


def test_alibi_slopes_match_published_values():
    expected = [2.0 ** -i for i in range(1, 9)] + [2.0 ** -0.5, 2.0 ** -1.5, 2.0 ** -2.5, 2.0 ** -3.5]
    assert torch.allclose(alibi_slopes(12), torch.tensor(expected))
    assert torch.allclose(alibi_slopes(4), torch.tensor([2.0 ** -2, 2.0 ** -4, 2.0 ** -6, 2.0 ** -8]))


def test_layers_match_naive_per_head_computation():
    torch.manual_seed(0)
    cfg = DNABERT2Config(vocab_size=20, hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=12)
    model = DNABERT2Model(cfg).eval()
    with torch.no_grad():
        for prm in model.parameters():
            prm.normal_(0.0, 0.5)
    ids = torch.tensor([[1, 7, 9, 4, 2, 3, 3], [1, 5, 6, 8, 11, 12, 2]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        hidden, _ = model(ids, mask)
    for row, n_real in ((0, 5), (1, 7)):
        expected = _naive_forward(model, ids[row].tolist(), n_real)
        np.testing.assert_allclose(hidden[row, :n_real].numpy(), expected[:n_real], atol=2e-5)


def test_fused_attention_equals_plain_and_returns_probabilities():
    torch.manual_seed(1)
    cfg = DNABERT2Config(vocab_size=20, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=24)
    plain = DNABERT2Model(cfg, fused_attention=False).eval()
    fused = DNABERT2Model(cfg, fused_attention=True).eval()
    fused.load_state_dict(plain.state_dict())
    ids = torch.randint(5, 20, (3, 9))
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    with torch.no_grad():
        a, _ = plain(ids, mask)
        b, _ = fused(ids, mask)
        c, probs = fused(ids, mask, output_attentions=True)  # fused blocks, then a plain last block
    real = mask.bool()  # padded batches are unpadded unless attention maps are wanted: compare real tokens
    assert torch.allclose(a[real], b[real], atol=1e-5) and torch.allclose(a[real], c[real], atol=1e-5)
    assert probs.shape == (3, 4, 9, 9)
    assert torch.allclose(probs.sum(-1), torch.ones(3, 4, 9), atol=1e-5)
    assert float(probs[0, :, :, 6:].max()) < 1e-3  # padded keys get (almost) no attention


@pytest.mark.parametrize("layer", [-1, 0, 1])
def test_unpadded_batches_equal_padded_on_real_tokens(layer):
    """Packing real tokens (row-wise attention, no padded slots) equals the padded computation, also for gradients."""
    torch.manual_seed(2)
    cfg = DNABERT2Config(vocab_size=30, hidden_size=24, num_hidden_layers=3, num_attention_heads=6, intermediate_size=40)
    packed = DNABERT2Model(cfg).eval()
    padded = DNABERT2Model(cfg, unpad=False).eval()
    padded.load_state_dict(packed.state_dict())
    lengths = [13, 1, 7, 13, 4]
    ids = torch.randint(5, 30, (5, 13))
    mask = (torch.arange(13)[None] < torch.tensor(lengths)[:, None]).long()
    ids = ids * mask
    with torch.no_grad():
        a, _ = packed(ids, mask, layer=layer)
        b, _ = padded(ids, mask, layer=layer)
    real = mask.bool()
    assert float((a[real] - b[real]).abs().max()) <= 1e-5
    assert float(a[~real].abs().max()) == 0.0  # padded slots are not computed
    with torch.no_grad():
        one, _ = packed(ids[:1, :13], mask[:1, :13], layer=layer)  # a row alone, no padding: the padded path
    assert float((one[0] - a[0]).abs().max()) <= 1e-5
    # gradients through the packed path (LoRA fine-tuning, integrated gradients) equal the padded ones
    for model in (packed, padded):
        model.zero_grad()
        out, _ = model(ids, mask)
        (out * mask[..., None]).sum().backward()
    grads = [(p.grad, q.grad) for p, q in zip(packed.parameters(), padded.parameters()) if p.grad is not None]
    assert grads and all(float((g - h).abs().max()) <= 1e-4 * max(1.0, float(h.abs().max())) for g, h in grads)


def test_packed_rows_in_parallel_tasks_equal_one_thread():
    """With 2 torch threads, inference sends groups of rows through the blocks as parallel tasks: same values."""
    from genofm.backbones.dnabert2_model import _row_groups

    assert _row_groups([(0, 10), (10, 11), (11, 20), (20, 21)], 2) == [([(0, 10), (10, 11)], (0, 11)), ([(11, 20), (20, 21)], (11, 21))]
    assert _row_groups([(0, 5)], 2) == [([(0, 5)], (0, 5))]
    torch.manual_seed(3)
    cfg = DNABERT2Config(vocab_size=30, hidden_size=24, num_hidden_layers=2, num_attention_heads=6, intermediate_size=40)
    model = DNABERT2Model(cfg).eval()
    lengths = [13, 1, 7, 13, 4, 9]
    ids = torch.randint(5, 30, (6, 13))
    mask = (torch.arange(13)[None] < torch.tensor(lengths)[:, None]).long()
    ids = ids * mask
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.inference_mode():
            single, _ = model(ids, mask)
        torch.set_num_threads(2)
        with torch.inference_mode():
            parallel, _ = model(ids, mask)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert float((single - parallel).abs().max()) <= 1e-6
    dense = torch.ones_like(mask)  # no padding: the padded path on one thread, row tasks on two
    try:
        torch.set_num_threads(1)
        with torch.inference_mode():
            single, _ = model(ids.clamp(min=5), dense)
        torch.set_num_threads(2)
        with torch.inference_mode():
            parallel, _ = model(ids.clamp(min=5), dense)
    finally:
        torch.set_num_threads(threads)
    assert float((single - parallel).abs().max()) <= 1e-5


def test_unpadding_refuses_left_padding():
    cfg = DNABERT2Config(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=4)
    mask = torch.tensor([[0, 1, 1], [1, 1, 1]])
    with pytest.raises(ValueError, match="one run at the start"):
        DNABERT2Model(cfg).eval()(torch.ones(2, 3, dtype=torch.long), mask)


def test_state_dict_keys_follow_official_names():
    keys = set(DNABERT2Model(DNABERT2Config(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=4)).state_dict())
    for key in (
        "embeddings.word_embeddings.weight", "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
        "encoder.layer.0.attention.self.Wqkv.weight", "encoder.layer.0.attention.output.dense.bias",
        "encoder.layer.0.attention.output.LayerNorm.weight", "encoder.layer.0.mlp.gated_layers.weight",
        "encoder.layer.0.mlp.wo.weight", "encoder.layer.0.mlp.layernorm.bias",
    ):
        assert key in keys
    assert "encoder.layer.0.mlp.gated_layers.bias" not in keys
    assert not any("alibi" in k or "position" in k for k in keys)


@pytest.mark.parametrize("variant", ["head", "tied", "nohead", "bin"])
def test_official_layout_variants_load_identically(folder, tmp_path, variant):
    kwargs = {"head": {}, "tied": {"tied_decoder": True}, "nohead": {"mlm_head": False}, "bin": {"fmt": "bin"}}[variant]
    other = write_dnabert2(tmp_path / variant, **kwargs)
    names = {p.name for p in other.iterdir()}
    assert {"config.json", "tokenizer.json"} <= names
    assert ("pytorch_model.bin" if variant == "bin" else "model.safetensors") in names
    seqs = ["ACGTTGCAACGGTACCA" * 3, "TTGACA"]
    ref = DNABERT2Backbone(LMOptions(), folder).embed_batch(seqs)
    got = DNABERT2Backbone(LMOptions(), other).embed_batch(seqs)
    np.testing.assert_allclose(got, ref, atol=1e-6)


def test_tokenizer_special_ids_are_read_from_file(folder):
    _, tok = load_dnabert2(folder)
    spec = json.loads((folder / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in spec["added_tokens"]}
    assert tok.prefix == [ids["[CLS]"]] and tok.suffix == [ids["[SEP]"]] and tok.pad_id == ids["[PAD]"]
    (enc,) = tok.tokenize_many(["acgtnacgt"])
    assert enc.spans[0, 0] == 0 and enc.spans[-1, 1] == 9  # offsets cover the sequence, lower case accepted


def _rewrite_state(folder, edit):
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    state = load_file(str(path))
    edit(state)
    save_file(state, str(path))


def test_bad_folders_fail_with_one_line_naming_the_problem(folder, tmp_path):
    import shutil

    with pytest.raises(GenofmError, match="must be a model folder"):
        load_dnabert2(folder / "config.json")

    no_tok = tmp_path / "no_tok"
    shutil.copytree(folder, no_tok)
    (no_tok / "tokenizer.json").unlink()
    with pytest.raises(GenofmError, match="tokenizer.json"):
        load_dnabert2(no_tok)

    no_weights = tmp_path / "no_weights"
    shutil.copytree(folder, no_weights)
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(GenofmError, match="no model.safetensors or pytorch_model.bin"):
        load_dnabert2(no_weights)

    shape = tmp_path / "shape"
    shutil.copytree(folder, shape)
    cfg = json.loads((shape / "config.json").read_text())
    cfg["intermediate_size"] = 48
    (shape / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(GenofmError, match=r"encoder\.layer\.0\.mlp\.gated_layers\.weight.*shape") as err:
        load_dnabert2(shape)
    assert "\n" not in str(err.value) and "model.safetensors" in str(err.value)

    missing = tmp_path / "missing"
    shutil.copytree(folder, missing)
    _rewrite_state(missing, lambda s: s.pop("bert.encoder.layer.1.mlp.wo.bias"))
    with pytest.raises(GenofmError, match=r"missing tensor 'encoder\.layer\.1\.mlp\.wo\.bias'"):
        load_dnabert2(missing)

    extra = tmp_path / "extra"
    shutil.copytree(folder, extra)
    _rewrite_state(extra, lambda s: s.update({"bert.encoder.layer.7.mystery": torch.zeros(2)}))
    with pytest.raises(GenofmError, match=r"unexpected tensor 'encoder\.layer\.7\.mystery'"):
        load_dnabert2(extra)


def test_pickled_objects_are_never_executed(folder, tmp_path):
    import shutil

    evil = tmp_path / "evil"
    shutil.copytree(folder, evil)
    (evil / "model.safetensors").unlink()
    torch.save({"bert.embeddings.word_embeddings.weight": torch.zeros(2), "payload": _Payload()}, evil / "pytorch_model.bin")
    with pytest.raises(GenofmError, match="holds pickled Python code .*which genofm will not run; pass a safetensors file"):
        load_dnabert2(evil)


class _Payload:
    """An arbitrary object: weights_only unpickling must refuse it."""


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_fused_bf16_embeddings_match_cpu(folder):
    seqs = ["ACGTTGCAACGGTACCA" * 8, "TTGACATGCAGT" * 3]
    cpu = DNABERT2Backbone(LMOptions(), folder).embed_batch(seqs)
    gpu = DNABERT2Backbone(LMOptions(), folder, device="cuda", precision="bf16")
    assert gpu.precision == "bf16"
    np.testing.assert_allclose(gpu.embed_batch(seqs), cpu, atol=5e-2, rtol=5e-2)
    fp32 = DNABERT2Backbone(LMOptions(), folder, device="cuda", precision="fp32")
    np.testing.assert_allclose(fp32.embed_batch(seqs), cpu, atol=1e-4)
