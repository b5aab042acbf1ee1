"""Derived quantities: what a run reports beside its fields, each a CSV column with a unit.

A quantity is a small object naming what to measure; :class:`Recorder` binds a list of
them to a problem and writes one CSV row per call (collective; rank 0 writes), with a
``.json`` file beside the CSV giving each column's unit and description::

    from femdiff.io import quantities as q

    rec = q.Recorder(problem, [q.PointValue("C", (0.5e-3, 0.25e-3)),
                               q.SurfaceFlux("right"), q.SurfaceFluxDensity("right"),
                               q.VolumeQuantity("C", "max"),
                               q.LineProfile("C", (0, 0.25e-3), (1e-3, 0.25e-3))],
                     out / "quantities.csv")
    problem.run(200.0, times=[50.0, 100.0], callback=rec)   # a row at t0 and every step

Fields are named (``C``, ``mu``, ``C_T0`` …, see :func:`problem_fields`) or given as a
Function or UFL expression. Kinds:

* :class:`PointValue`: the value at a point, evaluated on the rank that owns the point's
  cell (the lowest such rank), so 1 and n ranks agree.
* :class:`SurfaceFlux` (total outward flux [amount/s], the conservative reaction flux of
  :meth:`~femdiff.problems.base.MixedProblem.flux_through`) and :class:`SurfaceFluxDensity`
  (that total over the boundary's area).
* :class:`SurfaceQuantity`: ``total`` (∫ f ds), ``mean``, ``max`` or ``min`` of a field on
  a boundary; :class:`VolumeQuantity`: the same over a volume (or the whole domain).
  Max/min are over the degrees of freedom in the region (nodal values for P1), a field
  given as UFL is interpolated into P1 first.
* :class:`LineProfile`: values along a line at every output time (``at_output`` steps),
  appended as rows ``t, s, x, y, z, value`` to its own CSV.

Units follow the problem's unit system (``"molar"``: C in mol/m³, μ in J/mol; ``"atomic"``:
C in 1/m³, μ in J; ``None``: ``"1"``, nondimensional).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem, geometry

__all__ = ["Column", "FieldRef", "LineProfile", "PointValue", "Quantity", "QuantityError",
           "Recorder", "SurfaceFlux", "SurfaceFluxDensity", "SurfaceQuantity",
           "VolumeQuantity", "problem_fields", "series_columns", "unit_system", "write_units"]

#: unit of each kind of field, per unit system (totals in 3D; see :func:`unit_system`)
UNITS: dict[str, dict[str, str]] = {
    "molar": {"C": "mol/m^3", "mu": "J/mol", "amount": "mol", "flux": "mol/s",
              "flux_density": "mol/(m^2 s)", "energy": "J"},
    "atomic": {"C": "1/m^3", "mu": "J", "amount": "1", "flux": "1/s",
               "flux_density": "1/(m^2 s)", "energy": "J"},
    "none": {"C": "1", "mu": "1", "amount": "1", "flux": "1", "flux_density": "1",
             "energy": "1"},
}

#: in 2D (1D) a total is per metre (square metre) of the missing dimensions
_DEPTH = {3: "", 2: "/m", 1: "/m^2"}


def unit_system(units: str | None, gdim: int = 3) -> dict[str, str]:
    """The unit table of ``"molar"``, ``"atomic"`` or ``None`` (nondimensional).

    Totals (amount, flux, energy) of a ``gdim``-dimensional model are per unit depth
    (2D: per m) or area (1D: per m²): the quickstart plate's outflux of 1e-7 mol/(m² s)
    through an edge 0.5 mm long totals 5e-11 mol/(m s).
    """
    table = dict(UNITS[units or "none"])
    depth = _DEPTH.get(gdim, "")
    if units and depth:
        for key in ("amount", "flux", "energy"):
            u = table[key]
            if u == "1":
                table[key] = f"1{depth}"
            elif u.endswith("/s"):
                table[key] = f"{u[:-2]}/({depth[1:]} s)"
            else:
                table[key] = f"{u}{depth}"
    return table


@dataclass(frozen=True)
class Column:
    """One CSV column: its name, unit and a one-line description."""

    name: str
    unit: str
    description: str


@dataclass
class FieldRef:
    """A named field, its unit and a description.

    ``value``: a Function, a UFL expression (interpolated into P1 when a quantity needs
    nodal values), or a zero-argument callable returning an up-to-date Function (e.g. a
    stress computed from the current displacement).
    """

    value: Any
    unit: str = "1"
    description: str = ""


def problem_fields(problem: Any, units: str | None = "molar",
                   extra: Mapping[str, FieldRef] | None = None) -> dict[str, FieldRef]:
    """The fields a quantity may name on ``problem``.

    ``C`` and ``mu`` (one species; ``C_<name>``/``mu_<name>`` per species of a
    multicomponent problem), with traps ``C_T<i>`` (trap i), ``C_T`` (all trapped) and
    ``C_total`` (lattice + trapped), ``T`` (a temperature Function), plus ``extra``
    (e.g. ``sigma_h``).
    """
    u = unit_system(units)
    out: dict[str, FieldRef] = {}
    species = getattr(problem, "species", None)
    if isinstance(species, list | tuple) and hasattr(problem, "concentration_ufl"):
        for n in species:  # a multicomponent problem: per species
            out[f"C_{n}"] = FieldRef(problem.concentration_ufl(n), u["C"],
                                     f"concentration of {n}")
        for n, f in (getattr(problem, "X", None) or {}).items():
            out[f"X_{n}"] = FieldRef(f, "1", f"fraction of {n}")
        for n, f in (getattr(problem, "mu", None) or {}).items():
            out[f"mu_{n}"] = FieldRef(f, u["mu"], f"chemical potential of {n}")
    C = getattr(problem, "C", None)
    if isinstance(C, fem.Function):
        out["C"] = FieldRef(C, u["C"], "concentration (lattice, for hydrogen with traps)")
        out["C_L"] = out["C"]
    mu = getattr(problem, "mu", None)
    if isinstance(mu, fem.Function):
        out["mu"] = FieldRef(mu, u["mu"], "chemical potential")
    trapped = getattr(problem, "trapped_fields", None)
    if trapped:
        for i, f in enumerate(trapped):
            out[f"C_T{i}"] = FieldRef(f, u["C"], f"trapped concentration of trap {i}")
        total_t = sum(trapped[1:], trapped[0]) if len(trapped) > 1 else trapped[0]
        out["C_T"] = FieldRef(total_t, u["C"], "trapped concentration (all traps)")
        out["C_total"] = FieldRef(C + total_t, u["C"], "total concentration C_L + C_T")
    T = getattr(problem, "T", None)
    if isinstance(T, fem.Function):
        out["T"] = FieldRef(T, "K", "temperature")
    out.update(extra or {})
    return out


# --- helpers ------------------------------------------------------------------------------


class _Nodal:
    """A scalar field as a Function: itself, or a P1 interpolation refreshed on demand."""

    def __init__(self, value: Any, mesh: Any, what: str) -> None:
        self._call = None
        if callable(value) and not isinstance(value, fem.Function | ufl.core.expr.Expr):
            self._call = value  # a zero-argument callable returning a fresh Function
            value = value()
        if isinstance(value, fem.Function):
            shape = value.function_space.value_shape
            if int(np.prod(shape)) != 1:
                raise ValueError(f"{what}: needs a scalar field, got shape {tuple(shape)}")
            self.f, self._expr = value, None
        else:
            shape = ufl.shape(value)
            if shape:
                raise ValueError(f"{what}: needs a scalar field, got shape {shape}")
            V = fem.functionspace(mesh, ("Lagrange", 1))
            self.f = fem.Function(V)
            self._expr = fem.Expression(value, V.element.interpolation_points)

    def __call__(self) -> fem.Function:
        if self._call is not None:
            self.f = self._call()
            return self.f
        if self._expr is not None:
            self.f.interpolate(self._expr)
        return self.f


def _owned_dofs(V: fem.FunctionSpace, dim: int, entities: np.ndarray | None
                ) -> np.ndarray:
    """Owned dofs of ``V`` on ``entities`` of dimension ``dim`` (all owned with None)."""
    n_owned = V.dofmap.index_map.size_local
    if entities is None:
        return np.arange(n_owned, dtype=np.int32)
    mesh = V.mesh
    tdim = mesh.topology.dim
    if dim != tdim and (V.ufl_element().discontinuous
                        or V.ufl_element().embedded_superdegree == 0):
        # a discontinuous field has no dofs on facets: the cells next to them
        mesh.topology.create_connectivity(dim, tdim)
        f2c = mesh.topology.connectivity(dim, tdim)
        entities = np.unique(np.concatenate([f2c.links(f) for f in entities])
                             if len(entities) else np.empty(0, np.int32)).astype(np.int32)
        dim = tdim
    dofs = fem.locate_dofs_topological(V, dim, entities)
    return dofs[dofs < n_owned]


def _extreme(comm: MPI.Comm, values: np.ndarray, op: str) -> float:
    if op == "max":
        local = float(values.max()) if values.size else -np.inf
        return comm.allreduce(local, op=MPI.MAX)
    local = float(values.min()) if values.size else np.inf
    return comm.allreduce(local, op=MPI.MIN)


def _label(text: str) -> str:
    """A column-name fragment: letters, digits and underscores."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in str(text))


