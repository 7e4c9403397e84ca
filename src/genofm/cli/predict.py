"""``genofm-predict``: apply a trained model to a prepared dataset."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from genofm.atomic import check_output
from genofm.cli.common import run_app, setup_logging, version_callback
from genofm.errors import GenofmError

app = typer.Typer(add_completion=False, rich_markup_mode="markdown", no_args_is_help=True)
log = logging.getLogger("genofm")


@app.command()
def predict(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="Prepared dataset (Parquet from genofm-prepare); labels are optional.", show_default=False)],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model folder written by genofm-train, or its --archive zip.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Predictions TSV to write (atomically).", show_default=False)],
    embeddings: Annotated[
        Optional[list[Path]],
        typer.Option("--embeddings", "-e", help="Embedding file(s) of this dataset from genofm-embed, made with the model's backbone(s) and options (repeat per shard and, for a stacked model, per backbone).", show_default=False),
    ] = None,
    weights: Annotated[
        Optional[Path],
        typer.Option(help="Backbone weights: for a fine-tuned model, or to embed on the fly when no --embeddings are given (checked against the model's checksum).", show_default=False),
    ] = None,
    splits: Annotated[str, typer.Option(help="Comma-separated splits to predict.")] = "train,valid,test",
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Sequences per batch when embedding on the fly [backbone default].", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto (GPU when visible), cpu, cuda or cuda:N; used when running a backbone.")] = "auto",
    precision: Annotated[str, typer.Option(help="auto, fp32, bf16 or fp16; used when running a backbone.")] = "auto",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """Write class probabilities and the predicted class for every sequence of a dataset.

    Example:

        genofm-predict dataset.parquet --model model/ --embeddings emb.h5 --output predictions.tsv

    Heads need the features they were trained on: pass embeddings made with the same backbone,
    options and weights (anything else is refused), or leave out --embeddings to embed on the fly
    (weight-free backbones such as kmer need nothing else; others need --weights, verified by
    checksum). Fine-tuned models need --weights, the checkpoint they started from.

    Output columns: id, split, chrom, start, end, strand, label (when known), prob_<class> per class,
    predicted_label (the most probable class).
    """
    setup_logging(verbose)
    check_output(output)
    from genofm.data.dataset import SPLITS, read_dataset
    from genofm.evaluation.predictions import prediction_table, write_table
    from genofm.heads.inference import predict_proba
    from genofm.heads.store import read_model
    from genofm.model_archive import model_folder

    wanted = [s.strip() for s in splits.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(SPLITS))
    if not wanted or unknown:
        raise GenofmError(f"--splits {splits!r}: choose from {', '.join(SPLITS)}")
    with model_folder(model) as model:
        document = read_model(model)
        frame, classes = read_dataset(dataset, splits=wanted)
        if frame.empty:
            raise GenofmError(f"{dataset}: no rows in split(s) {', '.join(wanted)}; choose other --splits")
        if list(classes) != list(document["classes"]):
            log.warning("dataset classes %s differ from the model's %s; labels are copied as they are", classes, document["classes"])
        proba = predict_proba(model, document, frame, embeddings, weights, device, precision, batch_size)
        table = prediction_table(frame, proba, document["classes"])
        write_table(table, output)
        log.info("wrote %d predictions to %s", len(table), output)


main = run_app(app, "genofm-predict")

if __name__ == "__main__":
    main()
