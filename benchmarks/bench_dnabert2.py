"""DNABERT-2 on padded and dense batches: genofm against the official unpadding scheme, same run.

The reference below is written independently of genofm, following the structure of the official
remote code (MosaicBERT ``bert_layers.py`` without triton, i.e. its PyTorch attention path):
embeddings on the padded batch, then ``unpad_input`` (a gather of the real tokens), the dense
layers on the packed (N, 768) tokens, and for attention in every layer ``pad_input`` back to
(B, T), a (B, heads, T, T) bias (ALiBi + -10000 on padded keys), softmax, and ``unpad_input_only``.
Both models share the same parameter tensors (published size, random init).

Workloads: a padded batch (16 rows x 256 tokens, ~59 % real tokens, lengths uniform in 46-256)
and a dense batch (16 x 256, no padding). Reported: time per batch, tokens/s, the ratio to the
reference, max |difference| on real tokens, FLOPs per batch counted from the architecture (real
tokens only), the achieved rate as a fraction of a large fp32 matmul measured in the same run,
and the load average. Repeats are interleaved (order rotated) so that every implementation
shares the machine's load alike. genofm is run with unpadding and parallel row tasks (default), on padded batches also with
``row_tasks=False`` (packed rows, PyTorch's intra-op threads: the implementation before row tasks),
and with ``unpad=False`` (every padded slot computed: the implementation before unpadding).

    python benchmarks/bench_dnabert2.py [--rows 16] [--tokens 256] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from genofm.backbones.dnabert2_model import DNABERT2Config, DNABERT2Model
from genofm.heap import keep_freed_memory
from roofline import best_times, describe, load_average, machine_peak


# --- the reference: the official unpadding scheme --------------------------------------------------

def unpad_input(hidden: torch.Tensor, mask: torch.Tensor):
    indices = torch.nonzero(mask.flatten(), as_tuple=False).flatten()
    return hidden.reshape(-1, *hidden.shape[2:])[indices], indices


def pad_input(packed: torch.Tensor, indices: torch.Tensor, batch: int, length: int) -> torch.Tensor:
    out = torch.zeros(batch * length, *packed.shape[1:], dtype=packed.dtype, device=packed.device)
    out[indices] = packed
    return out.view(batch, length, *packed.shape[1:])


def reference_alibi(heads: int, length: int) -> torch.Tensor:
    def slopes_power_of_2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(heads).is_integer():
        slopes = slopes_power_of_2(heads)
    else:
        closest = 2 ** math.floor(math.log2(heads))
        slopes = slopes_power_of_2(closest) + slopes_power_of_2(2 * closest)[0::2][: heads - closest]
    context = torch.arange(length)[:, None]
    memory = torch.arange(length)[None, :]
    relative = torch.abs(memory - context).unsqueeze(0).expand(heads, -1, -1)
    return (torch.tensor(slopes)[:, None, None] * -relative).unsqueeze(0)  # (1, heads, T, T)


def reference_forward(state: dict, cfg: DNABERT2Config, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last hidden state (B, T, H) as the official PyTorch path computes it (padded slots 0)."""
    F = torch.nn.functional
    H, heads = cfg.hidden_size, cfg.num_attention_heads
    d = H // heads
    batch, length = input_ids.shape
    emb = F.embedding(input_ids, state["embeddings.word_embeddings.weight"]) + state["embeddings.token_type_embeddings.weight"][0]
    hidden = F.layer_norm(emb, (H,), state["embeddings.LayerNorm.weight"], state["embeddings.LayerNorm.bias"], cfg.layer_norm_eps)
    extended = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
    bias = extended + reference_alibi(heads, length)
    hidden, indices = unpad_input(hidden, attention_mask.bool())
    for i in range(cfg.num_hidden_layers):
        p = lambda name: state[f"encoder.layer.{i}.{name}"]  # noqa: E731
        qkv = F.linear(hidden, p("attention.self.Wqkv.weight"), p("attention.self.Wqkv.bias"))
        qkv = pad_input(qkv, indices, batch, length).view(batch, length, 3, heads, d)
        q = qkv[:, :, 0].permute(0, 2, 1, 3)
        k = qkv[:, :, 1].permute(0, 2, 3, 1)
        v = qkv[:, :, 2].permute(0, 2, 1, 3)
        scores = torch.matmul(q, k) / math.sqrt(d) + bias
        probs = torch.softmax(scores, dim=-1)
        attention = torch.matmul(probs, v).permute(0, 2, 1, 3)  # (B, T, heads, d)
        attention = attention.reshape(batch * length, heads, d)[indices].reshape(-1, H)
        attn_out = F.linear(attention, p("attention.output.dense.weight"), p("attention.output.dense.bias"))
        hidden = F.layer_norm(attn_out + hidden, (H,), p("attention.output.LayerNorm.weight"), p("attention.output.LayerNorm.bias"), cfg.layer_norm_eps)
        residual = hidden
        h = F.linear(hidden, p("mlp.gated_layers.weight"))
        gated, non_gated = h[:, : cfg.intermediate_size], h[:, cfg.intermediate_size :]
        h = F.gelu(gated) * non_gated
        h = F.linear(h, p("mlp.wo.weight"), p("mlp.wo.bias"))
        hidden = F.layer_norm(h + residual, (H,), p("mlp.layernorm.weight"), p("mlp.layernorm.bias"), cfg.layer_norm_eps)
    return pad_input(hidden, indices, batch, length)