# --- quantities ---------------------------------------------------------------------------


@dataclass
class _Context:
    problem: Any
    domain: Any
    fields: dict[str, FieldRef]
    units: dict[str, str]

    def field(self, f: Any, what: str) -> FieldRef:
        if isinstance(f, str):
            if f not in self.fields:
                raise ValueError(f"{what}: unknown field {f!r}; this problem has "
                                 f"{', '.join(self.fields) or '(none)'}")
            return self.fields[f]
        return FieldRef(f, "1", getattr(f, "name", "field"))

    def integrate(self, form: Any) -> float:
        value = fem.assemble_scalar(fem.form(form))
        return self.domain.comm.allreduce(value, op=MPI.SUM)


class Quantity:
    """A derived quantity: :meth:`bind` once, then :meth:`values` (collective) per row."""

    name: str | None = None

    def bind(self, ctx: _Context) -> list[Column]:
        """Prepare on the problem's mesh; return the columns (names, units)."""
        raise NotImplementedError

    def values(self) -> list[float]:
        """The current values, one per column, equal on every rank."""
        raise NotImplementedError


def _field_name(f: Any) -> str:
    return f if isinstance(f, str) else getattr(f, "name", "field")


@dataclass
class PointValue(Quantity):
    """The value of a scalar field at a point (column ``<field>_at_<name>``).

    Args:
        field: a field name (:func:`problem_fields`) or a Function/UFL expression.
        point: the coordinates (1 to 3 numbers).
        name: the point's label in the column name (default: its coordinates).
    """

    field: Any
    point: Sequence[float]
    name: str | None = None

    def bind(self, ctx: _Context) -> list[Column]:  # noqa: D102
        ref = ctx.field(self.field, f"PointValue({_field_name(self.field)!r})")
        mesh = ctx.domain.mesh
        self._f = _Nodal(ref.value, mesh, "PointValue")
        x = np.zeros((1, 3))
        x[0, : len(self.point)] = self.point
        self._x = x
        tree = geometry.bb_tree(mesh, mesh.topology.dim)
        colliding = geometry.compute_colliding_cells(
            mesh, geometry.compute_collisions_points(tree, x), x)
        cells = colliding.links(0)
        owned = cells[cells < mesh.topology.index_map(mesh.topology.dim).size_local]
        comm = mesh.comm
        # the lowest rank that owns a cell holding the point evaluates it
        self._owner = comm.allreduce(comm.rank if len(owned) else comm.size, op=MPI.MIN)
        if self._owner == comm.size:
            raise ValueError(f"PointValue: point {tuple(self.point)} lies outside the mesh")
        self._cell = np.array(owned[:1], dtype=np.int32)
        label = self.name or "_".join(f"{v:g}" for v in self.point)
        self.column = f"{_field_name(self.field)}_at_{_label(label)}"
        return [Column(self.column, ref.unit, f"{ref.description or _field_name(self.field)}"
                       f" at the point {tuple(float(v) for v in self.point)}")]

    def values(self) -> list[float]:  # noqa: D102
        comm = self._f.f.function_space.mesh.comm
        f = self._f()
        value = float(f.eval(self._x, self._cell)[0]) if comm.rank == self._owner else 0.0
        return [comm.bcast(value, root=self._owner)]


