"""Throughput and padding waste of the language-model backbones, against in-run references.

For each backbone (DNABERT-2, DNABERT-6, GPT-2 DNA) and size (tiny test models and the published
sizes with random weights, written in the official folder layouts) this embeds a realistic mix of
sequence lengths (log-normal, median 350 bp, 80-2,000 bp) and reports:

* sequences/s and tokens/s (real tokens, specials included) with length bucketing, and the same
  with bucketing off (tiles batched in input order): the ratio is what bucketing buys;
* the share of padded token slots with and without bucketing;
* a reference in the same run: DNABERT-2 on packed real tokens (default) vs the same model
  computing every padded slot (``unpad=False``; the official unpadding scheme is compared in
  ``bench_dnabert2.py``), and for the stock BERT / GPT-2 models SDPA vs transformers' eager
  attention.

Every figure is a ratio to a reference measured in the same process, so machine load cancels
out to first order. Default run: a few minutes on 2 CPU cores.

    python benchmarks/bench_lm.py [--sizes tiny,full] [--models dnabert2,dnabert6,gpt2dna] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genofm.backbones import backbone_class
from genofm.backbones.lm_common import make_rows, padding_fraction, plan_batches
from genofm.heap import keep_freed_memory
from genofm.testing.tiny_lm import write_model


def length_mix(n: int, rng: np.random.Generator) -> np.ndarray:
    """Peak/region-like lengths: log-normal around 350 bp, clipped to 80-2,000 bp."""
    return np.clip(np.exp(rng.normal(np.log(350), 0.7, n)), 80, 2000).astype(int)


def random_dna(lengths: np.ndarray, rng: np.random.Generator) -> list[str]:
    letters = np.array(list("ACGT"))
    return ["".join(letters[rng.integers(0, 4, n)]) for n in lengths]


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def bench_one(name: str, size: str, folder: Path, seqs: list[str], device: str, repeats: int, batch_rows: int) -> dict:
    cls = backbone_class(name)
    backbone = cls(cls.Options(batch_rows=batch_rows), folder, device=device, precision="auto")
    rows = make_rows(backbone.tokenizer.tokenize_many(seqs), backbone.tokenizer, backbone.window, backbone.options.overlap)
    lengths = rows.lengths
    pad_bucketed = padding_fraction(lengths, plan_batches(lengths, backbone.batch_tokens, True, backbone.batch_rows))
    pad_plain = padding_fraction(lengths, plan_batches(lengths, backbone.batch_tokens, False, backbone.batch_rows))
    tokens = int(lengths.sum())

    backbone.embed_batch(seqs[:4])  # warm-up (allocator, kernels)
    backbone.options.bucket = True
    t_bucketed = timed(lambda: backbone.embed_batch(seqs), repeats)
    backbone.options.bucket = False
    t_plain = timed(lambda: backbone.embed_batch(seqs), repeats)
    backbone.options.bucket = True

    if name == "dnabert2":  # the official scheme is compared in bench_dnabert2.py; here: unpadding vs padded batches
        reference_label, fast_label = "padded batches", "unpadded"
        backbone.encoder.unpad = False
        backbone.embed_batch(seqs[:4])
        t_reference = timed(lambda: backbone.embed_batch(seqs), repeats)
        backbone.encoder.unpad = True
    else:
        reference_label, fast_label = "HF eager attention", "HF SDPA"
        eager, _ = cls.load(folder, "eager")
        backbone.encoder = eager.to(backbone.torch_device).eval()
        backbone.embed_batch(seqs[:4])
        t_reference = timed(lambda: backbone.embed_batch(seqs), repeats)

    n_params = sum(p.numel() for p in backbone.encoder.parameters())
    return {
        "model": name,
        "size": size,
        "parameters_M": round(n_params / 1e6, 2),
        "device": str(backbone.torch_device),
        "precision": backbone.precision,
        "sequences": len(seqs),
        "batch_rows": backbone.batch_rows,
        "tiles": len(rows.ids),
        "tokens": tokens,
        "tokens_per_bp": round(tokens / sum(len(s) for s in seqs), 3),
        "seq_per_s": len(seqs) / t_bucketed,
        "tokens_per_s": tokens / t_bucketed,
        "seq_per_s_unbucketed": len(seqs) / t_plain,
        "speedup_bucketing": t_plain / t_bucketed,
        "padding_bucketed": pad_bucketed,
        "padding_unbucketed": pad_plain,
        "attention_default": fast_label,
        "attention_reference": reference_label,
        "speedup_vs_attention_reference": t_reference / t_bucketed,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="dnabert2,dnabert6,gpt2dna", help="comma-separated backbones")
    parser.add_argument("--sizes", default="tiny,full", help="tiny and/or full (published sizes, random weights)")
    parser.add_argument("--n-tiny", type=int, default=256, help="sequences per tiny-model run")
    parser.add_argument("--n-full", type=int, default=24, help="sequences per full-size run")
    parser.add_argument("--batch-rows", type=int, default=8, help="tiles per forward pass (0: the backbone default, 16 on CPU)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=1, help="timings per setting (the fastest is kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as the genofm tools do (genofm.cli.common.run_app)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_lm_") as tmp:
        for size in args.sizes.split(","):
            n = args.n_tiny if size == "tiny" else args.n_full
            seqs = random_dna(length_mix(n, rng), rng)
            for name in args.models.split(","):
                start = time.perf_counter()
                folder = write_model(name, Path(tmp) / f"{name}_{size}", size=size)
                setup = time.perf_counter() - start
                result = bench_one(name, size, folder, seqs, args.device, args.repeats, args.batch_rows)
                result["setup_s"] = round(setup, 1)
                results.append(result)
                print(
                    f"{name:9s} {size:5s} {result['parameters_M']:7.2f}M {result['device']:4s} {result['precision']:4s} | "
                    f"{result['seq_per_s']:8.2f} seq/s {result['tokens_per_s']:9.0f} tok/s | "
                    f"bucketing x{result['speedup_bucketing']:.2f} (padding {result['padding_bucketed']:.1%} vs {result['padding_unbucketed']:.1%}) | "
                    f"{result['attention_default']} vs {result['attention_reference']}: x{result['speedup_vs_attention_reference']:.2f}",
                    flush=True,
                )
                if size == "full":
                    import shutil

                    shutil.rmtree(folder)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
