"""Rank-0-only writes that every rank agrees on (no hang when one rank cannot write).

A write that fails on one rank (full disk, no permission) raises the same one-line
:class:`OutputError` naming the file on every rank, instead of leaving the others waiting
in the next collective call (:func:`collective`, :func:`on_root`). Test hook:
``FEMDIFF_FAULT_WRITE`` makes chosen writes fail (:func:`_fault_write`).
:mod:`femdiff.io` re-exports these names.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import shutil
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mpi4py import MPI

# --- writes that every rank agrees on --------------------------------------------------------


class OutputError(RuntimeError):
    """An output file that could not be written (full disk, no permission, ...).

    Raised with the same one-line message on every rank. A failed write is a failed
    computation (the CLI exits with 1), not bad input. ``detail`` holds the original
    traceback as text on the rank where the write failed (``None`` elsewhere).
    """

    detail: str | None = None


_fault_counts: dict[str, int] = {}


def _fault_write(path: str | Path | None) -> None:
    """Raise an OSError if ``FEMDIFF_FAULT_WRITE`` asks for one at a write of ``path``.

    Test hook. ``FEMDIFF_FAULT_WRITE="<name glob>[:<errno name>[:<n>[:<rank>]]],..."`` fails
    the n-th (default: every) write to a file whose name matches on the given rank (default
    0), with the given errno (default ``ENOSPC``); e.g. ``series.csv:ENOSPC:5``.
    """
    spec = os.environ.get("FEMDIFF_FAULT_WRITE", "")
    if not spec or path is None:
        return
    name = Path(path).name
    for item in spec.split(","):
        glob, _, rest = item.partition(":")
        code, _, rest = rest.partition(":")
        nth, _, rank = rest.partition(":")
        if not glob or not fnmatch.fnmatch(name, glob):
            continue
        if MPI.COMM_WORLD.rank != (int(rank) if rank else 0):
            continue
        count = _fault_counts[item] = _fault_counts.get(item, 0) + 1
        if nth and int(nth) != count:
            continue
        number = getattr(errno, code or "ENOSPC", errno.EIO)
        raise OSError(number, os.strerror(number), str(path))


def describe_write_error(exc: BaseException, path: str | Path | None = None) -> str:
    """One line for a failed write: the file, the reason, and what to do about it."""
    # a rename (atomic_write's temporary file -> the file) names the file it could not
    # replace second: that is the user's file
    target = (getattr(exc, "filename2", None) or getattr(exc, "filename", None) or path)
    where = f"could not write {str(target)!r}" if target is not None else "a write failed"
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = exc.strerror or os.strerror(exc.errno)
        hint = {errno.ENOSPC: " (the disk is full: free space, or choose another output "
                              "folder with -o)",
                errno.EDQUOT: " (disk quota exceeded)",
                errno.EACCES: " (no permission: choose another output folder with -o)",
                errno.EPERM: " (not permitted: choose another output folder with -o)",
                errno.EROFS: " (read-only file system: choose another output folder with -o)",
                errno.ENOTDIR: " (a part of the path is a file, not a folder)",
                errno.EISDIR: " (a folder has the file's name: remove or rename it)"}.get(
                    exc.errno, "")
        return f"{where}: {reason}{hint}"
    text = str(exc).strip().splitlines()
    return f"{where}: {text[0] if text else type(exc).__name__}"


@contextlib.contextmanager
def collective(comm: MPI.Comm, path: str | Path | None = None) -> Iterator[None]:
    """Agree across ``comm`` on whether the body (typically a rank-0-only write) succeeded.

    Every rank must enter the block (the body itself may do nothing on most ranks). When
    the body raises on any rank, every rank raises after it the same :class:`OutputError`
    (an ``OSError`` described with the file it could not write, ``path`` by default). So a
    write that fails on rank 0 makes the whole run fail together with one message, and
    never leaves the other ranks waiting in the next collective operation::

        with collective(comm, path):
            if comm.rank == 0:
                path.write_text(text)
    """
    message, detail = None, None
    try:
        yield
    except Exception as exc:  # noqa: BLE001  (raised again below, after the agreement)
        message = describe_write_error(exc, path) if isinstance(exc, OSError) else (
            f"{type(exc).__name__}: " + (str(exc).strip().splitlines() or [""])[0])
        detail = "".join(traceback.format_exception(exc))
    messages = comm.allgather(message)
    first = next((m for m in messages if m), None)
    if first is not None:
        # the same exception, from the same frames, on every rank: objects kept alive by
        # a traceback (PETSc solvers, whose destruction is collective) are then freed in
        # the same order everywhere; the original traceback travels as text (--debug).
        # (No local name for the new exception: it would make a reference cycle.)
        raise _output_error(first, detail)


def _output_error(message: str, detail: str | None) -> OutputError:
    error = OutputError(message)
    error.detail = detail
    return error


def on_root(comm: MPI.Comm, action: Callable[[], Any], path: str | Path | None = None,
            root: int = 0) -> Any:
    """Run ``action()`` on ``root`` only, inside :func:`collective`; return its result there.

    Other ranks get ``None``. Every rank raises if the action fails.
    """
    result = None
    with collective(comm, path):
        if comm.rank == root:
            _fault_write(path)
            result = action()
    return result


def check_free_space(comm: MPI.Comm, folder: str | Path, needed: int,
                     what: str | Path) -> None:
    """Raise :class:`OutputError` on every rank if ``folder`` has less than ``needed`` bytes.

    Used before handing data to a writer that cannot recover from a full disk (ADIOS2
    aborts the process from a destructor when it cannot close its files).
    """
    def check() -> None:
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}: {free // 1024} KiB "
                          f"free, about {needed // 1024 + 1} KiB needed", str(what))

    on_root(comm, check, what)