@dataclass
class SurfaceFlux(Quantity):
    """Total outward flux through a boundary [amount/s], conservative (column ``flux_<b>``).

    Uses the residual's reaction (:meth:`~femdiff.problems.base.MixedProblem.flux_through`):
    with traps, their storage is included; over the last step.
    """

    boundary: str
    species: str | None = None
    name: str | None = None

    def bind(self, ctx: _Context) -> list[Column]:  # noqa: D102
        ctx.domain.check_boundaries([self.boundary])
        self._p = ctx.problem
        several = getattr(self._p, "species", None)
        if isinstance(several, list | tuple) and self.species not in several:
            raise ValueError(f"a flux quantity of this problem needs species = one of "
                             f"{', '.join(several)}")
        sp = f"_{self.species}" if self.species else ""
        self.column = self.name or f"flux{sp}_{self.boundary}"
        return [Column(self.column, ctx.units["flux"],
                       f"total outward flux{' of ' + self.species if self.species else ''} "
                       f"through {self.boundary!r} (conservative, over the last step)")]

    def _total(self) -> float:
        # by keyword: MixedProblem.flux_through(boundary, *, species) and the
        # multicomponent flux_through(species, boundary) both take them
        return float(self._p.flux_through(boundary=self.boundary, species=self.species))

    def values(self) -> list[float]:  # noqa: D102
        return [self._total()]


