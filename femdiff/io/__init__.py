"""Outputs: ParaView fields, CSV time series and line sampling, written from the right rank.

* :class:`FieldWriter` writes Functions to VTX (ADIOS2, ``.bp``) or XDMF, one file per
  element family, because VTX needs every field of a file in one space. Mixed
  sub-functions must be collapsed first (VTX rejects them).
* :class:`TimeSeries` appends rows to a CSV file on rank 0, flushed and fsynced per row, so
  a killed run leaves a readable file; on restart it drops rows later than the restart
  time, so the series continues without duplicates.
* :func:`sample_line` evaluates a Function at points on every rank and gathers the values
  on rank 0 (NaN where a point is outside the mesh); :func:`line_points` makes the points.
* PNG helpers (matplotlib, Agg backend, rank 0 writes; call them on every rank, because
  the sampling is collective): :func:`plot_series` (columns of a CSV against time),
  :func:`plot_profiles` (values along a line), :func:`plot_field_2d` (a scalar field of a
  2D mesh, drawn on its cells), :func:`plot_spectrum` (one column against another).
* Rank-0-only writes agree on success across ranks (:func:`collective`): a write that
  fails on one rank (full disk, no permission) raises the same one-line
  :class:`OutputError` naming the file on every rank, instead of leaving the others
  waiting in the next collective call. Test hook: ``FEMDIFF_FAULT_WRITE`` makes chosen
  writes fail (:func:`femdiff.io.collective._fault_write`).
* A full disk: a CSV row is written whole or cut back; fields are written only after a
  free-space check (ADIOS2 aborts the process when it cannot close its files), and a
  reserve file per :class:`FieldWriter` is released before its files are closed.
* Read-back: :func:`read_fields` (an XDMF field file, with h5py), :func:`read_csv`,
  :func:`bp_steps` (complete steps of a VTX/BP4
  folder, from its index, without ADIOS2's Python module), :func:`xdmf_times`.
* :func:`atomic_write` writes a file through a temporary file and a rename.

Typical use in a demo::

    fields = FieldWriter(comm, out / "fields", [problem.C, problem.mu])   # fields_P1.bp
    series = TimeSeries(comm, out / "series.csv", ["t", "amount"])
    ...  # each step: series.append(t=..., amount=...); fields.write(t)
    fields.close(); series.close()
    plot_series(comm, out / "series.csv", out / "series.png")
    pts = line_points((0, 0, 0), (1, 0, 0), 101)
    plot_profiles(comm, out / "profile.png", pts, {"C": sample_line(problem.C, pts)})
    plot_field_2d(problem.C, out / "C.png")
"""

from __future__ import annotations

import contextlib
import csv
import errno
import logging
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mpi4py import MPI

import numpy as np
from dolfinx import fem, geometry, io

from femdiff.geometry import periodic
from femdiff.io.collective import (  # re-exported: io is where users look
    OutputError,
    check_free_space,
    collective,
    describe_write_error,
    on_root,
)
from femdiff.io.plots import (  # re-exported: the plots lived here
    _plot_profiles,  # noqa: F401
    line_points,
    plot_field_2d,
    plot_profiles,
    plot_series,
    plot_spectrum,
    read_csv,
)

log = logging.getLogger("femdiff")


__all__ = ["FieldWriter", "demo_setup", "OutputError", "TimeSeries", "atomic_write", "bp_steps",
           "check_free_space", "collective", "describe_write_error", "line_points",
           "on_root", "plot_field_2d", "plot_profiles", "plot_series", "plot_spectrum",
           "read_csv", "read_fields",
           "sample_line", "xdmf_times"]


def _family_key(f: fem.Function) -> tuple:
    e = f.function_space.ufl_element()
    return (e.family_name, e.embedded_superdegree, e.discontinuous)


