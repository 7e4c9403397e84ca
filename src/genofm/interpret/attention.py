"""Which bases drive a fine-tuned DNA language model's calls, and which known motifs sit there.

Per-base scores come from one of three sources (option ``method``):

* ``attention`` (default, the seed paper's score): last-layer attention from the summary token
  to every token, summed over heads. BERT models use [CLS]; GPT-2 has no [CLS] and is causal, so
  the last real token (the only one that sees the whole window) is used instead.
* ``ig``: integrated gradients (captum ``LayerIntegratedGradients`` on the token-embedding
  output) of the logit of the sequence's own class, from a baseline where every content token is
  replaced by padding while the special tokens stay; summed over embedding dimensions.
* ``gxi``: gradient x embedding, a one-pass approximation of ``ig``.

A token's score is spread evenly over the bases it covers (tokenizer offsets; a 6-mer covers 6
bases, a BPE token a variable number), so per-base scores keep the token's total. Special tokens
and padding never receive a score. Bases covered by several tiles of a long sequence get the mean
over tiles. Scores are L2-normalised per sequence. A tile is explained through its own logit,
which for a sequence that fits one window is the model's call itself.
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

from genofm.backbones.lm_common import collate, make_rows, plan_batches
from genofm.errors import GenofmError
from genofm.options import from_pairs, option
from genofm.interpret import ExplainContext, ReportSection
from genofm.interpret.attention_sites import enrichment, high_score_runs, scan, select_motifs, thresholds
from genofm.interpret.jaspar import DEFAULT_RELEASE
from genofm.interpret.logos import hotspot_logo_figure, motif_logo_figure

log = logging.getLogger("genofm.interpret")

METHODS = ("attention", "ig", "gxi")


@dataclasses.dataclass
class AttentionSettings:
    """``genofm-interpret -O key=value`` options for fine-tuned language models."""

    #: accepted values of ``method`` and what the options are for (error messages)
    methods: typing.ClassVar[tuple[str, ...]] = METHODS
    subject: typing.ClassVar[str] = "language-model interpretation"

    method: str = option("attention", "attention (last-layer summary-token attention), ig (integrated gradients) or gxi (gradient x embedding)")
    split: str = option("test", "dataset split whose sequences are explained (train, valid, test or all)")
    max_sequences: int = option(300, "sequences explained at most, sampled per class with the run's seed")
    n_steps: int = option(20, "integration steps for method=ig")
    batch_tokens: int = option(8192, "padded tokens per forward pass while explaining")
    site_min_length: int = option(8, "shortest run of high-scoring bases that counts as a candidate site")
    site_flank: int = option(4, "bases added on each side of a run")
    site_z: typing.Optional[float] = option(
        None, "run threshold mean + site_z x SD of a sequence's scores; unset: above the mean and 10x the minimum "
        "for attention (the seed paper's rule), mean + 1 SD for ig/gxi"
    )
    motif_pvalue: float = option(1e-4, "match p-value cut-off of a motif scan under a uniform background")
    motif_ids: str = option("", "comma-separated JASPAR matrix ids to scan instead of all CORE vertebrate matrices")
    jaspar_release: str = option(DEFAULT_RELEASE, "JASPAR release bundled with pyjaspar")
    fdr: float = option(0.05, "false discovery rate at which an enriched motif counts as significant")
    examples: int = option(4, "example sequences drawn with their score tracks")
    device: str = option("auto", "auto, cpu or cuda")

    @classmethod
    def from_options(cls, options: dict[str, str]) -> "AttentionSettings":
        settings = from_pairs(cls, options, cls.subject)
        if settings.method not in cls.methods:
            raise GenofmError(f"interpretation option method={settings.method!r}; choose one of {list(cls.methods)}")
        if settings.split not in ("train", "valid", "test", "all"):
            raise GenofmError(f"interpretation option split={settings.split!r}; choose train, valid, test or all")
        return settings


# --- per-base scores ------------------------------------------------------------------------------
def spread_to_bases(token_scores: np.ndarray, spans: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-base sums of token scores (each divided evenly over its bases) and a coverage mask.

    Tokens with span (-1, -1) (special tokens) and anything past ``spans`` (padding) are ignored.
    """
    sums = np.zeros(length, dtype=np.float64)
    covered = np.zeros(length, dtype=bool)
    spans = np.asarray(spans)
    real = spans[:, 0] >= 0
    starts, ends = spans[real, 0], np.minimum(spans[real, 1], length)
    widths = np.maximum(ends - starts, 0)
    scores = np.asarray(token_scores, dtype=np.float64)[: len(spans)][real]
    keep = widths > 0
    starts, widths, scores = starts[keep], widths[keep], scores[keep]
    if len(starts):
        bases = np.repeat(starts, widths) + (np.arange(widths.sum()) - np.repeat(np.cumsum(widths) - widths, widths))
        np.add.at(sums, bases, np.repeat(scores / widths, widths))
        covered[bases] = True
    return sums, covered


