"""``genofm-interpret``: explain one model (``model``) or compare many (``compare``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from genofm.atomic import check_output
from genofm.cli.common import run_app, setup_logging, version_callback
from genofm.errors import GenofmError
from genofm.options import split_pairs

app = typer.Typer(
    add_completion=False,
    rich_markup_mode="markdown",
    no_args_is_help=True,
    help="Explain what drives a trained model's calls, or compare the test performance of many models.",
)


@app.callback()
def _tool(
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """Explain what drives a trained model's calls (model), or compare many models (compare)."""


@app.command()
def model(
    model_dir: Annotated[Path, typer.Argument(metavar="MODEL_DIR", help="Model folder written by genofm-train, or its --archive zip.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to create with the report, tables and figures (replaced atomically).", show_default=False)],
    dataset: Annotated[Optional[Path], typer.Option(help="The prepared dataset the model was trained on: enables bootstrap stability (linear heads), permutation importance (non-linear heads) and sequence-level explanations.", show_default=False)] = None,
    embeddings: Annotated[Optional[list[Path]], typer.Option("--embeddings", "-e", help="Embedding file(s) of --dataset made with the model's backbone(s) (repeat per shard and per backbone).", show_default=False)] = None,
    weights: Annotated[Optional[Path], typer.Option(help="Backbone weights, for explainers that run the backbone (Sei sequence classes, attention maps).", show_default=False)] = None,
    top: Annotated[int, typer.Option(min=1, help="Features listed and plotted per class; also the top-N used by the stability score and the k-mers matched to motifs per side.")] = 30,
    refits: Annotated[int, typer.Option(min=0, help="Bootstrap refits at the chosen C for the stability score (0: skip); permutation repeats for non-linear heads (at most 5).")] = 20,
    option: Annotated[Optional[list[str]], typer.Option("--option", "-O", help="Explainer option key=value (repeatable), e.g. jaspar_release=JASPAR2026, motif_kmers=50, motif_show=15; a key none of the model's explainers declares is an error.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap refits and permutations.")] = 0,
    model_link: Annotated[Optional[str], typer.Option("--model-link", help="Where the model folder is published, relative to --output, with {folder} (its name) filled in, e.g. '../../train/{folder}'; shown in the report. Default: its path relative to --output.", show_default=False)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Rank the features behind a model's calls and write a self-contained HTML report.

    Example:

        genofm-interpret model model/ --output interpret/ --dataset dataset.parquet --embeddings emb.h5

    Linear heads: features ranked by standardised coefficient, with sign, per class
    (features.tsv, top_features.png), with stability across bootstrap refits and
    cross-validation fits. Non-linear heads: permutation importance on the test split.
    Then backbone-specific sections: k-mers matched to JASPAR motifs (kmer), chromatin
    profiles aggregated by assay and TF (sei), attention maps of fine-tuned language models.
    A stacked head (several backbones) is ranked across all its features and a Backbones
    section gives each backbone's share of the weights and of the top features
    (backbone_shares.tsv); each backbone's own explainer then runs on its part.
    report.html embeds everything (open it in any browser, no network needed); every table in
    it is also written as TSV.
    """
    setup_logging(verbose)
    check_output(output, directory=True)
    import os

    from genofm.interpret.model_report import interpret_model
    from genofm.model_archive import model_folder

    if model_link and any(key != "folder" for key in _fields(model_link)):
        raise GenofmError(f"--model-link {model_link!r}: only {{folder}} can be filled in")
    shown = model_link.format(folder=model_dir.name) if model_link else os.path.relpath(model_dir.absolute(), output.absolute())
    with model_folder(model_dir) as folder:
        interpret_model(folder, output, dataset=dataset, embeddings=embeddings, weights=weights, top=top,
                        refits=refits, seed=seed, options=split_pairs(option), model_link=shown)


@app.command()
def compare(
    model_dirs: Annotated[list[Path], typer.Argument(metavar="MODEL_DIR...", help="Model folders written by genofm-train, or their --archive zips.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to create with comparison.tsv and comparison.html.", show_default=False)],
    name: Annotated[Optional[list[str]], typer.Option("--name", "--names", help="Dataset name for each model folder, in order (default: the dataset file name recorded in model.json).", show_default=False)] = None,
    model_link: Annotated[Optional[str], typer.Option("--model-link", help="Where each model folder is published, relative to --output, with {dataset} and {folder} filled in (e.g. '../{dataset}/train/{folder}'); default: each model folder's path relative to --output.", show_default=False)] = None,
    report_link: Annotated[Optional[str], typer.Option("--report-link", help="Where each model's genofm-interpret report is, relative to --output, with {dataset} and {folder} (e.g. '../{dataset}/interpret/{folder}/report.html'); linked from comparison.html.", show_default=False)] = None,
    select_ensemble: Annotated[bool, typer.Option("--select-ensemble", help="Add, per dataset of two or more models, the ensemble chosen on the validation split: greedy forward selection with replacement on validation log-loss (Caruana 2004) over the given models; the weights are listed in the members column.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Tabulate test metrics with 95% intervals across model folders.

    Example:

        genofm-interpret compare results/*/model --output comparison/

    Writes comparison.tsv (one row per model: dataset, backbone, head, feature group, n_train,
    n_test, AUROC, AUPRC, MCC, F1, accuracy and their interval bounds) and comparison.html
    (the table and bar charts of AUROC and AUPRC with intervals).
    """
    setup_logging(verbose)
    check_output(output, directory=True)
    import contextlib

    import os

    from genofm.interpret.compare import compare_models, write_comparison
    from genofm.model_archive import model_folder

    for template, option in ((model_link, "--model-link"), (report_link, "--report-link")):
        if template and any(key not in ("dataset", "folder") for key in _fields(template)):
            raise GenofmError(f"{option} {template!r}: only {{dataset}} and {{folder}} can be filled in")
    with contextlib.ExitStack() as stack:
        folders = [stack.enter_context(model_folder(path)) for path in model_dirs]
        table = compare_models(folders, name, model_link=model_link, report_link=report_link, shown_as=model_dirs,
                               select_ensemble=select_ensemble)
        if model_link is None:  # paths in comparison.tsv resolve from the folder that holds it
            rows = table["kind"] == "model"
            table.loc[rows, "model_dir"] = [os.path.relpath(Path(d).absolute(), Path(output).absolute()) for d in table.loc[rows, "model_dir"]]
        write_comparison(table, output)


def _fields(template: str) -> list[str]:
    import string

    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


main = run_app(app, "genofm-interpret")

if __name__ == "__main__":
    main()
