"""Proves, at image build time, that the installed dependency stack works on CPU.

Run after the dependencies are installed (and, in the CPU image, after prune_cuda_libs.py removed
the CUDA files torch does not load at start), so a broken wheel or an over-eager prune fails the
build instead of a user's first run. It covers the operations genofm's backbones, heads and
explanations rely on: convolutions with gradients, transformer encoders and decoders, bf16 matmul,
FFT and SVD, Integrated Gradients, scikit-learn, HDF5, Parquet, FASTA indexing and JASPAR.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def check_torch() -> None:
    import torch

    torch.manual_seed(0)
    x = torch.randn(4, 4, 200, requires_grad=True)
    net = torch.nn.Sequential(
        torch.nn.Conv1d(4, 8, 9, padding=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool1d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, 2),
    )
    net(x).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    assert torch.linalg.svd(torch.randn(12, 6)).S.shape == (6,)
    assert torch.fft.rfft(torch.randn(64)).shape == (33,)
    a = torch.randn(16, 16, dtype=torch.bfloat16)
    assert (a @ a).dtype == torch.bfloat16

    from captum.attr import IntegratedGradients

    attr = IntegratedGradients(net).attribute(x.detach(), target=0, n_steps=4)
    assert attr.shape == x.shape
    print(f"torch {torch.__version__} (cuda build {torch.version.cuda}): ok on CPU")


def check_transformers() -> None:
    import torch
    from transformers import BertConfig, BertModel, GPT2Config, GPT2Model

    ids = torch.randint(0, 50, (2, 12))
    bert = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                num_attention_heads=2, intermediate_size=32))
    assert bert(ids).last_hidden_state.shape == (2, 12, 16)
    gpt = GPT2Model(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2,
                               bos_token_id=0, eos_token_id=0))
    assert gpt(ids).last_hidden_state.shape == (2, 12, 16)
    print("transformers: ok")


def check_data_stack() -> None:
    import h5py
    import numpy as np
    import pandas as pd
    import pysam
    from pyjaspar import jaspardb
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    labels = (features[:, 0] > 0).astype(int)
    assert LogisticRegression().fit(features, labels).score(features, labels) > 0.8
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with h5py.File(tmp / "x.h5", "w") as handle:
            handle["x"] = features
        pd.DataFrame({"id": ["a", "b"], "label": [0, 1]}).to_parquet(tmp / "x.parquet")
        assert len(pd.read_parquet(tmp / "x.parquet")) == 2
        (tmp / "x.fa").write_text(">chr1\nACGTACGT\n")
        pysam.faidx(str(tmp / "x.fa"))  # genofm reads genomes with pysam
        assert pysam.FastaFile(str(tmp / "x.fa")).fetch("chr1", 2, 6) == "GTAC"
    assert jaspardb().fetch_motif_by_id("MA0139.2") is not None  # CTCF, from the bundled sqlite
    print("numpy/pandas/pyarrow/h5py/pysam/scikit-learn/pyjaspar: ok")


if __name__ == "__main__":
    check_torch()
    check_transformers()
    check_data_stack()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    print("smoke test passed")