def _summary_attention(attentions: torch.Tensor, mask: torch.Tensor, summary_position: str) -> torch.Tensor:
    """(B, heads, T, T) -> (B, T): attention from the summary token to each token, summed over heads."""
    summed = attentions.float().sum(1)
    if summary_position == "first":
        query = torch.zeros(mask.shape[0], dtype=torch.long, device=mask.device)
    else:
        query = mask.sum(1).long() - 1
    scores = summed[torch.arange(mask.shape[0], device=mask.device), query]
    return scores * mask.float()


def _gradient_scores(model, input_ids, mask, targets, method: str, n_steps: int, baseline_id: int, specials: torch.Tensor) -> torch.Tensor:
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    def forward(ids, attention_mask):
        return model(ids, attention_mask)

    layer = model.encoder.input_embeddings()
    if method == "ig":
        baseline = torch.where(specials | (mask == 0), input_ids, torch.full_like(input_ids, baseline_id))
        attr = LayerIntegratedGradients(forward, layer).attribute(
            input_ids, baselines=baseline, target=targets, additional_forward_args=(mask,), n_steps=n_steps, internal_batch_size=input_ids.shape[0]
        )
    else:
        attr = LayerGradientXActivation(forward, layer).attribute(input_ids, target=targets, additional_forward_args=(mask,))
    return attr.float().sum(-1).detach() * mask.float()


