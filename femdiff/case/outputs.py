"""[[output.quantities]]: derived quantities of a case run (:mod:`femdiff.io.quantities`).

Each entry is a table with a ``type``::

    [[output.quantities]]
    type = "point"            # value of a field at a point
    field = "C_T"             # C, mu, C_T<i>, C_T, C_total, sigma_h, T (what the case has)
    point = [1.0e-3, 0.0]
    name = "hole_edge"        # optional: the column is <field>_at_<name>

    type = "volume"     field, op = total | mean | max | min, volume (default: everywhere)
    type = "surface"    field, op, boundary
    type = "flux"       boundary [, species]: total outward flux (conservative)
    type = "flux_density"  boundary [, species]: mean outward flux density
    type = "profile"    field, start, end, n: the field along a line at every output time

Validation checks the keys, boundary names and dimensions before meshing; field names are
checked when the case is built (they depend on its physics) and name the key path too.
"""

from __future__ import annotations

from typing import Any

from femdiff.case.schema import CaseError, Context, Key, array_of_tables, typed

_OPS = ("total", "mean", "max", "min")
_NAME = Key("string", doc="label of the column (or profile file)")

_FIELD = Key("string", required=True, doc="a field name: C, mu, C_T, C_T<i>, C_total, "
             "sigma_h, von_mises, T, ... (per species: C_<name>, X_<name>, mu_<name>)")
_OP = Key("choice", required=True, choices=_OPS, doc="what to compute over the region")
_BOUNDARY = Key("string", required=True, doc="a boundary name of the geometry")
_SPECIES = Key("string", doc="the species (multicomponent; default: the only one)")

QUANTITY_KEYS: dict[str, dict[str, Key]] = {
    "point": {"field": _FIELD, "point": Key("point", required=True, doc="where [length]"),
              "name": _NAME},
    "volume": {"field": _FIELD, "op": _OP,
               "volume": Key("string", doc="a volume name (default: the whole domain)"),
               "name": _NAME},
    "surface": {"field": _FIELD, "op": _OP, "boundary": _BOUNDARY, "name": _NAME},
    "flux": {"boundary": _BOUNDARY, "species": _SPECIES, "name": _NAME},
    "flux_density": {"boundary": _BOUNDARY, "species": _SPECIES, "name": _NAME},
    "profile": {"field": _FIELD,
                "start": Key("point", required=True, doc="first point of the line [length]"),
                "end": Key("point", required=True, doc="last point of the line [length]"),
                "n": Key("posint", default=101, doc="number of points"), "name": _NAME},
}


def validate_quantities(raw: Any, ctx: Context) -> list[dict[str, Any]]:
    """Check ``[[output.quantities]]`` (before meshing)."""
    out = []
    for i, q in enumerate(array_of_tables(raw, "output.quantities", ctx)):
        where = f"output.quantities[{i}]"
        item = typed(q, QUANTITY_KEYS, where, ctx)
        if "boundary" in item:
            ctx.check_boundary(item["boundary"], f"{where}.boundary")
        if item.get("volume") is not None and ctx.volumes is not None \
                and item["volume"] not in ctx.volumes:
            raise ctx.error(f"{where}.volume", f"unknown volume {item['volume']!r}; "
                            f"{ctx.geometry_label} has volumes: "
                            f"{', '.join(ctx.volumes) or '(none)'}")
        for key in ("point", "start", "end"):
            if key in item and ctx.gdim is not None and len(item[key]) > max(ctx.gdim, 1):
                raise ctx.error(f"{where}.{key}", f"has {len(item[key])} coordinates but "
                                f"the mesh is {ctx.gdim}D")
        if item["type"] == "profile" and item["n"] < 2:
            raise ctx.error(f"{where}.n", "must be ≥ 2")
        out.append(item)
    return out


def build_quantities(items: list[dict[str, Any]]) -> list[Any]:
    """The :mod:`femdiff.io.quantities` objects of validated entries."""
    from femdiff.io import quantities as q

    out: list[Any] = []
    for item in items:
        kind, name = item["type"], item.get("name")
        if kind == "point":
            out.append(q.PointValue(item["field"], item["point"], name))
        elif kind == "volume":
            out.append(q.VolumeQuantity(item["field"], item["op"], item["volume"], name))
        elif kind == "surface":
            out.append(q.SurfaceQuantity(item["field"], item["op"], item["boundary"], name))
        elif kind == "flux":
            out.append(q.SurfaceFlux(item["boundary"], item["species"], name))
        elif kind == "flux_density":
            out.append(q.SurfaceFluxDensity(item["boundary"], item["species"], name))
        else:
            out.append(q.LineProfile(item["field"], item["start"], item["end"], item["n"],
                                     name))
    return out