@dataclass
class SurfaceFluxDensity(SurfaceFlux):
    """Mean outward flux density on a boundary: the total flux over its area.

    Column ``flux_density_<b>`` [amount/(m² s)] (in 2D the area is per metre of depth,
    consistent with the total).
    """

    def bind(self, ctx: _Context) -> list[Column]:  # noqa: D102
        super().bind(ctx)
        self._area = ctx.integrate(1.0 * ctx.domain.ds(self.boundary))
        sp = f"_{self.species}" if self.species else ""
        self.column = self.name or f"flux_density{sp}_{self.boundary}"
        return [Column(self.column, ctx.units["flux_density"],
                       f"mean outward flux density on {self.boundary!r}: total flux / area")]

    def values(self) -> list[float]:  # noqa: D102
        return [self._total() / self._area]


_OPS = ("total", "mean", "max", "min")


@dataclass
class _RegionQuantity(Quantity):
    field: Any
    op: str = "mean"
    region: str | None = None
    name: str | None = None

    _dim_offset = 0  # 0: cells (volumes), 1: facets (boundaries)
    _kind = "volume"

    def bind(self, ctx: _Context) -> list[Column]:
        what = f"{type(self).__name__}({_field_name(self.field)!r}, {self.op!r})"
        if self.op not in _OPS:
            raise ValueError(f"{what}: op must be one of {', '.join(_OPS)}")
        ref = ctx.field(self.field, what)
        domain = ctx.domain
        dim = domain.tdim - self._dim_offset
        if self._kind == "surface":
            if self.region is None:
                raise ValueError(f"{what}: a surface quantity needs a boundary name")
            measure = domain.ds(self.region)
            entities = domain.facets(self.region)
        else:
            measure = domain.dx(self.region)
            entities = None if self.region is None else domain.cells(self.region)
        self._comm = domain.comm
        self._ctx = ctx
        if self.op in ("total", "mean"):
            self._form = fem.form(ref.value * measure)
            self._size = ctx.integrate(1.0 * measure) if self.op == "mean" else 1.0
        else:
            self._f = _Nodal(ref.value, domain.mesh, what)
            self._dofs = _owned_dofs(self._f.f.function_space, dim, entities)
        where = self.region or ("all" if self._kind == "volume" else "")
        self.column = self.name or f"{self.op}_{_field_name(self.field)}_{_label(where)}"
        unit = ref.unit
        if self.op == "total":
            depth = _DEPTH.get(domain.gdim, "")
            size = ("m^3" if self._kind == "volume" else "m^2") + depth
            unit = size if ref.unit == "1" else f"{ref.unit} {size}"
            if self._kind == "volume" and ref.unit == ctx.units["C"]:
                unit = ctx.units["amount"]
        desc = (f"{self.op} of {ref.description or _field_name(self.field)} over "
                f"{self._kind} {where!r}")
        return [Column(self.column, unit, desc)]

    def values(self) -> list[float]:
        if self.op in ("total", "mean"):
            value = self._comm.allreduce(fem.assemble_scalar(self._form), op=MPI.SUM)
            return [float(value) / self._size]
        f = self._f()
        return [_extreme(self._comm, f.x.array[self._dofs], self.op)]


