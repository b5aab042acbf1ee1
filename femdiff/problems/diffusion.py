"""Chemical-potential-driven diffusion in the mixed μ–C weak form.

Unknowns: the concentration C and the chemical potential μ, in one mixed space
(P1/P1 by default, P2/P2 optional). Strong form:

    ∂C/∂t + ∇·J = 0,   J = −M(C) ∇μ,   μ = ∂f/∂C − ∇·(∂G/∂∇C)

where f and G come from a :class:`~femdiff.models.thermodynamics.ChemicalPotential` (ideal,
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

Materials and temperature (``materials=``, ``temperature=``, ``heat_of_transport=``):
:mod:`femdiff.problems.per_material`.

Positivity. Terms such as R T ln C need C in an open interval. The initial data are
checked, and Newton runs as a bound-constrained SNES (``vinewtonrsls``) that keeps the
nodal ĉ inside the interval, so the logarithm is never evaluated outside its domain.

Dilute models and the activity formulation: :mod:`femdiff.problems.activity`.

Boundary fluxes (:meth:`~femdiff.problems.base.MixedProblem.flux_through`) are the reaction
fluxes of the discrete conservation law (:mod:`femdiff.numerics.fluxes`): they balance
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

from femdiff.geometry.mesh import Domain
from femdiff.models.checks import warn_if_ill_posed
from femdiff.models.material_law import (
    DiffusionLaw,
    check_temperature_value,
    is_field,
    set_per_material,
)
from femdiff.models.materials import Material, MaterialFields
from femdiff.models.thermodynamics import ChemicalPotential, Mobility
from femdiff.numerics import solvers
from femdiff.numerics.fem_utils import owned
from femdiff.numerics.fluxes import ConservedField
from femdiff.numerics.settings import Settings
from femdiff.numerics.timestepping import Adaptive, StepInfo, TimeControl
from femdiff.physics.boundary import (
    BoundaryCondition,
    FixedConcentration,
    FixedPotential,
    Flux,
    NoFlux,
    Value,
    check_boundary_types,
)
from femdiff.problems.activity import FITTED_QUADRATURE_DEGREE, DiluteMixin
from femdiff.problems.base import (
    MixedProblem,
    global_min_max,
    interpolate_into,
    newton_solve,
    set_step_constants,
)
from femdiff.problems.per_material import MaterialsMixin

log = logging.getLogger(__name__)

#: quadrature degree of the fitted flux on tetrahedra (issue #24): 4 points instead of 14
#: (FITTED_QUADRATURE_DEGREE) make the Jacobian ~30 % cheaper (20.7 -> 14.5 ms CPU at
#: 5,346 dofs) and a permeation step 133 -> 95 ms; benchmarks/bench_permeation.py, NX = 32,
#: backward Euler to t = 0.3: exit-flux errors against Crank's series 0.29427 -> 0.29419
#: (max relative, t > 0.05), 0.015030 -> 0.015026 (max over J_ss), J(0.3)/J_exact
#: 0.99195 -> 0.99115, i.e. changes ≤ 1e-3, below the discretisation error (≥ 8e-3);
#: degree 1 doubles the second (0.028)
FITTED_DEGREE_3D = 2

# re-exported: the boundary conditions and helpers lived here before femdiff.physics.boundary
# and femdiff.problems.base
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
            :class:`~femdiff.numerics.timestepping.Adaptive`: Milne-device estimate against the
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
        materials: :class:`~femdiff.models.materials.Material` s (or their
            :class:`~femdiff.models.materials.MaterialFields` assignment) filling the named
            volumes. A material's solubility S₀, E_S (or μ°) adds μ°_m(T) = −R T ln S_m(T)
            to μ; its D₀, E_D (or M) gives the mobility M = D_m(T) C/(R T) (then pass
            ``mobility=None``). Two or more materials put C in a broken space (C jumps at
            interfaces, μ is continuous); see :mod:`femdiff.models.material_law`.
        temperature: T [K]: a number, ``fem.Constant`` or field (``fem.Function``, UFL).
            It replaces the T of every term of ``potential`` that has one and is the T of
            the materials' Arrhenius laws. Default: the T of the potential's terms.
        heat_of_transport: Soret heat of transport Q* [J/mol] (a number, or material
            name → number); needs a temperature field to have an effect.
        broken: C in the discontinuous space (True) or in P_k (False); default: broken
            for two or more materials.
        sigma_h: hydrostatic stress σ_h [Pa] (number, Function or UFL) acting through
            each material's own partial molar volume: μ gains −Ω_m σ_h region by region
            (the per-material form of :class:`~femdiff.models.thermodynamics.StressCoupling`;
            every material must set ``Omega``, and the potential must not also hold a
            StressCoupling term).
        solver: the linear solver, ``"auto"`` (default), ``"lu"`` or ``"iterative"``
            (:func:`femdiff.numerics.solvers.choose_linear_solver`: MUMPS LU, except for
            lumped P1 in 3D from ``ITERATIVE_MIN_DOFS_3D`` dofs on, a Schur fieldsplit with
            GAMG, run by plain Newton: a non-finite state is retried with a smaller Δt).
            User ``ksp_type``/``pc_type`` win; the reason: :meth:`linear_solver`.
        settings: the numerics in one :class:`~femdiff.numerics.settings.Settings`
            (degree, lumped, energy_stable, fitted_mobility, formulation, broken,
            concentration_scale, solver, petsc_options), instead of those keywords.

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
        settings: Settings | None = None,
    ) -> None:
        # the numerics: one Settings object, or (older API) keyword by keyword
        self.settings = s = Settings.resolve(
            settings, degree=degree, lumped=lumped, energy_stable=energy_stable,
            fitted_mobility=fitted_mobility, formulation=formulation, broken=broken,
            concentration_scale=concentration_scale, solver=solver, petsc_options=petsc_options)
        degree, lumped, energy_stable, fitted_mobility = (s.degree, s.lumped, s.energy_stable,
                                                          s.fitted_mobility)
        formulation, broken, solver = s.formulation, s.broken, s.solver
        concentration_scale = s.concentration_scale
        petsc_options = None if s.petsc_options is None else dict(s.petsc_options)
        if not isinstance(potential, ChemicalPotential):
            raise TypeError("potential must be a femdiff.models.thermodynamics.ChemicalPotential")
        self.law = None if materials is None else DiffusionLaw(domain, materials,
                                                                heat_of_transport)
        if mobility is None and (self.law is None or not self.law.has_mobility):
            raise TypeError("mobility must be a femdiff.models.thermodynamics.Mobility (or None "
                            "with materials that set D0 or M)")
        if mobility is not None and not isinstance(mobility, Mobility):
            raise TypeError("mobility must be a femdiff.models.thermodynamics.Mobility")
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
        if not isinstance(time, TimeControl):
            raise TypeError("time must be a femdiff.numerics.timestepping.TimeControl")
        if energy_stable and time.scheme != "backward_euler":
            raise ValueError("energy_stable=True needs scheme='backward_euler' (the "
                             "dissipation guarantee of convex splitting is for BDF1)")
        if energy_stable and potential.concave_bound <= 0:
            log.info("energy_stable: f is convex (S = 0); nothing to split")
        if source is not None and not callable(source):
            raise TypeError("source must be a callable (x, t) -> UFL expression")
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
            # Cahn–Hilliard has its own solvers (see solvers.cahn_hilliard_choice)
            self.model_solver = True
            self.petsc_options, self.solver_reason = solvers.cahn_hilliard_choice(
                self.solver_choice, petsc_options)
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

    #: whether C may sit on the lower end of the model's domain (C = 0 for ln C): not for
    #: the μ–C Newton; an activity unknown ρ ∝ C (problems.trap_activity) holds ρ ≥ 0
    zero_admissible: bool = False

    @property
    def cahn_hilliard(self) -> bool:
        """Whether the model has a gradient energy (Cahn–Hilliard): it sets the defaults.

        Cahn–Hilliard's solver default is :func:`femdiff.numerics.solvers.cahn_hilliard_options`
        (the LU factorisation reused across Newton iterations and steps); the others keep
        :func:`femdiff.numerics.solvers.newton_options`. :meth:`solver_description` says which.
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
        self._create_mixed_space([Pc, P])
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
        warn_if_ill_posed(self.potential, self.C, n_owned, self.domain.comm)
        if self._concentration_scale is None:
            mean = self.integrate(abs(self.C) * self.dx) / self.domain.volume()
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
            # law with the broken w (see femdiff.models.material_law)
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
        self._reuse_dilute_lu()
        if self.fitted is not None:
            C_m, C_m_n = self.fitted(Ms * mu), self.fitted(Ms * mu_n)
        else:
            C_m, C_m_n = C, C_n
        flux = self.mobility_of(C_m) * ufl.grad(mu)
        if cn:
            flux = θ * flux + (1 - θ) * self.mobility_of(C_m_n) * ufl.grad(mu_n)
        # several materials: the fitted flux M₀_m kT ∇C_h (see _material_fitted_flux)
        fitted_materials = self._material_fitted_flux(C, drive)
        self._materials_fitted = fitted_materials is not None
        if fitted_materials is not None:
            flux = fitted_materials / Ms
            if cn:
                flux = θ * flux + (1 - θ) * self._material_fitted_flux(C_n, drive) / Ms
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
        degree = FITTED_QUADRATURE_DEGREE if self.domain.tdim < 3 else FITTED_DEGREE_3D
        dx_flux = dx if self.fitted is None else ufl.Measure(
            "dx", domain=mesh, metadata={"quadrature_degree": degree})
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
        if fitted_materials is not None:  # the flux the conservation law sees
            self.flux_ufl = -fitted_materials
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

        Not with :func:`solvers.dilute_mixed_options` (its reused factorisation needs a
        fixed system; extrapolated starts are still clipped). Not on a broken C space:
        there the C dofs carry the constitutive rows, and a C
        projected onto its bound makes its cell's mobility M ∝ C vanish (a singular
        Jacobian); the plain Newton's backtracking line search instead rejects a step
        that leaves the domain (the residual is then NaN), so C stays inside as well.
        """
        if self.broken or getattr(self, "_dilute_reuse", False):
            return False
        lo, hi = self.potential.domain
        return math.isfinite(lo) or math.isfinite(hi)

    def _solve_failure(self) -> tuple[str, str]:
        """Newton's failure; for P2 with a log-type model, that positivity is nodal only.

        Newton's bounds keep the nodal C of P_k inside the domain of ln C, but a P2 C_h
        can dip below zero between nodes (steep data such as a face held at C = 1 next
        to 1e-3), and the residual is then NaN: the message says so and names the cure.
        """
        what, why = super()._solve_failure()
        lo, hi = self.potential.domain
        nan = self.formulation == "mixed" and self.problem.solver.getConvergedReason() in (
            PETSc.SNES.ConvergedReason.DIVERGED_FUNCTION_NANORINF,
            PETSc.SNES.ConvergedReason.DIVERGED_FUNCTION_DOMAIN)
        if self.degree > 1 and (math.isfinite(lo) or math.isfinite(hi)) and nan:
            why += (f": with degree={self.degree} C_h left the model's domain ({lo:g}, "
                    f"{hi:g}) between nodes, where Newton's nodal bounds do not reach; use "
                    "degree=1 (lumped P1 keeps C inside node by node)")
        return what, why

    def _clip_to_bounds(self, guess: np.ndarray) -> None:
        # the reused-LU path runs without Newton's bounds: keep an extrapolated start
        # inside the domain of ln C all the same
        if getattr(self, "_dilute_reuse", False):
            lower = np.full_like(guess, -np.inf)
            upper = np.full_like(guess, np.inf)
            self._bounds(lower, upper)
            np.clip(guess, lower, upper, out=guess)
            return
        super()._clip_to_bounds(guess)

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
        """The μ space and its dofs in W (for :mod:`femdiff.numerics.preconditioners`)."""
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
        potential, extra = self.potential, 0.0
        for component in self.components:  # e.g. the elastic energy of MechanicsField
            potential, energy = component.free_energy(self, potential)
            extra += energy
        density = potential.energy_density(self.C)
        if self.law is not None and self.law.has_reference:
            density = density + self.law.reference_potential(self.temperature_field) * self.C
        return self.integrate(density * self.domain.dx()) + extra

