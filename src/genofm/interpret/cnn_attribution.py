"""Which bases drive the from-scratch CNN's calls, and which known motifs sit there.

Per-base scores for each sequence's own class (its label, else the model's call), from one of
three methods (``genofm-interpret model -O method=``):

* ``ig`` (default): integrated gradients (captum) on the one-hot input from the all-N baseline
  (all-zero columns, what padding looks like to the network); with a zero baseline only the
  present base's channel is non-zero, so the channel sum is that base's contribution.
* ``gxi``: gradient x input, a one-pass approximation of ``ig``.
* ``ism``: in-silico mutagenesis - for every position, the own-class logit minus its mean over
  the three possible substitutions (positive: the base supports the call); 4 x window forward
  passes per sequence, so keep ``max_sequences`` modest.

When the model predicts strand-averaged probabilities, the explained function is the logit
averaged over both strands. Scores over the model's window are mapped back onto each sequence
(padding dropped; bases cropped off a long sequence score 0) and L2-normalised. From there the
report is the one the fine-tuned language models get (:func:`genofm.interpret.attention.site_sections`):
high-scoring runs, JASPAR matches and their per-class enrichment.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from genofm.errors import GenofmError
from genofm.interpret import ExplainContext, ReportSection
from genofm.interpret.attention import AttentionSettings, Explained, explained_rows, site_sections
from genofm.options import option

log = logging.getLogger("genofm.interpret")

METHODS = ("ig", "gxi", "ism")


@dataclasses.dataclass
class CNNExplainSettings(AttentionSettings):
    """``genofm-interpret -O key=value`` options for the cnn (site and motif options as for language models)."""

    methods: typing.ClassVar[tuple[str, ...]] = METHODS
    subject: typing.ClassVar[str] = "cnn interpretation"

    method: str = option("ig", "ig (integrated gradients from the all-N baseline), gxi (gradient x input) or ism (in-silico mutagenesis)")
    batch_size: int = option(64, "sequences per attribution batch")


def to_sequence(window: np.ndarray, n: int) -> np.ndarray:
    """Scores over a centre-padded/cropped window -> scores over the sequence's own ``n`` bases."""
    length = window.shape[0]
    if n <= length:
        left = (length - n) // 2
        return window[left : left + n].copy()
    out = np.zeros(n, dtype=window.dtype)
    start = (n - length) // 2
    out[start : start + length] = window
    return out


def _ism(module: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """(B, L) own-class logit minus its mean over the three substitutions at each position (0 at N)."""
    n, _, length = x.shape
    scores = torch.zeros(n, length, device=x.device)
    eye = torch.eye(4, device=x.device)
    positions = torch.arange(length, device=x.device).repeat_interleave(4)
    bases = torch.arange(4, device=x.device).repeat(length)
    with torch.no_grad():
        for b in range(n):
            mutants = x[b].unsqueeze(0).repeat(4 * length, 1, 1)
            mutants[torch.arange(4 * length), :, positions] = eye[bases]
            logits = torch.cat([module(mutants[i : i + chunk])[:, targets[b]] for i in range(0, 4 * length, chunk)])
            logits = logits.view(length, 4).float()
            present = x[b].T  # (L, 4) one-hot; all-zero at N
            ref = (logits * present).sum(1)
            alternatives = (logits * (1 - present)).sum(1) / 3
            scores[b] = torch.where(present.sum(1) > 0, ref - alternatives, torch.zeros_like(ref))
    return scores


def base_scores(trainer, sequences: Sequence[str], targets: Sequence[int], settings: CNNExplainSettings) -> list[np.ndarray]:
    """Per-base importance of each sequence (length len(sequence)), L2-normalised."""
    from captum.attr import InputXGradient, IntegratedGradients

    module = trainer.explained_module().eval()
    codes = trainer.codes(list(sequences))
    window = np.zeros((len(sequences), trainer.length))
    size = max(1, settings.batch_size)
    for start in range(0, len(sequences), size):
        x = trainer.onehot(codes[start : start + size])
        t = torch.tensor(list(targets[start : start + size]), device=x.device)
        if settings.method == "ism":
            attr = _ism(module, x, t)
        elif settings.method == "ig":
            attr = IntegratedGradients(module).attribute(
                x, baselines=torch.zeros_like(x), target=t, n_steps=settings.n_steps, internal_batch_size=size
            ).sum(1)
        else:
            attr = InputXGradient(module).attribute(x.requires_grad_(True), target=t).sum(1)
        window[start : start + len(x)] = attr.detach().float().cpu().numpy()
    scores = []
    for seq, w in zip(sequences, window):
        values = to_sequence(w, len(seq))
        norm = np.linalg.norm(values)
        scores.append(values / norm if norm > 0 else values)
    return scores


def explain_cnn(model_dir: Path, frame: pd.DataFrame | None, context: ExplainContext) -> list[ReportSection]:
    """IG/ISM base scores of the cnn, candidate sites, JASPAR matches and their class enrichment."""
    from genofm.finetune.cnn import CNNTrainer

    settings = CNNExplainSettings.from_options(context.options)
    frame = explained_rows(frame, context, settings, "the cnn")
    config = (context.model.get("finetune") or {}).get("config")
    if not config:
        raise GenofmError(f"{model_dir}: model.json has no cnn configuration; re-run genofm-train --finetune cnn")
    trainer = CNNTrainer.load(Path(model_dir), config, None, settings.device)
    classes = list(trainer.classes)
    rows = Explained.of(frame, trainer.predict_proba(frame), classes)
    log.info("scoring %d sequences by %s", len(rows.sequences), settings.method)
    scores = base_scores(trainer, rows.sequences, rows.targets, settings)
    strands = "the logit averaged over both strands" if trainer.cnn_options.strand_average else "the logit"
    source = {
        "ig": f"integrated gradients of {strands} ({settings.n_steps} steps from the all-N baseline) for each sequence's own class",
        "gxi": f"gradient x input of {strands} for each sequence's own class",
        "ism": f"in-silico mutagenesis: {strands} of each sequence's own class minus its mean over the three substitutions",
    }[settings.method]
    return site_sections(rows, scores, classes, settings, Path(context.out_dir), subject="CNN", prefix="cnn", source=source)


explain_cnn.options = CNNExplainSettings  # its -O keys (genofm.interpret.model_report checks them)
