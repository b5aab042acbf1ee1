"""Gmsh plumbing shared by the builders: sizes, refinement, physical names, meshing."""

from __future__ import annotations

import inspect
import logging
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gmsh
import numpy as np

from femdiff.geometry.meshsize import check_mesh_size

log = logging.getLogger("femdiff")


@dataclass(frozen=True)
class Refine:
    """Local refinement: cells of size ``size`` within ``distance`` of a target.

    Gmsh builds a ``Distance`` field to the target and a ``Threshold`` field on it: the
    size is ``size`` up to ``distance`` and grows linearly to the global ``h`` at
    ``2 * distance``. Several refinements combine through a ``Min`` field, so the smallest
    requested size wins everywhere.

    Give exactly one target:

    - ``point``: coordinates (x, y[, z]), e.g. ``Refine(0.01, 0.1, point=(0, 0))``;
    - ``segment``: a straight curve from one point to another, e.g. a crack path
      ``Refine(0.01, 0.05, segment=((0, 0.5), (1, 0.5)))``;
    - ``boundary``: a physical boundary name of the builder (its curves in 2D, surfaces
      in 3D), e.g. ``Refine(0.01, 0.1, boundary="hole")`` or ``boundary="interface"``.

    Helper entities for ``point`` and ``segment`` are removed once the mesh is made.

    Attributes:
        size: mesh size near the target [length].
        distance: distance within which ``size`` holds [length].
        point: a point (x, y[, z]).
        segment: two points (start, end).
        boundary: a boundary name.
    """

    size: float
    distance: float
    point: tuple[float, ...] | None = None
    segment: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    boundary: str | None = None

    def __post_init__(self) -> None:
        _positive(**{"Refine.size": self.size, "Refine.distance": self.distance})
        targets = [t for t in (self.point, self.segment, self.boundary) if t is not None]
        if len(targets) != 1:
            raise ValueError("Refine needs exactly one target: point=..., segment=... "
                             "or boundary=...")
        if self.point is not None:
            object.__setattr__(self, "point", _coordinates("Refine.point", self.point))
        if self.segment is not None:
            if len(self.segment) != 2:
                raise ValueError(f"Refine.segment must be two points, got {self.segment!r}")
            a, b = (_coordinates("Refine.segment", p) for p in self.segment)
            if a == b:
                raise ValueError(f"Refine.segment has coincident end points {a!r}")
            object.__setattr__(self, "segment", (a, b))
        if self.boundary is not None and not isinstance(self.boundary, str):
            raise ValueError(f"Refine.boundary must be a name, got {self.boundary!r}")

    @property
    def kind(self) -> str:
        """The target kind: ``"point"``, ``"segment"`` or ``"boundary"``."""
        return "point" if self.point else "segment" if self.segment else "boundary"


Refinements = Refine | Sequence[Refine]
"""One :class:`Refine` or a sequence of them (the ``refine`` argument of the builders)."""


def _coordinates(label: str, point: Sequence[float]) -> tuple[float, float, float]:
    """``point`` as three finite floats (z = 0 when omitted)."""
    try:
        xyz = tuple(float(c) for c in point)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be 2 or 3 coordinates, got {point!r}") from None
    if len(xyz) not in (2, 3) or not all(math.isfinite(c) for c in xyz):
        raise ValueError(f"{label} must be 2 or 3 finite coordinates, got {point!r}")
    return (*xyz, 0.0)[:3]  # type: ignore[return-value]


def _positive(**params: float) -> None:
    for name, value in params.items():
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value) or value <= 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")


def _refinements(refine: Refinements | None, boundaries: Sequence[str],
                 ) -> tuple[Refine, ...]:
    """Check ``refine`` against the builder's boundary names, before any Gmsh work."""
    if refine is None:
        return ()
    items = (refine,) if isinstance(refine, Refine) else tuple(refine)
    for r in items:
        if not isinstance(r, Refine):
            raise ValueError(f"refine must be a sequence of Refine, got an item {r!r}")
        if r.boundary is not None and r.boundary not in boundaries:
            raise ValueError(f"Refine: unknown boundary {r.boundary!r}; known: "
                             f"{', '.join(sorted(boundaries))}")
    return items


def _common(h: float | None, default: float, order: int, dim: int | None = None,
            dims: tuple[int, ...] = (2, 3)) -> float:
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    if dim is not None and dim not in dims:
        raise ValueError(f"dim must be one of {dims}, got {dim!r}")
    if h is None:
        return default
    _positive(h=h)
    return float(h)


