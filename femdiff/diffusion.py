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

Materials and temperature. ``materials=`` assigns :class:`~femdiff.materials.Material`
parameters to named volumes (solubility S(T) or μ°, diffusivity D(T)), ``temperature=``
makes T a number, a Constant or a field (R T(x) ln C, Arrhenius laws of T(x)), and
``heat_of_transport=`` adds the Soret flux. With two or more materials μ stays the one
continuous unknown and C moves to a broken (discontinuous) space, so that C jumps at an
interface by the partition ratio; see :mod:`femdiff.material_diffusion` for the
representation, the swapped test spaces and the thermodynamically consistent
non-isothermal flux J = −M(∇μ − (∂μ/∂T)|_C ∇T + Q* ∇T/T).

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
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
from femdiff.diffusion_materials import MaterialsMixin
from femdiff.dilute import FITTED_QUADRATURE_DEGREE, DiluteMixin
from femdiff.fem_utils import owned
from femdiff.fluxes import ConservedField
from femdiff.material_diffusion import (
    DiffusionLaw,
    check_temperature_value,
    is_field,
    set_per_material,
)
from femdiff.materials import Material, MaterialFields
from femdiff.mesh import Domain
from femdiff.problem import (
    MixedProblem,
    global_min_max,
    interpolate_into,
    newton_solve,
    set_step_constants,
)
from femdiff.thermodynamics import ChemicalPotential, Mobility
from femdiff.timestepping import Adaptive, StepInfo, TimeControl

log = logging.getLogger(__name__)

# re-exported: the boundary conditions and helpers lived here before femdiff.boundary
# and femdiff.problem
__all__ = ["BoundaryCondition", "DiffusionProblem", "FixedConcentration", "FixedPotential",
           "Flux", "NoFlux", "StepInfo", "Value", "global_min_max", "interpolate_into",
           "newton_solve", "set_step_constants"]



