"""The built-in geometries (each declares the physical names it gives)."""

from __future__ import annotations

import numbers
from typing import Any

import gmsh

from femdiff.geometry._core import (
    _FACES_2D,
    _FACES_3D,
    Refine,
    Refinements,
    _add_groups,
    _box_faces,
    _common,
    _entities_on,
    _faces,
    _finish,
    _positive,
    _refinements,
    _start,
    declared,
    declares,
)

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
    refine = _refinements(refine, declared(rod, dim=dim).boundaries)
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

    Boundaries as :func:`femdiff.geometry.mesh.box`: "left"/"right" (x), "bottom"/"top" (y in 2D,
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
    refine = _refinements(refine, declared(plate_with_hole).boundaries)
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
    refine = _refinements(refine, declared(notched_bar).boundaries)
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
    refine = _refinements(refine, declared(sphere, dim=dim).boundaries)
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
    refine = _refinements(refine, declared(diffusion_couple, dim=dim).boundaries)
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
    refine = _refinements(refine, declared(t_shape).boundaries)
    _start(name)
    occ = gmsh.model.occ
    s = occ.addRectangle(stem[0], stem[2], 0, stem[1] - stem[0], stem[3] - stem[2])
    b = occ.addRectangle(bar[0], bar[2], 0, bar[1] - bar[0], bar[3] - bar[2])
    (surf,), _ = occ.fuse([(2, s)], [(2, b)])
    occ.synchronize()
    boundaries = {"boundary": [t for _, t in gmsh.model.getEntities(1)]}
    _add_groups(2, boundaries, {"domain": [surf[1]]})
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
    refine = _refinements(refine, declared(sphere_octant).boundaries)
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
