"""The crack-tip boundary-layer geometry (see :mod:`femdiff.physics.fracture` for its K-field)."""

from __future__ import annotations

from typing import Any

import gmsh

from femdiff.geometry._core import (
    Refine,
    Refinements,
    _add_groups,
    _common,
    _finish,
    _positive,
    _refinements,
    _start,
    declares,
)


@declares(lambda dim, symmetric=True, **_: ["outer", "crack_faces"]
          + (["symmetry"] if symmetric else []), ("disc",))
def crack_tip(radius: float = 1.0, *, symmetric: bool = True, h: float | None = None,
              tip_size: float | None = None, grading: float = 0.25, order: int = 1,
              refine: Refinements | None = None, name: str = "crack_tip") -> Any:
    """A boundary-layer (small-scale yielding) model of a crack tip: a disc with a slit.

    The disc of ``radius`` R is centred on the crack tip at the origin; the crack runs
    along the negative x-axis, from (−R, 0) to the tip. The K-field of
    :mod:`femdiff.physics.fracture` is prescribed on the outer circle.

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