class FieldWriter:
    """Write Functions over time for ParaView.

    Args:
        comm: the mesh communicator.
        stem: output path without suffix; files are ``stem_<family><degree>.bp`` (VTX) or
            ``stem.xdmf``.
        functions: the (collapsed) Functions to write. Functions on a periodic mesh
            (:mod:`femdiff.geometry.periodic`) are written on its original, non-periodic mesh.
        format: ``"vtx"`` (default) or ``"xdmf"`` (XDMF interpolates into the mesh's P1).
    """

    def __init__(self, comm: MPI.Comm, stem: str | Path, functions: Sequence[fem.Function],
                 format: str = "vtx") -> None:
        if format not in ("vtx", "xdmf"):
            raise ValueError(f"field format must be 'vtx' or 'xdmf', got {format!r}")
        self.stem = Path(stem)
        self.comm = comm
        self.format = format
        functions, self._sync = periodic.for_output(functions)
        on_root(comm, lambda: self.stem.parent.mkdir(parents=True, exist_ok=True),
                self.stem.parent)
        self.paths: list[Path] = []
        self._writers: list = []
        self._step_bytes, self._mesh_bytes = _output_bytes(functions)
        self._written = 0
        # ADIOS2 writes its profiling.json and last metadata when it closes, and aborts
        # the process if that fails: keep a reserve, released before closing
        self._reserve = self.stem.with_name(f".{self.stem.name}.reserve")
        on_root(comm, lambda: _allocate(self._reserve, self.RESERVE), self._reserve)
        if format == "vtx":
            groups: dict[tuple, list[fem.Function]] = {}
            for f in functions:
                groups.setdefault(_family_key(f), []).append(f)
            for (family, degree, disc), fs in groups.items():
                tag = f"{'DG' if disc else family[0]}{degree}"
                path = self.stem.with_name(f"{self.stem.name}_{tag}.bp")
                self._writers.append(io.VTXWriter(comm, path, fs, engine="BP4"))
                self.paths.append(path)
        else:
            mesh = functions[0].function_space.mesh
            path = self.stem.with_suffix(".xdmf")
            self._xdmf = io.XDMFFile(comm, path, "w")
            self._xdmf.write_mesh(mesh)
            self._functions = list(functions)
            self._p1: dict[str, fem.Function] = {}
            self.paths.append(path)

    #: bytes kept free for the writers' close (released by :meth:`close`)
    RESERVE = 64 * 1024

    def write(self, t: float) -> None:
        """Write all fields at time ``t`` (collective).

        Raises:
            OutputError: on every rank, when the folder lacks the space for this step
                (checked before the data reach ADIOS2/HDF5) or the write fails.
        """
        needed = 2 * self._step_bytes + (self._mesh_bytes if self._written == 0 else 0)
        check_free_space(self.comm, self.stem.parent, needed + 16 * 1024, self.paths[0])
        self._sync()
        try:
            if self.format == "vtx":
                for w in self._writers:
                    w.write(t)
            else:
                for f in self._functions:
                    self._xdmf.write_function(self._as_p1(f), t)
        except RuntimeError as exc:
            raise OutputError(describe_write_error(exc, self.paths[0])) from exc
        self._written += 1

    def _as_p1(self, f: fem.Function) -> fem.Function:
        mesh = f.function_space.mesh
        if f.function_space.ufl_element().embedded_superdegree == 1 and \
                not f.function_space.ufl_element().discontinuous:
            return f
        shape = f.function_space.value_shape
        if f.name not in self._p1:
            V = fem.functionspace(mesh, ("Lagrange", 1, shape))
            self._p1[f.name] = fem.Function(V, name=f.name)
        g = self._p1[f.name]
        g.interpolate(f)
        return g

    def close(self) -> None:
        """Close the files (collective), after releasing the space kept for it."""
        if self._reserve is None:
            return
        reserve, self._reserve = self._reserve, None
        with collective(self.comm, reserve):
            if self.comm.rank == 0:
                reserve.unlink(missing_ok=True)
        errors = []
        for w in self._writers:
            try:
                w.close()
            except RuntimeError as exc:
                errors.append(exc)
        self._writers = []
        if self.format == "xdmf":
            try:
                self._xdmf.close()
            except RuntimeError as exc:
                errors.append(exc)
        if errors:
            raise OutputError(describe_write_error(errors[0], self.paths[0]))

    def abort(self) -> None:
        """Close after a failure elsewhere, ignoring errors.

        Frees the reserve (rank 0, with no agreement step, so this adds no collective
        call of its own), then closes the files.
        """
        if self._reserve is None:
            return
        if self.comm.rank == 0:
            with contextlib.suppress(OSError):
                self._reserve.unlink(missing_ok=True)
        self._reserve = None
        for w in self._writers:
            with contextlib.suppress(RuntimeError):
                w.close()
        self._writers = []
        if self.format == "xdmf":
            with contextlib.suppress(RuntimeError):
                self._xdmf.close()

    def __enter__(self) -> FieldWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()


