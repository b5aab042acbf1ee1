"""Mesh-size sanity check before Gmsh meshes: an estimated cell count, a limit, a warning."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import gmsh
import numpy as np

if TYPE_CHECKING:
    from femdiff.geometry._core import Refine

log = logging.getLogger("femdiff")

# --- mesh-size sanity check (before Gmsh meshes) -------------------------------------------

#: refuse to mesh above this many (estimated) cells, unless told otherwise
DEFAULT_MAX_CELLS = 5_000_000
#: environment variable that overrides :data:`DEFAULT_MAX_CELLS` (0: no limit)
MAX_CELLS_ENV = "FEMDIFF_MAX_CELLS"
_max_cells: int | None = None  # set by build() / write_msh() while a builder runs
_dry_run = False  # set by estimate(): check_mesh_size stops the builder (DryRun)


class DryRun(Exception):  # noqa: N818 - not an error: the end of a dry run
    """Raised by :func:`check_mesh_size` in a dry run: the builder's checks passed."""

    def __init__(self, cells: float) -> None:
        super().__init__(cells)
        self.cells = cells


def max_cells_limit(max_cells: int | None = None) -> int:
    """The cell limit: ``max_cells`` if given, else ``$FEMDIFF_MAX_CELLS``, else the default.

    0 means no limit.
    """
    if max_cells is None:
        max_cells = _max_cells
    if max_cells is None:
        text = os.environ.get(MAX_CELLS_ENV, "").strip()
        try:
            max_cells = int(float(text)) if text else DEFAULT_MAX_CELLS
        except ValueError:
            raise ValueError(f"{MAX_CELLS_ENV}={text!r} must be a number of cells "
                             "(0: no limit)") from None
    if max_cells < 0:
        raise ValueError(f"max_cells must be ≥ 0 (0: no limit), got {max_cells!r}")
    return int(max_cells)


def _cell_measure(dim: int, size: float) -> float:
    """Measure of a regular simplex of edge ``size`` (the cells Gmsh aims for)."""
    return {1: size, 2: math.sqrt(3) / 4 * size**2, 3: size**3 / (6 * math.sqrt(2))}[dim]


def _ball(dim: int, radius: float) -> float:
    return {1: 2 * radius, 2: math.pi * radius**2, 3: 4 / 3 * math.pi * radius**3}[dim]


def estimate_mesh_size(dim: int, h: float, refine: Sequence[Refine] = (),
                       boundaries: dict[str, list[int]] | None = None,
                       ) -> tuple[float, float, float]:
    """(cells, measure, smallest feature) of the current OCC model meshed at size ``h``.

    The cell count is the model's measure over that of a regular simplex of edge ``h``,
    plus, for each :class:`Refine`, its zone (within ``distance`` at ``size``, out to
    2·distance at the mean of ``size`` and ``h``). Gmsh's counts are within a factor of
    about 2 of this. The smallest feature is the smallest extent of a ``dim``-entity's
    bounding box or the shortest curve. Call it on rank 0, with the model synchronised.
    """
    measure = sum(gmsh.model.occ.getMass(dim, t) for _, t in gmsh.model.getEntities(dim))
    cells = measure / _cell_measure(dim, h)
    for r in refine:
        if r.size >= h:
            continue
        if r.point is not None:
            near, far = _ball(dim, r.distance), _ball(dim, 2 * r.distance)
        elif r.segment is not None:
            length = float(np.linalg.norm(np.subtract(r.segment[1], r.segment[0])))
            near = _ball(dim, r.distance) + length * _ball(dim - 1, r.distance)
            far = _ball(dim, 2 * r.distance) + length * _ball(dim - 1, 2 * r.distance)
        else:
            area = sum(gmsh.model.occ.getMass(dim - 1, t)
                       for t in (boundaries or {}).get(r.boundary or "", []))
            near, far = area * r.distance, area * 2 * r.distance
        near, far = min(near, measure), min(far, measure)
        cells += near / _cell_measure(dim, r.size) + (far - near) / _cell_measure(
            dim, (r.size + h) / 2)
    extents, scale = [], 0.0
    for _, t in gmsh.model.getEntities(dim):
        b = np.array(gmsh.model.getBoundingBox(dim, t))
        span = np.sort(b[3:] - b[:3])
        extents.append(float(span[3 - dim]))  # the smallest of the dim largest
        scale = max(scale, float(span[-1]))
    if dim > 1:  # curves, less degenerate ones (the poles of a sphere, seams)
        lengths = [gmsh.model.occ.getMass(1, t) for _, t in gmsh.model.getEntities(1)]
        extents += [x for x in lengths if x > 1e-6 * scale]
    return cells, measure, min(extents) if extents else math.inf


def check_mesh_size(dim: int, h: float, refine: Sequence[Refine] = (),
                    boundaries: dict[str, list[int]] | None = None,
                    max_cells: int | None = None) -> float:
    """Refuse a mesh too large to make, warn of one too coarse; return the estimated cells.

    Called by the builders before Gmsh meshes (rank 0).

    Raises:
        ValueError: the estimate is above :func:`max_cells_limit` (``max_cells`` argument
            of :func:`build`/:func:`write_msh`, or ``$FEMDIFF_MAX_CELLS``; 0: no limit).
    """
    cells, measure, feature = estimate_mesh_size(dim, h, refine, boundaries)
    limit = max_cells_limit(max_cells)
    if limit and cells > limit:
        raise ValueError(
            f"mesh size h = {h:g} would make about {cells:.2g} cells (measure "
            f"{measure:.3g}), more than the limit of {limit:,}: choose a larger h, or "
            f"raise the limit (max_cells=..., or the environment variable {MAX_CELLS_ENV}; "
            "0: none)")
    if _dry_run:  # estimate(): the checks are done, Gmsh must not mesh
        raise DryRun(cells)
    h_min = min([h] + [r.size for r in refine])
    if feature < 2 * h_min:
        log.warning("mesh size h = %g gives fewer than 2 cells across the smallest feature "
                    "of the geometry (%.3g wide): the mesh under-resolves it (and amounts "
                    "integrated on it); choose h ≤ %.3g", h, feature, feature / 2)
    return cells
