"""Geometry of a case: the [geometry] section, its names before meshing, the Domain.

Boundary and volume names are known before meshing: a Gmsh builder declares them
(:func:`femdiff.geometry.names`), a ``.msh`` file lists them in ``$PhysicalNames`` and a
``.geo`` file in its ``Physical`` statements. Validation stores them in the
:class:`~femdiff.case.schema.Context`, so every later section can check a boundary name.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from femdiff.case.schema import CaseError, Context, Key, check_value, table, type_name

if TYPE_CHECKING:
    from femdiff.case.loader import Case

#: Structured DOLFINx meshes (femdiff.geometry.mesh), usable as ``builder`` next to the Gmsh ones:
#: their parameters, and their (dimension, boundary names); they have no volume names.
STRUCTURED: dict[str, tuple[tuple[str, ...], int, list[str]]] = {
    "interval": (("n", "length", "x0"), 1, ["left", "right"]),
    "rectangle": (("nx", "ny", "lx", "ly", "cell"), 2, ["left", "right", "bottom", "top"]),
    "structured_box": (("nx", "ny", "nz", "lx", "ly", "lz"), 3,
                       ["left", "right", "front", "back", "bottom", "top"]),
}


def builder_names(builder: str, params: Mapping[str, Any]
                  ) -> tuple[int, list[str] | None, list[str] | None]:
    """(dimension, boundary names, volume names) of a builder, without meshing.

    Gmsh builders declare their names (:func:`femdiff.geometry.names`); a builder that
    declares none gives ``None`` (names unknown until meshed).
    """
    if builder in STRUCTURED:
        _, dim, bnames = STRUCTURED[builder]
        return dim, list(bnames), []
    from femdiff import geometry

    try:
        declared = geometry.names(builder, **params)
    except ValueError:  # a builder without a declaration: names unknown before meshing
        dim_param = inspect.signature(geometry.BUILDERS[builder]).parameters.get("dim")
        default = dim_param.default if dim_param is not None else 2
        return int(params.get("dim", default)), None, None
    return declared.dim, list(declared.boundaries), list(declared.volumes)


def file_names(path: Path) -> tuple[int, list[str], list[str]]:
    """(dimension, boundary names, volume names) of a .msh or .geo file.

    See femdiff.geometry.mesh.
    """
    from femdiff.geometry import mesh

    return mesh.file_names(path)


GEOMETRY = {
    "builder": Key("string", doc="a built-in geometry"),
    "file": Key("string", doc="a .msh or .geo file, relative to the case file"),
    "params": Key("table", default={}, doc="the builder's parameters"),
    "h": Key("positive", doc="mesh size [length]"),
    "gdim": Key("integer", choices=(1, 2, 3), doc="geometric dimension of a mesh file"),
    "transform": Key("table", doc="coordinate map {x = formula, ...} applied after meshing"),
}

_SIZE_PARAMS = {"length", "radius", "width", "height", "lx", "ly", "lz", "notch_depth",
                "notch_radius", "h"}


def validate_geometry(data: Any, ctx: Context, base: Path) -> dict[str, Any]:
    """Check [geometry]; set the dimension and the boundary and volume names in ``ctx``."""
    if isinstance(data, dict):
        data = dict(data)  # the caller's table is left as given
    periodic = data.pop("periodic", None) if isinstance(data, dict) else None
    g = _validate_mesh_source(data, ctx, base)
    g["periodic"] = _validate_periodic(periodic, ctx)
    transform = g["transform"] or {}
    axes = "xyz"[: ctx.gdim or 3]
    checked = {}
    for axis, value in transform.items():
        where = f"geometry.transform.{axis}"
        if axis not in axes:
            raise ctx.error(where, f"unknown coordinate {axis!r}; allowed keys: "
                            f"{', '.join(axes)}")
        if not isinstance(value, str):
            raise ctx.error(where, f"expected a formula of the coordinates (a string), got "
                            f"{type_name(value)} {value!r}")
        checked[axes.index(axis)] = check_value(value, Key("expr"), where, ctx)
    g["transform"] = checked
    return g


def _validate_periodic(value: Any, ctx: Context) -> list[tuple[str, str]]:
    """``periodic = [["left", "right"], ...]``: pairs of the geometry's boundary names."""
    if value is None:
        return []
    where = "geometry.periodic"
    if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(n, str) for n in p)
            for p in value):
        raise ctx.error(where, f"expected pairs of boundary names, e.g. [[\"left\", "
                        f"\"right\"]], got {type_name(value)} {value!r}")
    pairs = []
    for i, (a, b) in enumerate(value):
        for name in (a, b):
            if name in ctx.periodic:
                raise ctx.error(f"{where}[{i}]", f"boundary {name!r} is in two pairs")
            ctx.check_boundary(name, f"{where}[{i}]")
        if a == b:
            raise ctx.error(f"{where}[{i}]", f"a boundary cannot be glued to itself ({a!r})")
        ctx.periodic.update({a: b, b: a})
        pairs.append((a, b))
    if ctx.boundaries is not None:
        ctx.boundaries = [n for n in ctx.boundaries if n not in ctx.periodic]
    return pairs