def layer_flops(cfg: DNABERT2Config, lengths: np.ndarray) -> int:
    """FLOPs of the encoder on real tokens: dense layers per token, attention per row (QK^T and PV)."""
    H, inter = cfg.hidden_size, cfg.intermediate_size
    per_token = 2 * (H * 3 * H + H * H + H * 2 * inter + inter * H)
    attention = sum(2 * 2 * int(n) * int(n) * H for n in lengths)
    return cfg.num_hidden_layers * (per_token * int(lengths.sum()) + attention)


# --- harness ---------------------------------------------------------------------------------------

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=256, help="padded width T")
    parser.add_argument("--min-tokens", type=int, default=46, help="shortest row of the padded batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--size", choices=("full", "tiny"), default="full", help="published 117M size, or a tiny model (smoke test)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    keep_freed_memory()  # as the genofm tools do (genofm.cli.common.run_app)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = DNABERT2Config() if args.size == "full" else DNABERT2Config(vocab_size=64, hidden_size=48, num_hidden_layers=2, num_attention_heads=12, intermediate_size=96)
    model = DNABERT2Model(cfg).eval()
    for module in model.modules():  # BERT-like init so activations have realistic scale
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    peak = machine_peak("cpu")
    print(f"# DNABERT-2 {args.size} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, random init), "
          f"threads={torch.get_num_threads()}; peak {peak}, same run; {load_average()}")
    rng = np.random.default_rng(0)
    padded_lengths = rng.integers(args.min_tokens, args.tokens + 1, args.rows)
    padded_lengths[0] = args.tokens
    workloads = {"padded": padded_lengths, "dense": np.full(args.rows, args.tokens)}
    results = {"peak_flops": dataclasses.asdict(peak), "workloads": {}}
    print(f"{'workload':8s} {'implementation':26s} {'ms/batch':>9s} {'cpu s':>7s} {'tok/s':>8s} {'x ref':>6s} {'x cpu':>6s} {'max|diff|':>9s}  achieved (real-token FLOPs)")
    for name, lengths in workloads.items():
        ids = torch.from_numpy(rng.integers(5, cfg.vocab_size, (args.rows, args.tokens)))
        mask = (torch.arange(args.tokens)[None] < torch.from_numpy(lengths)[:, None]).long()
        ids = ids * mask
        real = mask.bool()
        flops = layer_flops(cfg, lengths)
        runners = {"reference (official unpad)": lambda: reference_forward(state, cfg, ids, mask)}

        def genofm(unpad: bool, row_tasks: bool = True):
            model.unpad, model.row_tasks = unpad, row_tasks
            return model(ids, mask)[0]

        runners["genofm"] = lambda: genofm(True)
        if name == "padded":  # on dense batches row_tasks=False is the padded path, i.e. unpad=False
            runners["genofm intra-op (before)"] = lambda: genofm(True, row_tasks=False)
        runners["genofm unpad=False (before)"] = lambda: genofm(False)
        row = {"load": load_average(), "flops_per_batch": flops, "real_fraction": float(real.float().mean())}
        with torch.inference_mode():
            figures = best_times(runners, args.repeats)
        model.unpad, model.row_tasks = True, True
        ref_wall, ref_cpu, ref_out = figures["reference (official unpad)"]
        for key, (wall, cpu, out) in figures.items():
            diff = float((out[real] - ref_out[real]).abs().max())
            row[key] = {"s": wall, "cpu_s": cpu, "speedup": ref_wall / wall, "speedup_cpu": ref_cpu / cpu, "max_abs_diff": diff}
            print(f"{name:8s} {key:26s} {wall * 1e3:9.0f} {cpu:7.2f} {int(lengths.sum()) / wall:8.0f} {ref_wall / wall:6.2f} "
                  f"{ref_cpu / cpu:6.2f} {diff:9.2e}  {describe(flops, 1, wall, peak, cpu)}")
        print(f"#        {name}: {args.rows} x {args.tokens} tokens, {row['real_fraction']:.0%} real, {flops / 1e9:.1f} GFLOP per batch; {row['load']}")
        target = 1.2 if name == "padded" else 1.0
        fig = row["genofm"]
        verdict = "met" if fig["speedup"] >= target and fig["max_abs_diff"] <= 1e-5 else "NOT met"
        print(f"# target ({name}): genofm >= {target}x the reference (wall), max|diff| <= 1e-5: {fig['speedup']:.2f}x wall "
              f"({fig['speedup_cpu']:.2f}x CPU-s), max|diff| {fig['max_abs_diff']:.2e}: {verdict}")
        results["workloads"][name] = row
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
