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

Dilute models (lumped P1, one Ideal term plus terms linear in C). The mobility is
evaluated at C(μ_h), the closed-form inverse of the constitutive law (exponential
fitting), so the cell flux is D ΔC/h in 1D however steeply ln C varies; the first step
starts from a linear Fick predictor, so data far from the boundary values (C = 1e-3
next to a face held at 1) cost a few Newton iterations, not hundreds (issue #11).

The activity formulation (``formulation="activity"``, chosen by the default ``"auto"``
for such models with a linear mobility M = M₀ C). With ρ = exp((μ − μ_ref)/kT) =
(C/C_ref) e^{(μ_ref − μ*(x))/kT} the flux J = −M₀ C ∇μ = −M₀ kT C_ref e^{−V/kT} ∇ρ is
linear in ρ: one linear solve per step, LU factorisation reused while Δt and V(x) are
unchanged (issue #11: 0.14-0.24× the plain concentration-form step at NX = 32, 48 of
``benchmarks/bench_permeation.py``, against 15-23× for the mixed Newton solve). The
storage term keeps the mixed form's consistent mass of the P1 C_h (a₀ M diag(w) in ρ),
and C, μ are recovered node by node, so results agree with the mixed form to O(h²)
(exit fluxes to 1e-6) and equilibria C ∝ e^{−V/kT} are nodally exact.

Boundary fluxes (:meth:`~femdiff.problem.MixedProblem.flux_through`) are the reaction
fluxes of the discrete conservation law (:mod:`femdiff.fluxes`): they balance
d(amount)/dt exactly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem import petsc as fem_petsc
from dolfinx.fem.petsc import LinearProblem

from femdiff import solvers
from femdiff.boundary import (
    BoundaryCondition,
    FixedConcentration,
    FixedPotential,
    Flux,
    NoFlux,
    Value,
    check_boundary_types,
)
from femdiff.fluxes import ConservedField, ReactionFlux
from femdiff.mesh import Domain
from femdiff.problem import (
    MixedProblem,
    global_min_max,
    interpolate_into,
    newton_solve,
    set_step_constants,
)
from femdiff.thermodynamics import ChemicalPotential, Ideal, Mobility
from femdiff.timestepping import Adaptive, StepInfo, TimeControl

log = logging.getLogger(__name__)

# re-exported: the boundary conditions and helpers lived here before femdiff.boundary
# and femdiff.problem
__all__ = ["BoundaryCondition", "DiffusionProblem", "FixedConcentration", "FixedPotential",
           "Flux", "NoFlux", "StepInfo", "Value", "global_min_max", "interpolate_into",
           "newton_solve", "set_step_constants"]

#: quadrature degree of the flux term with the fitted (exponential) mobility
FITTED_QUADRATURE_DEGREE = 4


class DiffusionProblem(MixedProblem):
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
        formulation: ``"mixed"`` (the μ–C system, Newton; every model) or ``"activity"``
            (dilute models only: lumped P1, one Ideal term plus terms linear in C such as
            StressCoupling/Interaction, a linear mobility M = M₀ C, no convex splitting).
            The activity ρ = exp((μ − μ_ref)/kT) = (C/C_ref) e^{(μ_ref−μ*(x))/kT} turns
            the problem linear, J = −M₀ kT C_ref e^{−V/kT} ∇ρ: one linear solve per step,
            whose LU factorisation is reused while Δt and V are unchanged; C and μ are
            recovered node by node (μ = μ_ref + kT ln(C_s ρ̂/C_ref)), so equilibria
            C ∝ e^{−V/kT} are nodally exact, as with the lumped mixed form. The storage
            term is lumped. Same public API (C, mu, flux_through, amount, state_dict).
            ``"auto"`` (default): ``"activity"`` where it applies, no PETSc options were
            given (they configure Newton, which the activity form does not run) and the
            class is DiffusionProblem itself (a subclass's extra residual terms would be
            bypassed), else ``"mixed"``; the choice is in :attr:`formulation` after
            :meth:`initialise`.
        fitted_mobility: for lumped P1 and a dilute model (one Ideal term plus terms
            linear in C, no gradient energy), evaluate the mobility at C(μ_h), the
            closed-form inverse of the constitutive law, instead of at the P1 C_h
            (exponential fitting; exact cell fluxes D ΔC/h in 1D). Ignored otherwise.
        name: the options-prefix stem (each instance gets a unique prefix).

    The lifecycle, stepping, restart and diagnostics are :class:`MixedProblem`'s; this
    class adds the spaces (C, μ), the initial μ, its boundary conditions and the weak
    form.
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
        fitted_mobility: bool = True,
        formulation: str = "auto",
        name: str = "diffusion",
    ) -> None:
        if not isinstance(potential, ChemicalPotential):
            raise TypeError("potential must be a femdiff.thermodynamics.ChemicalPotential")
        if not isinstance(mobility, Mobility):
            raise TypeError("mobility must be a femdiff.thermodynamics.Mobility")
        check_boundary_types(bcs)
        domain.check_boundaries([bc.boundary for bc in bcs])
        if concentration_scale is not None and not concentration_scale > 0:
            raise ValueError(f"concentration_scale must be positive, got {concentration_scale}")
        if not isinstance(time, TimeControl):
            raise TypeError("time must be a femdiff.timestepping.TimeControl")
        if energy_stable and time.scheme != "backward_euler":
            raise ValueError("energy_stable=True needs scheme='backward_euler' (the "
                             "dissipation guarantee of convex splitting is for BDF1)")
        if energy_stable and potential.concave_bound <= 0:
            log.info("energy_stable: f is convex (S = 0); nothing to split")
        if source is not None and not callable(source):
            raise TypeError("source must be a callable (x, t) -> UFL expression")
        if formulation not in ("mixed", "activity", "auto"):
            raise ValueError("formulation must be 'mixed', 'activity' or 'auto', got "
                             f"{formulation!r}")
        if formulation == "activity" and (degree != 1 or not lumped or energy_stable
                                          or mobility.kind != "linear"):
            raise ValueError(
                "formulation='activity' needs degree=1, lumped=True, energy_stable=False "
                "and a linear mobility (Mobility.linear or Mobility.from_diffusivity)")
        super().__init__(domain, time=time, adaptive=adaptive, degree=degree,
                         petsc_options=petsc_options, lumped=lumped, name=name)
        self.potential = potential
        self.mobility = mobility
        self.initial = initial
        self.bcs = list(bcs)
        self._concentration_scale = concentration_scale
        self.energy_stable = bool(energy_stable)
        self.source = source
        self.fitted_mobility = bool(fitted_mobility)
        self.formulation = formulation
        if formulation == "auto":
            # resolved in _create_formulation, when the model's terms can be inspected
            # not for subclasses: terms they add to the mixed residual would be bypassed
            usable = (degree == 1 and self.lumped and not energy_stable
                      and mobility.kind == "linear" and not self.user_petsc_options
                      and type(self) is DiffusionProblem)
            self.formulation = "auto" if usable else "mixed"

    # -- the hooks of MixedProblem -------------------------------------------------------

    def _create_function_spaces(self) -> None:
        mesh = self.domain.mesh
        self._create_measures()
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree)
        self._create_states(fem.functionspace(mesh, basix.ufl.mixed_element([P, P])))
        self.V_c, self.dofs_c = self.W.sub(0).collapse()
        self.V_mu, self.dofs_mu = self.W.sub(1).collapse()
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
            mean = self.integrate(abs(self.C) * ufl.dx) / self.domain.volume()
            self.c_scale = mean if mean > 0 else max(abs(cmin), abs(cmax), 1.0)
        else:
            self.c_scale = float(self._concentration_scale)
        self.mu_scale = float(self.potential.scale)
        self.length = self.domain.characteristic_length()

        self.u.x.array[self.dofs_c] = self.C.x.array / self.c_scale
        self._project_initial_potential()
        self._start_from_current()

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

    def _create_dirichlet_bcs(self) -> None:
        self.dirichlet: list[fem.DirichletBC] = []
        local = self.potential.dGdg(ufl.grad(self.C)) is None
        for bc in self.bcs:
            if isinstance(bc, FixedConcentration):
                value = bc.value
                self._check_boundary_values(value, bc.boundary)
            elif isinstance(bc, FixedPotential):
                if not local:
                    raise ValueError(
                        f"FixedPotential on {bc.boundary!r}: a reservoir chemical potential "
                        "needs a local free energy; with gradient energy fix C instead")
                value = self.invert_potential(bc.value, bc.boundary, self.V_c,
                                              self.potential.dfdc, self.C,
                                              self.potential.domain)
            else:
                continue
            self.dirichlet.append(self._dirichlet_on(0, self.V_c, value, bc.boundary,
                                                     self.c_scale))

    def _check_boundary_values(self, value: Any, boundary: str) -> None:
        """Fixed C must be finite and inside the model's domain at every boundary node.

        Found here, before the first solve, instead of as a Newton failure at t = 0.
        """
        g = fem.Function(self.V_c)
        interpolate_into(g, value)
        dofs = fem.locate_dofs_topological(self.V_c, self.domain.tdim - 1,
                                           self.domain.facets(boundary))
        dofs = dofs[dofs < self.V_c.dofmap.index_map.size_local]
        lo, hi = self.potential.domain
        vals = g.x.array[dofs]
        bad = np.flatnonzero(~np.isfinite(vals) | (vals <= lo) | (vals >= hi))
        first = None
        if bad.size:
            x = self.V_c.tabulate_dof_coordinates()[dofs[bad[0]]][: self.domain.gdim]
            first = (float(vals[bad[0]]), tuple(float(v) for v in x))
        found = [f for f in self.domain.comm.allgather(first) if f is not None]
        if found:
            v, x = found[0]
            coords = ", ".join(f"{c:g}" for c in x)
            raise ValueError(
                f"FixedConcentration on {boundary!r}: C = {v:g} at x = ({coords}) is not a "
                f"finite value inside the model's domain ({lo:g}, {hi:g})")

    def physical_concentration(self, u: fem.Function | None = None) -> Any:
        """C as a UFL expression of the (scaled) state ``u`` (default: current)."""
        return self.c_scale * ufl.split(self.u if u is None else u)[0]

    def physical_potential(self, u: fem.Function | None = None) -> Any:
        """μ as a UFL expression of the (scaled) state ``u``."""
        return self.mu_scale * ufl.split(self.u if u is None else u)[1]

    def _create_formulation(self) -> None:
        mesh = self.domain.mesh
        self._create_time_constants()
        cn = self.time.scheme == "crank_nicolson"
        self.theta = fem.Constant(mesh, PETSc.ScalarType(0.5 if cn else 1.0))

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
        # exponential fitting (lumped P1, dilute models): M at C(μ_h), the inverse of the
        # constitutive law, rather than at the P1 C_h; nodally the same (C_i = C(μ_i)),
        # but between nodes C(μ_h) follows the exponential profile, so M(C(μ))∇μ = D∇C(μ)
        # holds in every cell, and in 1D the cell flux is exactly D ΔC/h (the arithmetic
        # mean of C_h makes it O(1) too large where C changes by orders of magnitude
        # across a cell, as next to a face held at a small C: issue #11)
        dilute = self._fitted_concentration() if self.lumped else None
        if self.formulation == "auto":
            self.formulation = "activity" if dilute is not None else "mixed"
        self.fitted = dilute if self.fitted_mobility else None
        # first step from a linear Fick predictor (see _fick_predictor): dilute models
        self._predict_first = dilute is not None
        self._extrapolate_guess = True
        self._extrapolate_after = -math.inf
        if self.fitted is not None:
            C_m, C_m_n = self.fitted(Ms * mu), self.fitted(Ms * mu_n)
        else:
            C_m, C_m_n = C, C_n
        flux = self.mobility(C_m) * ufl.grad(mu)
        if cn:
            flux = θ * flux + (1 - θ) * self.mobility(C_m_n) * ufl.grad(mu_n)
        history = a1 * c_n + a2 * c_nn if self.time.scheme == "bdf2" else a1 * c_n
        F_c = (a0 * c + history) * q * dx
        # the fitted mobility exp(μ_h) needs no more than a fixed rule: its degree
        # estimate would otherwise grow with every nested function (and cost ~10× in
        # Jacobian assembly)
        dx_flux = dx if self.fitted is None else ufl.Measure(
            "dx", domain=mesh, metadata={"quadrature_degree": FITTED_QUADRATURE_DEGREE})
        F_c += self.dt * (Ms / Cs) * ufl.inner(flux, ufl.grad(q)) * dx_flux
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
        if self.formulation == "activity":
            if dilute is None:
                raise ValueError(
                    "formulation='activity' needs a dilute model: one Ideal term plus "
                    "terms linear in C (e.g. StressCoupling, Interaction), no gradient "
                    "energy; use formulation='mixed'")
            self._predict_first = False
            self._extrapolate_guess = False
            self._create_activity_formulation()

    def _fitted_concentration(self) -> Callable[[Any], Any] | None:
        """C(μ) in closed form for a dilute model: one Ideal term plus terms linear in C.

        Then μ = kT ln(C/C_ref) + μ*(x) with μ*(x) = ∂f/∂C(C_ref), so
        C(μ) = C_ref exp((μ − μ*)/kT). ``None`` for any other model (or gradient energy).
        """
        if self.potential.dGdg(ufl.grad(self.C)) is not None:
            return None
        ideal = [t for t in self.potential.terms if isinstance(t, Ideal)]
        if len(ideal) != 1 or any(hasattr(t, "chemical_potential")
                                  for t in self.potential.terms):
            return None
        cv = ufl.variable(self.C)
        for t in self.potential.terms:
            if t is ideal[0]:
                continue
            curvature = ufl.algorithms.expand_derivatives(ufl.diff(ufl.diff(
                t.energy(cv), cv), cv))
            if not isinstance(curvature, ufl.constantvalue.Zero):
                return None
        c_ref = fem.Constant(self.domain.mesh, PETSc.ScalarType(ideal[0].c_ref))
        mu_star = self.potential.dfdc(c_ref)
        kT = ideal[0].kT
        self._dilute_parts = (float(ideal[0].c_ref), mu_star, float(kT))
        return lambda mu: c_ref * ufl.exp((mu - mu_star) / kT)

    # -- the activity formulation (dilute models) ----------------------------------------

    def _create_activity_formulation(self) -> None:
        """The linear problem in the scaled activity ρ̂ = C/(C_s w), w = e^{(μ_ref−μ*)/kT}.

        μ*(x) = ∂f/∂C(C_ref) (μ° plus the terms linear in C) is projected onto P1 with the
        lumped mass, as the lumped constitutive law of the mixed form sees it, so
        C_i = C_s w_i ρ̂_i and μ_i = μ_ref + kT ln(C_s ρ̂_i/C_ref) node by node (μ_ref: the
        smallest nodal μ*, so w ≤ 1). Residual (times Δt, divided by C_s and L^d):

            ∫_vertex (a₀ w ρ̂ + a₁ ĉⁿ + a₂ ĉⁿ⁻¹) q + Δt M₀ kT w ∇ρ̂·∇q dx + Flux, source terms

        (Crank–Nicolson: θ ∇ρ̂ + (1−θ) ∇ρ̂ⁿ). The history is the conserved ĉ of the mixed
        state, so a change of w between steps (σ_h updated by a coupled solve) conserves
        the amount.
        """
        mesh = self.domain.mesh
        V, Cs = self.V_c, self.c_scale
        c_ref, mu_star, kT = self._dilute_parts
        self._act_c_ref, self._act_kT = c_ref, kT
        self.rho = fem.Function(V, name="activity")
        self.rho_n = fem.Function(V)
        self.c_hist = (fem.Function(V), fem.Function(V))
        self.w = fem.Function(V, name="w")
        # μ*(x) lumped onto P1: Σ_K ∫_K μ* φ_i dx_vertex / ∫ φ_i dx_vertex
        v = ufl.TestFunction(V)
        self._mu_star_form = fem.form(mu_star * v * self.dx_mu)
        self._lumped = fem.assemble_vector(fem.form(v * self.dx_mu))
        self._lumped.scatter_reverse(la.InsertMode.add)
        self._lumped.scatter_forward()
        self._mu_star_coeffs = [c for c in ufl.algorithms.extract_coefficients(mu_star)
                                if isinstance(c, fem.Function)]
        self._mu_star_seen: list[np.ndarray] | None = None

        q = self.length ** -self.domain.tdim * v
        a0, a1, a2 = self.bdf
        cn = self.time.scheme == "crank_nicolson"
        θ = self.theta
        M0 = float(self.mobility.M0)
        c_n, c_nn = self.c_hist
        self.c_now = fem.Function(V)  # ĉ = w ρ̂ nodally (the storage term's C_h)

        def transport(r: Any) -> Any:
            grad = θ * ufl.grad(r) + (1 - θ) * ufl.grad(self.rho_n) if cn else ufl.grad(r)
            F = self.dt * M0 * kT * self.w * ufl.inner(grad, ufl.grad(q)) * self.dx
            for bc in self.bcs:
                if isinstance(bc, Flux):
                    F += self.dt / Cs * bc.value * q * self.domain.ds(bc.boundary)
            if self.source is not None:
                t_src = self.t - (1 - θ) * self.dt if cn else self.t
                F -= (self.dt / Cs * self.source(ufl.SpatialCoordinate(mesh), t_src)
                      * q * self.dx)
            return F

        history = a1 * c_n + a2 * c_nn if self.time.scheme == "bdf2" else a1 * c_n
        # the storage term as in the mixed form: consistent mass of the P1 C_h (whose
        # nodal values are C_s w_i ρ̂_i): as a matrix, a₀ M diag(w)
        self.activity_residual = (a0 * self.c_now + history) * q * self.dx + transport(
            self.rho)
        trial = ufl.TrialFunction(V)
        a_k, L_k = ufl.system(transport(trial))
        self._act_k = fem.form(a_k)
        self._act_m = fem.form(trial * q * self.dx)
        self._act_L = fem.form(L_k - history * q * self.dx)
        # one Dirichlet condition on ρ̂ per mixed one (same nodes, the reaction flux's
        # boundaries); values ĉ_bc/w, refreshed with w
        self._act_g = fem.Function(V)
        self._act_bcs = []
        for d in self.dirichlet:
            dofs = np.flatnonzero(np.isin(self.dofs_c, d.dof_indices()[0])).astype(np.int32)
            self._act_bcs.append(fem.dirichletbc(self._act_g, dofs))
        n_owned = V.dofmap.index_map.size_local
        held = (np.unique(np.concatenate([b.dof_indices()[0] for b in self._act_bcs]))
                if self._act_bcs else np.empty(0, np.int32))
        self._act_held = held[held < n_owned].astype(PETSc.IntType)
        self._act_gvec = fem.Function(V)
        self._act_A = fem_petsc.create_matrix(self._act_k)
        self._act_M = fem_petsc.create_matrix(self._act_m)
        self._act_b = fem_petsc.create_vector(V)
        self._act_lift = self._act_b.duplicate()
        self._act_wvec = self.w.x.petsc_vec
        self._act_ksp = PETSc.KSP().create(self.domain.comm)
        self._act_ksp.setOptionsPrefix(self.prefix + "activity_")
        solvers.set_options(self.prefix + "activity_", {"ksp_type": "preonly",
                                                         **solvers.lu_options()})
        self._act_ksp.setFromOptions()
        self._act_key: tuple[float, ...] | None = None
        self._update_weight()
        self._rho_from_state()

    def _assemble_activity_matrix(self) -> None:
        """A = a₀ M diag(w) + K_w; the lifting A g of the held nodes; rows/columns zeroed."""
        A, M = self._act_A, self._act_M
        A.zeroEntries()
        fem_petsc.assemble_matrix(A, self._act_k)
        A.assemble()
        M.zeroEntries()
        fem_petsc.assemble_matrix(M, self._act_m)
        M.assemble()
        M.diagonalScale(None, self._act_wvec)
        A.axpy(float(self.bdf[0].value), M, PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        g = self._act_gvec
        g.x.array[:] = 0.0
        for bc in self._act_bcs:
            bc.set(g.x.array)
        A.mult(g.x.petsc_vec, self._act_lift)
        A.zeroRowsColumnsLocal(self._act_held, diag=1.0)
        self._act_ksp.setOperators(A)

    def _update_weight(self) -> bool:
        """Recompute w (and the Dirichlet values on ρ̂) if μ* changed; True if it did."""
        seen = [f.x.array for f in self._mu_star_coeffs]
        if self._mu_star_seen is not None and all(
                np.array_equal(a, b) for a, b in zip(seen, self._mu_star_seen, strict=True)):
            return False
        self._mu_star_seen = [a.copy() for a in seen]
        b = fem.assemble_vector(self._mu_star_form)
        b.scatter_reverse(la.InsertMode.add)
        b.scatter_forward()
        mu_star = b.array / self._lumped.array
        n = self.V_c.dofmap.index_map.size_local
        lo, _ = global_min_max(self.domain.comm, mu_star[:n])
        self._act_mu_ref = lo
        self.w.x.array[:] = np.exp((lo - mu_star) / self._act_kT)
        tmp = np.zeros_like(self.u.x.array)
        for d in self.dirichlet:
            d.set(tmp)
        self._act_g.x.array[:] = tmp[self.dofs_c] / self.w.x.array
        self._act_key = None  # the matrix depends on w
        return True

    def _rho_from_state(self) -> None:
        """ρ̂ = ĉ/w of the current state (and ρ̂ⁿ of the last accepted one)."""
        self.rho.x.array[:] = self.u.x.array[self.dofs_c] / self.w.x.array
        self.rho_n.x.array[:] = self.u_n.x.array[self.dofs_c] / self.w.x.array
        self.c_now.x.array[:] = self.u.x.array[self.dofs_c]

    def _activity_rest(self, copies: Sequence[fem.Function]) -> None:
        """Reaction-flux copies when no step is recorded: the history is the current state."""
        rho, c_now, c_n, c_nn, rho_n = copies
        rho.x.array[:] = self.rho.x.array
        rho_n.x.array[:] = self.rho.x.array
        for c in (c_now, c_n, c_nn):
            c.x.array[:] = self.u.x.array[self.dofs_c]

    def _activity_solve(self) -> tuple[bool, int, int]:
        """One linear solve for ρ̂; the factorisation is kept while Δt, a₀, θ, w are."""
        self._update_weight()
        self.c_hist[0].x.array[:] = self.u_n.x.array[self.dofs_c]
        self.c_hist[1].x.array[:] = self.u_nn.x.array[self.dofs_c]
        self.rho_n.x.array[:] = self.c_hist[0].x.array / self.w.x.array
        key = (float(self.dt.value), float(self.bdf[0].value), float(self.theta.value))
        if key != self._act_key:
            self._assemble_activity_matrix()
            self._act_key = key
        b = self._act_b
        with b.localForm() as loc:
            loc.set(0)
        fem_petsc.assemble_vector(b, self._act_L)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        b.axpy(-1.0, self._act_lift)
        b.array_w[self._act_held] = self._act_gvec.x.array[self._act_held]
        try:
            self._act_ksp.solve(b, self.rho.x.petsc_vec)
        except PETSc.Error:
            return False, 1, 0
        self.rho.x.scatter_forward()
        r = self.rho.x.array
        ok = bool(np.all(np.isfinite(r)) and np.all(r > 0)) and \
            self._act_ksp.getConvergedReason() > 0
        ok = self.domain.comm.allreduce(ok, op=MPI.LAND)
        if ok:
            self.c_now.x.array[:] = self.w.x.array * r
            self.u.x.array[self.dofs_c] = self.c_now.x.array
            self.u.x.array[self.dofs_mu] = (
                self._act_mu_ref + self._act_kT * np.log(self.c_scale * r / self._act_c_ref)
            ) / self.mu_scale
        return ok, 1, self._act_ksp.getIterationNumber()

    def _newton(self) -> tuple[bool, int, int]:
        if self.formulation == "activity":
            return self._activity_solve()
        return super()._newton()

    def _create_reaction_flux(self) -> None:
        if self.formulation != "activity":
            super()._create_reaction_flux()
            return
        # the reaction of the linear ρ̂ residual, on its own (ρ̂) rows
        f = self.conserved_fields()["C"]
        V = self.V_c
        n = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
        held = [bc for bc in self.bcs if isinstance(bc, FixedConcentration | FixedPotential)]
        field = ConservedField(
            rows=np.arange(n, dtype=np.int32), scale=f.scale,
            dirichlet=[(bc.boundary, d) for bc, d in zip(held, self._act_bcs, strict=True)],
            flux_bcs=f.flux_bcs)
        self._reaction = ReactionFlux(
            self.domain, self.activity_residual,
            (self.rho, self.c_now, *self.c_hist, self.rho_n), self.step_constants(),
            {"C": field},
            rest=self._activity_rest)

    @property
    def bounded(self) -> bool:  # type: ignore[override]
        """Whether the potential's domain is bounded (ln C): Newton keeps C inside."""
        lo, hi = self.potential.domain
        return math.isfinite(lo) or math.isfinite(hi)

    def _bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        # keep nodal C strictly inside its domain: ln C is never evaluated at C <= 0
        lo, hi = self.potential.domain
        span = 1e-10
        if math.isfinite(lo):
            lower[self.dofs_c] = lo / self.c_scale + span
        if math.isfinite(hi):
            upper[self.dofs_c] = hi / self.c_scale - span

    @property
    def concentration_dofs(self) -> Any:
        """Dofs of W holding ĉ."""
        return self.dofs_c

    def field_blocks(self) -> list[tuple[str, Any]]:
        """The (C, μ) blocks: fieldsplit options ``fieldsplit_c_*``, ``fieldsplit_mu_*``."""
        return [("c", self.dofs_c), ("mu", self.dofs_mu)]

    def scaled_blocks(self) -> list[tuple[str, float, Any]]:
        """ĉ = C/C_s and μ̂ = μ/μ_s."""
        return [("c_scale", self.c_scale, self.dofs_c), ("mu_scale", self.mu_scale,
                                                          self.dofs_mu)]

    def concentration_ufl(self, species: str | None = None) -> fem.Function:
        """C (the output Function; there is one species)."""
        return self.C

    def flux_ufl_of(self, species: str | None = None) -> Any:
        """J = −M ∇μ (UFL)."""
        return self.flux_ufl

    def schur_space(self) -> tuple[fem.FunctionSpace, Any]:
        """The μ space and its dofs in W (for :mod:`femdiff.preconditioners`)."""
        return self.V_mu, self.dofs_mu

    def schur_alpha(self) -> float:
        """α = κ Δt M₀ / a₀ of the Cahn–Hilliard Schur approximation H = M + √α K."""
        M0 = self.mobility.typical(self.c_scale)
        a0 = float(self.bdf[0].value)
        kappa = 0.0
        for t in self.potential.terms:
            kappa += getattr(t, "kappa", 0.0)
        return kappa * float(self.dt.value) * M0 / a0

    def _set_coefficients(self, dt: float) -> None:
        set_step_constants(self, dt)

    def conserved_fields(self) -> dict[str, ConservedField]:
        """One conserved field, C: its rows, scale, Dirichlet and Flux boundaries."""
        held = [bc for bc in self.bcs if isinstance(bc, FixedConcentration | FixedPotential)]
        return {"C": ConservedField(
            rows=self.dofs_c, scale=self.c_scale * self.length ** self.domain.tdim,
            dirichlet=[(bc.boundary, d) for bc, d in zip(held, self.dirichlet, strict=True)],
            flux_bcs=[(bc.boundary, bc.value) for bc in self.bcs if isinstance(bc, Flux)])}

    def flux_components(self, species: str | None = None) -> list[tuple[float, str]]:
        """The flux of the one species is that of C."""
        return [(1.0, "C")]

    # -- Newton's start ----------------------------------------------------------------

    def _initial_guess(self, dt: float) -> None:
        """Newton's start: a Fick predictor (first step, dilute models), else extrapolated.

        Fixed steps: the linear extrapolation of the last two states (an O(Δt²) guess, one
        Newton iteration less per step), not across the first step of a predictor start
        (its jump from far-off initial data extrapolates to C far outside its domain).
        Adaptive runs: the base's extrapolation of the accepted history. The extrapolated
        C is kept inside the Newton bounds.
        """
        if self._dt_prev is None and self._predict_first:
            self._fick_predictor(dt)
            return
        if (self.adaptive is None and self._dt_prev is not None and self._extrapolate_guess
                and self.current_time > self._extrapolate_after):
            w = dt / self._dt_prev
            guess = (1 + w) * self.u_n.x.array - w * self.u_nn.x.array
            self._clip_to_bounds(guess)
            self.u.x.array[:] = guess
            return
        super()._initial_guess(dt)

    def _fick_predictor(self, dt: float) -> None:
        """First-step guess: one linear (Fick) backward-Euler step, then μ = ∂f/∂C nodally.

        From initial data far from the boundary values (C = 1e-3 next to a face held at
        1) Newton on the mixed system creeps (the ln C row, linearised at the old C,
        caps each step): 100-200 iterations with retries (issue #11). The linearised
        problem ∂C/∂t = ∇·(D_eff ∇C), D_eff = M(Cⁿ) ∂²f/∂C²(Cⁿ) (= D for a dilute model),
        with a lumped mass (no undershoot below the data on an M-matrix mesh) and the
        same Dirichlet data, is the exact discrete step for the fitted dilute model in
        1D, and close to it otherwise; C is kept inside the Newton bounds and μ follows
        from the lumped constitutive law node by node.
        """
        if not hasattr(self, "_predictor"):
            V, Cs = self.V_c, self.c_scale
            c, w = ufl.TrialFunction(V), ufl.TestFunction(V)
            c_old = fem.Function(V)
            self._pred_old = c_old
            self._pred_rate = fem.Constant(self.domain.mesh, PETSc.ScalarType(1.0 / dt))
            cv = ufl.variable(Cs * c_old)
            d_eff = self.mobility(cv) * ufl.diff(self.potential.dfdc(cv), cv)
            a = (self._pred_rate * c * w * self.dx_mu
                 + d_eff * ufl.inner(ufl.grad(c), ufl.grad(w)) * self.dx)
            L = self._pred_rate * c_old * w * self.dx_mu
            held = np.concatenate([bc.dof_indices()[0] for bc in self.dirichlet]
                                  ) if self.dirichlet else np.empty(0, np.int32)
            g = fem.Function(V)
            self._pred_g = g
            dofs = np.flatnonzero(np.isin(self.dofs_c, held)).astype(np.int32)
            bcs = [fem.dirichletbc(g, dofs)] if self.domain.comm.allreduce(
                dofs.size, op=MPI.SUM) else []
            self._predictor = LinearProblem(
                a, L, bcs=bcs, petsc_options_prefix=self.prefix + "predictor_",
                petsc_options=solvers.lu_options())
        self._extrapolate_after = self.current_time + dt * (1 + 1e-9)
        self._pred_rate.value = 1.0 / dt
        self._pred_old.x.array[:] = self.u_n.x.array[self.dofs_c]
        self._pred_g.x.array[:] = self.u_n.x.array[self.dofs_c]
        c_hat = self._predictor.solve()
        lo, hi = self.potential.domain
        floor = 0.5 * min(global_min_max(self.domain.comm, self._pred_old.x.array)[0],
                          math.inf)
        lower = max(lo / self.c_scale, 0.0) if math.isfinite(lo) else -math.inf
        guess = np.clip(c_hat.x.array, max(floor, lower) if math.isfinite(lo) else -math.inf,
                        hi / self.c_scale if math.isfinite(hi) else math.inf)
        self.u.x.array[:] = self.u_n.x.array
        self.u.x.array[self.dofs_c] = guess
        self.C.x.array[:] = guess * self.c_scale
        mu = fem.Function(self.V_mu)
        mu.interpolate(fem.Expression(self.potential.dfdc(self.C) / self.mu_scale,
                                      self.V_mu.element.interpolation_points))
        self.u.x.array[self.dofs_mu] = mu.x.array
        self.u.x.scatter_forward()

    # -- outputs and diagnostics -------------------------------------------------------

    def _sync_outputs(self) -> None:
        self.C.x.array[:] = self.u.x.array[self.dofs_c] * self.c_scale
        self.mu.x.array[:] = self.u.x.array[self.dofs_mu] * self.mu_scale
        # activity formulation: ρ̂ follows a state set from outside (restart, initial data);
        # after a solve ĉ = w ρ̂ already holds bit for bit, and ρ̂ stays as solved (the
        # reaction flux recognises its recorded step by it)
        if hasattr(self, "c_now") and not np.array_equal(self.c_now.x.array,
                                                         self.u.x.array[self.dofs_c]):
            self._rho_from_state()

    def free_energy(self) -> float:
        """F = ∫ f(C) + G(∇C) dx."""
        self.initialise()
        return self.integrate(self.potential.energy_density(self.C) * self.domain.dx())