def initialize() -> bool:
    """Initialise Gmsh if needed, silent and headless; return whether it was started here.

    A Gmsh started here reads no configuration files and installs no signal handler.
    Call ``gmsh.finalize()`` afterwards when this returns ``True``.
    """
    started = not gmsh.isInitialized()
    if started:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    return started


def _start(name: str) -> None:
    """Start a fresh model.

    Size fields and options a previous build set are reset: gmsh keeps them across
    ``gmsh.clear()``.
    """
    initialize()
    gmsh.clear()
    for tag in gmsh.model.mesh.field.list():
        gmsh.model.mesh.field.remove(tag)
    for option, default in (("Mesh.MeshSizeExtendFromBoundary", 1),
                            ("Mesh.MeshSizeFromPoints", 1), ("Mesh.MeshSizeFromCurvature", 0),
                            ("Mesh.MeshSizeMin", 0.0), ("Mesh.MeshSizeMax", 1e22),
                            ("Mesh.ElementOrder", 1)):
        gmsh.option.setNumber(option, default)
    gmsh.model.add(name)


def _entities_on(dim: int, axis: int, value: float, scale: float) -> list[int]:
    """Tags of flat ``dim``-entities lying in the plane ``x[axis] = value``.

    The centre of mass is exact, unlike OCC's bounding boxes (padded by an absolute
    ~1e-7, which is large for geometries in metres at the millimetre scale).
    """
    tags = []
    for _, tag in gmsh.model.getEntities(dim):
        com = gmsh.model.occ.getCenterOfMass(dim, tag)
        b = np.array(gmsh.model.getBoundingBox(dim, tag))
        flat = (b[3 + axis] - b[axis]) < 1e-3 * scale
        if flat and abs(com[axis] - value) < 1e-9 * scale:
            tags.append(tag)
    return tags


def _name(dim: int, tags: list[int], name: str) -> None:
    if not tags:
        raise RuntimeError(f"geometry has no entity for physical group {name!r}")
    gmsh.model.addPhysicalGroup(dim, tags, name=name)


def _finish(dim: int, h: float, order: int, refine: tuple[Refine, ...],
            boundaries: dict[str, list[int]]) -> Any:
    """Apply sizes and refinement, mesh, set the order; return gmsh.model."""
    check_mesh_size(dim, h, refine, boundaries)
    gmsh.option.setNumber("Mesh.MeshSizeMax", h)
    gmsh.option.setNumber("Mesh.MeshSizeMin", min([h] + [r.size for r in refine]) * 0.1)
    fields, helpers, seeded = [], [], False
    for r in refine:
        dist = gmsh.model.mesh.field.add("Distance")
        if r.point is not None:
            ptag = gmsh.model.occ.addPoint(*r.point)
            gmsh.model.occ.synchronize()
            gmsh.model.mesh.field.setNumbers(dist, "PointsList", [ptag])
            helpers.append((0, ptag))
            seeded |= _seed(dim, [r.point], r.size)
        elif r.segment is not None:
            a, b = (gmsh.model.occ.addPoint(*p) for p in r.segment)
            line = gmsh.model.occ.addLine(a, b)
            gmsh.model.occ.synchronize()
            gmsh.model.mesh.field.setNumbers(dist, "CurvesList", [line])
            gmsh.model.mesh.field.setNumber(dist, "Sampling", 200)
            helpers += [(1, line), (0, a), (0, b)]
            start, end = np.array(r.segment)
            n = max(1, math.ceil(np.linalg.norm(end - start) / r.size))
            seeded |= _seed(dim, [start + (end - start) * t for t in np.linspace(0, 1, n + 1)],
                            r.size)
        else:
            if r.boundary not in boundaries:
                raise ValueError(f"Refine: unknown boundary {r.boundary!r}; known: "
                                 f"{', '.join(sorted(boundaries))}")
            key = "SurfacesList" if dim == 3 else "CurvesList"
            gmsh.model.mesh.field.setNumbers(dist, key, boundaries[r.boundary])
            gmsh.model.mesh.field.setNumber(dist, "Sampling", 100)
        thr = gmsh.model.mesh.field.add("Threshold")
        gmsh.model.mesh.field.setNumber(thr, "InField", dist)
        gmsh.model.mesh.field.setNumber(thr, "SizeMin", r.size)
        gmsh.model.mesh.field.setNumber(thr, "SizeMax", h)
        gmsh.model.mesh.field.setNumber(thr, "DistMin", r.distance)
        gmsh.model.mesh.field.setNumber(thr, "DistMax", 2 * r.distance)
        fields.append(thr)
    if fields:
        fmin = gmsh.model.mesh.field.add("Min")
        gmsh.model.mesh.field.setNumbers(fmin, "FieldsList", fields)
        gmsh.model.mesh.field.setAsBackgroundMesh(fmin)
        # the size at the seeds reaches the interior only by extension from the boundary
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", int(seeded))
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
    gmsh.model.mesh.generate(dim)
    if helpers:  # free helper entities carry 0D/1D elements of their own: drop them
        gmsh.model.removeEntities(helpers)
    if order == 2:
        gmsh.model.mesh.setOrder(2)
    return gmsh.model