@dataclass
class VolumeQuantity(_RegionQuantity):
    """``total`` (∫ f dx), ``mean``, ``max`` or ``min`` of a field over a volume.

    Args:
        field: a field name or Function/UFL expression.
        op: ``"total" | "mean" | "max" | "min"``.
        region: a volume name (None: the whole domain).
        name: the column name (default ``<op>_<field>_<region>``).
    """

    _dim_offset = 0
    _kind = "volume"


@dataclass
class SurfaceQuantity(_RegionQuantity):
    """``total`` (∫ f ds), ``mean``, ``max`` or ``min`` of a field on a boundary."""

    _dim_offset = 1
    _kind = "surface"


@dataclass
class LineProfile:
    """A field sampled along a line at every output time, rows ``t, s, x, y, z, <field>``.

    Written to ``profile_<name>_times.csv`` in the recorder's folder (a long table: one block of
    ``n`` rows per output time), with its units in ``profile_<name>_times.json``.
    """

    field: Any
    start: Sequence[float]
    end: Sequence[float]
    n: int = 101
    name: str | None = None

    def bind(self, ctx: _Context, folder: Path, restart_time: float | None = None) -> None:
        """Prepare on the mesh and open the CSV in ``folder``."""
        from femdiff import io as fio

        ref = ctx.field(self.field, f"LineProfile({_field_name(self.field)!r})")
        self._f = _Nodal(ref.value, ctx.domain.mesh, "LineProfile")
        self._pts = fio.line_points(self.start, self.end, self.n)
        self._s = np.linalg.norm(self._pts - self._pts[0], axis=1)
        fname = _field_name(self.field)
        self.label = self.name or fname
        cols = [Column("t", "s", "time"), Column("s", "m", "distance along the line"),
                Column("x", "m", ""), Column("y", "m", ""), Column("z", "m", ""),
                Column(fname, ref.unit, ref.description)]
        self._column = fname
        path = Path(folder) / f"profile_{_label(self.label)}_times.csv"
        self.path = path
        self._series = fio.TimeSeries(ctx.domain.comm, path, [c.name for c in cols],
                                      restart_time=restart_time)
        write_units(ctx.domain.comm, path, cols)

    def write(self, t: float) -> None:
        """Sample and append one block of rows (collective)."""
        from femdiff import io as fio

        values = fio.sample_line(self._f(), self._pts, warn=False)
        comm = self._f.f.function_space.mesh.comm

        def rows() -> None:
            for i in range(len(self._s)):
                self._series._write_row({"t": t, "s": self._s[i], "x": self._pts[i, 0],
                                         "y": self._pts[i, 1], "z": self._pts[i, 2],
                                         self._column: values[i]})

        # rank 0 writes; a failed write (a full disk) raises on every rank together
        fio.on_root(comm, rows, self.path)

    def close(self) -> None:
        """Close the file."""
        self._series.close()