class DiffusionProblem(MaterialsMixin, DiluteMixin, MixedProblem):
    """Mixed μ–C diffusion of one species.

    Args:
        domain: the mesh with named boundaries.
        potential: the chemical-potential model (sum of free-energy terms).
        mobility: M(C) in J = −M(C) ∇μ.
        initial: initial C: a number, a callable ``x -> values``, a Function or UFL expr;
            with materials also a mapping material name → one of those (each on its own
            cells, so a broken C starts with each side's value at an interface).
        time: time-step settings (Δt, scheme, retries).
        bcs: boundary conditions by name; unlisted boundaries are no-flux.
        degree: polynomial degree of both fields (1 or 2).
        petsc_options: SNES/KSP options; they override the model's defaults, chosen
            per model: :func:`solvers.cahn_hilliard_options` (Newton–FGMRES on an LU
            factorisation reused across Newton iterations and steps) for a model with
            gradient energy (:attr:`cahn_hilliard`) unless the user sets ``ksp_type`` or
            ``pc_type``; :func:`solvers.newton_options` (a fresh LU per Newton
            iteration) otherwise. :meth:`solver_description` reports which ran and why.
        concentration_scale: C_s for nondimensionalising (default: mean |initial C|).
        lumped: for P1, integrate the constitutive equation with vertex quadrature (a
            lumped mass), so μ_i = ∂f/∂C(C_i) holds node by node. Equilibria are then
            nodally exact (e.g. C ∝ exp(Ωσ_h/RT) next to a fixed-C boundary, where the
            consistent mass would leave an O(h) shift) and the order of accuracy is
            unchanged. Ignored for P2. For Cahn–Hilliard on coarse meshes it costs
            accuracy in F: PFHub 1b, 200², F(100) = 133.5 lumped against 130.3
            consistent (uploads 117–131.6), so the spinodal demo and cases pass
            ``lumped=False``.
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
        materials: :class:`~femdiff.materials.Material` s (or their
            :class:`~femdiff.materials.MaterialFields` assignment) filling the named
            volumes. A material's solubility S₀, E_S (or μ°) adds μ°_m(T) = −R T ln S_m(T)
            to μ; its D₀, E_D (or M) gives the mobility M = D_m(T) C/(R T) (then pass
            ``mobility=None``). Two or more materials put C in a broken space (C jumps at
            interfaces, μ is continuous); see :mod:`femdiff.material_diffusion`.
        temperature: T [K]: a number, ``fem.Constant`` or field (``fem.Function``, UFL).
            It replaces the T of every term of ``potential`` that has one and is the T of
            the materials' Arrhenius laws. Default: the T of the potential's terms.
        heat_of_transport: Soret heat of transport Q* [J/mol] (a number, or material
            name → number); needs a temperature field to have an effect.
        broken: C in the discontinuous space (True) or in P_k (False); default: broken
            for two or more materials.
        sigma_h: hydrostatic stress σ_h [Pa] (number, Function or UFL) acting through
            each material's own partial molar volume: μ gains −Ω_m σ_h region by region
            (the per-material form of :class:`~femdiff.thermodynamics.StressCoupling`;
            every material must set ``Omega``, and the potential must not also hold a
            StressCoupling term).
        solver: the linear solver, ``"auto"`` (default), ``"lu"`` or ``"iterative"``
            (:func:`femdiff.solvers.choose_linear_solver`): ``"auto"`` is MUMPS LU
            except for lumped P1 in 3D from :data:`femdiff.solvers.ITERATIVE_MIN_DOFS_3D`
            dofs on, where it is a Schur fieldsplit with GAMG on the Schur complement
            (:func:`femdiff.solvers.mixed_iterative_options`; the activity formulation:
            CG + GAMG). User ``ksp_type``/``pc_type`` options win; a ``femdiff_split``
            option chooses the blocks of the iterative split (with traps ``"local_mu"``:
            the former split, GAMG on μ). The choice and its reason:
            :meth:`linear_solver`, ``linear_solver_reason`` (logged). The
            iterative split runs plain Newton (``newtonls``): Newton's variable bounds
            (0 < C, 0 ≤ C_T ≤ N_T) are not enforced, a non-finite state is retried
            with a smaller Δt, and BDF2 may overshoot N_T slightly where LU's bounded
            Newton clips it (backward Euler keeps C_T in [0, N_T] by itself).

    The lifecycle, stepping, restart and diagnostics are :class:`MixedProblem`'s; this
    class adds the spaces (C, μ), the initial μ, its boundary conditions and the weak
    form.
    """

    def __init__(
        self,
        domain: Domain,
        potential: ChemicalPotential,
        mobility: Mobility | None,
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
        materials: Sequence[Material] | MaterialFields | None = None,
        temperature: Any = None,
        heat_of_transport: float | dict[str, float] | None = None,
        broken: bool | None = None,
        sigma_h: Any = None,
        solver: str = "auto",
    ) -> None:
        if not isinstance(potential, ChemicalPotential):
            raise TypeError("potential must be a femdiff.thermodynamics.ChemicalPotential")
        self.law = None if materials is None else DiffusionLaw(domain, materials,
                                                                heat_of_transport)
        if mobility is None and (self.law is None or not self.law.has_mobility):
            raise TypeError("mobility must be a femdiff.thermodynamics.Mobility (or None "
                            "with materials that set D0 or M)")
        if mobility is not None and not isinstance(mobility, Mobility):
            raise TypeError("mobility must be a femdiff.thermodynamics.Mobility")
        if mobility is not None and self.law is not None and self.law.has_mobility:
            raise ValueError("give either mobility= or materials with D0/M, not both")
        if heat_of_transport is not None and self.law is None:
            raise ValueError("heat_of_transport needs materials= (Q* per material)")
        check_temperature_value(temperature)
        self.broken = (self.law is not None and self.law.distinct()) if broken is None \
            else bool(broken)
        if self.broken and potential.G(ufl.grad(ufl.SpatialCoordinate(domain.mesh)[0]))\
                is not None:
            raise ValueError(
                "gradient energy across a material interface is not supported: it needs "
                "C in H1, but C jumps there; use one material (C stays continuous) or "
                "drop GradientEnergy")
        self.temperature_field = self._resolve_temperature(potential, temperature)
        if self.law is not None and self.law.needs_temperature and self.temperature_field is None:
            raise ValueError("the materials' laws depend on T: pass temperature= (or a "
                             "potential term with T)")
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
                                          or mobility is None or mobility.kind != "linear"
                                          or materials is not None):
            raise ValueError(
                "formulation='activity' needs degree=1, lumped=True, energy_stable=False, "
                "one material and a linear mobility (Mobility.linear or "
                "Mobility.from_diffusivity)")
        super().__init__(domain, time=time, adaptive=adaptive, degree=degree,
                         petsc_options=petsc_options, lumped=lumped, name=name, solver=solver)
        self.potential = self._with_material_stress(
            self._with_temperature(potential, temperature), sigma_h)
        user_solver = {"ksp_type", "pc_type"} & set(petsc_options or {})
        if self.cahn_hilliard and not user_solver:
            # Cahn–Hilliard has its own solvers (the μ-first Schur split of the dilute
            # models would leave GAMG a fourth-order operator): solver='iterative' is the
            # BKSW fieldsplit, otherwise LU reused across iterations and steps
            self.model_solver = True
            if self.solver_choice == "iterative":
                self.petsc_options = solvers.merge(solvers.cahn_hilliard_iterative_options(),
                                                   petsc_options)
                self.solver_reason = (
                    "solver='iterative' with Cahn–Hilliard (a gradient-energy term): "
                    "solvers.cahn_hilliard_iterative_options, the BKSW Schur fieldsplit")
            else:
                self.petsc_options = solvers.merge(solvers.cahn_hilliard_options(),
                                                   petsc_options)
                self.solver_reason = (
                    f"solver={self.solver_choice!r} with Cahn–Hilliard (a gradient-energy "
                    "term): solvers.cahn_hilliard_options, the LU factorisation dominates "
                    "the cost of a Newton iteration, so it is reused across iterations and "
                    "steps")
        self.mobility = mobility
        self._temperature_given = temperature is not None
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
                      and mobility is not None and mobility.kind == "linear"
                      and materials is None and heat_of_transport is None and not broken
                      and not self.user_petsc_options and type(self) is DiffusionProblem)
            self.formulation = "auto" if usable else "mixed"

    @property
    def zero_admissible(self) -> bool:
        """Whether C may sit on the lower end of the model's domain (C = 0 for ln C).

        No for the μ–C Newton (μ = kT ln C is its unknown); a formulation whose unknown is
        the activity ρ ∝ C (:mod:`femdiff.trap_activity`) holds ρ ≥ 0 instead.
        """
        return False

    @property
    def cahn_hilliard(self) -> bool:
        """Whether the model has a gradient energy (Cahn–Hilliard): it sets the defaults.

        Cahn–Hilliard's solver default is :func:`femdiff.solvers.cahn_hilliard_options`
        (the LU factorisation reused across Newton iterations and steps); the others keep
        :func:`femdiff.solvers.newton_options`. :meth:`solver_description` says which.
        """
        grad = ufl.grad(ufl.SpatialCoordinate(self.domain.mesh)[0])
        return self.potential.G(grad) is not None

    # -- the hooks of MixedProblem -------------------------------------------------------

    def _create_function_spaces(self) -> None:
        mesh = self.domain.mesh
        self._create_measures()
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree)
        # broken: C discontinuous (jumps at interfaces), μ the continuous unknown
        Pc = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree,
                               discontinuous=True) if self.broken else P
        self._create_states(fem.functionspace(mesh, basix.ufl.mixed_element([Pc, P])))
        self.V_c, self.dofs_c = self.W.sub(0).collapse()
        self.V_mu, self.dofs_mu = self.W.sub(1).collapse()
        self.C = fem.Function(self.V_c, name="C")
        self.mu = fem.Function(self.V_mu, name="mu")

    def _create_initial_state(self) -> None:
        comm = self.domain.comm
        self._check_temperature_field()
        if isinstance(self.initial, Mapping):
            self._initial_per_material(self.initial)
        else:
            interpolate_into(self.C, self.initial)
        n_owned = self.V_c.dofmap.index_map.size_local * self.V_c.dofmap.index_map_bs
        cmin, cmax = global_min_max(comm, self.C.x.array[:n_owned])
        if not (math.isfinite(cmin) and math.isfinite(cmax)):
            raise ValueError("initial concentration has NaN or Inf values")
        lo, hi = self.potential.domain
        if (cmin < lo if self.zero_admissible else cmin <= lo) or cmax >= hi:
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
        self.mu_scale = self._energy_scale()
        self.length = self.domain.characteristic_length()

        self.u.x.array[self.dofs_c] = self.C.x.array / self.c_scale
        self._project_initial_potential()
        self._start_from_current()

    def _initial_per_material(self, values: Mapping[str, Value]) -> None:
        """Initial C per material (name → value): each value on its material's cells."""
        if self.law is None:
            raise ValueError("initial given per material needs materials=")
        set_per_material(self.C, self.law.fields, values)

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
        rhs = self.chemical_potential_law(C) / self.mu_scale * v * self.dx_mu
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
                value = self._checked_boundary_values(bc.value, bc.boundary)
            elif isinstance(bc, FixedPotential) and self.broken:
                self.dirichlet.append(self._dirichlet_on(1, self.V_mu, bc.value,
                                                         bc.boundary, self.mu_scale))
                continue
            elif isinstance(bc, FixedPotential):
                if not local:
                    raise ValueError(
                        f"FixedPotential on {bc.boundary!r}: a reservoir chemical potential "
                        "needs a local free energy; with gradient energy fix C instead")
                value = self.invert_potential(bc.value, bc.boundary, self.V_c,
                                              self.chemical_potential_law, self.C,
                                              self.potential.domain)
            else:
                continue
            if self.broken:  # μ is the continuous unknown: impose μ_m(C_b)
                assert isinstance(bc, FixedConcentration)
                self.dirichlet.append(self._broken_dirichlet(bc))
                continue
            self.dirichlet.append(self._dirichlet_on(0, self.V_c, value, bc.boundary,
                                                     self.c_scale))

    def _checked_boundary_values(self, value: Any, boundary: str) -> fem.Function:
        """``value`` in C's space, once checked finite and inside the model's domain.

        Checked at every boundary node here, before the first solve, instead of showing
        as a Newton failure at t = 0.
        """
        g = fem.Function(self.V_c)
        interpolate_into(g, value)
        dofs = fem.locate_dofs_topological(self.V_c, self.domain.tdim - 1,
                                           self.domain.facets(boundary))
        dofs = owned(dofs, self.V_c)
        lo, hi = self.potential.domain
        vals = g.x.array[dofs]
        below = vals < lo if self.zero_admissible else vals <= lo
        bad = np.flatnonzero(~np.isfinite(vals) | below | (vals >= hi))
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
        return g

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

        c, mu = ufl.split(self.u)[:2]  # [:2]: subclasses append fields (coupled, traps)
        c_n, mu_n = ufl.split(self.u_n)[:2]
        c_nn = ufl.split(self.u_nn)[0]
        # dividing by L^d makes residual entries O(h^d/L^d) whatever the length unit
        q, v = (self.length ** -self.domain.tdim * w for w in ufl.TestFunctions(self.W)[:2])
        if self.broken:
            # C broken: conservation is tested with the continuous v, the constitutive
            # law with the broken w (see femdiff.material_diffusion)
            q, v = v, q
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
        # across a cell, as next to a face held at a small C: issue #11). Not with several
        # materials, a temperature field or Soret: their laws are the general path.
        drive, drive_n = self._thermal_drive(C), self._thermal_drive(C_n)
        simple = (self.law is None and not self.broken and drive is None
                  and not is_field(self.temperature_field))
        dilute = self._fitted_concentration() if self.lumped and simple else None
        if self.formulation == "auto":
            self.formulation = "activity" if dilute is not None else "mixed"
        self.fitted = dilute if self.fitted_mobility else None
        # first step from a linear Fick predictor (see _fick_predictor): dilute models
        # (C, μ) only: a subclass's extra fields (traps, displacement) have no predictor
        self._predict_first = dilute is not None and self.W.num_sub_spaces == 2
        # no bounds keep an extrapolated C admissible on a broken space (plain Newton)
        self._extrapolate_guess = self.bounded
        self._extrapolate_after = -math.inf
        if self.fitted is not None:
            C_m, C_m_n = self.fitted(Ms * mu), self.fitted(Ms * mu_n)
        else:
            C_m, C_m_n = C, C_n
        flux = self.mobility_of(C_m) * ufl.grad(mu)
        if cn:
            flux = θ * flux + (1 - θ) * self.mobility_of(C_m_n) * ufl.grad(mu_n)
        # non-isothermal: J = −M(∇μ − ∂μ/∂T|_C ∇T + Q*∇T/T), in units of μ_s
        if drive is not None:
            flux += (θ if cn else 1.0) * self.mobility_of(C) * drive / Ms
            if cn:
                flux += (1 - θ) * self.mobility_of(C_n) * drive_n / Ms
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
        F_mu = (mu - self.chemical_potential_law(C) / Ms) * v * self.dx_mu
        if self.energy_stable:
            S = self.potential.concave_bound
            F_mu -= S * (C - C_n) / Ms * v * self.dx_mu
        dGdg = self.potential.dGdg(ufl.grad(C))
        if dGdg is not None:
            F_mu -= ufl.inner(dGdg, ufl.grad(v)) / Ms * dx

        self.residual = F_c + F_mu

        # diagnostics: physical fields as UFL
        self.flux_ufl = -self.mobility_of(C) * Ms * ufl.grad(mu)
        if drive is not None:
            self.flux_ufl -= self.mobility_of(C) * drive
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

    @property
    def bounded(self) -> bool:  # type: ignore[override]
        """Whether the potential's domain is bounded (ln C): Newton keeps C inside.

        Not on a broken C space: there the C dofs carry the constitutive rows, and a C
        projected onto its bound makes its cell's mobility M ∝ C vanish (a singular
        Jacobian); the plain Newton's backtracking line search instead rejects a step
        that leaves the domain (the residual is then NaN), so C stays inside as well.
        """
        if self.broken:
            return False
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
        if self.mobility is None:
            raise NotImplementedError("the Schur preconditioner needs a Mobility (not "
                                      "materials with D0)")
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
        # broken C: the conservation law is the row of the P_k test function, μ's rows
        # (the constitutive law takes C's), and fixed-C conditions hold μ
        return {"C": ConservedField(
            rows=self.dofs_mu if self.broken else self.dofs_c,
            scale=self.c_scale * self.length ** self.domain.tdim,
            # the first len(held) conditions are C's (a subclass may append its own)
            dirichlet=[(bc.boundary, d) for bc, d in zip(held, self.dirichlet[:len(held)],
                                                         strict=True)],
            flux_bcs=[(bc.boundary, bc.value) for bc in self.bcs if isinstance(bc, Flux)])}

    def flux_components(self, species: str | None = None) -> list[tuple[float, str]]:
        """The flux of the one species is that of C."""
        return [(1.0, "C")]

    # -- outputs and diagnostics -------------------------------------------------------

    def _sync_outputs(self) -> None:
        self.C.x.array[:] = self.u.x.array[self.dofs_c] * self.c_scale
        self.mu.x.array[:] = self.u.x.array[self.dofs_mu] * self.mu_scale
        # activity formulation: ρ̂ follows a state set from outside (restart, initial data);
        # after a solve ĉ = w ρ̂ already holds bit for bit, and ρ̂ stays as solved (the
        # reaction flux recognises its recorded step by it); dofs_c is collapse()'s list
        # of one array, so u.x.array[dofs_c] has shape (1, n): compare it raveled
        if hasattr(self, "c_now") and not np.array_equal(
                self.c_now.x.array, self.u.x.array[self.dofs_c].ravel()):
            self._rho_from_state()

    def free_energy(self) -> float:
        """F = ∫ f(C) + μ°(x, T) C + G(∇C) dx [J/m³ · m³ for C in mol/m³].

        μ°(x, T) is the materials' reference potential (−R T ln S_m, or μ°_m), the
        ∫ μ°_m dC of each material's free-energy density (0 without materials).
        """
        self.initialise()
        density = self.potential.energy_density(self.C)
        if self.law is not None and self.law.has_reference:
            density = density + self.law.reference_potential(self.temperature_field) * self.C
        return self.integrate(density * self.domain.dx())

