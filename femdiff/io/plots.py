"""Plots a user would show: series grouped by unit, profiles, fields on the mesh, spectra.

Drawn on rank 0 (:func:`~femdiff.io.collective.on_root`), with labelled axes and units.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mpi4py import MPI

import numpy as np
from dolfinx import fem

from femdiff.io.collective import on_root

log = logging.getLogger("femdiff")


def read_csv(path: str | Path) -> dict[str, np.ndarray]:
    """Read a femdiff time series into column arrays."""
    with Path(path).open(newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], np.array(rows[1:], dtype=float).reshape(-1, len(rows[0]))
    return {name: data[:, i] for i, name in enumerate(header)}


def line_points(start: Sequence[float], end: Sequence[float], n: int = 101) -> np.ndarray:
    """``n`` equally spaced points from ``start`` to ``end`` as an (n, 3) array."""
    a = np.zeros(3)
    b = np.zeros(3)
    a[: len(start)] = start
    b[: len(end)] = end
    s = np.linspace(0.0, 1.0, int(n))[:, None]
    return (1 - s) * a + s * b


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, png_path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Lay out, write and close a figure (``metadata``: PNG text chunks)."""
    try:
        fig.tight_layout()
        fig.savefig(png_path, dpi=110, metadata=metadata)
    finally:
        _pyplot().close(fig)
    return Path(png_path)


def plot_series(comm: MPI.Comm, csv_path: str | Path, png_path: str | Path,
                columns: Sequence[str] | None = None, x: str = "t",
                title: str | None = None) -> Path | None:
    """Plot CSV columns against ``x``, one panel each (rank 0 writes).

    Args:
        comm: communicator; only rank 0 reads and plots.
        csv_path: a file written by :class:`TimeSeries`.
        png_path: the PNG to write.
        columns: the columns to plot (default: all but ``x``).
        x: the abscissa column.
        title: figure title.

    Returns the PNG path on rank 0, ``None`` elsewhere. Collective: a failure on rank 0
    raises :class:`OutputError` on every rank.
    """
    return on_root(comm, lambda: _plot_series(csv_path, png_path, columns, x, title),
                   png_path)


def _series_units(csv_path: str | Path) -> dict[str, str] | None:
    """Units of a series' columns from the ``.json`` beside it (None without one)."""
    import json

    path = Path(csv_path).with_suffix(".json")
    if not path.is_file():
        return None
    try:
        cols = json.loads(path.read_text())["columns"]
        return {name: str(c.get("unit", "")) for name, c in cols.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


#: solver counters: left out of series plots that know the columns' units
_COUNTERS = ("dt", "newton", "krylov", "retries")


def _log_worthy(values: np.ndarray) -> bool:
    """Positive values spanning more than two decades."""
    v = values[np.isfinite(values)]
    return bool(v.size) and bool((v > 0).all()) and float(v.max()) > 100 * float(v.min())


def _plot_series(csv_path: str | Path, png_path: str | Path, columns: Sequence[str] | None,
                 x: str, title: str | None) -> Path:
    data = read_csv(csv_path)
    units = _series_units(csv_path)
    names = [c for c in (columns or data) if c != x]
    if units is not None and columns is None:
        names = [c for c in names if c not in _COUNTERS]
    # one panel per unit (columns of the same unit share it), labelled with the unit
    panels: dict[str, list[str]] = {}
    for name in names:
        key = units.get(name, "") if units is not None else name
        panels.setdefault(key if units is not None else name, []).append(name)
    plt = _pyplot()
    ncol = 2 if len(panels) > 1 else 1
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.5 * ncol, 2.6 * nrow + 0.6),
                             squeeze=False, sharex=True)
    for ax, (unit, cols) in zip(axes.ravel(), panels.items(), strict=False):
        for name in cols:
            ax.plot(data[x], data[name], ".-", ms=3, label=name)
        if units is not None:
            ax.set_ylabel(f"[{unit}]" if unit else "")
            ax.legend(fontsize="small")
        else:
            ax.set_ylabel(cols[0])
        if all(_log_worthy(data[c]) for c in cols):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(f"{x} [{units.get(x, '')}]" if units is not None else x)
    if title:
        fig.suptitle(title)
    return _save(fig, png_path)


def plot_profiles(comm: MPI.Comm, png_path: str | Path, points: np.ndarray,
                  profiles: Mapping[str, np.ndarray], ylabel: str = "",
                  title: str | None = None) -> Path | None:
    """Plot values sampled along a line (from :func:`sample_line`) against arc length.

    ``profiles`` maps a legend label to the values on rank 0 (other ranks pass what
    :func:`sample_line` gave them). Returns the PNG path on rank 0, ``None`` elsewhere.
    Collective: a failure on rank 0 raises :class:`OutputError` on every rank.
    """
    return on_root(comm, lambda: _plot_profiles(png_path, points, profiles, ylabel, title),
                   png_path)


