"""Heat conduction: the temperature field that diffusion and mechanics take as a coefficient.

Steady or transient (backward Euler) conduction with per-material conductivity k and
volumetric heat capacity ρc_p,

    ρc_p ∂T/∂t = ∇·(k ∇T) + Q    in Ω,

with boundary conditions given by boundary name (the outward normal is n):

- :class:`FixedTemperature`: T = T_D (a number, a function of x, of t, or of (x, t));
- :class:`HeatFlux`: k ∇T·n = q, the heat flux *into* the body [W/m²];
- :class:`Convection`: −k ∇T·n = h (T − T∞) (Newton cooling);
- elsewhere insulated (k ∇T·n = 0).

Weak form (backward Euler, T⁰ the previous step; drop the first term when steady):

    ∫ ρc_p (T − T⁰)/Δt v + ∫ k ∇T·∇v + ∫_conv h T v = ∫ Q v + ∫_flux q v + ∫_conv h T∞ v.

The problem is linear (k and ρc_p may vary in space, not with T) and symmetric positive
definite once a FixedTemperature or Convection boundary (or the transient mass term) is
present: CG + GAMG by default, LU optionally. T is P1 (or P2) Lagrange, so it can be passed
as a coefficient to :class:`femdiff.physics.mechanics.Elasticity` (``temperature=``) and to the
diffusion laws (R T ln C, Arrhenius D(T), S(T)). ``t`` and ``dt`` are ``fem.Constant`` objects:
forms never recompile during a run.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import default_scalar_type, fem, io
from dolfinx.fem.petsc import LinearProblem

from femdiff.geometry.mesh import Domain
from femdiff.models.materials import Arrhenius, Material, MaterialFields, assign
from femdiff.numerics import solvers
from femdiff.numerics.fem_utils import is_real


def _time_signature(fn: Callable) -> str:
    """``"t"``, ``"x"`` or ``"xt"``: what a boundary-value callable takes."""
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.default is inspect.Parameter.empty
                  and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # builtins without a signature: treat as f(x)
        return "x"
    if len(params) == 2:
        return "xt"
    if len(params) == 1:
        return "t" if params[0].name == "t" else "x"
    raise ValueError(f"a temperature callable takes x, t or (x, t), got {fn!r}")


@dataclass(frozen=True)
class FixedTemperature:
    """T = ``value`` [K] on ``boundary``.

    ``value`` is a number, or a callable of one of three forms, told apart by its
    signature: ``f(x)`` (numpy coordinates → values, interpolated once), ``f(t)`` (a
    function of time only: its one parameter must be named ``t``; e.g. the ramp
    ``lambda t: 300 + 0.5 * t`` of thermal desorption, see :meth:`ramp`) or ``f(x, t)``.
    Time-dependent values are re-evaluated at the new time of every step.
    """

    boundary: str
    value: Any  # float | Callable[..., Any], see the class doc

    def __post_init__(self) -> None:
        if is_real(self.value):
            if not math.isfinite(self.value) or self.value < 0:
                raise ValueError(f"FixedTemperature on {self.boundary!r}: temperature must be "
                                 f"≥ 0 K, got {self.value!r}")
        elif callable(self.value):
            _time_signature(self.value)
        else:
            raise TypeError(f"FixedTemperature on {self.boundary!r}: value must be a number "
                            f"or a callable of x, t or (x, t), got {type(self.value).__name__}")

    @classmethod
    def ramp(cls, boundary: str, T0: float, rate: float) -> FixedTemperature:
        """The linear ramp T(t) = T0 + rate·t [K, K/s] (thermal desorption spectroscopy)."""
        if not is_real(T0) or T0 < 0:
            raise ValueError(f"ramp on {boundary!r}: T0 must be ≥ 0 K, got {T0!r}")

        def value(t: float) -> float:
            return T0 + rate * t

        return cls(boundary, value)


@dataclass(frozen=True)
class HeatFlux:
    """Heat flux q [W/m²] into the body through ``boundary``: k ∇T·n = q.

    ``q`` is a number, a UFL expression, or a callable ``x -> UFL scalar``.
    """

    boundary: str
    q: Any


@dataclass(frozen=True)
class Convection:
    """Newton cooling −k ∇T·n = h (T − T∞) on ``boundary``.

    Attributes:
        boundary: boundary name.
        h: heat-transfer coefficient [W/(m² K)], positive (number or UFL).
        T_inf: ambient temperature T∞ [K], ≥ 0 (number or UFL).
    """

    boundary: str
    h: Any
    T_inf: Any

    def __post_init__(self) -> None:
        if is_real(self.h) and (not math.isfinite(self.h) or self.h <= 0):
            raise ValueError(f"Convection on {self.boundary!r}: h must be positive, "
                             f"got {self.h!r}")
        if is_real(self.T_inf) and (not math.isfinite(self.T_inf) or self.T_inf < 0):
            raise ValueError(f"Convection on {self.boundary!r}: T_inf must be ≥ 0 K, "
                             f"got {self.T_inf!r}")


ThermalBC = FixedTemperature | HeatFlux | Convection


def _as_scalar(value: Any, x: Any, what: str) -> Any:
    if callable(value) and not isinstance(value, ufl.core.expr.Expr | fem.Function):
        value = value(x)
    if is_real(value):
        return float(value)
    shape = getattr(value, "ufl_shape", None)
    if shape is None:
        raise TypeError(f"{what}: expected a number, UFL expression or callable of x, "
                        f"got {type(value).__name__}")
    if shape != ():
        raise ValueError(f"{what}: expected a scalar, got shape {shape}")
    return value


class HeatConduction:
    """Heat conduction on a :class:`Domain`, steady or transient.

    Args:
        domain: mesh with named boundaries (and named volumes when ``materials`` are
            given).
        materials: materials assigned to the volumes (their ``k`` and, when transient,
            ``rho_cp``), or a :class:`MaterialFields` from :func:`femdiff.models.materials.assign`.
            Alternatively give ``k`` and ``rho_cp`` directly.
        bcs: FixedTemperature, HeatFlux and Convection conditions.
        k: conductivity [W/(m K)] (number, UFL or callable of x), instead of materials.
        rho_cp: volumetric heat capacity [J/(m³ K)], instead of materials.
        source: volumetric heat source Q [W/m³] (number, UFL or callable of x).
        initial: initial temperature [K] for a transient run (number, callable of x or a
            Function); required when ``dt`` is given.
        dt: time step [s]; ``None`` (default) solves the steady problem.
        t0: initial time [s].
        degree: Lagrange degree of T (1 or 2).
        solver: ``"gamg"`` (CG + GAMG, default) or ``"lu"``.
        petsc_options: KSP/PC options overriding
            :func:`femdiff.numerics.solvers.conduction_options`.

    Lifecycle: :meth:`initialise` (fields → space → BCs → forms → solver), then
    :meth:`solve` (steady) or :meth:`step` / :meth:`run` (transient).

    Raises:
        ValueError: (one line) for bad input, including a negative temperature in the
            initial or boundary data, and a steady problem with no FixedTemperature or
            Convection boundary (T would be defined only up to a constant).
    """

    def __init__(self, domain: Domain,
                 materials: Sequence[Material] | MaterialFields | None = None,
                 bcs: Sequence[ThermalBC] = (), *, k: Any = None, rho_cp: Any = None,
                 source: Any = None, initial: Any = None, dt: float | None = None,
                 t0: float = 0.0, degree: int = 1, solver: Literal["gamg", "lu"] = "gamg",
                 petsc_options: dict[str, Any] | None = None) -> None:
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {degree!r}")
        if solver not in ("gamg", "lu"):
            raise ValueError(f"solver must be 'gamg' or 'lu', got {solver!r}")
        for bc in bcs:
            if not isinstance(bc, FixedTemperature | HeatFlux | Convection):
                raise TypeError(f"unknown heat-conduction boundary condition {bc!r}")
        domain.check_boundaries([bc.boundary for bc in bcs])
        transient = dt is not None
        if transient and (not is_real(dt) or not math.isfinite(dt) or dt <= 0):
            raise ValueError(f"time step dt must be positive, got {dt!r}")
        if materials is not None and (k is not None or rho_cp is not None):
            raise ValueError("give either materials or k/rho_cp, not both")
        if materials is None:
            if k is None:
                raise ValueError("heat conduction needs the conductivity: give materials or k")
            if transient and rho_cp is None:
                raise ValueError("transient heat conduction needs rho_cp (or materials)")
            for name, value in (("thermal conductivity k", k),
                                ("heat capacity rho_cp", rho_cp)):
                if is_real(value) and (not math.isfinite(value) or value <= 0):
                    raise ValueError(f"{name} must be positive, got {value!r}")
            self.fields = None
        else:
            self.fields = (materials if isinstance(materials, MaterialFields)
                           else assign(domain, materials))
            needed = ["k", "rho_cp"] if transient else ["k"]
            for key in needed:
                missing = self.fields.missing(key)
                if missing:
                    raise ValueError(f"material(s) {', '.join(repr(n) for n in missing)} "
                                     f"do not set {key}, needed for heat conduction")
                nonlinear = [m.name for m in self.fields.materials
                             if isinstance(getattr(m, key), Arrhenius)]
                if nonlinear:
                    raise ValueError(f"{key} of material(s) "
                                     f"{', '.join(repr(n) for n in nonlinear)} depends on T: "
                                     "nonlinear heat conduction is not supported")
        if not transient:
            if not any(isinstance(bc, FixedTemperature | Convection) for bc in bcs):
                raise ValueError("steady heat conduction needs a FixedTemperature or "
                                 "Convection boundary (else T is defined up to a constant)")
            if initial is not None:
                raise ValueError("initial is for transient runs: give dt as well")
        elif initial is None:
            raise ValueError("transient heat conduction needs an initial temperature")
        if is_real(initial) and initial < 0:
            raise ValueError(f"initial temperature must be ≥ 0 K, got {initial!r}")
        self.domain = domain
        self.bcs = list(bcs)
        self._k, self._rho_cp, self._source = k, rho_cp, source
        self._initial = initial
        self.transient = transient
        self.degree = degree
        self.solver_kind = solver
        defaults = solvers.conduction_options() if solver == "gamg" else solvers.lu_options()
        self.petsc_options = solvers.merge(defaults, petsc_options)
        self.prefix = solvers.unique_prefix("heat")
        mesh = domain.mesh
        self.t = fem.Constant(mesh, default_scalar_type(t0))
        self.dt = fem.Constant(mesh, default_scalar_type(dt if transient else 0.0))
        self._initialised = False
        self.iterations = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def initialise(self) -> None:
        """Build space, initial state, BCs, forms and solver (idempotent)."""
        if self._initialised:
            return
        self._create_function_space()
        self._create_initial_condition()
        self._create_dirichlet_bcs()
        self._create_forms()
        self._create_solver()
        self._initialised = True

    def _create_function_space(self) -> None:
        self.V = fem.functionspace(self.domain.mesh, ("Lagrange", self.degree))
        self.T = fem.Function(self.V, name="T")
        self.T_n = fem.Function(self.V, name="T_n")

    def _create_initial_condition(self) -> None:
        if not self.transient:
            return
        init = self._initial
        if isinstance(init, fem.Function):
            self.T_n.interpolate(init)
        elif callable(init):
            self.T_n.interpolate(init)
        else:
            self.T_n.x.array[:] = float(init)
        self.T_n.x.scatter_forward()
        low = self._global_min(self.T_n.x.array)
        if low < 0:
            raise ValueError(f"initial temperature is negative somewhere (min {low:g} K)")
        self.T.x.array[:] = self.T_n.x.array

    def _global_min(self, values: np.ndarray) -> float:
        local = float(np.min(values)) if values.size else math.inf
        return self.domain.comm.allreduce(local, op=MPI.MIN)

    def _create_dirichlet_bcs(self) -> None:
        fdim = self.domain.tdim - 1
        self.dirichlet: list[fem.DirichletBC] = []
        self._dirichlet_data: list[tuple[FixedTemperature, fem.Function, np.ndarray, str]] = []
        for bc in self.bcs:
            if not isinstance(bc, FixedTemperature):
                continue
            dofs = fem.locate_dofs_topological(self.V, fdim, self.domain.facets(bc.boundary))
            g = fem.Function(self.V)
            kind = "const" if is_real(bc.value) else _time_signature(bc.value)
            self._dirichlet_data.append((bc, g, dofs, kind))
            self.dirichlet.append(fem.dirichletbc(g, dofs))
        self._update_dirichlet(float(self.t.value), first=True)

    def _update_dirichlet(self, t: float, first: bool = False) -> None:
        """Evaluate the boundary temperatures at time ``t``; reject negative values."""
        for bc, g, dofs, kind in self._dirichlet_data:
            if kind == "const":
                if not first:
                    continue
                g.x.array[:] = float(bc.value)
            elif kind == "x":
                if not first:
                    continue
                g.interpolate(bc.value)
            elif kind == "t":
                g.x.array[:] = float(bc.value(t))
            else:
                g.interpolate(lambda x, f=bc.value: f(x, t))
            g.x.scatter_forward()
            low = self._global_min(g.x.array[dofs])
            if low < 0:
                raise ValueError(f"FixedTemperature on {bc.boundary!r}: negative temperature "
                                 f"{low:g} K at t = {t:g} s")

    def conductivity(self) -> Any:
        """The conductivity k as UFL (a DG0 Function for piecewise-constant materials)."""
        if self.fields is not None:
            return self.fields.get("k")
        return _as_scalar(self._k, ufl.SpatialCoordinate(self.domain.mesh), "k")

    def heat_capacity(self) -> Any:
        """The heat capacity ρc_p as a UFL expression."""
        if self.fields is not None:
            return self.fields.get("rho_cp")
        return _as_scalar(self._rho_cp, ufl.SpatialCoordinate(self.domain.mesh), "rho_cp")

    def _create_forms(self) -> None:
        mesh = self.domain.mesh
        x = ufl.SpatialCoordinate(mesh)
        T, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        dx = self.domain.dx()
        self.k = self.conductivity()
        a = ufl.inner(self.k * ufl.grad(T), ufl.grad(v)) * dx
        L = fem.Constant(mesh, default_scalar_type(0.0)) * v * dx
        if self.transient:
            self.rho_cp = self.heat_capacity()
            a += self.rho_cp / self.dt * T * v * dx
            L += self.rho_cp / self.dt * self.T_n * v * dx
        if self._source is not None:
            L += _as_scalar(self._source, x, "source") * v * dx
        for bc in self.bcs:
            if isinstance(bc, HeatFlux):
                q = _as_scalar(bc.q, x, f"HeatFlux on {bc.boundary!r}")
                L += q * v * self.domain.ds(bc.boundary)
            elif isinstance(bc, Convection):
                h = _as_scalar(bc.h, x, f"Convection h on {bc.boundary!r}")
                T_inf = _as_scalar(bc.T_inf, x, f"Convection T_inf on {bc.boundary!r}")
                a += h * T * v * self.domain.ds(bc.boundary)
                L += h * T_inf * v * self.domain.ds(bc.boundary)
        self.a, self.L = a, L

    def _create_solver(self) -> None:
        self.problem = LinearProblem(
            self.a, self.L, u=self.T, bcs=self.dirichlet,
            petsc_options_prefix=self.prefix, petsc_options=self.petsc_options)

    # -- solving -------------------------------------------------------------------------------

    def _linear_solve(self) -> None:
        ksp = self.problem.solver
        try:
            self.problem.solve()
        except PETSc.Error as exc:  # ksp_error_if_not_converged lands here
            solvers.check_converged(ksp, "heat-conduction solve")
            raise RuntimeError(f"heat-conduction solve failed: {exc}") from exc
        solvers.check_converged(ksp, "heat-conduction solve")
        self.iterations = ksp.getIterationNumber()
        self.T.x.scatter_forward()

    def solve(self) -> fem.Function:
        """Steady problem: solve for T and return it. Transient: one :meth:`step`.

        For a steady problem, time-dependent boundary temperatures are evaluated at the
        current ``t`` (set ``problem.t.value`` for a quasi-static sequence).
        """
        self.initialise()
        if self.transient:
            return self.step()
        self._update_dirichlet(float(self.t.value))  # quasi-static: boundary data at t
        self._linear_solve()
        return self.T

    def step(self, dt: float | None = None) -> fem.Function:
        """Advance one backward-Euler step (of ``dt`` if given) and return T."""
        if not self.transient:
            raise ValueError("step() is for transient problems (give dt); use solve()")
        self.initialise()
        if dt is not None:
            if not is_real(dt) or dt <= 0:
                raise ValueError(f"time step dt must be positive, got {dt!r}")
            self.dt.value = dt
        t_new = float(self.t.value) + float(self.dt.value)
        self._update_dirichlet(t_new)
        self.t.value = t_new
        self._linear_solve()
        self.T_n.x.array[:] = self.T.x.array
        return self.T

    def run(self, t_end: float, callback: Callable[[HeatConduction], None] | None = None
            ) -> fem.Function:
        """Step until ``t_end`` (the last step shortened to land on it); return T.

        ``callback(problem)`` runs after every step.
        """
        self.initialise()
        dt0 = float(self.dt.value)
        while float(self.t.value) < t_end - 1e-12 * max(abs(t_end), dt0):
            self.step(min(dt0, t_end - float(self.t.value)))
            if callback is not None:
                callback(self)
        self.dt.value = dt0
        return self.T

    def write(self, path: str | Path, t: float | None = None) -> Path:
        """Write T to a VTX folder ``path`` (``.bp``) for ParaView, at time ``t``.

        Each call writes one snapshot into a new folder; for a time series, open a
        ``dolfinx.io.VTXWriter`` on ``problem.T`` once and call ``write(t)`` per step.
        """
        self.initialise()
        path = Path(path)
        comm: MPI.Comm = self.domain.comm
        if comm.rank == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        with io.VTXWriter(comm, path, [self.T], engine="BP4") as w:
            w.write(float(self.t.value) if t is None else t)
        return path