def make_recorder(sim: Any, case: Any, out: Any, restart_time: float | None) -> Any:
    """The :class:`~femdiff.io.quantities.Recorder` of a built case, or None without quantities.

    Its columns join series.csv (the runner appends :meth:`Recorder.values` to each row);
    its profiles go to ``out``. A quantity that does not fit the built case (an unknown
    field, a point outside the mesh) raises a :class:`CaseError` naming its key path.
    """
    from femdiff.io import quantities as q

    items = case.data["output"].get("quantities") or []
    if not items:
        return None
    problem = getattr(sim, "problem", None) if sim.time_dependent else None
    from femdiff.case.registry import ProblemSimulation

    # (a stationary simulation has no such method: the same lookup by attribute)
    fields = sim.quantity_fields() if hasattr(sim, "quantity_fields") else \
        ProblemSimulation.quantity_fields(sim)
    units = getattr(sim, "units", None) if hasattr(sim, "units") else \
        (case.data.get("materials") or {}).get("units", "molar")
    try:
        return q.Recorder(problem, build_quantities(items), None, units=units,
                          fields=fields, restart_time=restart_time, folder=out,
                          domain=sim.domain)
    except q.QuantityError as exc:
        raise CaseError(case.path, f"output.quantities[{exc.index}]", str(exc)) from None


def series_units(sim: Any, case: Any, columns: list[str], recorder: Any) -> list[Any]:
    """The :class:`~femdiff.io.quantities.Column` (unit, description) of every series column."""
    from femdiff.io import quantities as q

    units = getattr(sim, "units", None) if hasattr(sim, "units") else \
        (case.data.get("materials") or {}).get("units", "molar")
    cols = q.series_columns(columns, units, sim.domain.gdim)
    extra = list(recorder.columns[1:]) if recorder is not None else []
    for c in extra:
        if c.name in columns:
            raise CaseError(case.path, "output.quantities", f"column {c.name!r} is already in "
                            "series.csv; give the quantity another name")
    return cols + extra


# --- output.fields = [names] ------------------------------------------------------------------


class FieldSet:
    """The Functions chosen by ``output.fields = [names]``, kept up to date for the writer.

    Names (what the case has): every field its run writes by default (``C``, ``mu``,
    ``flux``, per-species ``X_<s>`` …, ``sigma_h``, ``T``), the trapped populations
    ``C_T<i>``, ``C_T`` (all traps) and ``C_total`` (lattice + trapped), and with
    mechanics ``u``, ``stress`` (the tensor), ``von_mises``. Derived fields are
    interpolated (P1 for concentrations, DG(k−1) for stresses) each time they are
    written. Radial and hoop stresses of axisymmetric models will join
    :meth:`catalogue` (a ``cylindrical`` entry) when those models land.
    """

    def __init__(self, sim: Any, names: list[str], path: Any) -> None:
        available = self.catalogue(sim)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise CaseError(path, "output.fields", f"unknown field(s) {', '.join(unknown)}; "
                            f"this case has: {', '.join(available)}")
        self._makers = [available[n] for n in names]
        self.functions = []
        for name, make in zip(names, self._makers, strict=True):
            f = make()
            f.name = name
            self.functions.append(f)

    def refresh(self) -> None:
        """Recompute the derived fields (collective)."""
        for make in self._makers:
            make()

    @staticmethod
    def catalogue(sim: Any) -> dict[str, Any]:
        """Name → a callable returning the (refreshed, always the same) Function."""
        from dolfinx import fem

        out: dict[str, Any] = {}
        for f in sim.fields():
            out[f.name] = (lambda f=f: f)
        problem = getattr(sim, "problem", None)
        trapped = getattr(problem, "trapped_fields", None) or []
        for i, f in enumerate(trapped):
            out[f"C_T{i}"] = (lambda f=f: f)
        if trapped:
            C = problem.C  # type: ignore[union-attr]

            def nodal(kind: str) -> Any:
                g = fem.Function(C.function_space)

                def make() -> Any:
                    g.x.array[:] = sum(f.x.array for f in trapped)
                    if kind == "total":
                        g.x.array[:] += C.x.array
                    return g
                return make

            out["C_T"], out["C_total"] = nodal("trapped"), nodal("total")
        solid = getattr(sim, "solid", None)
        coupled = getattr(sim, "coupled", None)
        if solid is not None:
            # one-way: the stress does not change, computed once; two-way: every write
            static = coupled is None
            cache: dict[str, Any] = {}

            def derived(key: str) -> Any:
                def make() -> Any:
                    fresh = getattr(solid, key)()
                    if key not in cache:
                        cache[key] = fresh
                    elif not static:
                        cache[key].x.array[:] = fresh.x.array
                    return cache[key]
                return make

            out["u"] = (lambda: solid.u)
            out["stress"], out["von_mises"] = derived("stress"), derived("von_mises")
        if getattr(sim, "sigma_h", None) is not None:
            out["sigma_h"] = (lambda: sim.sigma_h)
        T = getattr(sim, "T", None)
        if T is not None and hasattr(T, "function_space"):
            out["T"] = (lambda: T)
        return out