def write_units(comm: MPI.Comm, csv_path: str | Path, columns: Sequence[Column]) -> Path:
    """Write ``<csv>.json`` beside a CSV: each column's unit and description (rank 0)."""
    from femdiff import io as fio

    path = Path(csv_path).with_suffix(".json")
    doc = {"file": Path(csv_path).name,
           "columns": {c.name: {"unit": c.unit, "description": c.description}
                       for c in columns}}
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    fio.on_root(comm, lambda: fio.atomic_write(path, text), path)
    return path


class QuantityError(ValueError):
    """A quantity that cannot be bound (unknown field, point outside the mesh, ...).

    Attributes:
        index: the quantity's position in the list given to :class:`Recorder`.
    """

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


@dataclass
class Recorder:
    """Binds quantities to a problem and records them (a ``run`` callback).

    Args:
        problem: the problem (any :class:`~femdiff.problems.base.MixedProblem`), or None for a
            stationary solve (then give ``domain``; flux quantities need a problem).
        quantities: :class:`Quantity` and :class:`LineProfile` objects.
        path: the CSV (with a ``.json`` of units beside it); None: keep rows in memory
            only (:attr:`rows`).
        units: ``"molar"``, ``"atomic"`` or None (nondimensional).
        fields: extra named fields (name → :class:`FieldRef`), e.g. σ_h.
        restart_time: continue existing files, dropping their rows after this time.
        folder: where profiles are written (default: the CSV's folder).
        domain: the Domain (default: ``problem.domain``).

    Called as ``recorder(problem, info)`` after each step, it appends a row; ``run``
    also calls it once at the start (:attr:`at_start`), which records the initial state.

    Raises:
        QuantityError: a quantity cannot be bound (its index is in the error).
    """

    problem: Any
    quantities: Sequence[Any]
    path: str | Path | None = None
    units: str | None = "molar"
    fields: Mapping[str, FieldRef] | None = None
    restart_time: float | None = None
    folder: str | Path | None = None
    domain: Any = None
    rows: list[dict[str, float]] = field(default_factory=list)

    #: ``run`` calls a callback with this attribute once at the start, with the initial state
    at_start = True

    def __post_init__(self) -> None:
        if self.problem is not None:
            self.problem.initialise()
            self.domain = self.domain or self.problem.domain
        domain = self.domain
        known = problem_fields(self.problem, self.units) if self.problem is not None else {}
        known.update(self.fields or {})
        self.ctx = _Context(self.problem, domain, known, unit_system(self.units, domain.gdim))
        self.columns: list[Column] = [Column("t", "s", "time")]
        self._scalars: list[Quantity] = []
        self.profiles: list[LineProfile] = []
        folder = self.folder if self.folder is not None else (
            Path(self.path).parent if self.path is not None else None)
        for i, q in enumerate(self.quantities):
            try:
                if isinstance(q, LineProfile):
                    if folder is None:
                        raise ValueError("LineProfile needs a Recorder path or folder")
                    q.bind(self.ctx, Path(folder), self.restart_time)
                    self.profiles.append(q)
                else:
                    if self.problem is None and isinstance(q, SurfaceFlux):
                        raise ValueError("a flux quantity needs a time-dependent problem")
                    self.columns += q.bind(self.ctx)
                    self._scalars.append(q)
            except (ValueError, KeyError) as exc:
                raise QuantityError(i, str(exc.args[0]) if exc.args else str(exc)) from None
        names = [c.name for c in self.columns]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise QuantityError(len(self.quantities) - 1, f"two quantities write the "
                                f"column(s) {', '.join(sorted(dup))}; give one a name")
        self._series = None
        if self.path is not None:
            from femdiff import io as fio

            self._series = fio.TimeSeries(domain.comm, self.path, names,
                                          restart_time=self.restart_time)
            write_units(domain.comm, self.path, self.columns)
        self._started = False

    @property
    def current_time(self) -> float:
        """The problem's time (0 for a stationary solve)."""
        return 0.0 if self.problem is None else float(self.problem.current_time)

    def values(self) -> dict[str, float]:
        """The current values of the scalar quantities' columns (collective)."""
        out: dict[str, float] = {}
        for q in self._scalars:
            out[q.column] = q.values()[0]  # type: ignore[attr-defined]
        return out

    def write_profiles(self, t: float | None = None) -> None:
        """Append the profiles' rows for the current state (collective)."""
        t = self.current_time if t is None else t
        for p in self.profiles:
            p.write(t)

    def record(self, info: Any = None) -> dict[str, float]:
        """Append a row for the current state (collective); profiles at output times."""
        row = {"t": self.current_time, **self.values()}
        self.rows.append(row)
        if self._series is not None:
            self._series.append(**row)
        if info is None or getattr(info, "at_output", True):
            self.write_profiles(row["t"])
        self._started = True
        return row

    def __call__(self, problem: Any, info: Any) -> None:
        """The ``run`` callback: a row per step (and the initial state, ``info.initial``)."""
        self.record(None if getattr(info, "initial", False) else info)

    def close(self) -> None:
        """Close the files."""
        if self._series is not None:
            self._series.close()
        for p in self.profiles:
            p.close()

    def abort(self) -> None:
        """Close after a failure elsewhere."""
        self.close()