def position_scores(finetuner, sequences: Sequence[str], targets: Sequence[int], settings: AttentionSettings) -> list[np.ndarray]:
    """Per-base importance of each sequence (length len(sequence)), L2-normalised."""
    tokenizer, model = finetuner.tokenizer, finetuner.model
    model.eval()
    tokenized = tokenizer.tokenize_many(list(sequences))
    rows = make_rows(tokenized, tokenizer, finetuner.window, finetuner.settings.overlap)
    sums = [np.zeros(len(s)) for s in sequences]
    counts = [np.zeros(len(s)) for s in sequences]
    budget = settings.batch_tokens if settings.method != "ig" else max(1, settings.batch_tokens // max(1, settings.n_steps // 4))
    device = finetuner.device
    for batch in plan_batches(rows.lengths, budget):
        input_ids, mask = collate([rows.ids[i] for i in batch], tokenizer.pad_id, device)
        if settings.method == "attention":
            with torch.no_grad():
                _, attentions = model(input_ids, mask, output_attentions=True)
            token_scores = _summary_attention(attentions, mask, tokenizer.summary_position)
        else:
            row_targets = torch.tensor([targets[rows.seq_index[i]] for i in batch], device=device)
            special = np.zeros(tuple(input_ids.shape), dtype=bool)
            for j, i in enumerate(batch):
                special[j, : len(rows.spans[i])] = rows.spans[i][:, 0] < 0
            span_special = torch.from_numpy(special).to(device)
            token_scores = _gradient_scores(model, input_ids, mask, row_targets, settings.method, settings.n_steps, tokenizer.pad_id, span_special)
        token_scores = token_scores.cpu().numpy()
        for j, i in enumerate(batch):
            seq = rows.seq_index[i]
            s, covered = spread_to_bases(token_scores[j], rows.spans[i], len(sequences[seq]))
            sums[seq] += s
            counts[seq] += covered
    scores = []
    for s, c in zip(sums, counts):
        values = np.divide(s, c, out=np.zeros_like(s), where=c > 0)
        norm = np.linalg.norm(values)
        scores.append(values / norm if norm > 0 else values)
    return scores


def site_threshold(scores: np.ndarray, method: str, site_z: float | None) -> float:
    """Per-sequence cut-off for high-scoring runs."""
    if scores.size == 0:
        return np.inf
    if site_z is None and method == "attention":
        return float(max(scores.mean(), 10.0 * scores.min()))
    return float(scores.mean() + (1.0 if site_z is None else site_z) * scores.std())


# --- the report -----------------------------------------------------------------------------------
def _sample(frame: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if len(frame) <= limit:
        return frame.reset_index(drop=True)
    if "label" not in frame.columns or frame["label"].isna().all():
        return frame.sample(n=limit, random_state=seed).reset_index(drop=True)
    groups = frame.groupby("label", sort=True, group_keys=False)
    per_class = max(1, limit // groups.ngroups)
    parts = [g.sample(n=min(len(g), per_class), random_state=seed) for _, g in groups]
    return pd.concat(parts).reset_index(drop=True)


def _profiles(scores: list[np.ndarray], classes_of: np.ndarray, classes: list[str]) -> tuple[pd.DataFrame, str]:
    """Mean score per position (equal lengths) or per 1% of length (mixed lengths), per class."""
    lengths = {len(s) for s in scores}
    if len(lengths) == 1:
        positions = np.arange(lengths.pop())
        resampled = list(scores)
        axis = "position (bp)"
    else:
        positions = np.arange(100)
        resampled = [np.array([chunk.mean() if chunk.size else 0.0 for chunk in np.array_split(s, 100)]) for s in scores]
        axis = "relative position (% of length)"
    table = {"position": positions}
    for cls in classes:
        members = [r for r, c in zip(resampled, classes_of) if c == cls]
        if members:
            table[cls] = np.mean(members, axis=0)
    return pd.DataFrame(table), axis


def _plot_profiles(profile: pd.DataFrame, axis: str, path: Path, method: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2))
    for column in profile.columns[1:]:
        ax.plot(profile["position"], profile[column], label=str(column), linewidth=1.2)
    ax.set_xlabel(axis)
    ax.set_ylabel(f"mean {method} score")
    ax.set_title(f"Mean per-base {method} score by class")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_examples(examples: list[tuple[str, str, float, np.ndarray, list[tuple[int, int]]]], path: Path, method: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(examples), 1, figsize=(8, 1.6 * len(examples)), squeeze=False)
    for ax, (seq_id, label, prob, scores, sites) in zip(axes[:, 0], examples):
        ax.plot(np.arange(len(scores)), scores, color="black", linewidth=0.8)
        for start, end in sites:
            ax.axvspan(start, end, color="tab:orange", alpha=0.3, linewidth=0)
        ax.set_title(f"{seq_id} (class {label}, p={prob:.2f})", fontsize=8)
        ax.set_ylabel(method, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("position (bp); shaded: candidate motif sites")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def explained_rows(frame: pd.DataFrame | None, context: ExplainContext, settings: AttentionSettings, what: str) -> pd.DataFrame:
    """The dataset rows to explain: the chosen split, no augmented copies, at most ``max_sequences`` (per-class sample)."""
    if frame is None or len(frame) == 0:
        frame = context.dataset
    if frame is None or len(frame) == 0:
        raise GenofmError(f"explaining {what} needs sequences; pass --dataset (a prepared dataset)")
    if settings.split != "all" and "split" in frame.columns:
        frame = frame[frame["split"] == settings.split]
        if len(frame) == 0:
            raise GenofmError(f"the dataset has no {settings.split!r} rows to explain; choose -O split=train|valid|test|all")
    if "augmented" in frame.columns:
        frame = frame[~frame["augmented"].fillna(False).astype(bool)]
    return _sample(frame, settings.max_sequences, context.seed)


@dataclasses.dataclass
class Explained:
    """The explained rows with the model's calls: each row is explained through ``class_of`` (its label, else the call)."""

    ids: list[str]
    sequences: list[str]
    probs: np.ndarray
    predicted: np.ndarray
    known: np.ndarray
    class_of: np.ndarray
    targets: list[int]

    @classmethod
    def of(cls, frame: pd.DataFrame, probs: np.ndarray, classes: Sequence[str]) -> "Explained":
        predicted = np.array(classes)[probs.argmax(axis=1)]
        labels = frame["label"].astype(str).to_numpy() if "label" in frame.columns else np.array([""] * len(frame))
        known = np.isin(labels, classes)
        class_of = np.where(known, labels, predicted)
        index = {c: i for i, c in enumerate(classes)}
        ids = frame["id"].astype(str).tolist() if "id" in frame.columns else [f"seq{i}" for i in range(len(frame))]
        return cls(ids, frame["sequence"].astype(str).tolist(), probs, predicted, known, class_of, [index[c] for c in class_of])


def explain_finetuned(model_dir: Path, frame: pd.DataFrame | None, context: ExplainContext) -> list[ReportSection]:
    """Attention/IG position scores, candidate sites, JASPAR matches and their class enrichment."""
    from genofm.finetune.lm import LMFinetuner

    settings = AttentionSettings.from_options(context.options)
    frame = explained_rows(frame, context, settings, "a fine-tuned language model")
    if context.weights is None:
        raise GenofmError(f"{model_dir}: explaining a fine-tuned language model needs --weights, the base model folder it was fine-tuned from")
    finetuner = LMFinetuner.load(
        Path(model_dir), None, Path(context.weights), settings.device, attention="eager" if settings.method == "attention" else "fast"
    )
    classes = list(finetuner.classes)
    rows = Explained.of(frame, finetuner.predict_proba(frame), classes)
    log.info("scoring %d sequences by %s", len(rows.sequences), settings.method)
    scores = position_scores(finetuner, rows.sequences, rows.targets, settings)
    source = {
        "attention": "last-layer attention from the summary token ([CLS]; for GPT-2 the last token), summed over heads",
        "ig": f"integrated gradients on the token embeddings ({settings.n_steps} steps, padding baseline) for each sequence's own class",
        "gxi": "gradient x token embedding for each sequence's own class",
    }[settings.method]
    return site_sections(
        rows, scores, classes, settings, Path(context.out_dir),
        subject=f"Fine-tuned {finetuner.backbone}", prefix="lm",
        source=f"{source}; each token's score is spread evenly over its bases, special tokens and padding excluded",
    )


explain_finetuned.options = AttentionSettings  # its -O keys (genofm.interpret.model_report checks them)


def site_sections(rows: Explained, scores: list[np.ndarray], classes: list[str], settings: AttentionSettings, out_dir: Path,
                  subject: str, prefix: str, source: str) -> list[ReportSection]:
    """Per-base scores -> high-scoring runs -> JASPAR matches -> per-class enrichment, as two report sections.

    Shared by every model explained from sequence (fine-tuned language models, the CNN);
    ``prefix`` names its tables and figures, ``subject`` its section titles.
    """
    sequences, ids, class_of, probs = rows.sequences, rows.ids, rows.class_of, rows.probs
    index = {c: i for i, c in enumerate(classes)}
    site_rows, site_seqs, site_classes = [], [], []
    all_sites = []
    for i, (seq, s) in enumerate(zip(sequences, scores)):
        runs = high_score_runs(s, site_threshold(s, settings.method, settings.site_z), settings.site_min_length, settings.site_flank)
        all_sites.append(runs)
        for start, end in runs:
            site_rows.append(
                {
                    "id": ids[i],
                    "class": class_of[i],
                    "class_source": "label" if rows.known[i] else "predicted",
                    "predicted": rows.predicted[i],
                    "start": start,
                    "end": end,
                    "mean_score": float(s[start:end].mean()),
                    "site": seq[start:end],
                }
            )
            site_seqs.append(seq[start:end])
            site_classes.append(class_of[i])
    sites = pd.DataFrame(site_rows, columns=["id", "class", "class_source", "predicted", "start", "end", "mean_score", "site"])

    motif_ids = [m.strip() for m in settings.motif_ids.split(",") if m.strip()]
    motifs = select_motifs(settings.jaspar_release, motif_ids) if site_seqs else []
    hits = scan(site_seqs, motifs, thresholds(motifs, settings.motif_pvalue))
    table = enrichment(hits, site_classes, classes, motifs)
    table = table[(table["class_sites_with_match"] + table["other_sites_with_match"]) > 0]
    table = table.sort_values(["q_value", "p_value", "class", "motif_id"]).reset_index(drop=True)
    significant = table[table["q_value"] <= settings.fdr]

    profile, axis = _profiles(scores, class_of, classes)
    profile_png, examples_png = f"{prefix}_{settings.method}_profile.png", f"{prefix}_{settings.method}_examples.png"
    _plot_profiles(profile, axis, out_dir / profile_png, settings.method)
    chosen = []
    for cls in classes:
        members = np.flatnonzero(class_of == cls)
        if members.size:
            best = members[np.argsort(-probs[members, index[cls]], kind="stable")][: max(1, settings.examples // max(1, len(classes)))]
            chosen.extend(best.tolist())
    chosen = chosen[: max(1, settings.examples)]
    _plot_examples([(ids[i], class_of[i], float(probs[i, index[class_of[i]]]), scores[i], all_sites[i]) for i in chosen], out_dir / examples_png, settings.method)
    hotspot_png, logos_png = f"{prefix}_{settings.method}_hotspot_logos.png", f"{prefix}_motif_logos.png"
    hotspot_figures = [hotspot_png] if hotspot_logo_figure(
        [(f"{ids[i]} ({class_of[i]})", sequences[i], scores[i]) for i in chosen], out_dir / hotspot_png, f"{settings.method} score"
    ) else []
    by_id = {m.matrix_id: m for m in motifs}
    logo_motifs = [(f"{name} ({motif_id}), enriched in {cls} sites", by_id[motif_id])
                   for cls, motif_id, name in significant.drop_duplicates("motif_id").head(4)[["class", "motif_id", "motif_name"]].itertuples(index=False)
                   if motif_id in by_id]
    logo_figures = [logos_png] if motif_logo_figure(logo_motifs, out_dir / logos_png) else []

    rule = (
        "above the sequence mean and 10x its minimum"
        if settings.site_z is None and settings.method == "attention"
        else f"above mean + {1.0 if settings.site_z is None else settings.site_z:g} SD"
    )
    text_scores = (
        f"Per-base scores for {len(sequences)} sequences ({int(rows.known.sum())} with known labels) from {source}; "
        "L2-normalised per sequence."
    )
    text_sites = (
        f"{len(sites)} candidate sites: runs of at least {settings.site_min_length} bp {rule}, widened by {settings.site_flank} bp. "
        f"Scanned with {len(motifs)} JASPAR matrices (match p &lt; {settings.motif_pvalue:g}, both strands); "
        f"per class, sites were compared with the other classes' sites (hypergeometric test, Benjamini-Hochberg): "
        f"{len(significant)} motif-class pairs at FDR {settings.fdr:g}."
        + (" Attention marks where the model looks, not what raises a class score." if settings.method == "attention" else "")
    )
    return [
        ReportSection(
            title=f"{subject}: per-base {settings.method} scores",
            text=text_scores,
            tables={f"{prefix}_{settings.method}_profile": profile},
            figures=[profile_png, examples_png, *hotspot_figures],
        ),
        ReportSection(
            title=f"{subject}: motifs in high-{settings.method} sites",
            text=text_sites,
            tables={f"{prefix}_sites": sites, f"{prefix}_motif_enrichment": table},
            figures=logo_figures,
        ),
    ]
