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
"""

from __future__ import annotations

import dataclasses
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
from femdiff.material_diffusion import DiffusionLaw, check_temperature_value, is_field
from femdiff.materials import Material, MaterialFields
from femdiff.mesh import Domain
from femdiff.problem import (
    MixedProblem,
    global_min_max,
    interpolate_into,
    newton_solve,
    set_step_constants,
)
from femdiff.thermodynamics import ChemicalPotential, Mobility, gas_constant, is_number
from femdiff.timestepping import Adaptive, StepInfo, TimeControl

log = logging.getLogger(__name__)

# re-exported: the boundary conditions and helpers lived here before femdiff.boundary
# and femdiff.problem
__all__ = ["BoundaryCondition", "DiffusionProblem", "FixedConcentration", "FixedPotential",
           "Flux", "NoFlux", "StepInfo", "Value", "global_min_max", "interpolate_into",
           "newton_solve", "set_step_constants"]


class DiffusionProblem(MixedProblem):
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
        name: str = "diffusion",
        materials: Sequence[Material] | MaterialFields | None = None,
        temperature: Any = None,
        heat_of_transport: float | dict[str, float] | None = None,
        broken: bool | None = None,
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
        super().__init__(domain, time=time, adaptive=adaptive, degree=degree,
                         petsc_options=petsc_options, lumped=lumped, name=name)
        self.potential = self._with_temperature(potential, temperature)
        self.mobility = mobility
        self._temperature_given = temperature is not None
        self.initial = initial
        self.bcs = list(bcs)
        self._concentration_scale = concentration_scale
        self.energy_stable = bool(energy_stable)
        self.source = source

    # -- temperature and materials -------------------------------------------------------

    @staticmethod
    def _resolve_temperature(potential: ChemicalPotential, temperature: Any) -> Any:
        """The problem's T: ``temperature``, else the T of the potential's terms (or None)."""
        if temperature is not None:
            return temperature
        for t in potential.terms:
            if getattr(t, "T", None) is not None:
                return t.T
        return None

    @staticmethod
    def _with_temperature(potential: ChemicalPotential, T: Any) -> ChemicalPotential:
        """The potential with every term's T replaced by ``T`` (unchanged for None)."""
        if T is None:
            return potential
        terms = [dataclasses.replace(t, T=T) if dataclasses.is_dataclass(t)
                 and not isinstance(t, type) and hasattr(t, "T") else t
                 for t in potential.terms]
        return dataclasses.replace(potential, terms=terms)

    def chemical_potential_law(self, C: Any, T: Any = None) -> Any:
        """μ(C, x, T) [J/mol]: ∂f/∂C of the terms plus the materials' μ°_m(T).

        ``T`` (default: the problem's temperature) may be a ``ufl.variable`` to
        differentiate with respect to it.
        """
        T = self.temperature_field if T is None else T
        potential = self.potential
        if T is not self.temperature_field:
            potential = self._with_temperature(potential, T)
        mu = potential.dfdc(C)
        if self.law is not None and self.law.has_reference:
            mu = mu + self.law.reference_potential(T)
        return mu

    def mobility_of(self, C: Any) -> Any:
        """M(C) (the given Mobility, or the materials' D_m(T) C/(R T))."""
        if self.mobility is not None:
            return self.mobility(C)
        assert self.law is not None
        return self.law.mobility(C, self.temperature_field)

    def _thermal_drive(self, C: Any) -> Any:
        """(Q* − T ∂μ/∂T|_C) ∇T / T, the non-isothermal part of the driving force, or None.

        None when T is uniform (a number or Constant): ∇T = 0.
        """
        T = self.temperature_field
        if not is_field(T):
            return None
        Tv = ufl.variable(T)
        dmudT = ufl.diff(self.chemical_potential_law(C, Tv), Tv)
        Q = None if self.law is None else self.law.heat_of_transport()
        coef = -T * dmudT if Q is None else Q - T * dmudT
        return coef * ufl.grad(T) / T

    def _check_temperature_field(self) -> None:
        """Reject a temperature field that is not positive at some node."""
        T = self.temperature_field
        if not is_field(T):
            return
        V = self.V_mu
        f = fem.Function(V)
        interpolate_into(f, T)
        n = V.dofmap.index_map.size_local
        lo, _ = global_min_max(self.domain.comm, f.x.array[:n])
        if not lo > 0:
            raise ValueError(f"temperature must be positive [K] everywhere; its minimum on "
                             f"the mesh is {lo:g}")
        self._T_mean = self.integrate(T * ufl.dx(domain=self.domain.mesh)) \
            / self.domain.volume()

    def _energy_scale(self) -> float:
        """μ_s: the potential's energy scale, or R T̄ with the problem's temperature."""
        if self.potential.energy_scale is not None:
            return float(self.potential.energy_scale)
        T = self.temperature_field
        if T is None or (not self._temperature_given and is_number(T)):
            return float(self.potential.scale)
        units = next((t.units for t in self.potential.terms if hasattr(t, "units")), "molar")
        if is_number(T):
            Tbar = float(T)
        elif isinstance(T, fem.Constant):
            Tbar = float(T.value)
        else:
            Tbar = self._T_mean
        return gas_constant(units) * Tbar  # type: ignore[arg-type]

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
        self.mu_scale = self._energy_scale()
        self.length = self.domain.characteristic_length()

        self.u.x.array[self.dofs_c] = self.C.x.array / self.c_scale
        self._project_initial_potential()
        self._start_from_current()

    def _initial_per_material(self, values: Mapping[str, Value]) -> None:
        """Initial C per material (name → value): each value on its material's cells.

        On a broken C space an interface node then carries each side's own value (a
        callable of x alone cannot tell the two sides apart there).
        """
        if self.law is None:
            raise ValueError("initial given per material needs materials=")
        names = [m.name for m in self.law.materials]
        if set(values) != set(names):
            raise ValueError(f"initial per material must name exactly the materials "
                             f"{', '.join(repr(n) for n in names)}; got "
                             f"{', '.join(repr(n) for n in values)}")
        for m in self.law.materials:
            cells = np.concatenate([self.domain.cells(r) for r in m.regions]).astype(np.int32)
            tmp = fem.Function(self.V_c)
            interpolate_into(tmp, values[m.name])
            dofs = np.unique(self.V_c.dofmap.list[cells].ravel())
            self.C.x.array[dofs] = tmp.x.array[dofs]
        self.C.x.scatter_forward()

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
                value = bc.value
                self._check_boundary_values(value, bc.boundary)
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

    def _broken_dirichlet(self, bc: FixedConcentration) -> fem.DirichletBC:
        """μ = μ_m(C_b) on a fixed-C boundary (broken C): the law gives C = C_b there.

        μ_m(C_b) is evaluated in the cells next to the boundary; at a node shared with
        an interface it takes the value of one of the adjacent materials.
        """
        from dolfinx import mesh as dmesh

        msh = self.domain.mesh
        tdim = self.domain.tdim
        gC = fem.Function(self.V_mu)
        interpolate_into(gC, bc.value)
        n = self.V_mu.dofmap.index_map.size_local
        lo, _ = global_min_max(self.domain.comm, gC.x.array[:n])
        dom_lo, _ = self.potential.domain
        if not lo > dom_lo:
            raise ValueError(f"FixedConcentration on {bc.boundary!r}: C must lie above "
                             f"{dom_lo:g} for this chemical potential, got min {lo:g}")
        facets = self.domain.facets(bc.boundary)
        msh.topology.create_connectivity(tdim - 1, tdim)
        cells = dmesh.compute_incident_entities(msh.topology, facets, tdim - 1, tdim)
        g = fem.Function(self.V_mu)
        expr = fem.Expression(self.chemical_potential_law(gC),
                              self.V_mu.element.interpolation_points)
        cells = np.asarray(cells, dtype=np.int32)
        g.interpolate(expr, cells0=cells)
        g.x.scatter_forward()
        self._start_broken_at(bc, cells)
        return self._dirichlet_on(1, self.V_mu, g, bc.boundary, self.mu_scale)

    def _start_broken_at(self, bc: FixedConcentration, cells: np.ndarray) -> None:
        """Set the initial broken C to C_b at the nodes of a fixed-C boundary.

        The P_k problem imposes C_b on the initial state too (the Dirichlet set); here C
        follows from μ only after the first step, and the old value C_n at those nodes
        would enter the consistent mass of the neighbouring rows as an O(h) spurious
        source. DG_k and P_k share their nodes cell by cell, so the broken dofs at the
        boundary nodes are found through the P_k dofs of the same local index.
        """
        on = np.zeros(self.V_mu.dofmap.index_map.size_local
                      + self.V_mu.dofmap.index_map.num_ghosts, dtype=bool)
        on[fem.locate_dofs_topological(self.V_mu, self.domain.tdim - 1,
                                       self.domain.facets(bc.boundary))] = True
        value = fem.Function(self.V_c)
        interpolate_into(value, bc.value)
        for cell in cells:
            local = on[self.V_mu.dofmap.cell_dofs(cell)]
            dofs = self.V_c.dofmap.cell_dofs(cell)[local]
            self.u.x.array[np.asarray(self.dofs_c).ravel()[dofs]] = (value.x.array[dofs]
                                                                     / self.c_scale)
        self.u.x.scatter_forward()

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
        flux = self.mobility_of(C) * ufl.grad(mu)
        if cn:
            flux = θ * flux + (1 - θ) * self.mobility_of(C_n) * ufl.grad(mu_n)
        # non-isothermal: J = −M(∇μ − ∂μ/∂T|_C ∇T + Q*∇T/T), in units of μ_s
        drive, drive_n = self._thermal_drive(C), self._thermal_drive(C_n)
        if drive is not None:
            flux += (θ if cn else 1.0) * self.mobility_of(C) * drive / Ms
            if cn:
                flux += (1 - θ) * self.mobility_of(C_n) * drive_n / Ms
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

    # -- outputs and diagnostics -------------------------------------------------------

    def _sync_outputs(self) -> None:
        self.C.x.array[:] = self.u.x.array[self.dofs_c] * self.c_scale
        self.mu.x.array[:] = self.u.x.array[self.dofs_mu] * self.mu_scale

    def free_energy(self) -> float:
        """F = ∫ f(C) + G(∇C) dx."""
        self.initialise()
        return self.integrate(self.potential.energy_density(self.C) * self.domain.dx())