def series_columns(names: Sequence[str], units: str | None, gdim: int) -> list[Column]:
    """Units and descriptions of the columns femdiff's case runs write to series.csv."""
    u = unit_system(units, gdim)
    fixed = {
        "t": ("s", "time"),
        "dt": ("s", "the step that ended at t (0 for the initial state)"),
        "free_energy": (u["energy"], "total free energy ∫ f dx"),
        "amount_trapped": (u["amount"], "trapped hydrogen, all traps (∫ C_T dx)"),
        "amount_total": (u["amount"], "total hydrogen, lattice + trapped"),
        "T": ("K", "temperature (the TDS ramp)"),
        "desorption_flux": (u["flux"], "outward flux summed over the recorded boundaries"),
        "newton": ("1", "Newton iterations of the step (solver counter)"),
        "krylov": ("1", "Krylov iterations of the step (solver counter)"),
        "retries": ("1", "failed attempts before the step was accepted (solver counter)"),
    }
    out = []
    for n in names:
        if n in fixed:
            out.append(Column(n, *fixed[n]))
        elif n.startswith("amount_"):
            out.append(Column(n, u["amount"], f"amount of {n[7:]} (∫ C dx)"))
        elif n.startswith("flux_density_"):
            out.append(Column(n, u["flux_density"], f"mean outward flux density ({n[13:]})"))
        elif n.startswith("flux_"):
            out.append(Column(n, u["flux"], f"total outward flux ({n[5:]}), conservative; "
                              "per unit depth in 2D"))
        elif n.startswith("eps_"):
            out.append(Column(n, "1", f"mean strain {n[4:]}"))
        elif n.startswith("sigma_"):
            out.append(Column(n, "Pa", f"mean stress {n[6:]}"))
        else:
            out.append(Column(n, "", ""))
    return out


#: columns that count solver work, not physics (left out of series.png)
SOLVER_COLUMNS = ("newton", "krylov", "retries", "dt")