def _plot_profiles(png_path: str | Path, points: np.ndarray,
                   profiles: Mapping[str, np.ndarray], ylabel: str,
                   title: str | None) -> Path:
    points = np.asarray(points, dtype=float)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    xlabel = "distance along the line [m]"
    r = np.linalg.norm(points, axis=1)
    radial = r[0] > 0 and np.allclose(r - r[0], s, rtol=1e-9, atol=1e-12 * r[-1])
    if radial and r[-1] > 100 * r[0]:  # a line away from a singularity at the origin
        s, xlabel = r, "distance from the origin [m]"
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, values in profiles.items():
        ax.plot(s, values, label=label)
    if s is r:
        ax.set_xscale("log")
    if profiles and all(_log_worthy(np.asarray(v, dtype=float)) for v in profiles.values()):
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(profiles) > 1:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return _save(fig, png_path)


def plot_field_2d(f: fem.Function, png_path: str | Path, n: int = 200,
                  title: str | None = None, cmap: str = "viridis", label: str | None = None,
                  length_unit: str = "m") -> Path | None:
    """Colour plot of a scalar Function on a 2D mesh (collective; rank 0 writes).

    Drawn on the mesh itself (``matplotlib.tri``): every owned cell contributes its
    triangles (a quadrilateral two) with the field's values at its vertices, gathered on
    rank 0 and shaded linearly in between; a discontinuous field keeps its jumps between
    cells. The colour range is the range of those values, so a peak in one small cell
    (a crack tip) is not lost as it was by sampling on a pixel grid. Axes are labelled
    (x, y in ``length_unit``), the colour bar with ``label`` (default: the field name).
    ``n`` is kept for compatibility and unused. Returns the PNG path on rank 0, ``None``
    elsewhere.
    """
    mesh = f.function_space.mesh
    comm = mesh.comm
    if mesh.geometry.dim != 2:
        raise ValueError("plot_field_2d needs a 2D mesh")
    tdim = mesh.topology.dim
    n_cells = mesh.topology.index_map(tdim).size_local
    quad = mesh.topology.cell_name() == "quadrilateral"
    nv = 4 if quad else 3
    dofmaps = getattr(mesh.geometry, "dofmaps", None)
    gdofs = (dofmaps[0] if dofmaps is not None else mesh.geometry.dofmap)[:n_cells, :nv]
    pts = mesh.geometry.x[gdofs.ravel()]
    cells = np.repeat(np.arange(n_cells, dtype=np.int32), nv)
    vals = f.eval(pts, cells).reshape(-1) if n_cells else np.empty(0)
    if vals.size != pts.shape[0]:
        raise ValueError(f"plot_field_2d needs a scalar field, {f.name!r} is not")
    gathered = comm.gather((pts[:, :2].copy(), vals.copy()), root=0)

    def draw() -> Path:
        import matplotlib.tri as mtri

        xy = np.concatenate([g[0] for g in gathered])
        v = np.concatenate([g[1] for g in gathered])
        base = np.arange(0, len(v), nv)[:, None]
        local = np.array([[0, 1, 3], [0, 3, 2]] if quad else [[0, 1, 2]])
        tris = (base[:, None, :] + local[None, :, :]).reshape(-1, 3)
        tri = mtri.Triangulation(xy[:, 0], xy[:, 1], tris)
        lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
        if hi <= lo:  # a constant field: a visible, centred range
            lo, hi = lo - (abs(lo) or 1.0) * 1e-9, hi + (abs(hi) or 1.0) * 1e-9
        width = float(np.ptp(xy[:, 0])) or 1.0
        aspect = float(np.ptp(xy[:, 1])) / width
        plt = _pyplot()
        from matplotlib.colors import LogNorm, Normalize
        from matplotlib.ticker import MaxNLocator

        # a positive field over decades (a peak at a crack tip): a logarithmic colour scale
        norm = LogNorm(lo, hi) if lo > 0 and hi > 30 * lo else Normalize(lo, hi)
        fig, ax = plt.subplots(figsize=(6.4, 6 * min(max(aspect, 0.3), 3) * 0.85 + 0.8))
        image = ax.tripcolor(tri, v, shading="gouraud", cmap=cmap, norm=norm)
        ax.set_aspect("equal")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_xlabel(f"x [{length_unit}]")
        ax.set_ylabel(f"y [{length_unit}]")
        fig.colorbar(image, ax=ax, shrink=0.8, label=label or f.name)
        ax.set_title(title or f.name)
        # the colour range, readable from the file (tests check it covers the data)
        return _save(fig, png_path, {"Description": f"colour range {lo!r} {hi!r}"})

    return on_root(comm, draw, png_path)


def plot_spectrum(comm: MPI.Comm, csv_path: str | Path, png_path: str | Path,
                  x: str = "T", y: str = "desorption_flux", xlabel: str = "T [K]",
                  ylabel: str = "desorption flux", title: str | None = None) -> Path | None:
    """One CSV column against another (a TDS spectrum: desorption flux against T)."""
    def draw() -> Path:
        data = read_csv(csv_path)
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6.5, 4))
        ax.plot(data[x][1:], data[y][1:], "-")  # row 0: the initial state, no step yet
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if title:
            ax.set_title(title)
        return _save(fig, png_path)

    return on_root(comm, draw, png_path)


