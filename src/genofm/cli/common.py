"""What every tool's entry point shares: logging, one-line errors, signals, thread limits (``-O`` options: genofm.options)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Callable

import typer

from genofm import __version__
from genofm.errors import GenofmError
from genofm.heap import keep_freed_memory

log = logging.getLogger("genofm")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
        force=True,
    )


class Terminated(BaseException):
    """A termination signal (SIGTERM, SIGHUP) turned into an exception, so temporaries are removed.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, _frame) -> None:
    raise Terminated(signum)


def _stop_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent process dies (e.g. a pipeline task's shell).

    Without it a tool whose task wrapper is killed keeps running as an orphan. Not available on
    other systems; there the tool still stops cleanly on SIGTERM/SIGHUP from the executor.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        parent = os.getppid()
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP raise ``Terminated`` in the main thread; the parent's death sends SIGTERM."""
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _terminate)
    except ValueError:  # not the main thread (an embedding host): leave signals to the host
        return
    _stop_with_parent()


def _click_exception_types() -> tuple[type[BaseException], ...]:
    """The ClickException classes in play: click's own, and the copy typer >= 0.2x vendors as ``typer._click``."""
    types: list[type[BaseException]] = []
    try:
        import click

        types.append(click.ClickException)
    except ImportError:
        pass
    try:
        from typer._click import exceptions as vendored  # type: ignore[import-not-found]

        types.append(vendored.ClickException)
    except ImportError:
        pass
    return tuple(types)


def _usage_line(exc: BaseException, prog_name: str) -> str:
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(str(message).split())
    return f"{message} (see '{prog_name} --help')"


def _os_error_line(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    what = exc.strerror or str(exc)
    return f"{where}{what}; check that the path exists, is the right kind (file or folder) and is writable, and that the disk has space"


def run_app(app, prog_name: str, error_name: str | None = None) -> Callable[[], None]:
    """Entry point: every failure a user can fix is one ``PROG: error: ...`` line and exit status 2.

    Covers GenofmError, command-line usage errors (unknown option, bad value, missing option; the
    click exceptions whichever click typer uses), and operating-system errors on files. SIGTERM
    and SIGHUP stop the tool cleanly (temporaries removed) with status 128 + signal number.
    ``error_name`` (default ``prog_name``) prefixes error lines; the ``genofm`` umbrella uses it to
    report errors under the tool's own name. Freed memory stays in the process heap
    (:func:`genofm.heap.keep_freed_memory`).
    """
    name = error_name or prog_name

    def fail(line: str, code: int = 2) -> None:
        print(f"{name}: error: {line}", file=sys.stderr)
        sys.exit(code)

    def main() -> None:
        install_signal_handlers()
        keep_freed_memory()  # one job per process: keep its peak rather than fault pages in again per batch
        click_errors = _click_exception_types()
        try:
            app(prog_name=prog_name, standalone_mode=False)
        except GenofmError as exc:
            fail(" ".join(str(exc).split()))
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except (typer.Abort, KeyboardInterrupt):
            print(f"{name}: interrupted; no output written", file=sys.stderr)
            sys.exit(130)
        except Terminated as exc:
            print(f"{name}: stopped by {exc}; no output written", file=sys.stderr)
            sys.exit(128 + exc.signum)
        except click_errors as exc:
            code = getattr(exc, "exit_code", 2)
            fail(_usage_line(exc, name), 2 if code in (1, 2) else code)
        except OSError as exc:
            fail(_os_error_line(exc))
        except Exception as exc:
            # typer's vendored click Exit/Abort when the public aliases differ
            kind = type(exc).__name__
            if kind == "Exit":
                sys.exit(getattr(exc, "exit_code", 0))
            if kind == "Abort":
                print(f"{name}: interrupted; no output written", file=sys.stderr)
                sys.exit(130)
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
