"""Chemical-potential-driven diffusion in the mixed μ–C weak form.

Unknowns: the concentration C and the chemical potential μ, in one mixed space
(P1/P1 by default, P2/P2 optional). Strong form:

    ∂C/∂t + ∇·J = 0,   J = −M(C) ∇μ,   μ = ∂f/∂C − ∇·(∂G/∂∇C)

where f and G come from a :class:`~femdiff.thermodynamics.ChemicalPotential` (ideal,
stress coupling, user interaction energies; later non-ideal and gradient terms).
Weak form, with test functions (q, v):

    ∫ ∂C/∂t q + M(C) ∇μ·∇q dx + ∫_Γ j_n q ds = 0
    ∫ μ v − ∂f/∂C v − ∂G/∂∇C·∇v dx = 0

Because μ is an unknown, an interaction energy such as −Ω σ_h enters only the second
equation, undifferentiated: a piecewise-constant σ_h from a P1 mechanics solve is fine.

Scaling. Real inputs (C ~ 10³ mol/m³, μ ~ 10³ J/mol, D ~ 10⁻⁹ m²/s, lengths in mm) would
give badly scaled Newton systems, so the unknowns are stored nondimensionally,
ĉ = C/C_s and μ̂ = μ/μ_s (C_s: mean |initial C|; μ_s: R T of the ideal term), and each
equation is divided by L^d (L: domain size). Users see and give physical values only.

Positivity. Terms such as R T ln C need C in an open interval. The initial data are
checked, and Newton runs as a bound-constrained SNES (``vinewtonrsls``) that keeps the
nodal ĉ inside the interval, so the logarithm is never evaluated outside its domain.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
import ufl.algorithms
from dolfinx import fem
from dolfinx.fem.petsc import LinearProblem, NonlinearProblem

from femdiff import solvers
from femdiff.mesh import Domain
from femdiff.thermodynamics import ChemicalPotential, Mobility
from femdiff.timestepping import (
    MILNE,
    Adaptive,
    StepFailure,
    TimeControl,
    bdf_coefficients,
    check_end_time,
    extrapolation_weights,
)

log = logging.getLogger(__name__)

Value = float | Callable[[np.ndarray], np.ndarray] | Any


# --- boundary conditions -------------------------------------------------------------


@dataclass(frozen=True)
class NoFlux:
    """J·n = 0 on ``boundary`` (the default on every boundary; listing it is optional)."""

    boundary: str


@dataclass(frozen=True)
class FixedConcentration:
    """C = value on ``boundary`` (a number, or a callable ``x -> values``)."""

    boundary: str
    value: Value


@dataclass(frozen=True)
class FixedPotential:
    """μ = value on ``boundary``: a reservoir at a given chemical potential [J/mol or J]."""

    boundary: str
    value: Value


@dataclass(frozen=True)
class Flux:
    """Prescribed outward normal flux J·n = value on ``boundary`` [C-units · m/s].

    ``value`` is a number or a UFL expression (may depend on x and on the problem's ``t``).
    """

    boundary: str
    value: Any


BoundaryCondition = NoFlux | FixedConcentration | FixedPotential | Flux


@dataclass(frozen=True)
class StepInfo:
    """What one accepted step did."""

    t: float
    dt: float
    newton_iterations: int
    krylov_iterations: int
    retries: int
    error: float = 0.0
    dt_next: float = 0.0


# --- helpers -------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.floating | np.integer)


def interpolate_into(target: fem.Function, value: Value) -> None:
    """Set ``target`` from a number, a callable ``x -> values``, a Function or UFL expr."""
    if _is_number(value):
        target.x.array[:] = float(value)
    elif isinstance(value, fem.Function):
        target.interpolate(value)
    elif isinstance(value, ufl.core.expr.Expr):
        # Checked before ``callable``: UFL expressions define __call__ (evaluation at a
        # point), so they would otherwise be sent down the numpy-callable branch.
        # Derivatives are expanded first: d(g)/dX of a quadratic g may hold no Function.
        value = ufl.algorithms.expand_derivatives(value)
        if ufl.domain.extract_unique_domain(value) is None:  # no mesh: a constant
            target.x.array[:] = float(value)
        else:
            V = target.function_space
            target.interpolate(fem.Expression(value, V.element.interpolation_points))
    elif callable(value):
        target.interpolate(value)
    else:
        raise TypeError(
            f"cannot set a field from {type(value).__name__}: expected a number, a "
            "callable x -> values, a dolfinx Function or a UFL expression"
        )
    target.x.scatter_forward()


def global_min_max(comm: MPI.Comm, values: np.ndarray) -> tuple[float, float]:
    """Global min and max of the process-owned ``values``."""
    lo = float(values.min()) if values.size else math.inf
    hi = float(values.max()) if values.size else -math.inf
    return comm.allreduce(lo, op=MPI.MIN), comm.allreduce(hi, op=MPI.MAX)


def set_step_constants(problem: Any, dt: float) -> None:
    """Set a problem's Δt and (variable-step) BDF coefficient Constants for a step of dt.

    ``problem`` has ``time`` (TimeControl), ``bdf`` (three Constants), ``dt`` (a Constant)
    and ``_dt_prev`` (the last accepted Δt or None).
    """
    order = 2 if problem.time.scheme == "bdf2" else 1
    for const, a in zip(problem.bdf, bdf_coefficients(order, dt, problem._dt_prev),
                        strict=True):
        const.value = a
    problem.dt.value = dt


def newton_solve(problem: NonlinearProblem, u: fem.Function, comm: MPI.Comm
                 ) -> tuple[bool, int, int]:
    """Run a SNES solve: (converged with a finite state on every rank, Newton, Krylov its).

    A PETSc error inside the solve (e.g. a zero pivot from a NaN in the Jacobian) counts
    as a failure, so the caller can retry with a smaller step.
    """
    snes = problem.solver
    try:
        problem.solve()
    except PETSc.Error as exc:
        log.debug("Newton raised %s", exc)
        return False, snes.getIterationNumber(), snes.getLinearSolveIterations()
    ok = snes.getConvergedReason() > 0 and bool(np.isfinite(u.x.array).all())
    ok = comm.allreduce(ok, op=MPI.LAND)
    return ok, snes.getIterationNumber(), snes.getLinearSolveIterations()


# --- the problem ---------------------------------------------------------------------


class DiffusionProblem:
    """Mixed μ–C diffusion of one species.

    Args:
        domain: the mesh with named boundaries.
        potential: the chemical-potential model (sum of free-energy terms).
        mobility: M(C) in J = −M(C) ∇μ.
        initial: initial C: a number, a callable ``x -> values``, a Function or UFL expr.
        time: time-step settings (Δt, scheme, retries).
        bcs: boundary conditions by name; unlisted boundaries are no-flux.
        degree: polynomial degree of both fields (1 or 2).
        petsc_options: SNES/KSP options; they override :func:`solvers.newton_options`.
        concentration_scale: C_s for nondimensionalising (default: mean |initial C|).
        lumped: for P1, integrate the constitutive equation with vertex quadrature (a
            lumped mass), so μ_i = ∂f/∂C(C_i) holds node by node. Equilibria are then
            nodally exact (e.g. C ∝ exp(Ωσ_h/RT) next to a fixed-C boundary, where the
            consistent mass would leave an O(h) shift) and the order of accuracy is
            unchanged. Ignored for P2.
        energy_stable: convex splitting (Eyre): the constitutive law becomes
            μⁿ⁺¹ = f′(cⁿ⁺¹) + S (cⁿ⁺¹ − cⁿ) − κ∇²cⁿ⁺¹ with S = max(−f″) from the terms
            (``concave_bound``), i.e. f + S c²/2 implicit and S c²/2 explicit. With
            backward Euler, F(cⁿ⁺¹) ≤ F(cⁿ) for every Δt (a discrete dissipation
            guarantee), at the price of O(S Δt) extra error.
        adaptive: error-controlled time steps for :meth:`run` (see
            :class:`~femdiff.timestepping.Adaptive`: Milne-device estimate against the
            extrapolated history, PI controller, rejection; Newton failures are retried
            as without it). Newton then starts from the linear extrapolation of the last
            two states. ``None`` keeps Δt fixed (apart from Newton-failure retries).
        source: volumetric source s in ∂C/∂t + ∇·J = s [C-units/s], a callable
            ``(x, t) -> UFL`` of the spatial coordinate and the time Constant (evaluated at
            the new time level; at the midpoint for Crank–Nicolson).
        name: the options-prefix stem (each instance gets a unique prefix).

    The lifecycle mirrors FESTIM: :meth:`initialise` runs named steps (spaces → initial
    state → boundary conditions → formulation → solver); :meth:`step` advances one step;
    :meth:`run` loops it.
    """

    def __init__(
        self,
        domain: Domain,
        potential: ChemicalPotential,
        mobility: Mobility,
        *,
        initial: Value,
        time: TimeControl,
        bcs: Sequence[BoundaryCondition] = (),
        degree: int = 1,
        petsc_options: dict[str, Any] | None = None,
        concentration_scale: float | None = None,
        lumped: bool = True,
        energy_stable: bool = False,
        adaptive: Adaptive | None = None,
        source: Callable[[Any, Any], Any] | None = None,
        name: str = "diffusion",
    ) -> None:
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {degree!r}")
        if not isinstance(potential, ChemicalPotential):
            raise TypeError("potential must be a femdiff.thermodynamics.ChemicalPotential")
        if not isinstance(mobility, Mobility):
            raise TypeError("mobility must be a femdiff.thermodynamics.Mobility")
        if not isinstance(time, TimeControl):
            raise TypeError("time must be a femdiff.timestepping.TimeControl")
        for bc in bcs:
            if not isinstance(bc, NoFlux | FixedConcentration | FixedPotential | Flux):
                raise TypeError(f"unknown boundary condition {bc!r}")
        domain.check_boundaries([bc.boundary for bc in bcs])
        if concentration_scale is not None and not concentration_scale > 0:
            raise ValueError(f"concentration_scale must be positive, got {concentration_scale}")
        self.domain = domain
        self.potential = potential
        self.mobility = mobility
        self.initial = initial
        self.time = time
        self.bcs = list(bcs)
        self.degree = degree
        self.user_petsc_options = dict(petsc_options or {})
        self.petsc_options = solvers.merge(solvers.newton_options(), petsc_options)
        self._concentration_scale = concentration_scale
        self.lumped = bool(lumped) and degree == 1
        if energy_stable and time.scheme != "backward_euler":
            raise ValueError("energy_stable=True needs scheme='backward_euler' (the "
                             "dissipation guarantee of convex splitting is for BDF1)")
        if energy_stable and potential.concave_bound <= 0:
            log.info("energy_stable: f is convex (S = 0); nothing to split")
        self.energy_stable = bool(energy_stable)
        if adaptive is not None and not isinstance(adaptive, Adaptive):
            raise TypeError("adaptive must be a femdiff.timestepping.Adaptive")
        self.adaptive = adaptive
        if source is not None and not callable(source):
            raise TypeError("source must be a callable (x, t) -> UFL expression")
        self.source = source
        self.prefix = solvers.unique_prefix(name)
        self._initialised = False

    # -- lifecycle ---------------------------------------------------------------------

    def initialise(self) -> None:
        """Build spaces, initial state, BCs, forms and solver (idempotent)."""
        if self._initialised:
            return
        self._create_function_spaces()
        self._create_initial_state()
        self._create_dirichlet_bcs()
        self._create_formulation()
        self._create_solver()
        self._initialised = True

    def _create_function_spaces(self) -> None:
        mesh = self.domain.mesh
        # one measure without subdomain data for every volume term: UFL forms may not mix
        # measures whose subdomain data differ
        self.dx = ufl.Measure("dx", domain=mesh)
        self.dx_mu = (ufl.Measure("dx", domain=mesh, metadata={
            "quadrature_rule": "vertex", "quadrature_degree": 1}) if self.lumped else self.dx)
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree)
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element([P, P]))
        self.V_c, self.dofs_c = self.W.sub(0).collapse()
        self.V_mu, self.dofs_mu = self.W.sub(1).collapse()
        self.u = fem.Function(self.W, name="state")
        self.u_n = fem.Function(self.W, name="state_n")
        self.u_nn = fem.Function(self.W, name="state_nn")
        self.C = fem.Function(self.V_c, name="C")
        self.mu = fem.Function(self.V_mu, name="mu")

    def _create_initial_state(self) -> None:
        comm = self.domain.comm
        interpolate_into(self.C, self.initial)
        n_owned = self.V_c.dofmap.index_map.size_local * self.V_c.dofmap.index_map_bs
        cmin, cmax = global_min_max(comm, self.C.x.array[:n_owned])
        if not (math.isfinite(cmin) and math.isfinite(cmax)):
            raise ValueError("initial concentration has NaN or Inf values")
        lo, hi = self.potential.domain
        if cmin <= lo or cmax >= hi:
            raise ValueError(
                f"initial concentration must lie in ({lo:g}, {hi:g}) for this chemical "
                f"potential (e.g. ln C needs C > 0); got min {cmin:g}, max {cmax:g}"
            )
        self._warn_if_ill_posed(n_owned)
        if self._concentration_scale is None:
            mean = self._integrate(abs(self.C) * ufl.dx) / self.domain.volume()
            self.c_scale = mean if mean > 0 else max(abs(cmin), abs(cmax), 1.0)
        else:
            self.c_scale = float(self._concentration_scale)
        self.mu_scale = float(self.potential.scale)
        self.length = self.domain.characteristic_length()

        self.u.x.array[self.dofs_c] = self.C.x.array / self.c_scale
        self._project_initial_potential()
        self.u.x.scatter_forward()
        self.u_n.x.array[:] = self.u.x.array
        self.u_nn.x.array[:] = self.u.x.array
        self._sync_outputs()

    def _warn_if_ill_posed(self, n_owned: int) -> None:
        """Warn when κ = 0 and the initial data reach a spinodal region (∂²f/∂C² < 0).

        Without gradient energy the backward-diffusion problem there is ill-posed: every
        wavelength grows, fastest the shortest the mesh can hold. femdiff still solves it
        (the mesh acts as the regulariser), so such results are mesh-dependent.
        """
        regularised = False
        for t in self.potential.terms:
            if isinstance(getattr(t, "kappa", None), int | float):
                regularised |= t.kappa > 0
            elif hasattr(t, "gradient_energy"):
                regularised |= t.gradient_energy(ufl.grad(self.C)) is not None
        if regularised:
            return
        cv = ufl.variable(self.C)
        curvature = ufl.diff(self.potential.dfdc(cv), cv)
        if isinstance(curvature, ufl.constantvalue.Zero):
            return
        f2 = fem.Function(self.V_c)
        f2.interpolate(fem.Expression(curvature, self.V_c.element.interpolation_points))
        lo, _ = global_min_max(self.domain.comm, f2.x.array[:n_owned])
        if lo < 0:
            log.warning(
                "the initial concentration lies partly inside a spinodal region "
                "(d2f/dC2 = %.3g < 0) and there is no gradient energy (kappa = 0): the "
                "problem is ill-posed there and the results are mesh-dependent (the "
                "fastest-growing wavelength is the mesh size). Add GradientEnergy(kappa > 0) "
                "for phase separation.", lo)

    def _project_initial_potential(self) -> None:
        """μ(t₀) from the constitutive law, by L2 projection (a consistent initial state)."""
        mu, v = ufl.TrialFunction(self.V_mu), ufl.TestFunction(self.V_mu)
        C = self.C
        rhs = self.potential.dfdc(C) / self.mu_scale * v * self.dx_mu
        dGdg = self.potential.dGdg(ufl.grad(C))
        if dGdg is not None:
            rhs += ufl.inner(dGdg, ufl.grad(v)) / self.mu_scale * self.dx
        problem = LinearProblem(
            mu * v * self.dx_mu, rhs, petsc_options_prefix=self.prefix + "mu0_",
            petsc_options=solvers.lu_options())
        mu_hat = problem.solve()
        self.u.x.array[self.dofs_mu] = mu_hat.x.array

    def _dirichlet(self, sub: int, value: Value, boundary: str, scale: float) -> fem.DirichletBC:
        V = self.V_c if sub == 0 else self.V_mu
        g = fem.Function(V)
        interpolate_into(g, value)
        g.x.array[:] /= scale
        fdim = self.domain.tdim - 1
        dofs = fem.locate_dofs_topological((self.W.sub(sub), V), fdim,
                                           self.domain.facets(boundary))
        return fem.dirichletbc(g, dofs, self.W.sub(sub))

    def _invert_potential(self, value: Value, boundary: str) -> fem.Function:
        """The concentration in equilibrium with a reservoir at μ = ``value``.

        A reservoir fixes μ, but a Dirichlet condition on μ would remove the constitutive
        equation at the boundary nodes and leave C there undetermined. Instead C_res with
        ∂f/∂C(C_res, x) = μ_res is found node by node (Newton on nodal values) and imposed
        on C, which keeps the constitutive law and drops the conservation equation there:
        the reservoir supplies whatever flux is needed. Needs a local model (no κ).
        """
        if self.potential.dGdg(ufl.grad(self.C)) is not None:
            raise ValueError(
                f"FixedPotential on {boundary!r}: a reservoir chemical potential needs a "
                "local free energy; with gradient energy fix C instead")
        target = fem.Function(self.V_c)
        interpolate_into(target, value)
        g = fem.Function(self.V_c)
        g.x.array[:] = self.C.x.array
        cv = ufl.variable(g)
        mu = self.potential.dfdc(cv)
        points = self.V_c.element.interpolation_points
        residual = fem.Expression(mu - target, points)
        slope = fem.Expression(ufl.diff(mu, cv), points)
        lo, hi = self.potential.domain
        r, s = fem.Function(self.V_c), fem.Function(self.V_c)
        dofs = fem.locate_dofs_topological(self.V_c, self.domain.tdim - 1,
                                           self.domain.facets(boundary))
        for _ in range(100):
            r.interpolate(residual)
            s.interpolate(slope)
            step = r.x.array[dofs] / s.x.array[dofs]
            new = g.x.array[dofs] - step
            # stay inside the model's domain (e.g. C > 0 for ln C)
            new = np.where(new <= lo, 0.5 * (g.x.array[dofs] + lo), new)
            new = np.where(new >= hi, 0.5 * (g.x.array[dofs] + hi), new)
            g.x.array[dofs] = new
            done = bool(np.all(np.abs(step) <= 1e-13 * np.abs(new)))
            if self.domain.comm.allreduce(done, op=MPI.LAND):
                return g
        raise ValueError(f"FixedPotential on {boundary!r}: no concentration found with "
                         "that chemical potential")

    def _create_dirichlet_bcs(self) -> None:
        self.dirichlet: list[fem.DirichletBC] = []
        for bc in self.bcs:
            if isinstance(bc, FixedConcentration):
                self.dirichlet.append(self._dirichlet(0, bc.value, bc.boundary, self.c_scale))
            elif isinstance(bc, FixedPotential):
                c_res = self._invert_potential(bc.value, bc.boundary)
                self.dirichlet.append(self._dirichlet(0, c_res, bc.boundary, self.c_scale))
        # Start Newton from a state that satisfies the Dirichlet data.
        for bc in self.dirichlet:
            bc.set(self.u.x.array)
        self.u_n.x.array[:] = self.u.x.array
        self.u_nn.x.array[:] = self.u.x.array

    def physical_concentration(self, u: fem.Function | None = None) -> Any:
        """C as a UFL expression of the (scaled) state ``u`` (default: current)."""
        return self.c_scale * ufl.split(self.u if u is None else u)[0]

    def physical_potential(self, u: fem.Function | None = None) -> Any:
        """μ as a UFL expression of the (scaled) state ``u``."""
        return self.mu_scale * ufl.split(self.u if u is None else u)[1]

    def _create_formulation(self) -> None:
        mesh = self.domain.mesh
        self.t = fem.Constant(mesh, PETSc.ScalarType(self.time.t0))
        self.dt = fem.Constant(mesh, PETSc.ScalarType(self.time.dt))
        self.bdf = [fem.Constant(mesh, PETSc.ScalarType(a)) for a in (1.0, -1.0, 0.0)]
        cn = self.time.scheme == "crank_nicolson"
        self.theta = fem.Constant(mesh, PETSc.ScalarType(0.5 if cn else 1.0))
        self._dt_prev: float | None = None
        self._error_prev: float | None = None
        self._dt_request = float(self.time.dt)
        self._t_accepted = float(self.time.t0)
        # last accepted (t, state) pairs, newest first (adaptive runs only)
        self._history: list[tuple[float, np.ndarray]] = []

        c, mu = ufl.split(self.u)
        c_n, mu_n = ufl.split(self.u_n)
        c_nn = ufl.split(self.u_nn)[0]
        # dividing by L^d makes residual entries O(h^d/L^d) whatever the length unit
        q, v = (self.length ** -self.domain.tdim * w for w in ufl.TestFunctions(self.W))
        Cs, Ms = self.c_scale, self.mu_scale
        C, C_n = Cs * c, Cs * c_n
        a0, a1, a2 = self.bdf
        θ = self.theta
        dx = self.dx

        # conservation, divided by C_s: ∫ ∂ĉ/∂t q + (μ_s/C_s) M ∇μ̂·∇q = 0 (times Δt)
        # terms a scheme does not use are left out of the form, not multiplied by zero,
        # so backward Euler pays for neither the old flux nor the second history level
        flux = self.mobility(C) * ufl.grad(mu)
        if cn:
            flux = θ * flux + (1 - θ) * self.mobility(C_n) * ufl.grad(mu_n)
        history = a1 * c_n + a2 * c_nn if self.time.scheme == "bdf2" else a1 * c_n
        F_c = (a0 * c + history) * q * dx
        F_c += self.dt * (Ms / Cs) * ufl.inner(flux, ufl.grad(q)) * dx
        for bc in self.bcs:
            if isinstance(bc, Flux):
                F_c += self.dt / Cs * bc.value * q * self.domain.ds(bc.boundary)
        if self.source is not None:
            t_src = self.t - (1 - θ) * self.dt if cn else self.t
            F_c -= self.dt / Cs * self.source(ufl.SpatialCoordinate(mesh), t_src) * q * dx

        # constitutive law, divided by μ_s
        F_mu = (mu - self.potential.dfdc(C) / Ms) * v * self.dx_mu
        if self.energy_stable:
            S = self.potential.concave_bound
            F_mu -= S * (C - C_n) / Ms * v * self.dx_mu
        dGdg = self.potential.dGdg(ufl.grad(C))
        if dGdg is not None:
            F_mu -= ufl.inner(dGdg, ufl.grad(v)) / Ms * dx

        self.residual = F_c + F_mu

        # diagnostics: physical fields as UFL
        self.flux_ufl = -self.mobility(C) * Ms * ufl.grad(mu)
        self.C_ufl, self.mu_ufl = C, Ms * mu

    def _create_solver(self) -> None:
        opts = dict(self.petsc_options)
        lo, hi = self.potential.domain
        bounded = math.isfinite(lo) or math.isfinite(hi)
        if bounded and "snes_type" not in self.user_petsc_options:
            opts["snes_type"] = "vinewtonrsls"
        # options go to the database under this problem's prefix and stay there: the
        # fieldsplit sub-solvers read theirs only at the first PC set-up
        if opts.get("pc_type") != "lu":
            opts.pop("pc_factor_mat_solver_type", None)
        schur = opts.pop("femdiff_schur", None)
        if schur not in (None, "bksw"):
            raise ValueError(f"femdiff_schur must be 'bksw', got {schur!r}")
        solvers.set_options(self.prefix, opts)
        self.problem = NonlinearProblem(
            self.residual, self.u, bcs=self.dirichlet, petsc_options_prefix=self.prefix)
        snes = self.problem.solver
        if opts.get("pc_type") == "fieldsplit":
            self._attach_fieldsplit(snes)
        snes.setFromOptions()
        if schur == "bksw":
            from femdiff.preconditioners import attach

            attach(self)
        if snes.getType().startswith("vi"):
            self._lower = fem.Function(self.W)
            self._upper = fem.Function(self.W)
            big = PETSc.INFINITY
            self._lower.x.array[:] = -big
            self._upper.x.array[:] = big
            # keep nodal C strictly inside its domain: ln C is never evaluated at C <= 0
            span = 1e-10
            if math.isfinite(lo):
                self._lower.x.array[self.dofs_c] = lo / self.c_scale + span
            if math.isfinite(hi):
                self._upper.x.array[self.dofs_c] = hi / self.c_scale - span
            snes.setVariableBounds(self._lower.x.petsc_vec, self._upper.x.petsc_vec)

    def _attach_fieldsplit(self, snes: PETSc.SNES) -> None:
        """Name the (C, μ) blocks for a fieldsplit preconditioner.

        Their options are ``fieldsplit_c_*`` and ``fieldsplit_mu_*``.
        """
        index_map = self.W.dofmap.index_map
        n_owned = index_map.size_local
        sets = []
        for name, dofs in (("c", self.dofs_c), ("mu", self.dofs_mu)):
            owned = np.sort(np.asarray(dofs)[np.asarray(dofs) < n_owned]).astype(np.int32)
            glob = index_map.local_to_global(owned).astype(PETSc.IntType)
            sets.append((name, PETSc.IS().createGeneral(glob, comm=self.domain.comm)))
        snes.getKSP().getPC().setType("fieldsplit")
        snes.getKSP().getPC().setFieldSplitIS(*sets)
        self._split_sets = sets

    # -- time stepping -------------------------------------------------------------------

    def _set_coefficients(self, dt: float) -> None:
        set_step_constants(self, dt)

    def _newton(self) -> tuple[bool, int, int]:
        return newton_solve(self.problem, self.u, self.domain.comm)

    def step(self, dt: float | None = None) -> StepInfo:
        """Advance one step (Δt = ``dt`` or the current one), retrying smaller on failure.

        Raises:
            StepFailure: when Newton fails even at ``time.smallest``.
        """
        self.initialise()
        dt = self._dt_request if dt is None else float(dt)
        if not dt > 0:
            raise ValueError(f"time step dt must be positive, got {dt!r}")
        newton = krylov = 0
        rejected = 0
        for attempt in range(self.time.max_retries + 1):
            self._set_coefficients(dt)
            self.t.value = self.current_time + dt
            self._initial_guess(dt)
            ok, its, kits = self._newton()
            newton += its
            krylov += kits
            error, dt_next = 0.0, dt
            if ok and self.adaptive is not None:
                error, order = self._error_indicator(dt)
                # PI memory only across accepted steps; after a rejection: elementary
                memory = None if rejected else self._error_prev
                dt_next = min(self.adaptive.propose(dt, error, order, memory),
                              self.time.dt_max)
                if not self.adaptive.accept(error):
                    ok = False
                    rejected += 1
            if ok:
                self.u_nn.x.array[:] = self.u_n.x.array
                self.u_n.x.array[:] = self.u.x.array
                self._dt_prev = dt
                self._t_accepted = self.current_time + dt
                self._error_prev = error if self.adaptive is not None else None
                self._remember(self._t_accepted)
                self._sync_outputs()
                return StepInfo(self._t_accepted, dt, newton, krylov, attempt, error, dt_next)
            self.u.x.array[:] = self.u_n.x.array
            self.t.value = self.current_time
            self.dt.value = self._dt_prev or self.time.dt
            new_dt = dt_next if rejected and dt_next < dt else dt * self.time.shrink
            log.info("step to t=%g with dt=%g %s; retrying with dt=%g",
                     self.current_time + dt, dt,
                     "rejected by the error control" if rejected else "failed", new_dt)
            dt = new_dt
            if dt < self.time.smallest:
                break
        raise StepFailure(
            f"Newton failed at t={self.current_time:g} even with dt={dt / self.time.shrink:g} "
            f"after {attempt + 1} attempts (reason "
            f"{self.problem.solver.getConvergedReason()}); the last accepted state is kept")

    def _remember(self, t: float) -> None:
        """Keep the last three accepted states (adaptive runs: error estimate, guess)."""
        if self.adaptive is None:
            return
        self._history.insert(0, (t, self.u_n.x.array.copy()))
        del self._history[3:]

    def _extrapolate(self, dt: float, degree: int) -> tuple[np.ndarray, int]:
        """Polynomial extrapolation of the whole state to t + Δt (degree ≤ ``degree``)."""
        if not self._history:
            self._remember(self.current_time)
        hist = self._history
        degree = min(len(hist) - 1, degree)
        points = hist[: degree + 1]
        weights = extrapolation_weights([t for t, _ in points], self.current_time + dt)
        return sum(w * u for w, (_, u) in zip(weights, points, strict=True)), degree

    def _initial_guess(self, dt: float) -> None:
        """Newton's start: the previous state, or (adaptive runs) its linear extrapolation.

        The extrapolated C is kept inside the Newton bounds, so bounded models (ln C)
        start from an admissible state.
        """
        if self.adaptive is None or not self._history:
            self.u.x.array[:] = self.u_n.x.array
            return
        guess, _ = self._extrapolate(dt, 1)
        if hasattr(self, "_lower"):
            lo = self._lower.x.array[self.dofs_c]
            hi = self._upper.x.array[self.dofs_c]
            guess[self.dofs_c] = np.clip(guess[self.dofs_c], lo, hi)
        self.u.x.array[:] = guess

    def _error_indicator(self, dt: float) -> tuple[float, int]:
        """Milne-device local error estimate and the order p it measures (e ∝ Δtᵖ⁺¹).

        See :class:`~femdiff.timestepping.Adaptive`: the new ĉ against the polynomial
        extrapolation of the last accepted states (degree = the scheme's order when
        enough states exist, scaled by the scheme's Milne constant; lower degree and
        constant 1 before that).
        """
        p = self.time.order
        pred, degree = self._extrapolate(dt, p)
        scale = MILNE[self.time.scheme] if degree == p else 1.0
        diff = self.u.x.array[self.dofs_c] - pred[self.dofs_c]
        local = float(np.max(np.abs(diff))) if diff.size else 0.0
        return scale * self.domain.comm.allreduce(local, op=MPI.MAX), degree

    @property
    def current_time(self) -> float:
        """Time of the last accepted state."""
        return getattr(self, "_t_accepted", self.time.t0)

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The state that a restart needs: (local dof arrays of the mixed space, scalars).

        Arrays: u, uⁿ, uⁿ⁻¹ and, for adaptive runs, the extrapolation history; scalars:
        t, the requested and previous Δt, the previous error (−1 stands for "none").
        Used by :mod:`femdiff.checkpoint`; the arrays are copies.
        """
        self.initialise()
        arrays = {"u": self.u.x.array.copy(), "u_n": self.u_n.x.array.copy(),
                  "u_nn": self.u_nn.x.array.copy()}
        scalars = {"t": float(self.current_time), "dt_request": float(self._dt_request),
                   "dt_prev": -1.0 if self._dt_prev is None else float(self._dt_prev),
                   "error_prev": -1.0 if self._error_prev is None else float(self._error_prev),
                   "history": float(len(self._history))}
        for i, (t, u) in enumerate(self._history):
            arrays[f"history_{i}"] = u.copy()
            scalars[f"history_t_{i}"] = float(t)
        return arrays, scalars

    def load_state(self, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> None:
        """Put back a state from :meth:`state_dict` (same mesh and partition layout)."""
        self.initialise()
        for name in ("u", "u_n", "u_nn"):
            getattr(self, name).x.array[:] = arrays[name]
        self._t_accepted = float(scalars["t"])
        self.t.value = self._t_accepted
        self._dt_request = float(scalars["dt_request"])
        self._dt_prev = None if scalars["dt_prev"] < 0 else float(scalars["dt_prev"])
        self._error_prev = None if scalars["error_prev"] < 0 else float(scalars["error_prev"])
        if self._dt_prev is not None:
            self.dt.value = self._dt_prev
        self._history = [(float(scalars[f"history_t_{i}"]), arrays[f"history_{i}"].copy())
                         for i in range(int(scalars.get("history", 0)))]
        self._sync_outputs()

    def run(self, t_end: float, callback: Callable[[DiffusionProblem, StepInfo], None] | None
            = None, max_steps: int = 10**7) -> list[StepInfo]:
        """Step until ``t_end`` (the last step is shortened to land on it)."""
        self.initialise()
        check_end_time(self.current_time, t_end)
        history: list[StepInfo] = []
        dt = self._dt_request
        while self.current_time < t_end * (1 - 1e-12) - 1e-300 and len(history) < max_steps:
            dt_try = min(dt, t_end - self.current_time)
            info = self.step(dt_try)
            history.append(info)
            if callback is not None:
                callback(self, info)
            if self.adaptive is not None:
                # a step shortened to land on t_end does not shrink the next one
                dt = max(info.dt_next, dt if dt_try < dt and info.retries == 0 else 0.0)
            elif info.retries:
                dt = info.dt  # keep the reduced step after a failure
        self._dt_request = dt
        return history

    # -- outputs and diagnostics -------------------------------------------------------

    def _sync_outputs(self) -> None:
        self.C.x.array[:] = self.u.x.array[self.dofs_c] * self.c_scale
        self.mu.x.array[:] = self.u.x.array[self.dofs_mu] * self.mu_scale

    def _integrate(self, integrand: Any) -> float:
        value = fem.assemble_scalar(fem.form(integrand))
        return self.domain.comm.allreduce(value, op=MPI.SUM)

    def amount(self, volume: str | None = None) -> float:
        """Total amount ∫ C dx (over a named volume, or everywhere)."""
        self.initialise()
        return self._integrate(self.C * self.domain.dx(volume))

    def free_energy(self) -> float:
        """F = ∫ f(C) + G(∇C) dx."""
        self.initialise()
        return self._integrate(self.potential.energy_density(self.C) * self.domain.dx())

    def flux_through(self, boundary: str) -> float:
        """Outward flux ∫ J·n ds through a named boundary."""
        self.initialise()
        n = ufl.FacetNormal(self.domain.mesh)
        return self._integrate(ufl.inner(self.flux_ufl, n) * self.domain.ds(boundary))

    def flux(self, degree: int | None = None) -> fem.Function:
        """J = −M ∇μ interpolated into a discontinuous vector space (degree k−1).

        The same Function is returned and refreshed on every call, so it can be handed to
        a writer once.
        """
        self.initialise()
        k = self.degree - 1 if degree is None else degree
        cache = self.__dict__.setdefault("_flux_cache", {})
        if k not in cache:
            mesh = self.domain.mesh
            V = fem.functionspace(mesh, ("Discontinuous Lagrange", k, (self.domain.gdim,)))
            J = fem.Function(V, name="flux")
            cache[k] = (J, fem.Expression(self.flux_ufl, V.element.interpolation_points))
        J, expr = cache[k]
        J.interpolate(expr)
        return J
