"""``genofm-train``: fit a head on frozen embeddings, or fine-tune a backbone, then evaluate on the test split."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from genofm.atomic import check_output
from genofm.cli.common import limit_threads, run_app, setup_logging, version_callback
from genofm.options import for_backbone, split_pairs
from genofm.errors import GenofmError

app = typer.Typer(add_completion=False, rich_markup_mode="markdown", no_args_is_help=True)


class HeadName(str, enum.Enum):
    logreg = "logreg"
    mlp = "mlp"
    gboost = "gboost"


class Penalty(str, enum.Enum):
    l2 = "l2"
    l1 = "l1"
    elasticnet = "elasticnet"


class ClassWeight(str, enum.Enum):
    balanced = "balanced"
    none = "none"


HEAD_PANEL = "Heads on frozen embeddings"
LOGREG_PANEL = "Logistic regression (--head logreg)"
NONLINEAR_PANEL = "Non-linear heads (--head mlp / gboost)"
FINETUNE_PANEL = "End-to-end training (--finetune)"


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise GenofmError(f"--hidden {text!r} is not a comma-separated list of layer sizes, e.g. 256,64") from None
    if not sizes or min(sizes) < 1:
        raise GenofmError(f"--hidden {text!r} needs positive layer sizes, e.g. 256,64")
    return sizes


@app.command()
def train(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="Prepared dataset (Parquet from genofm-prepare).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder to create (replaced atomically when it exists).", show_default=False)],
    embeddings: Annotated[
        Optional[list[Path]],
        typer.Option("--embeddings", "-e", help="Embedding file from genofm-embed; repeat once per shard and per backbone. Shards of one backbone are concatenated; files of several backbones are joined by id into one stacked head (features prefixed backbone:, one feature group per backbone).", rich_help_panel=HEAD_PANEL, show_default=False),
    ] = None,
    head: Annotated[HeadName, typer.Option(help="Head fitted on the embeddings: standardised logistic regression (interpretable), a small MLP, or gradient boosting.", rich_help_panel=HEAD_PANEL)] = HeadName.logreg,
    feature_group: Annotated[
        Optional[str],
        typer.Option(help="Use only this named family of features stored in the embedding file (e.g. Sei's tf, histone, accessibility); an unknown name lists the available ones.", rich_help_panel=HEAD_PANEL, show_default=False),
    ] = None,
    class_weight: Annotated[ClassWeight, typer.Option(help="Weight classes inversely to their training frequency (balanced) or not at all (none). Applies to heads and fine-tuning.")] = ClassWeight.balanced,
    penalty: Annotated[Penalty, typer.Option(help="Regularisation of the logistic regression; l1 and elasticnet give sparse coefficients (saga solver).", rich_help_panel=LOGREG_PANEL)] = Penalty.l2,
    cv_folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds on the training split used to choose C (a sequence and its reverse-complement copy always share a fold).", rich_help_panel=LOGREG_PANEL)] = 5,
    cs: Annotated[int, typer.Option("--cs", min=1, help="Number of C values tried, log-spaced from 1e-4 to 1e4; the one with the best cross-validated log loss is kept.", rich_help_panel=LOGREG_PANEL)] = 10,
    l1_ratio: Annotated[
        Optional[list[float]],
        typer.Option(help="L1 share(s) tried by --penalty elasticnet (repeat for a grid). [default: 0.1 0.5 0.9]", rich_help_panel=LOGREG_PANEL, show_default=False),
    ] = None,
    max_iter: Annotated[int, typer.Option(min=1, help="Iteration cap of the logistic-regression solver.", rich_help_panel=LOGREG_PANEL)] = 1000,
    hidden: Annotated[str, typer.Option(help="MLP hidden layer sizes, comma-separated.", rich_help_panel=NONLINEAR_PANEL)] = "128",
    alpha: Annotated[float, typer.Option(min=0.0, help="MLP L2 penalty (gboost: l2_regularization).", rich_help_panel=NONLINEAR_PANEL)] = 1e-3,
    finetune: Annotated[
        Optional[str],
        typer.Option(help="Train end to end on sequences instead of fitting a head: fine-tune a backbone (sei, dnabert2, dnabert6, gpt2dna; needs --weights) or train the cnn from scratch (no --weights; -O architecture=basset|dilated).", rich_help_panel=FINETUNE_PANEL, show_default=False),
    ] = None,
    weights: Annotated[Optional[Path], typer.Option(help="Backbone checkpoint (file or folder) to fine-tune.", rich_help_panel=FINETUNE_PANEL, show_default=False)] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-O", help="Backbone option key=value for --finetune (repeatable), as for genofm-embed; an unknown key is an error.", rich_help_panel=FINETUNE_PANEL, show_default=False)] = None,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Fine-tuning epochs [3; cnn 30]; MLP: maximum epochs [200].", rich_help_panel=FINETUNE_PANEL, show_default=False)] = None,
    learning_rate: Annotated[Optional[float], typer.Option(min=0.0, help="Fine-tuning learning rate [2e-5; cnn 1e-3]; MLP [1e-3]; gboost [0.1].", rich_help_panel=FINETUNE_PANEL, show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Fine-tuning batch size [16; cnn 64]; MLP [64].", rich_help_panel=FINETUNE_PANEL, show_default=False)] = None,
    patience: Annotated[Optional[int], typer.Option(min=1, help="Early stopping: epochs without validation improvement (fine-tuning [2], cnn [4], MLP [10]) or boosting rounds (gboost [10]).", rich_help_panel=FINETUNE_PANEL, show_default=False)] = None,
    lora_rank: Annotated[int, typer.Option(min=0, help="Low-rank adapter rank (0: full fine-tuning).", rich_help_panel=FINETUNE_PANEL)] = 0,
    freeze_backbone: Annotated[bool, typer.Option(help="Train only the new classification head.", rich_help_panel=FINETUNE_PANEL)] = False,
    max_steps: Annotated[Optional[int], typer.Option(min=1, help="Cap on optimiser steps (quick looks, tests).", rich_help_panel=FINETUNE_PANEL, show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto (GPU when visible), cpu, cuda or cuda:N.", rich_help_panel=FINETUNE_PANEL)] = "auto",
    precision: Annotated[str, typer.Option(help="auto (bf16 on capable GPUs, fp32 on CPU), fp32, bf16 or fp16.", rich_help_panel=FINETUNE_PANEL)] = "auto",
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap replicates for the 95% confidence intervals of the test metrics.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed for cross-validation folds, bootstrap, initialisation and fine-tuning.")] = 0,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for torch, BLAS and OpenMP (e.g. Nextflow's task.cpus). Default: the libraries' choice.", show_default=False)] = None,
    archive: Annotated[
        Optional[Path],
        typer.Option(help="Also write the finished model folder as this single zip file, which genofm-predict and genofm-interpret read in place of the folder (for systems that pass one file per step, such as Galaxy).", show_default=False),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """Train a classifier and evaluate it on the dataset's held-out test split.

    **Heads on frozen embeddings** (the default):

        genofm-train dataset.parquet --embeddings emb.h5 --output model/

    fits on the train split (reverse-complement copies included), picks hyper-parameters by
    cross-validation on train (logreg) or stops early on the valid split (mlp, gboost), and
    reports metrics on the test split only. Logistic-regression coefficients are on
    standardised features, so they can be ranked by genofm-interpret.

    **Several backbones in one head** (stacking): pass the embedding files of each backbone

        genofm-train dataset.parquet -e kmer.h5 -e spliceai.h5 --output model/

    Rows are joined by id; feature names become kmer:..., spliceai:...; each backbone's
    columns form a feature group (--feature-group kmer trains on that backbone alone), and
    model.json records every backbone's provenance under backbone.stack.

    **Fine-tuning** a backbone end to end, or training a CNN from scratch:

        genofm-train dataset.parquet --finetune dnabert2 --weights DNABERT-2-117M/ --output model/
        genofm-train dataset.parquet --finetune cnn -O architecture=dilated --output model/

    Both stop early on the valid split's loss and keep the best epoch.

    The model folder holds model.json (classes, features, backbone provenance, hyper-parameters,
    training log), model.safetensors (no pickle), metrics.json (AUROC, AUPRC, MCC, F1 and
    accuracy with bootstrap 95% CIs; binary tasks score the last class as positive),
    test_predictions.tsv, roc_curve.png and pr_curve.png.
    """
    setup_logging(verbose)
    check_output(output, directory=True)
    limit_threads(threads)
    from genofm.heads import head_class
    from genofm.heads.training import train_finetuned, train_head

    if finetune is not None:
        if embeddings:
            raise GenofmError("--finetune trains on sequences; drop --embeddings (or drop --finetune to fit a head)")
        from genofm.finetune import FinetuneOptions, default_options

        defaults = default_options(finetune)
        options = FinetuneOptions(
            epochs=epochs or defaults.epochs,
            learning_rate=learning_rate if learning_rate is not None else defaults.learning_rate,
            batch_size=batch_size or defaults.batch_size,
            lora_rank=lora_rank,
            freeze_backbone=freeze_backbone,
            patience=patience or defaults.patience,
            seed=seed,
            device=device,
            precision=precision,
            class_weight=class_weight == ClassWeight.balanced,
            max_steps=max_steps,
        )
        train_finetuned(dataset, finetune, weights, for_backbone(split_pairs(option), finetune), options, output, bootstrap, seed)
        _write_archive(output, archive)
        return
    if not embeddings:
        raise GenofmError("pass --embeddings (from genofm-embed) to fit a head, or --finetune BACKBONE --weights PATH")
    if option:
        raise GenofmError("-O backbone options apply to --finetune only; the embeddings already fix the backbone")
    cls = head_class(head.value)
    weight = class_weight.value
    if head == HeadName.logreg:
        model = cls(penalty=penalty.value, cs=cs, cv_folds=cv_folds, l1_ratios=tuple(l1_ratio or (0.1, 0.5, 0.9)),
                    class_weight=weight, max_iter=max_iter, seed=seed)
    elif head == HeadName.mlp:
        model = cls(hidden=_hidden(hidden), alpha=alpha, learning_rate=learning_rate or 1e-3, batch_size=batch_size or 64,
                    max_epochs=epochs or 200, patience=patience or 10, class_weight=weight, seed=seed)
    else:
        model = cls(learning_rate=learning_rate or 0.1, l2_regularization=alpha, patience=patience or 10,
                    class_weight=weight, seed=seed)
    train_head(dataset, embeddings, output, model, feature_group=feature_group, n_bootstrap=bootstrap, seed=seed)
    _write_archive(output, archive)


def _write_archive(output: Path, archive: Optional[Path]) -> None:
    if archive is not None:
        from genofm.model_archive import write_archive

        write_archive(output, archive)


main = run_app(app, "genofm-train")

if __name__ == "__main__":
    main()