def _validate_mesh_source(data: Any, ctx: Context, base: Path) -> dict[str, Any]:
    from femdiff import geometry
    from femdiff.geometry import mesh

    g = table(data, GEOMETRY, "geometry", ctx)
    builders = [*geometry.BUILDERS, *STRUCTURED]
    if (g["builder"] is None) == (g["file"] is None):
        raise ctx.error("geometry", "give exactly one of 'builder' (one of "
                        f"{', '.join(builders)}) or 'file' (a .msh or .geo path)")
    if g["file"] is not None:
        path = Path(g["file"])
        path = path if path.is_absolute() else (base / path)
        if path.suffix not in (".msh", ".geo"):
            raise ctx.error("geometry.file", f"expected a .msh or .geo file, got {g['file']!r}")
        if not path.is_file():
            raise ctx.error("geometry.file", f"mesh file {str(path)!r} does not exist")
        if g["params"]:
            raise ctx.error("geometry.params", "params are for builders, not mesh files")
        if g["h"] is not None and path.suffix == ".msh":
            raise ctx.error("geometry.h", "a .msh file is already meshed: remove h")
        g["path"] = path
        from femdiff.geometry.mesh import MeshError

        try:
            dim, bnames, vnames = file_names(path)
        except MeshError as exc:  # empty, unreadable, or no physical groups
            raise ctx.error("geometry.file", str(exc)) from None
        ctx.gdim = g["gdim"] or dim
        ctx.boundaries, ctx.volumes = bnames, vnames
        ctx.geometry_label = f"the mesh file {path.name!r}"
        return g
    name = g["builder"]
    if name not in builders:
        raise ctx.error("geometry.builder", f"unknown builder {name!r}; allowed values: "
                        f"{', '.join(builders)}")
    params = g["params"]
    if name in STRUCTURED:
        allowed = STRUCTURED[name][0]
    else:
        sig = inspect.signature(geometry.BUILDERS[name])
        allowed = tuple(p for p in sig.parameters if p not in ("name", "refine"))
    for key, value in params.items():
        where = f"geometry.params.{key}"
        if key not in allowed:
            raise ctx.error(where, f"unknown parameter {key!r} of builder {name!r}; allowed "
                            f"keys: {', '.join(allowed)}")
        if key == "h":
            raise ctx.error(where, "give the mesh size as geometry.h")
        if key in _SIZE_PARAMS or key in ("n", "nx", "ny", "nz"):
            check_value(value, Key("posint" if key.startswith("n") and len(key) <= 2
                                    else "positive", doc="a size"), where, ctx)
        if key == "dim":
            check_value(value, Key("integer", choices=(2, 3)), where, ctx)
        if key == "cell":
            check_value(value, Key("choice", choices=mesh.RECTANGLE_CELLS), where, ctx)
    if name in STRUCTURED:
        for key in allowed[: {"interval": 1, "rectangle": 2, "structured_box": 3}[name]]:
            if key not in params:
                raise ctx.error(f"geometry.params.{key}", "missing required value (number "
                                f"of cells) of builder {name!r}")
        if g["h"] is not None:
            raise ctx.error("geometry.h", f"builder {name!r} is structured: give the "
                            "numbers of cells in params instead of h")
    ctx.gdim, ctx.boundaries, ctx.volumes = builder_names(name, params)
    ctx.geometry_label = f"the geometry {name!r}"
    if name not in STRUCTURED:
        _dry_run(name, g, ctx)
    return g


def _dry_run(name: str, g: dict[str, Any], ctx: Context) -> None:
    """The builder's own checks before meshing: its parameters and the cell estimate.

    (:func:`femdiff.geometry.estimate`: the OCC model is built, not meshed; milliseconds.)
    """
    from femdiff import geometry

    params = dict(g["params"])
    if g["h"] is not None:
        params["h"] = g["h"]
    try:
        geometry.estimate(name, **params)
    except ValueError as exc:
        text = str(exc)
        if "cells" in text and g["h"] is not None:
            key = "geometry.h"
        else:  # the parameter the builder names first (its messages start with it)
            words = text.replace("=", " ").split()
            named = [p for p in g["params"] if p in words]
            key = f"geometry.params.{named[0]}" if named else "geometry.params"
        raise ctx.error(key, text) from None
    except RuntimeError as exc:  # OpenCASCADE could not build the model
        raise ctx.error("geometry.params", f"Gmsh could not build the geometry {name!r}: "
                        f"{exc}") from None


class GeometryError(RuntimeError):
    """Gmsh could not build or mesh a case's geometry (``<file>: geometry: <message>``)."""


