"""Parametrised Gmsh geometries with named physical groups.

Each builder validates its parameters, creates an OpenCASCADE model, names every boundary
and volume, meshes it and returns ``gmsh.model``. Builders run on one rank; use
:func:`build` to get a distributed :class:`femdiff.mesh.Domain` (Gmsh runs on rank 0),
or :func:`write_msh` to save a ``.msh`` file.

Mesh size: ``h`` is the global target size (a default follows from the dimensions);
``refine`` adds local refinement, one :class:`Refine` or a sequence of them (near a
point, a segment or a named boundary). ``order`` is the geometric order of the elements
(1 or 2). Parameters are checked before Gmsh does any work; a bad one raises
``ValueError`` naming it. Gmsh runs silently and headless: builders call
:func:`initialize`, which starts it if needed; :func:`build` and :func:`write_msh` clear
it afterwards, or finalise it if they started it.

Names (shared with the ``.geo`` files in ``meshes/``): each builder declares the
boundary and volume names it gives (:func:`declares`, above its definition), so they are
known before meshing: ``names("rod", dim=2)`` gives ``Names(dim=2, boundaries=("left",
"right", "surface"), volumes=("rod",))``; each builder's docstring says where they lie.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpi4py import MPI

import gmsh
import numpy as np

from femdiff.mesh import Domain, from_gmsh_model


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


def names(builder: str | Callable[..., Any], **params: Any) -> Names:
    """The (dimension, boundary names, volume names) ``builder(**params)`` will mesh.

    Raises:
        ValueError: an unknown builder, or one that declares no names (:func:`declares`).
    """
    fn = _resolve(builder)
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


# --- builders ---------------------------------------------------------------------------


@declares(("left", "right", "surface"), ("rod",))
def rod(length: float = 1.0, radius: float = 0.1, *, dim: int = 3, h: float | None = None,
        order: int = 1, refine: Refinements = (), name: str = "rod") -> Any:
    """A cylinder along x (3D) or the strip [0, length]×[−radius, radius] (2D).

    Boundaries "left" (x=0), "right" (x=length), "surface" (lateral; in 2D the top and
    bottom lines); volume "rod". Default ``h``: radius/2.
    """
    _positive(length=length, radius=radius)
    h = _common(h, radius / 2, order, dim)
    refine = _refinements(refine, names(rod, dim=dim).boundaries)
    _start(name)
    occ = gmsh.model.occ
    if dim == 3:
        vol = occ.addCylinder(0, 0, 0, length, 0, 0, radius)
    else:
        vol = occ.addRectangle(0, -radius, 0, length, 2 * radius)
    occ.synchronize()
    left = _entities_on(dim - 1, 0, 0.0, length)
    right = _entities_on(dim - 1, 0, length, length)
    others = [t for _, t in gmsh.model.getEntities(dim - 1) if t not in left + right]
    boundaries = {"left": left, "right": right, "surface": others}
    _add_groups(dim, boundaries, {"rod": [vol]})
    return _finish(dim, h, order, refine, boundaries)


@declares(_faces, ("domain",))
def box(lx: float = 1.0, ly: float = 1.0, lz: float | None = None, *, dim: int = 2,
        h: float | None = None, order: int = 1, refine: Refinements = (),
        name: str = "box") -> Any:
    """The rectangle [0,lx]×[0,ly] or box [0,lx]×[0,ly]×[0,lz] (``lz`` defaults to ``ly``).

    Boundaries as :func:`femdiff.mesh.box`: "left"/"right" (x), "bottom"/"top" (y in 2D,
    z in 3D), "front"/"back" (y, 3D only); volume "domain". Default ``h``: shortest
    side/10.
    """
    if dim == 3:
        lz = ly if lz is None else lz
        _positive(lx=lx, ly=ly, lz=lz)
    elif lz is not None:
        raise ValueError(f"lz={lz!r} needs dim=3 (got dim={dim!r})")
    else:
        _positive(lx=lx, ly=ly)
    h = _common(h, min(lx, ly, lz or ly) / 10, order, dim)
    refine = _refinements(refine, _faces(dim))
    _start(name)
    occ = gmsh.model.occ
    vol = occ.addBox(0, 0, 0, lx, ly, lz) if dim == 3 else occ.addRectangle(0, 0, 0, lx, ly)
    occ.synchronize()
    hi = (lx, ly, lz or 0.0)
    boundaries = _box_faces(dim, (0, 0, 0), hi, max(hi), _FACES_3D if dim == 3 else _FACES_2D)
    _add_groups(dim, boundaries, {"domain": [vol]})
    return _finish(dim, h, order, refine, boundaries)


@declares(_faces, ("beam",))
def beam(length: float = 1.0, height: float = 0.1, width: float | None = None, *,
         dim: int = 2, h: float | None = None, order: int = 1,
         refine: Refinements = (), name: str = "beam") -> Any:
    """A beam [0,L]×[0,H] (2D) or [0,L]×[0,W]×[0,H] (3D) for bending.

    Boundaries "left", "right" (x), "bottom", "top" (y in 2D, z in 3D), "front", "back"
    (y, 3D only); volume "beam". ``width`` defaults to ``height``; default ``h``: height/4.
    """
    width = height if width is None else width
    _positive(length=length, height=height, width=width)
    h = _common(h, height / 4, order, dim)
    refine = _refinements(refine, _faces(dim))
    _start(name)
    occ = gmsh.model.occ
    if dim == 3:
        vol = occ.addBox(0, 0, 0, length, width, height)
        hi = (length, width, height)
    else:
        vol = occ.addRectangle(0, 0, 0, length, height)
        hi = (length, height, 0.0)
    occ.synchronize()
    boundaries = _box_faces(dim, (0, 0, 0), hi, length, _FACES_3D if dim == 3 else _FACES_2D)
    _add_groups(dim, boundaries, {"beam": [vol]})
    return _finish(dim, h, order, refine, boundaries)


@declares(("left", "right", "bottom", "top", "hole"), ("plate",))
def plate_with_hole(width: float = 1.0, height: float = 1.0, radius: float = 0.1, *,
                    quarter: bool = True, h: float | None = None, order: int = 1,
                    refine: Refinements | None = None, name: str = "plate") -> Any:
    """A plate with a circular hole (2D), refined near the hole by default.

    ``quarter=True``: [0,width]×[0,height] minus the disk of ``radius`` at the origin, with
    symmetry edges "left" (x=0) and "bottom" (y=0). ``quarter=False``: the full plate
    [−w/2,w/2]×[−h/2,h/2] with the hole at its centre. Volume "plate".

    Default ``h``: an eighth of the smaller (half) side. ``refine=None`` (the default)
    refines to ``radius/8`` within ``radius`` of the hole; pass ``()`` for a uniform mesh.
    """
    _positive(width=width, height=height, radius=radius)
    limit = min(width, height) if quarter else min(width, height) / 2
    if radius >= limit:
        raise ValueError(f"hole radius {radius!r} must be smaller than the plate "
                         f"({'width/height' if quarter else 'half width/height'} {limit!r})")
    h = _common(h, limit / 8, order)
    if refine is None:
        refine = Refine(size=min(h, radius / 8), distance=radius, boundary="hole")
    refine = _refinements(refine, names(plate_with_hole).boundaries)
    _start(name)
    occ = gmsh.model.occ
    if quarter:
        plate = occ.addRectangle(0, 0, 0, width, height)
        lo, hi = (0.0, 0.0, 0.0), (width, height, 0.0)
    else:
        plate = occ.addRectangle(-width / 2, -height / 2, 0, width, height)
        lo, hi = (-width / 2, -height / 2, 0.0), (width / 2, height / 2, 0.0)
    disk = occ.addDisk(0, 0, 0, radius, radius)
    (surf,), _ = occ.cut([(2, plate)], [(2, disk)])
    occ.synchronize()
    boundaries = _box_faces(2, lo, hi, max(width, height), _FACES_2D)
    named = {t for tags in boundaries.values() for t in tags}
    boundaries["hole"] = [t for _, t in gmsh.model.getEntities(1) if t not in named]
    _add_groups(2, boundaries, {"plate": [surf[1]]})
    return _finish(2, h, order, refine, boundaries)


@declares(("left", "right", "bottom", "top", "notch"), ("bar",))
def notched_bar(length: float = 1.0, height: float = 0.2, notch_depth: float = 0.05,
                notch_radius: float = 0.02, *, h: float | None = None, order: int = 1,
                refine: Refinements | None = None, name: str = "notched_bar") -> Any:
    """A 2D bar [0,L]×[0,H] with a round-bottomed notch cut from the top at x = L/2.

    The notch is a slot of width 2·notch_radius ending in a half disk, reaching down to
    y = height − notch_depth (a circular segment when notch_depth < notch_radius).
    Boundaries "left", "right", "bottom", "top" and "notch"; volume "bar". Default ``h``:
    height/6; ``refine=None`` refines to notch_radius/4 within notch_radius of the notch.
    """
    _positive(length=length, height=height, notch_depth=notch_depth,
              notch_radius=notch_radius)
    if notch_depth >= height:
        raise ValueError(f"notch_depth {notch_depth!r} must be smaller than height {height!r}")
    if 2 * notch_radius >= length:
        raise ValueError(f"notch_radius {notch_radius!r} must be smaller than length/2 "
                         f"= {length / 2!r}")
    h = _common(h, height / 6, order)
    if refine is None:
        refine = Refine(size=min(h, notch_radius / 4), distance=notch_radius, boundary="notch")
    refine = _refinements(refine, names(notched_bar).boundaries)
    _start(name)
    occ = gmsh.model.occ
    bar = occ.addRectangle(0, 0, 0, length, height)
    tip = height - notch_depth + notch_radius
    slot = occ.addRectangle(length / 2 - notch_radius, tip, 0, 2 * notch_radius,
                            height - tip + notch_radius)
    disk = occ.addDisk(length / 2, tip, 0, notch_radius, notch_radius)
    cutter, _ = occ.fuse([(2, slot)], [(2, disk)])
    (surf,), _ = occ.cut([(2, bar)], cutter)
    occ.synchronize()
    boundaries = _box_faces(2, (0, 0, 0), (length, height, 0), length, _FACES_2D)
    named = {t for tags in boundaries.values() for t in tags}
    boundaries["notch"] = [t for _, t in gmsh.model.getEntities(1) if t not in named]
    _add_groups(2, boundaries, {"bar": [surf[1]]})
    return _finish(2, h, order, refine, boundaries)


@declares(("surface",), ("particle",))
def sphere(radius: float = 1.0, *, dim: int = 3, h: float | None = None, order: int = 1,
           refine: Refinements = (), name: str = "sphere") -> Any:
    """A ball (3D) or disk (2D) centred at the origin: a particle.

    Boundary "surface"; volume "particle". Default ``h``: radius/5.
    """
    _positive(radius=radius)
    h = _common(h, radius / 5, order, dim)
    refine = _refinements(refine, names(sphere, dim=dim).boundaries)
    _start(name)
    occ = gmsh.model.occ
    vol = occ.addSphere(0, 0, 0, radius) if dim == 3 else occ.addDisk(0, 0, 0, radius, radius)
    occ.synchronize()
    boundaries = {"surface": [t for _, t in gmsh.model.getEntities(dim - 1)]}
    _add_groups(dim, boundaries, {"particle": [vol]})
    return _finish(dim, h, order, refine, boundaries)


@declares(lambda dim, **_: [*_faces(dim), "interface"], ("A", "B"))
def diffusion_couple(length: float = 2.0, height: float = 1.0, *, dim: int = 2,
                     interface: float | None = None, h: float | None = None, order: int = 1,
                     refine: Refinements = (), name: str = "couple") -> Any:
    """Two regions "A" (x < interface) and "B" meshed conformingly across "interface".

    The domain is [0,length]×[0,height] (2D) or [0,length]×[0,height]×[0,height] (3D),
    split by the plane x = ``interface`` (default length/2). Boundaries "left", "right",
    "bottom", "top" (+ "front", "back" in 3D, named as in :func:`box`) and the interior
    facet group "interface" (integrate over it with ``Domain.dS("interface")``); volumes
    "A" and "B". Default ``h``: shortest side/10.
    """
    _positive(length=length, height=height)
    interface = length / 2 if interface is None else interface
    if (isinstance(interface, bool) or not isinstance(interface, numbers.Real)
            or not 0 < interface < length):
        raise ValueError(f"interface {interface!r} must lie inside (0, length={length!r})")
    h = _common(h, min(length, height) / 10, order, dim)
    refine = _refinements(refine, names(diffusion_couple, dim=dim).boundaries)
    _start(name)
    occ = gmsh.model.occ
    if dim == 3:
        a = occ.addBox(0, 0, 0, interface, height, height)
        b = occ.addBox(interface, 0, 0, length - interface, height, height)
        hi = (length, height, height)
    else:
        a = occ.addRectangle(0, 0, 0, interface, height)
        b = occ.addRectangle(interface, 0, 0, length - interface, height)
        hi = (length, height, 0.0)
    out, _ = occ.fragment([(dim, a)], [(dim, b)])
    occ.synchronize()
    vols = [t for _, t in gmsh.model.getEntities(dim)]
    centre = {t: gmsh.model.occ.getCenterOfMass(dim, t)[0] for t in vols}
    faces = _FACES_3D if dim == 3 else _FACES_2D
    boundaries: dict[str, list[int]] = {}
    for fname, axis, side in faces:
        value = 0.0 if side == 0 else hi[axis]
        boundaries[fname] = _entities_on(dim - 1, axis, value, length)
    boundaries["interface"] = _entities_on(dim - 1, 0, interface, length)
    # the fragment splits the y/z faces in two; _entities_on finds both halves
    _add_groups(dim, boundaries, {"A": [t for t in vols if centre[t] < interface],
                                  "B": [t for t in vols if centre[t] > interface]})
    return _finish(dim, h, order, refine, boundaries)


@declares(("boundary",), ("domain",))
def t_shape(stem: tuple[float, float, float, float] = (0.0, 20.0, 0.0, 100.0),
            bar: tuple[float, float, float, float] = (-40.0, 60.0, 100.0, 120.0), *,
            h: float | None = None, order: int = 1, refine: Refinements = (),
            name: str = "t_shape") -> Any:
    """The PFHub benchmark-1 T: stem x∈[0,20], y∈[0,100]; bar x∈[−40,60], y∈[100,120].

    ``stem`` and ``bar`` are (x0, x1, y0, y1) and must overlap or touch along a
    segment. Boundary "boundary" (all of it); volume "domain". Default ``h``: the smaller
    of the stem width and bar height over 20 (1.0 for the benchmark).
    """
    for label, box_ in (("stem", stem), ("bar", bar)):
        try:
            x0, x1, y0, y1 = (float(v) for v in box_)
        except (TypeError, ValueError):
            raise ValueError(f"{label} must be (x0, x1, y0, y1), got {box_!r}") from None
        if not (x1 > x0 and y1 > y0):
            raise ValueError(f"{label} must be (x0, x1, y0, y1) with x1 > x0 and y1 > y0, "
                             f"got {box_!r}")
    if not (stem[0] < bar[1] and bar[0] < stem[1] and stem[2] <= bar[3]
            and bar[2] <= stem[3]):
        raise ValueError(f"stem {stem!r} and bar {bar!r} must overlap or share an edge")
    h = _common(h, min(stem[1] - stem[0], bar[3] - bar[2]) / 20, order)
    refine = _refinements(refine, names(t_shape).boundaries)
    _start(name)
    occ = gmsh.model.occ
    s = occ.addRectangle(stem[0], stem[2], 0, stem[1] - stem[0], stem[3] - stem[2])
    b = occ.addRectangle(bar[0], bar[2], 0, bar[1] - bar[0], bar[3] - bar[2])
    (surf,), _ = occ.fuse([(2, s)], [(2, b)])
    occ.synchronize()
    boundaries = {"boundary": [t for _, t in gmsh.model.getEntities(1)]}
    _add_groups(2, boundaries, {"domain": [surf[1]]})
    return _finish(2, h, order, refine, boundaries)


@declares(lambda dim, symmetric=True, **_: ["outer", "crack_faces"]
          + (["symmetry"] if symmetric else []), ("disc",))
def crack_tip(radius: float = 1.0, *, symmetric: bool = True, h: float | None = None,
              tip_size: float | None = None, grading: float = 0.25, order: int = 1,
              refine: Refinements | None = None, name: str = "crack_tip") -> Any:
    """A boundary-layer (small-scale yielding) model of a crack tip: a disc with a slit.

    The disc of ``radius`` R is centred on the crack tip at the origin; the crack runs
    along the negative x-axis, from (−R, 0) to the tip. The K-field of
    :mod:`femdiff.fracture` is prescribed on the outer circle.

    ``symmetric=True`` (the default; the usual choice for mode I): the upper half disc
    y ≥ 0. Boundaries "outer" (the half circle), "crack_faces" (the upper face, y = 0,
    x < 0) and "symmetry" (the ligament y = 0, x > 0, where mode I needs u_y = 0 and a
    hydrogen no-flux condition). ``symmetric=False``: the whole disc, its two faces
    meshed separately and joined only at the tip, so they can open; "outer" (the whole
    circle) and "crack_faces" (both faces). Volume "disc" in both cases.

    Mesh: ``h`` (default R/8) far from the tip. ``refine=None`` (the default) grades the
    mesh towards the tip: cells of size about ``grading``·r at a distance r from it, down
    to ``tip_size`` (default R/500), the usual grading for a r^(−1/2) stress field; pass
    ``()`` for the uniform ``h``, or your own :class:`Refine` list.
    """
    _positive(radius=radius, grading=grading)
    h = _common(h, radius / 8, order)
    if tip_size is None:
        tip_size = min(h, radius / 500)
    _positive(tip_size=tip_size)
    if tip_size > h:
        raise ValueError(f"tip_size {tip_size!r} must not exceed h {h!r}")
    if not grading < 1:
        raise ValueError(f"grading {grading!r} must be in (0, 1): the cell size over the "
                         "distance to the tip")
    names = ("outer", "crack_faces", "symmetry") if symmetric else ("outer", "crack_faces")
    if refine is None:
        # nested thresholds at the tip: size s_k up to s_k/grading, s_{k+1} = 2 s_k
        refine, size = [], float(tip_size)
        while size < h:
            refine.append(Refine(size=size, distance=size / grading, point=(0.0, 0.0)))
            size *= 2
    refine = _refinements(refine, names)
    _start(name)
    occ = gmsh.model.occ
    tip = occ.addPoint(0, 0, 0)
    right = occ.addPoint(radius, 0, 0)
    centre = tip
    boundaries: dict[str, list[int]] = {"outer": [], "crack_faces": [], "symmetry": []}
    surfaces = []
    # each half has its own point at (−R, 0) and its own face curve: the faces share the
    # tip only, so the slit can open
    for sign in ((1,) if symmetric else (1, -1)):
        top = occ.addPoint(0, sign * radius, 0)
        left = occ.addPoint(-radius, 0, 0)
        arcs = [occ.addCircleArc(right, centre, top), occ.addCircleArc(top, centre, left)]
        face = occ.addLine(left, tip)
        boundaries["outer"] += arcs
        boundaries["crack_faces"].append(face)
        if sign == 1:
            ligament = occ.addLine(tip, right)
            loop = occ.addCurveLoop([*arcs, face, ligament])
        else:
            loop = occ.addCurveLoop([ligament, *arcs, face])
        surfaces.append(occ.addPlaneSurface([loop]))
    occ.synchronize()
    if symmetric:
        boundaries["symmetry"] = [ligament]
    else:
        del boundaries["symmetry"]  # the ligament is interior
    _add_groups(2, boundaries, {"disc": surfaces})
    return _finish(2, h, order, refine, boundaries)


@declares(("surface", "x0", "y0", "z0"), ("particle",))
def sphere_octant(radius: float = 1.0, *, dim: int = 3, h: float | None = None,
                  order: int = 1, refine: Refinements = (),
                  name: str = "sphere_octant") -> Any:
    """The octant x, y, z ≥ 0 of a ball centred at the origin: a particle by symmetry.

    Boundaries "surface" (the spherical part) and the symmetry planes "x0", "y0", "z0"
    (x = 0, y = 0, z = 0); volume "particle". Default ``h``: radius/5. 3D only (``dim``
    is there for the case files' dimension lookup).
    """
    if dim != 3:
        raise ValueError(f"sphere_octant is 3D: dim must be 3, got {dim!r}")
    _positive(radius=radius)
    h = _common(h, radius / 5, order, 3)
    refine = _refinements(refine, names(sphere_octant).boundaries)
    _start(name)
    occ = gmsh.model.occ
    # built with radius 1 and scaled afterwards: OCC pads bounding boxes by ~1e-7, too
    # coarse to tell the flat faces of a micrometre particle
    ball = occ.addSphere(0, 0, 0, 1.0)
    cube = occ.addBox(0, 0, 0, 2.0, 2.0, 2.0)
    (vol,), _ = occ.intersect([(3, ball)], [(3, cube)])
    occ.synchronize()
    planes = {f"{'xyz'[axis]}0": _entities_on(2, axis, 0.0, 1.0) for axis in range(3)}
    if radius != 1.0:
        occ.dilate(gmsh.model.getEntities(3), 0, 0, 0, radius, radius, radius)
        occ.synchronize()
    flat = {t for tags in planes.values() for t in tags}
    boundaries = {"surface": [t for _, t in gmsh.model.getEntities(2) if t not in flat],
                  **planes}
    _add_groups(3, boundaries, {"particle": [vol[1]]})
    gmsh.model.mesh.setSize(gmsh.model.getEntities(0), h)  # OCC's point sizes are coarser
    return _finish(3, h, order, refine, boundaries)


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


def _run_on_root(comm: MPI.Comm, fn: Callable[..., Any], params: dict[str, Any],
                 then: Callable[[], Any] | None = None) -> bool:
    """Run builder ``fn`` (and ``then``) on rank 0; raise its error on every rank.

    Returns whether Gmsh was started here (rank 0 must finalise it). On failure Gmsh is
    cleared, or finalised if it was started here, before every rank raises.
    """
    error, started = None, False
    if comm.rank == 0:
        started = not gmsh.isInitialized()
        try:
            fn(**params)
            if then is not None:
                then()
        except Exception as exc:  # any failure on rank 0 must reach every rank
            kind = ValueError if isinstance(exc, ValueError | TypeError) else RuntimeError
            error = (kind, f"{getattr(fn, '__name__', 'geometry')}: {exc}")
            _release(started)
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
          gdim: int | None = None, **params: Any) -> Domain:
    """Build a geometry on rank 0 and return the distributed :class:`Domain`.

    Args:
        builder: a name in :data:`BUILDERS` or a builder function returning ``gmsh.model``.
        comm: communicator of the mesh.
        gdim: geometric dimension (default: the model's dimension).
        **params: the builder's parameters.

    A bad parameter raises the same ``ValueError`` on every rank (no deadlock). Gmsh is
    cleared afterwards, or finalised if this call started it.
    """
    fn = _resolve(builder)
    started = _run_on_root(comm, fn, params)
    try:
        return from_gmsh_model(gmsh.model if comm.rank == 0 else None, comm, gdim=gdim)
    finally:
        if comm.rank == 0:
            _release(started)


def write_msh(builder: str | Callable[..., Any], path: str | Path,
              comm: MPI.Comm = MPI.COMM_WORLD, **params: Any) -> Path:
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

    started = _run_on_root(comm, fn, params, then=save)
    if comm.rank == 0:
        _release(started)
    comm.Barrier()  # the file exists when any rank returns
    return path
