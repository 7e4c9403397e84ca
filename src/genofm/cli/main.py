"""``genofm <tool> ...``: one entry point for the five tools, for users who prefer a single command.

Each tool is imported only when it is called, so ``genofm predict`` never pays for importing
the embedding backbones, and a tool that fails to import does not break the others.
"""

from __future__ import annotations

import importlib
import sys

import click
import typer

from genofm import __version__
from genofm.cli.common import run_app

#: tool name -> one-line summary shown by ``genofm --help`` (without importing the tool)
TOOLS = {
    "prepare": "Turn labelled FASTA/CSV/BED inputs into the prepared dataset (Parquet) with leakage-free splits.",
    "embed": "Embed a prepared dataset with a pre-trained backbone (HDF5 features).",
    "train": "Fit a head on embeddings (or fine-tune a backbone) and evaluate it on the test split.",
    "predict": "Apply a trained model to a prepared dataset (TSV of class probabilities).",
    "interpret": "Explain a model's features and motifs (HTML report) or compare many models.",
}


class ToolGroup(click.Group):
    """A click group whose sub-commands are the tools' own typer apps, loaded on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(TOOLS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in TOOLS:
            return None
        try:
            module = importlib.import_module(f"genofm.cli.{name}")
        except ImportError as exc:
            raise click.UsageError(f"genofm-{name} is not available in this installation ({exc})") from None
        command = typer.main.get_command(module.app)
        command.help = command.help or TOOLS[name]
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Tools"):
            formatter.write_dl([(name, summary) for name, summary in TOOLS.items()])


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"genofm {__version__}")
        ctx.exit()


def _versions(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from genofm.versions import versions_yaml

        click.echo(versions_yaml())
        ctx.exit()


cli = ToolGroup(
    name="genofm",
    help=(
        "genofm: pre-trained genomic models turned into embeddings, trained heads, predictions and "
        "interpretation. Run 'genofm TOOL --help' for a tool's options; 'genofm TOOL ...' is the same "
        "as 'genofm-TOOL ...'."
    ),
    params=[
        click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True, callback=_version, help="Print the version and exit."),
        click.Option(
            ["--versions"], is_flag=True, expose_value=False, is_eager=True, callback=_versions,
            help="Print genofm's and its main libraries' versions as 'name: version' lines (YAML) and exit; every pipeline task records them.",
        ),
    ],
    no_args_is_help=True,
)


def main() -> None:
    """Errors are reported under the tool's own name (``genofm-train: error: ...``)."""
    tool = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in TOOLS else None
    run_app(cli, "genofm", error_name=f"genofm-{tool}" if tool else "genofm")()


if __name__ == "__main__":
    main()