def _seed(dim: int, points: Sequence[Sequence[float]], size: float) -> bool:
    """Embed mesh vertices at ``points`` farther than ``size`` inside the domain.

    The mesher samples size fields only where it puts vertices: a small-size spot away
    from the boundary would be missed by a coarse mesh without such a seed, which carries
    the target ``size`` itself. Returns whether a seed was embedded.
    """
    seeded = False
    for p in points:
        for _, tag in gmsh.model.getEntities(dim):
            if not gmsh.model.isInside(dim, tag, list(p)):
                continue
            gap = min(np.linalg.norm(gmsh.model.getClosestPoint(bd, bt, list(p))[0] - p)
                      for bd, bt in gmsh.model.getBoundary([(dim, tag)], oriented=False))
            if gap > size:
                seed = gmsh.model.occ.addPoint(*p)
                gmsh.model.occ.synchronize()
                gmsh.model.mesh.embed(0, [seed], dim, tag)
                gmsh.model.mesh.setSize([(0, seed)], size)
                seeded = True
            break
    return seeded


def _box_faces(dim: int, lo: Sequence[float], hi: Sequence[float], scale: float,
               names: Sequence[tuple[str, int, int]]) -> dict[str, list[int]]:
    """Name the axis-aligned faces: (name, axis, 0 for lo / 1 for hi)."""
    out = {}
    for name, axis, side in names:
        value = (lo, hi)[side][axis]
        out[name] = _entities_on(dim - 1, axis, value, scale)
    return out


_FACES_2D = (("left", 0, 0), ("right", 0, 1), ("bottom", 1, 0), ("top", 1, 1))
_FACES_3D = (("left", 0, 0), ("right", 0, 1), ("front", 1, 0), ("back", 1, 1),
             ("bottom", 2, 0), ("top", 2, 1))


def _add_groups(dim: int, boundaries: dict[str, list[int]], volumes: dict[str, list[int]]):
    for name, tags in boundaries.items():
        _name(dim - 1, tags, name)
    for name, tags in volumes.items():
        _name(dim, tags, name)


@dataclass(frozen=True)
class Names:
    """A builder's mesh dimension and sorted boundary and volume names, before meshing."""

    dim: int
    boundaries: tuple[str, ...]
    volumes: tuple[str, ...]


NameSpec = Sequence[str] | Callable[..., Sequence[str]]  # names, or f(dim, **params)


def declares(boundaries: NameSpec, volumes: NameSpec) -> Callable[[Callable], Callable]:
    """Declare a builder's physical names (:func:`names`; checked by test_geometry.py)."""
    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.declared_names = (boundaries, volumes)  # type: ignore[attr-defined]
        return fn
    return attach


def declared(fn: Callable[..., Any], **params: Any) -> Names:
    """The (dimension, boundary names, volume names) builder ``fn(**params)`` will mesh.

    Raises:
        ValueError: ``fn`` declares no names (:func:`declares`).
    """
    declared = getattr(fn, "declared_names", None)
    if declared is None:
        raise ValueError(f"builder {getattr(fn, '__name__', fn)!r} declares no physical "
                         "names; decorate it with femdiff.geometry.declares(...)")
    dim_param = inspect.signature(fn).parameters.get("dim")
    dim = int(params.get("dim", 2 if dim_param is None else dim_param.default))
    extra = {k: v for k, v in params.items() if k != "dim"}
    boundaries, volumes = (spec(dim, **extra) if callable(spec) else spec
                           for spec in declared)
    return Names(dim, tuple(sorted(boundaries)), tuple(sorted(volumes)))


def _faces(dim: int, **_: Any) -> list[str]:
    """The axis-aligned face names of a box in ``dim`` dimensions."""
    return [f[0] for f in (_FACES_3D if dim == 3 else _FACES_2D)]
