"""Write outputs so that a failed run never leaves a partial or corrupt file behind.

Every tool writes into a temporary sibling path (``.NAME.XXXXXXXX.tmp``) and renames it into place
only after the whole output is complete; rename is atomic on POSIX filesystems when both paths
share a directory. The writer holds an exclusive ``flock`` on its temporary path while it lives, so
a later run can tell a temporary left by a killed run (no lock) from one a live run is writing
(locked), and removes only the former. Output paths that cannot work (a parent that is a file, a
file output onto an existing folder, an unwritable folder) are refused up front with one line that
names the path.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from genofm.errors import GenofmError

log = logging.getLogger("genofm")


def check_output(target: str | os.PathLike, directory: bool = False, option: str = "--output") -> None:
    """Refuse an output path that cannot be written, before any work is done (creates nothing).

    ``option`` names the command-line option in the message, so the user knows what to change.
    """
    target = Path(target)
    try:
        _check_target(target, directory, create=False)
    except GenofmError as exc:
        raise GenofmError(f"{option} {exc}") from None


def _check_target(target: Path, directory: bool, create: bool = True) -> None:
    existing = target.parent
    for parent in [target.parent, *target.parent.parents]:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise GenofmError(f"{target}: cannot create it because {parent} is a file, not a folder; choose another output path")
            existing = parent
            break
    if directory and target.exists() and not target.is_dir():
        raise GenofmError(f"{target}: is an existing file, but this output is a folder; remove it or choose another output path")
    if not directory and target.is_dir():
        raise GenofmError(f"{target}: is an existing folder, but this output is a file; give a file path (e.g. {target / 'out'}...)")
    if not create:
        if not os.access(existing, os.W_OK | os.X_OK):
            raise GenofmError(f"{target}: cannot write in {existing} (permission denied); choose a writable output location")
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenofmError(f"{target}: cannot create its folder {target.parent} ({exc.strerror}); choose a writable output location") from None
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise GenofmError(f"{target}: cannot write in {target.parent} (permission denied); choose a writable output location")


def _lock(path: Path, directory: bool) -> int | None:
    """An fd holding an exclusive lock on ``path``; None when another process holds it."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        # held by a live writer, or a filesystem without locks: then nothing is known to be stale
        os.close(fd)
        return None
    return fd


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Temporaries of ``target`` (genofm's own ``.NAME.XXXXXXXX.tmp`` pattern) that no live writer holds."""
    target = Path(target)
    pattern = re.compile(re.escape(f".{target.name}.") + r"[a-z0-9_]{8}\.tmp")
    stale = []
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            if not pattern.fullmatch(entry.name) or entry.is_symlink():
                continue
            try:
                fd = _lock(entry, entry.is_dir())
            except OSError:
                continue
            if fd is not None:
                os.close(fd)
                stale.append(entry)
    return stale


def clean_stale(target: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``target`` left by killed runs (never one a live writer holds)."""
    removed = []
    for path in stale_temporaries(target):
        try:
            fd = _lock(path, path.is_dir())
        except OSError:
            continue
        if fd is None:
            continue
        try:
            _remove(path)
        finally:
            os.close(fd)
        log.info("removed %s, left by an interrupted run", path)
        removed.append(path)
    return removed


def _new_temporary(target: Path, directory: bool) -> tuple[Path, int]:
    """Create and lock a fresh temporary; retry if a concurrent cleaner removed it before we locked it."""
    while True:
        try:
            if directory:
                tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
                fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
            else:
                fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
                tmp = Path(name)
        except PermissionError:
            raise GenofmError(f"{target}: cannot write in {target.parent} (permission denied); choose a writable output location") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # a filesystem without flock (some network mounts): write unlocked
            if exc.errno not in (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            return tmp, fd
        with contextlib.suppress(FileNotFoundError):
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it onto ``target`` on success.

    With ``directory=True`` the temporary path is an (empty) directory and a previous directory
    at ``target`` is replaced as a whole. On any exception (including a termination signal turned
    into one by the tools) the temporary path is removed and the previous ``target`` is untouched.
    """
    target = Path(target)
    _check_target(target, directory)
    clean_stale(target)
    tmp, fd = _new_temporary(target, directory)
    try:
        yield tmp
        if directory:
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        else:
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
    except BaseException:
        _remove(tmp)
        raise
    finally:
        os.close(fd)