def _output_bytes(functions: Sequence[fem.Function]) -> tuple[int, int]:
    """Bytes of one step of ``functions`` and of their mesh, globally (an estimate)."""
    step = 0
    for f in functions:
        dofmap = f.function_space.dofmap
        step += 8 * dofmap.index_map.size_global * dofmap.index_map_bs
    if not functions:
        return 0, 0
    mesh = functions[0].function_space.mesh
    tdim = mesh.topology.dim
    nodes = mesh.geometry.index_map().size_global
    cells = mesh.topology.index_map(tdim).size_global
    dofmaps = getattr(mesh.geometry, "dofmaps", None)  # DOLFINx ≥ 0.10
    per_cell = (dofmaps[0] if dofmaps is not None else mesh.geometry.dofmap).shape[1]
    return step, 8 * (3 * nodes + (per_cell + 1) * cells)


def _allocate(path: Path, size: int) -> None:
    """Create ``path`` with ``size`` bytes really allocated on disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except (AttributeError, OSError) as exc:
            if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
                raise
            os.write(fd, bytes(size))
    except OSError:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


class TimeSeries:
    """A CSV time series written by rank 0, one durable row at a time.

    Args:
        comm: communicator (only rank 0 writes).
        path: the CSV file.
        columns: column names (the first is the time).
        restart_time: if given, keep the existing file's rows with time ≤ restart_time and
            append after them; otherwise start a new file.
    """

    def __init__(self, comm: MPI.Comm, path: str | Path, columns: Sequence[str],
                 restart_time: float | None = None) -> None:
        self.comm = comm
        self.path = Path(path)
        self.columns = list(columns)
        self._fd: int | None = None
        on_root(comm, lambda: self._open(restart_time), self.path)

    def _open(self, restart_time: float | None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept: list[list[str]] = []
        if restart_time is not None and self.path.exists():
            with self.path.open(newline="") as fh:
                rows = list(csv.reader(fh))
            for row in rows[1:]:
                try:
                    if len(row) == len(self.columns) and float(row[0]) <= restart_time * (
                            1 + 1e-12) + 1e-300:
                        kept.append(row)
                except ValueError:  # a torn last line from a kill
                    continue
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        try:
            with tmp.open("w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(self.columns)
                writer.writerows(kept)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)  # atomic: the old file or the new one, never half
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def append(self, **values: float) -> None:
        """Append one row (collective: rank 0 writes, every rank learns whether it could).

        A row is written whole or not at all: if the disk is full, the file is cut back to
        its last complete row and :class:`OutputError` is raised on every rank.
        """
        missing = [c for c in self.columns if c not in values]
        if missing:
            raise KeyError(f"time-series row lacks columns {missing}")
        on_root(self.comm, lambda: self._write_row(values), self.path)

    def _write_row(self, values: Mapping[str, float]) -> None:
        if self._fd is None:
            return
        line = ",".join(repr(float(values[c])) for c in self.columns) + "\r\n"
        data = line.encode()
        end = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
            os.fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, end)  # drop the partial row: the CSV stays readable
            raise

    def abort(self) -> None:
        """Close after a failure elsewhere (the same as :meth:`close`)."""
        self.close()

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def sample_line(f: fem.Function, points: np.ndarray, label: str | None = None,
                warn: bool = True) -> np.ndarray:
    """Values of ``f`` at ``points`` (shape (n, 3)), gathered on rank 0.

    Returns the values (shape (n,) or (n, value_size)) on rank 0 and an empty array on
    other ranks; points outside the mesh give NaN.

    Args:
        f: the Function.
        points: the points.
        label: names the line in the warning (e.g. ``"output.profiles[0] 'midline'"``);
            with a label, a line partly outside the mesh is reported too.
        warn: log a warning (rank 0) when no point lies in the mesh, or, with a
            ``label``, when some do not.
    """
    mesh = f.function_space.mesh
    comm = mesh.comm
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.shape[1] < 3:
        points = np.hstack([points, np.zeros((len(points), 3 - points.shape[1]))])
    tree = geometry.bb_tree(mesh, mesh.topology.dim)
    candidates = geometry.compute_collisions_points(tree, points)
    colliding = geometry.compute_colliding_cells(mesh, candidates, points)
    size = max(1, int(np.prod(f.function_space.value_shape)))
    local = np.full((len(points), size), np.nan)
    n_owned = mesh.topology.index_map(mesh.topology.dim).size_local
    idx, cells = [], []
    for i in range(len(points)):
        links = colliding.links(i)
        owned = links[links < n_owned]
        if len(owned):
            idx.append(i)
            cells.append(owned[0])
    if idx:
        local[idx] = f.eval(points[idx], np.array(cells, dtype=np.int32)).reshape(len(idx), -1)
    gathered = comm.gather(local, root=0)
    if comm.rank != 0:
        return np.empty(0)
    stacked = np.array(gathered)
    with np.errstate(invalid="ignore"):
        values = np.nanmax(np.where(np.isnan(stacked), -np.inf, stacked), axis=0)
    values[np.isneginf(values)] = np.nan
    outside = int(np.isnan(values).all(axis=1).sum())
    if warn and outside and (outside == len(points) or label):
        a, b = points[0], points[-1]
        log.warning("%s: %d of %d points from (%s) to (%s) lie outside the mesh; their %s "
                    "values are NaN", label or "sample_line", outside, len(points),
                    ", ".join(f"{v:g}" for v in a), ", ".join(f"{v:g}" for v in b),
                    f.name)
    return values[:, 0] if size == 1 else values


# --- files ---------------------------------------------------------------------------


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename).

    A reader (or a killed writer) sees the old file or the new one, never half of one.
    Call it on one rank only.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with tmp.open("wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise
    return path


def bp_steps(path: str | Path) -> int:
    """Number of complete steps in a VTX (ADIOS2 BP4) folder, read from its index.

    BP4 keeps a 64-byte header and one 64-byte record per step in ``md.idx``, written
    after the step's data and metadata. A step counts when its record is whole and the
    metadata it points to is on disk, so a folder left by a killed run reports the steps
    ParaView can read. Needs no ADIOS2 Python module.
    """
    path = Path(path)
    index, meta = path / "md.idx", path / "md.0"
    if not index.is_file():
        return 0
    raw = index.read_bytes()
    if len(raw) < 64 or not raw.startswith(b"ADIOS-BP"):
        return 0
    md_size = meta.stat().st_size if meta.is_file() else 0
    steps = 0
    for start in range(64, len(raw) - 63, 64):
        record = np.frombuffer(raw[start:start + 64], dtype="<u8")
        # record: step, rank, then offsets into md.0 of the step's process-group,
        # variable and attribute indices and the attribute index's end
        if record[0] != steps + 1 or record[5] > md_size:
            break
        steps += 1
    return steps


def xdmf_times(path: str | Path) -> list[float]:
    """The time values of the (first) temporal collection of an XDMF file."""
    root = ET.parse(path).getroot()
    times = []
    for grid in root.iter("Grid"):
        if grid.get("GridType") == "Collection":
            for child in grid.findall("Grid"):
                t = child.find("Time")
                if t is not None:
                    times.append(float(t.get("Value", "nan")))
            break
    return times


def read_fields(path: str | Path) -> dict[str, Any]:
    """Read back an XDMF field file written by :class:`FieldWriter` (``format="xdmf"``).

    Serial, with h5py (``pip install h5py``; the ``test`` extra has it), on any rank and
    after the run: no DOLFINx, ADIOS2 or MPI needed. Every field is a point field of the
    mesh nodes (the writer interpolates into P1).

    Returns:
        ``{"points": (n, gdim), "cells": (m, k) node indices, "times": [t, ...],
        "fields": {name: array (len(times), n) or (len(times), n, components)}}``.
    """
    import h5py

    path = Path(path)
    root = ET.parse(path).getroot()

    def locate(item: ET.Element) -> tuple[Path, str]:
        file, _, inner = (item.text or "").strip().partition(":")
        return path.parent / file, inner

    def load(item: ET.Element) -> np.ndarray:
        file, inner = locate(item)
        with h5py.File(file, "r") as h5:
            return np.array(h5[inner])

    mesh_grid = next(g for g in root.iter("Grid") if g.get("GridType") == "Uniform")
    points = load(mesh_grid.find("Geometry/DataItem"))  # type: ignore[arg-type]
    cells = load(mesh_grid.find("Topology/DataItem"))  # type: ignore[arg-type]
    fields: dict[str, list[np.ndarray]] = {}
    times: list[float] = []
    for collection in root.iter("Grid"):
        if collection.get("GridType") != "Collection":
            continue
        name = collection.get("Name", "")
        ts = []
        for grid in collection.findall("Grid"):
            t = grid.find("Time")
            ts.append(float(t.get("Value", "nan")) if t is not None else math.nan)
            values = load(grid.find("Attribute/DataItem"))  # type: ignore[arg-type]
            if values.ndim == 2 and values.shape[1] == 1:
                values = values[:, 0]
            fields.setdefault(name, []).append(values)
        if not times:
            times = ts
    return {"points": points, "cells": cells, "times": times,
            "fields": {n: np.array(v) for n, v in fields.items()}}


# --- demos ---------------------------------------------------------------------------


def demo_output(name: str) -> Path:
    """The default output folder of demo ``name``, the same for scripts and notebooks.

    ``$FEMDIFF_OUTPUT/<name>`` when the variable is set, else ``output/<name>`` under the
    current folder (a demo run as a notebook has no ``__file__`` to put it beside).
    """
    return Path(os.environ.get("FEMDIFF_OUTPUT", "output")) / name


def demo_setup(demo_file: str, description: str, comm: MPI.Comm = MPI.COMM_WORLD,
               parser: Any = None) -> tuple[Any, Path, Callable[[str], None]]:
    """The common start of a demo: its command line, output folder and a rank-0 print.

    Options ``--small`` (default when ``CI`` is set) and ``--out`` (default
    :func:`demo_output`, ``<name>`` the file name without ``demo_``, or ``demo_file`` itself
    when it is a plain name: a notebook has no ``__file__``) are
    added to ``parser`` (a new one by default); unknown options are ignored, so a demo
    also runs under test runners. The folder is made on rank 0, agreed on every rank.

    Returns:
        (the parsed arguments, the output folder, ``say(message)`` printing on rank 0).
    """
    import argparse

    here = Path(demo_file).resolve()
    name = here.stem.removeprefix("demo_")
    parser = parser or argparse.ArgumentParser(description=description)
    parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")),
                        help="a small, quick run (default when CI is set)")
    parser.add_argument("--out", type=Path, default=demo_output(name),
                        help="output folder (default: $FEMDIFF_OUTPUT/<name> or "
                        "output/<name> under the current folder)")
    args, _ = parser.parse_known_args()
    out = Path(args.out)
    on_root(comm, lambda: out.mkdir(parents=True, exist_ok=True), out)

    def say(message: str) -> None:
        if comm.rank == 0:
            print(message, flush=True)

    return args, out, say
