"""Parametrised Gmsh geometries with named physical groups.

Each builder validates its parameters, creates an OpenCASCADE model, names every boundary
and volume, meshes it and returns ``gmsh.model``. Builders run on one rank; use
:func:`build` to get a distributed :class:`femdiff.geometry.mesh.Domain` (Gmsh runs on rank 0),
or :func:`write_msh` to save a ``.msh`` file.

Mesh size: ``h`` is the global target size (a default follows from the dimensions);
``refine`` adds local refinement, one :class:`Refine` or a sequence of them (near a
point, a segment or a named boundary). ``order`` is the geometric order of the elements
(1 or 2). Parameters are checked before Gmsh does any work; a bad one raises
``ValueError`` naming it. So is the mesh size: the cell count is estimated from the
model's measure, ``h`` and the refinements before meshing (:func:`check_mesh_size`);
above :data:`DEFAULT_MAX_CELLS` (or ``max_cells=`` of :func:`build`/:func:`write_msh`,
or ``$FEMDIFF_MAX_CELLS``; 0: no limit) the builder refuses, and a mesh with fewer than
2 cells across the smallest feature is reported as a warning on the ``femdiff`` logger.
Gmsh runs silently and headless: builders call :func:`initialize`, which starts it if
needed; :func:`build` and :func:`write_msh` clear
it afterwards, or finalise it if they started it.

Names (shared with the ``.geo`` files in ``meshes/``): each builder declares the
boundary and volume names it gives (:func:`declares`, above its definition), so they are
known before meshing: ``names("rod", dim=2)`` gives ``Names(dim=2, boundaries=("left",
"right", "surface"), volumes=("rod",))``; each builder's docstring says where they lie.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpi4py import MPI

import gmsh

from femdiff.geometry import _core, meshsize
from femdiff.geometry._core import (
    Names,
    Refine,
    declares,
    initialize,
)
from femdiff.geometry.builders import (
    beam,
    box,
    diffusion_couple,
    notched_bar,
    plate_with_hole,
    rod,
    sphere,
    sphere_octant,
    t_shape,
)
from femdiff.geometry.crack import crack_tip
from femdiff.geometry.mesh import Domain, from_gmsh_model
from femdiff.geometry.meshsize import (
    DEFAULT_MAX_CELLS,
    MAX_CELLS_ENV,
    check_mesh_size,
    estimate_mesh_size,
    max_cells_limit,
)

log = logging.getLogger("femdiff")

__all__ = ["BUILDERS", "DEFAULT_MAX_CELLS", "MAX_CELLS_ENV", "Names", "Refine", "beam", "box",
           "build", "check_mesh_size", "crack_tip", "declares", "diffusion_couple",
           "estimate", "estimate_mesh_size", "initialize", "max_cells_limit", "meshsize",
           "names", "notched_bar", "plate_with_hole", "rod", "sphere", "sphere_octant",
           "t_shape", "write_msh"]

BUILDERS: dict[str, Callable[..., Any]] = {
    "rod": rod,
    "box": box,
    "beam": beam,
    "plate_with_hole": plate_with_hole,
    "notched_bar": notched_bar,
    "sphere": sphere,
    "sphere_octant": sphere_octant,
    "diffusion_couple": diffusion_couple,
    "t_shape": t_shape,
    "crack_tip": crack_tip,
}


def _resolve(builder: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(builder):
        return builder
    if builder not in BUILDERS:
        raise ValueError(f"unknown geometry {builder!r}; available: {', '.join(BUILDERS)}")
    return BUILDERS[builder]


def names(builder: str | Callable[..., Any], **params: Any) -> Names:
    """The (dimension, boundary names, volume names) ``builder(**params)`` will mesh.

    ``builder``: a name of :data:`BUILDERS` or a builder function.

    Raises:
        ValueError: an unknown builder, or one that declares no names (:func:`declares`).
    """
    return _core.declared(_resolve(builder), **params)


def _run_on_root(comm: MPI.Comm, fn: Callable[..., Any], params: dict[str, Any],
                 then: Callable[[], Any] | None = None, max_cells: int | None = None) -> bool:
    """Run builder ``fn`` (and ``then``) on rank 0; raise its error on every rank.

    Returns whether Gmsh was started here (rank 0 must finalise it). On failure Gmsh is
    cleared, or finalised if it was started here, before every rank raises.
    """
    error, started = None, False
    if comm.rank == 0:
        started = not gmsh.isInitialized()
        meshsize._max_cells = max_cells
        try:
            fn(**params)
            if then is not None:
                then()
        except Exception as exc:  # any failure on rank 0 must reach every rank
            kind = ValueError if isinstance(exc, ValueError | TypeError) else RuntimeError
            error = (kind, f"{getattr(fn, '__name__', 'geometry')}: {exc}")
            _release(started)
        finally:
            meshsize._max_cells = None
    error = comm.bcast(error, root=0)
    if error:
        raise error[0](error[1])
    return started


def _release(started: bool) -> None:
    if started and gmsh.isInitialized():
        gmsh.finalize()
    elif gmsh.isInitialized():
        gmsh.clear()


def build(builder: str | Callable[..., Any], comm: MPI.Comm = MPI.COMM_WORLD,
          gdim: int | None = None, max_cells: int | None = None, **params: Any) -> Domain:
    """Build a geometry on rank 0 and return the distributed :class:`Domain`.

    Args:
        builder: a name in :data:`BUILDERS` or a builder function returning ``gmsh.model``.
        comm: communicator of the mesh.
        gdim: geometric dimension (default: the model's dimension).
        max_cells: refuse to mesh when the estimated cell count is above this (default
            ``$FEMDIFF_MAX_CELLS`` or :data:`DEFAULT_MAX_CELLS`; 0: no limit).
        **params: the builder's parameters.

    A bad parameter, or a mesh size that would give too many cells, raises the same
    ``ValueError`` on every rank (no deadlock), before Gmsh meshes. Gmsh is cleared
    afterwards, or finalised if this call started it.
    """
    fn = _resolve(builder)
    started = _run_on_root(comm, fn, params, max_cells=max_cells)
    try:
        return from_gmsh_model(gmsh.model if comm.rank == 0 else None, comm, gdim=gdim)
    finally:
        if comm.rank == 0:
            _release(started)


def estimate(builder: str | Callable[..., Any], max_cells: int | None = None,
             **params: Any) -> float:
    """Run a builder's checks without meshing; return the estimated cell count.

    Its parameter checks, the OCC model and the cell estimate against the limit run in
    this process only (no communicator, no mesh).

    Raises:
        ValueError: a bad parameter or too many cells, as :func:`build` would.
        RuntimeError: Gmsh (OpenCASCADE) could not build the model.
    """
    fn = _resolve(builder)
    started = not gmsh.isInitialized()
    meshsize._max_cells, meshsize._dry_run = max_cells, True
    try:
        fn(**params)
    except meshsize.DryRun as done:
        return done.cells
    finally:
        meshsize._max_cells, meshsize._dry_run = None, False
        _release(started)
    raise RuntimeError(f"builder {getattr(fn, '__name__', fn)!r} meshed without a size "
                       "check")


def write_msh(builder: str | Callable[..., Any], path: str | Path,
              comm: MPI.Comm = MPI.COMM_WORLD, max_cells: int | None = None,
              **params: Any) -> Path:
    """Build a geometry on rank 0 and write it to a Gmsh ``.msh`` file (format 4.1).

    Only the physical groups' elements are saved. Returns ``path``; every rank raises
    ``ValueError`` for a bad parameter or a path not ending in ``.msh``.
    """
    fn = _resolve(builder)
    path = Path(path)
    if path.suffix != ".msh":
        raise ValueError(f"path {str(path)!r} must end in .msh")

    def save() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        gmsh.option.setNumber("Mesh.SaveAll", 0)
        gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
        gmsh.write(str(path))

    started = _run_on_root(comm, fn, params, then=save, max_cells=max_cells)
    if comm.rank == 0:
        _release(started)
    comm.Barrier()  # the file exists when any rank returns
    return path