def build_domain(case: Case, comm: Any) -> Any:
    """Mesh the case's geometry (Gmsh on rank 0) and return the distributed Domain.

    Raises:
        CaseError: a mesh file that cannot be read, or parameters a builder rejects.
        GeometryError: Gmsh failed to build or mesh the geometry.
    """
    from femdiff.geometry import mesh

    g = case.data["geometry"]
    if g["file"] is not None:
        try:
            domain = mesh.read(g["path"], comm, gdim=g["gdim"])
        except mesh.MeshError as exc:
            raise CaseError(case.path, "geometry.file", str(exc)) from None
        except RuntimeError as exc:
            raise GeometryError(f"{case.path}: geometry.file: {exc}") from None
    else:
        domain = _build_builder(case, g, comm)
    if g["transform"]:
        x = domain.mesh.geometry.x
        points = x.T.copy()  # the original coordinates, shape (3, n)
        before = _orientation(domain.mesh)
        for axis, expr in g["transform"].items():
            x[:, axis] = expr.numpy(points)
        _check_transform(case, domain.mesh, before)
    if g["periodic"]:
        from femdiff.geometry.mesh import MeshError

        try:
            domain = mesh.periodic(domain, g["periodic"])
        except (MeshError, ValueError) as exc:  # not conforming, not a translation, ...
            raise CaseError(case.path, "geometry.periodic", str(exc)) from None
    return domain


def _orientation(mesh: Any) -> Any:
    """Each cell's signed measure from its first tdim + 1 nodes (a corner's Jacobian)."""
    import numpy as np

    tdim = mesh.topology.dim
    owned = mesh.topology.index_map(tdim).size_local  # (ghosts are another rank's)
    cells = mesh.geometry.dofmaps[0][:owned]
    x = mesh.geometry.x[cells[:, : tdim + 1]][:, :, :tdim]  # (cells, tdim+1, tdim)
    edges = x[:, 1:, :] - x[:, :1, :]
    if mesh.geometry.dim != tdim:  # a manifold: no orientation to keep
        return np.ones(len(cells))
    return np.linalg.det(edges) if tdim > 1 else edges[:, 0, 0]


def _check_transform(case: Case, mesh: Any, before: Any) -> None:
    """Refuse a transform that folds, collapses or overflows the mesh (every rank).

    Each cell keeps its orientation (or all are mirrored together): a cell whose corner
    Jacobian changes sign or vanishes is folded or flattened by the map.
    """
    from mpi4py import MPI

    import numpy as np

    after = _orientation(mesh)
    with np.errstate(all="ignore"):
        ratio = after / before
    finite = bool(np.isfinite(mesh.geometry.x).all() and np.isfinite(ratio).all())
    comm = mesh.comm
    finite = comm.allreduce(finite, op=MPI.LAND)
    pos = comm.allreduce(int((ratio > 0).sum()) if finite else 0, op=MPI.SUM)
    neg = comm.allreduce(int((ratio < 0).sum()) if finite else 0, op=MPI.SUM)
    total = comm.allreduce(len(ratio), op=MPI.SUM)
    if not finite:
        raise CaseError(case.path, "geometry.transform", "maps some nodes to non-finite "
                        "coordinates (inf or nan)")
    if max(pos, neg) < total:
        bad = total - max(pos, neg)
        raise CaseError(case.path, "geometry.transform", f"collapses or folds {bad} of "
                        f"{total} cells (their Jacobian vanishes or changes sign): the map "
                        "must be one-to-one, e.g. {x = \"2*x\"}")


def _build_builder(case: Case, g: dict[str, Any], comm: Any) -> Any:
    from femdiff import geometry
    from femdiff.geometry import mesh

    name, params = g["builder"], dict(g["params"])
    if name == "interval":
        return mesh.interval(params["n"], params.get("length", 1.0), params.get("x0", 0.0),
                             comm=comm)
    if name == "rectangle":
        return mesh.rectangle(params["nx"], params["ny"], params.get("lx", 1.0),
                              params.get("ly", 1.0), comm=comm,
                              cell=params.get("cell", "triangle"))
    if name == "structured_box":
        return mesh.box(params["nx"], params["ny"], params["nz"], params.get("lx", 1.0),
                        params.get("ly", 1.0), params.get("lz", 1.0), comm=comm)
    if g["h"] is not None:
        params["h"] = g["h"]
    try:
        return geometry.build(name, comm, **params)
    except ValueError as exc:  # MeshError included: the model Gmsh made is unusable
        # a refused cell count is about h (given as geometry.h or geometry.params.h)
        key = "geometry.params"
        if "cells" in str(exc) and g["h"] is not None:
            key = "geometry.h"
        elif "cells" in str(exc) and "h" in g["params"]:
            key = "geometry.params.h"
        raise CaseError(case.path, key, str(exc)) from None
    except RuntimeError as exc:  # Gmsh (OpenCASCADE, the mesher) failed
        raise GeometryError(f"{case.path}: geometry: Gmsh failed: {exc}") from None


