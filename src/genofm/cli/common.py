"""What every tool's entry point shares: logging, one-line errors, thread limits (``-O`` options: genofm.options)."""

from __future__ import annotations

import logging
import sys
from typing import Callable

import typer

from genofm import __version__
from genofm.errors import GenofmError

log = logging.getLogger("genofm")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )


def run_app(app: typer.Typer, prog_name: str, error_name: str | None = None) -> Callable[[], None]:
    """Entry point that turns a GenofmError into one ``error:`` line and exit status 2.

    ``error_name`` (default ``prog_name``) prefixes error lines; the ``genofm`` umbrella uses it to
    report errors under the tool's own name.
    """

    def main() -> None:
        try:
            app(prog_name=prog_name, standalone_mode=False)
        except GenofmError as exc:
            print(f"{error_name or prog_name}: error: {exc}", file=sys.stderr)
            sys.exit(2)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            print(f"{prog_name}: aborted", file=sys.stderr)
            sys.exit(130)
        except Exception as exc:  # click usage errors carry their own formatting
            import click

            if isinstance(exc, click.ClickException):
                exc.show()
                sys.exit(exc.exit_code)
            raise

    return main


def limit_threads(threads: int | None):
    """Cap torch, BLAS and OpenMP threads for the rest of the run (e.g. Nextflow's ``task.cpus``).

    Under load, default thread counts oversubscribe a shared node: gradient boosting with default
    threads took 537 s where one thread took 59 s for the same result.
    """
    if not threads:
        return None
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(int(threads))
    return threadpool_limits(limits=int(threads))  # kept until the process ends (or restore_original_limits())


def version_callback(value: bool) -> None:
    if value:
        print(f"genofm {__version__}")
        raise typer.Exit()
