"""Outputs: ParaView fields, CSV time series and line sampling, written from the right rank.

* :class:`FieldWriter` writes Functions to VTX (ADIOS2, ``.bp``) or XDMF, one file per
  element family, because VTX needs every field of a file in one space. Mixed
  sub-functions must be collapsed first (VTX rejects them).
* :class:`TimeSeries` appends rows to a CSV file on rank 0, flushed and fsynced per row, so
  a killed run leaves a readable file; on restart it drops rows later than the restart
  time, so the series continues without duplicates.
* :func:`sample_line` evaluates a Function at points on every rank and gathers the values
  on rank 0 (NaN where a point is outside the mesh).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from mpi4py import MPI

import numpy as np
from dolfinx import fem, geometry, io


def _family_key(f: fem.Function) -> tuple:
    e = f.function_space.ufl_element()
    return (e.family_name, e.embedded_superdegree, e.discontinuous)


class FieldWriter:
    """Write Functions over time for ParaView.

    Args:
        comm: the mesh communicator.
        stem: output path without suffix; files are ``stem_<family><degree>.bp`` (VTX) or
            ``stem.xdmf``.
        functions: the (collapsed) Functions to write.
        format: ``"vtx"`` (default) or ``"xdmf"`` (XDMF interpolates into the mesh's P1).
    """

    def __init__(self, comm: MPI.Comm, stem: str | Path, functions: Sequence[fem.Function],
                 format: str = "vtx") -> None:
        if format not in ("vtx", "xdmf"):
            raise ValueError(f"field format must be 'vtx' or 'xdmf', got {format!r}")
        self.stem = Path(stem)
        self.comm = comm
        self.format = format
        if comm.rank == 0:
            self.stem.parent.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        self.paths: list[Path] = []
        self._writers: list = []
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

    def write(self, t: float) -> None:
        """Write all fields at time ``t``."""
        if self.format == "vtx":
            for w in self._writers:
                w.write(t)
            return
        for f in self._functions:
            self._xdmf.write_function(self._as_p1(f), t)

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
        """Close the files."""
        for w in self._writers:
            w.close()
        self._writers = []
        if self.format == "xdmf":
            self._xdmf.close()

    def __enter__(self) -> FieldWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
        self._file = None
        if comm.rank != 0:
            return
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
        with tmp.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(self.columns)
            writer.writerows(kept)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)  # atomic: the old file or the new one, never half
        self._file = self.path.open("a", newline="")
        self._writer = csv.writer(self._file)

    def append(self, **values: float) -> None:
        """Append one row (rank 0 writes; other ranks ignore the call)."""
        if self._file is None:
            return
        missing = [c for c in self.columns if c not in values]
        if missing:
            raise KeyError(f"time-series row lacks columns {missing}")
        self._writer.writerow([repr(float(values[c])) for c in self.columns])
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file."""
        if self._file is not None:
            self._file.close()
            self._file = None


def read_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read a femdiff time series into column arrays."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], np.array(rows[1:], dtype=float).reshape(-1, len(rows[0]))
    return {name: data[:, i] for i, name in enumerate(header)}


def sample_line(f: fem.Function, points: np.ndarray) -> np.ndarray:
    """Values of ``f`` at ``points`` (shape (n, 3)), gathered on rank 0.

    Returns the values (shape (n,) or (n, value_size)) on rank 0 and an empty array on
    other ranks; points outside the mesh give NaN.
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
    return values[:, 0] if size == 1 else values
