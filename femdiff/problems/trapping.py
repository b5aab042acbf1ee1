"""Hydrogen transport with McNabb–Foster and Oriani traps in the mixed μ–C form.

Mobile (lattice) hydrogen is the μ–C problem of :mod:`femdiff.problems.diffusion`; the trap laws
and their parameters are :mod:`femdiff.models.trap_laws`'s.

Strong form, with C_L the lattice (mobile) concentration and C_T,i the trapped ones:

    ∂C_L/∂t + Σᵢ ∂C_T,i/∂t + ∇·J = s,   J = −M(C_L) ∇μ,   μ = ∂f/∂C_L

    McNabb–Foster trap i:  ∂C_T,i/∂t = k(T) C_L (N_T,i − C_T,i) − p(T) C_T,i
    Oriani trap j:         C_T,j = N_T,j y/(1 + y),  y = K(T) θ_L/(1 − θ_L), θ_L = C_L/N_L

Discretisation (BDF coefficients a₀, a₁, a₂ of :mod:`femdiff.numerics.timestepping`, Δt):

* Each McNabb–Foster trap is one more sub-space of the mixed space (same Lagrange degree
  as C_L), solved monolithically with (C_L, μ). For P1 with ``lumped=True`` its equation
  and its storage in the mobile balance use vertex quadrature, so the trap equation is
  one ODE per node (the trap block of the Jacobian is diagonal):

      ∫ (Σₖ aₖ C_Tⁿ⁻ᵏ − Δt rate(C_Lⁿ, C_Tⁿ, Tⁿ)) w dx_v = 0,
      ∫ Σₖ aₖ (C_Lⁿ⁻ᵏ + C_Tⁿ⁻ᵏ) q dx_v + Δt ∫ M ∇μ·∇q dx + … = 0.

  The mobile storage is lumped as well (with traps and lumped P1): next to a strong
  nodal sink a consistent mass has no M-matrix and asks for negative C_L ahead of a
  trapping front, which stalls the bounded Newton. ∫ C_L dx is the same for P1.

* An Oriani trap adds no unknown: its population C_T(C_L, T) enters the storage term,
  Σₖ aₖ C_T(C_Lⁿ⁻ᵏ, Tⁿ⁻ᵏ) (same measure), so no rate stiffness arises and the effective
  diffusivity D_L/(1 + ∂C_T/∂C_L) follows.

Total hydrogen ∫ C_L dx + Σ ∫ C_T dx_v is conserved exactly (to the Newton tolerance)
with closed boundaries: summing the mobile balance over all test functions (q = 1)
leaves only the boundary fluxes. Trapped fields are kept in [0, N_T] node by node by the
bound-constrained Newton (``vinewtonrsls``).

Temperature. ``temperature`` is a number, a UFL expression or Function of x (fixed in
time), a ``fem.Constant`` (the caller may update it between steps; the history levels
then see the same value), or a callable ``t -> T`` (e.g. the TDS ramp
``lambda t: T0 + beta * t``): the problem then owns three Constants T(tⁿ⁺¹), T(tⁿ),
T(tⁿ⁻¹) and sets them before every Newton solve, so a ramp needs no recompilation and
the Oriani history terms use the temperature of their own time level. A number,
Constant or field is one temperature for the whole problem: it is also the
:class:`~femdiff.problems.diffusion.DiffusionProblem`'s ``temperature`` (the T of the μ terms and
of the materials' laws, :attr:`temperature_field`). A ramp drives the trap laws only; the
lattice μ and mobility keep the T of their terms (the detrapping-limited TDS of
``demos/demo_tds.py``, where lattice diffusion is never the slow step).

Dilute lattice models (one Ideal term plus terms linear in C, M = M₀ C, lumped P1) run
by default in the activity formulation instead (:mod:`femdiff.problems.trap_activity`): the same
lumped trap laws, with the trap populations eliminated node by node and Newton in the
lattice activity alone.

Units: as in :mod:`femdiff.models.trap_laws`; C_L, C_T and N_T share one concentration unit.
Crank–Nicolson is not offered with traps (backward Euler or BDF2).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem, la

from femdiff.geometry.mesh import Domain
from femdiff.models.material_law import is_field
from femdiff.models.thermodynamics import ChemicalPotential, LatticeSaturation, Mobility
from femdiff.models.trap_laws import McNabbFoster, Oriani, check_regions, density_value
from femdiff.numerics import solvers
from femdiff.numerics.fem_utils import is_real
from femdiff.physics.boundary import FixedConcentration
from femdiff.problems import trap_activity
from femdiff.problems.base import global_min_max, interpolate_into
from femdiff.problems.diffusion import DiffusionProblem

log = logging.getLogger(__name__)

__all__ = ["TrappingProblem", "condensed_options"]

Temperature = float | fem.Constant | fem.Function | Callable[[float], float] | Any


def condensed_options() -> dict[str, Any]:
    """PETSc options of ``condense_traps``: exact static condensation of the trap block.

    Schur fieldsplit (traps first), full factorisation, ``selfp`` (exact for a diagonal
    trap block), Jacobi on the traps and LU on the condensed lattice matrix.
    """
    return {"ksp_type": "fgmres", "ksp_rtol": 1.0e-12, "ksp_max_it": 20,
            "pc_type": "fieldsplit", "pc_fieldsplit_type": "schur",
            "pc_fieldsplit_schur_fact_type": "full",
            "pc_fieldsplit_schur_precondition": "selfp",
            "fieldsplit_traps_ksp_type": "preonly", "fieldsplit_traps_pc_type": "jacobi",
            "fieldsplit_lattice_ksp_type": "preonly", "fieldsplit_lattice_pc_type": "lu",
            "fieldsplit_lattice_pc_factor_mat_solver_type":
                solvers.direct_solver_package()}


class TrappingProblem(DiffusionProblem):
    """Mobile hydrogen in the μ–C form with McNabb–Foster and Oriani traps.

    Args:
        domain: the mesh with named boundaries (and named volumes for trap regions).
        potential: μ of the lattice hydrogen (e.g. Ideal, or LatticeSaturation +
            StressCoupling).
        mobility: M(C_L) (e.g. :meth:`Mobility.lattice` with LatticeSaturation).
        traps: any number of :class:`~femdiff.models.trap_laws.McNabbFoster` and
            :class:`~femdiff.models.trap_laws.Oriani` traps (each with its own region).
        temperature: T [K] for the trap laws (see the module docstring for the kinds).
        n_sites: lattice site density N_L for Oriani's θ_L (default: that of a
            LatticeSaturation term of ``potential``; required otherwise with Oriani).
        trap_initial: ``"given"`` (each McNabb–Foster trap's ``initial``) or
            ``"equilibrium"`` (C_T in equilibrium with the initial C_L).
        condense_traps: eliminate the McNabb–Foster unknowns inside the linear solve
            (lumped P1 only). A dilute lattice model with the default formulation
            already eliminates them node by node (the activity formulation below); this
            flag then changes nothing. Otherwise (the mixed form) their Jacobian block is
            diagonal, so a Schur fieldsplit with the traps first and ``selfp`` forms the
            exact condensed (C, μ) matrix S = A − B diag(D)⁻¹ C; it is factorised by LU,
            the trap block by Jacobi: an exact solve at the cost of the trap-free factorisation (see
            :func:`condensed_options`; user PETSc options still override). Newton then
            runs without variable bounds (``newtonls``): PETSc's reduced-space VI solver
            cannot use index-set fieldsplits, so 0 ≤ C_T ≤ N_T and C_L > 0 are not
            enforced by Newton (a step with a non-finite state is retried smaller).
        **kwargs: those of :class:`~femdiff.problems.diffusion.DiffusionProblem` (``initial`` is
            C_L at t₀; ``time``, ``bcs``, ``degree``, ``lumped``, …).
        **kwargs: those of :class:`~femdiff.problems.diffusion.DiffusionProblem` (``initial`` is
            C_L at t₀; ``time``, ``bcs``, ``degree``, ``lumped``, …). ``formulation``:
            ``"auto"`` (default) is ``"activity"`` for a dilute lattice model (one Ideal
            term plus terms linear in C, M = M₀ C, lumped P1, one material, no PETSc
            options) and ``"mixed"`` otherwise. The activity formulation
            (:mod:`femdiff.problems.trap_activity`) runs Newton in the activity ρ ∝ C_L alone, the
            trap populations solved node by node; C_L = 0 is then a legal initial and
            boundary value, and Newton's tests follow the problem's own scales.

    Outputs: :attr:`C` (C_L), :attr:`trapped_fields` (one C_T Function per trap, in the
    order of ``traps``), :meth:`inventory` (mobile, trapped, total), and the inherited
    :meth:`flux_through` (desorption flux through a named boundary).
    """

    def __init__(self, domain: Domain, potential: ChemicalPotential, mobility: Mobility, *,
                 traps: Sequence[McNabbFoster | Oriani], temperature: Temperature,
                 n_sites: float | None = None, trap_initial: str = "given",
                 condense_traps: bool = False, name: str = "traps", **kwargs: Any) -> None:
        traps = list(traps)
        for i, trap in enumerate(traps):
            if not isinstance(trap, McNabbFoster | Oriani):
                raise TypeError(f"traps[{i}] must be a femdiff.models.trap_laws.McNabbFoster or "
                                f"Oriani, got {type(trap).__name__}")
        check_regions(traps, domain.volume_names)
        if trap_initial not in ("given", "equilibrium"):
            raise ValueError(f"trap_initial must be 'given' or 'equilibrium', got "
                             f"{trap_initial!r}")
        settings = kwargs.get("settings")
        requested = kwargs.get("formulation", settings.formulation if settings else "auto")
        time = kwargs.get("time")
        if getattr(time, "scheme", None) == "crank_nicolson":
            raise ValueError("TrappingProblem supports scheme='backward_euler' or 'bdf2', "
                             "not 'crank_nicolson'")
        if n_sites is None:
            sat = [t for t in getattr(potential, "terms", ()) if isinstance(t, LatticeSaturation)]
            n_sites = sat[0].n_sites if sat else None
        if n_sites is not None and not (is_real(n_sites) and n_sites > 0):
            raise ValueError(f"n_sites must be a positive number, got {n_sites!r}")
        if n_sites is None and any(isinstance(t, Oriani) for t in traps):
            raise ValueError("Oriani traps need the lattice site density: pass n_sites= or "
                             "use a LatticeSaturation term in the potential")
        if isinstance(temperature, bool) or temperature is None:
            raise TypeError(f"temperature must be a number, Constant, Function, UFL "
                            f"expression or callable t -> T, got {temperature!r}")
        if is_real(temperature) and not (math.isfinite(float(temperature))
                                            and float(temperature) > 0):
            raise ValueError(f"temperature must be positive [K], got {temperature!r}")
        # the trap storage and rates use C_h: the exponentially fitted mobility (a dilute
        # single-field device, femdiff.problems.activity) is not part of this formulation
        kwargs.setdefault("fitted_mobility", False)
        # one temperature: a number, Constant or field is also the diffusion problem's
        # (its μ terms and material laws); a ramp drives the trap laws only
        ramp = callable(temperature) and not isinstance(
            temperature, fem.Constant | fem.Function | ufl.core.expr.Expr)
        if "temperature" in kwargs:
            raise TypeError("pass the temperature once, as temperature=")
        super().__init__(domain, potential, mobility, name=name,
                         temperature=None if ramp else temperature, **kwargs)
        if self.broken:
            # the trap exchange is written in the rows of C, which a broken C gives to the
            # constitutive law: the total would not be conserved
            raise ValueError("TrappingProblem with two or more materials (C broken at the "
                             "interfaces) is not supported yet; give one material")
        self.condense_traps = bool(condense_traps)
        # "auto": the activity formulation with the traps eliminated node by node
        # (femdiff.problems.trap_activity) for a dilute lattice, decided in _create_initial_state
        # once the potential's terms can be inspected; DiffusionProblem keeps subclasses
        # on "mixed", so the test is made here. User PETSc options ask for the mixed Newton.
        if requested == "auto" and (
                self.degree == 1 and self.lumped and mobility is not None
                and mobility.kind == "linear" and kwargs.get("materials") is None
                and kwargs.get("heat_of_transport") is None
                and not kwargs.get("energy_stable") and not self.user_petsc_options):
            self.formulation = "auto"
        if self.condense_traps:
            if self.degree != 1 or not self.lumped:
                raise ValueError("condense_traps=True needs lumped P1 (a diagonal trap "
                                 "block); use degree=1, lumped=True")
            newton = {k: v for k, v in solvers.newton_options().items()
                      if k not in ("ksp_type", "pc_type", "pc_factor_mat_solver_type")}
            self.petsc_options = solvers.merge({**newton, **condensed_options()},
                                               self.user_petsc_options)
        # full Newton steps first (kept admissible by the variable bounds), backtracking
        # as the fallback of a failed solve (see _newton)
        self._fallback_linesearch = "snes_linesearch_type" not in self.user_petsc_options
        if self._fallback_linesearch:
            self.petsc_options["snes_linesearch_type"] = "basic"
        self.traps = traps
        self.kinetic = [i for i, t in enumerate(traps) if isinstance(t, McNabbFoster)]
        self.equilibrium = [i for i, t in enumerate(traps) if isinstance(t, Oriani)]
        self.n_sites = None if n_sites is None else float(n_sites)
        self.trap_initial = trap_initial
        self._temperature_in = temperature
        self._set_up_temperature(temperature)

    # -- temperature ---------------------------------------------------------------------

    def _set_up_temperature(self, temperature: Temperature) -> None:
        mesh = self.domain.mesh
        self._ramp: Callable[[float], float] | None = None
        self.T: Any
        self.T_n: Any
        self.T_nn: Any
        if is_real(temperature):
            self.T = fem.Constant(mesh, PETSc.ScalarType(temperature))
            self.T_n = self.T_nn = self.T
        elif isinstance(temperature, fem.Constant | fem.Function | ufl.core.expr.Expr):
            self.T = self.T_n = self.T_nn = temperature
        elif callable(temperature):
            self._ramp = temperature
            T0 = self._temperature_at(self.time.t0)
            self.T, self.T_n, self.T_nn = (fem.Constant(mesh, PETSc.ScalarType(T0))
                                           for _ in range(3))
        else:
            raise TypeError(f"temperature must be a number, Constant, Function, UFL "
                            f"expression or callable t -> T, got {type(temperature).__name__}")

    def _temperature_at(self, t: float) -> float:
        assert self._ramp is not None
        value = float(self._ramp(t))
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"temperature(t={t:g}) = {value!r} is not a positive number [K]")
        return value

    def temperature(self) -> float:
        """The temperature of the last accepted state, for a ramp or a constant [K]."""
        if self._ramp is not None:
            return self._temperature_at(self.current_time)
        if isinstance(self.T, fem.Constant):
            return float(self.T.value)
        raise TypeError("temperature() needs a uniform temperature (a number, Constant or "
                        "ramp)")

    def _initial_guess(self, dt: float) -> None:
        if self._ramp is not None:
            t = self.current_time
            self.T.value = self._temperature_at(t + dt)
            self.T_n.value = self._temperature_at(t)
            self.T_nn.value = self._temperature_at(t - (self._dt_prev or 0.0))
        super()._initial_guess(dt)

    # -- spaces and initial state ----------------------------------------------------------

    def _create_function_spaces(self) -> None:
        mesh = self.domain.mesh
        self._create_measures()
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree)
        n_kin = len(self.kinetic)
        self._create_mixed_space([P] * (2 + n_kin))
        self.V_c, self.dofs_c = self.W.sub(0).collapse()
        self.V_mu, self.dofs_mu = self.W.sub(1).collapse()
        self.C = fem.Function(self.V_c, name="C")
        self.mu = fem.Function(self.V_mu, name="mu")
        self.dofs_trap = [self.W.sub(2 + k).collapse()[1] for k in range(n_kin)]
        # the trap measure: vertex quadrature for lumped P1 (one nodal ODE per node)
        self.dx_t = self.dx_mu
        self.x = ufl.SpatialCoordinate(mesh)
        self._indicators = [self._indicator(t.region) for t in self.traps]
        self.trapped_fields = [fem.Function(self.V_c, name=f"C_T{i}")
                               for i in range(len(self.traps))]

    def _indicator(self, region: str | None) -> Any:
        """χ = 1 in the trap's region (DG0), or 1 everywhere."""
        if region is None:
            return 1.0
        Q = fem.functionspace(self.domain.mesh, ("DG", 0))
        chi = fem.Function(Q, name=f"chi_{region}")
        chi.x.array[self.domain.cells(region)] = 1.0
        chi.x.scatter_forward()
        return chi

    def density(self, i: int) -> Any:
        """N_T of trap i as UFL (its region's indicator included)."""
        trap = self.traps[i]
        return density_value(trap.density, self.x) * self._indicators[i]

    def _nodal(self, expr: Any) -> fem.Function:
        f = fem.Function(self.V_c)
        interpolate_into(f, expr)
        return f

    def _lumped_fraction(self, i: int) -> np.ndarray:
        """Per node: the share of the trap measure inside trap i's region (1 with none)."""
        chi = self._indicators[i]
        if not isinstance(chi, fem.Function):
            return np.ones_like(self.C.x.array)
        w = ufl.TestFunction(self.V_c)
        inside = fem.assemble_vector(fem.form(chi * w * self.dx_t))
        total = fem.assemble_vector(fem.form(w * self.dx_t))
        for vec in (inside, total):
            vec.scatter_reverse(la.InsertMode.add)
            vec.scatter_forward()
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(total.array > 0, inside.array / total.array, 0.0)
        return frac

    @property
    def zero_admissible(self) -> bool:
        """C = 0 is a legal state and boundary value in the activity formulation."""
        return self.formulation == "activity"

    def _resolve_formulation(self) -> None:
        """``"auto"``: the activity formulation for a dilute lattice model, else mixed."""
        if self.formulation != "auto":
            return
        simple = (self.law is None and not self.broken
                  and not is_field(self.temperature_field))
        dilute = simple and self._fitted_concentration() is not None
        self.formulation = "activity" if dilute else "mixed"

    def _project_initial_potential(self) -> None:
        if self.formulation != "activity":
            super()._project_initial_potential()
            return
        # μ is an output here: nodal, with C floored (ln 0; C = 0 is a legal state)
        floor = trap_activity.RHO_FLOOR * max(self.c_scale, 1e-300)
        mu = fem.Function(self.V_mu)
        interpolate_into(mu, self.chemical_potential_law(ufl.max_value(self.C, floor))
                         / self.mu_scale)
        self.u.x.array[self.dofs_mu] = mu.x.array

    def _create_initial_state(self) -> None:
        self._resolve_formulation()
        super()._create_initial_state()
        comm = self.domain.comm
        if self._concentration_scale is None:
            # an empty body: C_s from the boundary data (the unknowns are then O(1))
            n_c = self.V_c.dofmap.index_map.size_local
            if global_min_max(comm, np.abs(self.C.x.array[:n_c]))[1] == 0:
                self.c_scale = self._boundary_scale() or self.c_scale
        n = self.V_c.dofmap.index_map.size_local
        if self.equilibrium and self.n_sites is not None:
            _, cmax = global_min_max(comm, self.C.x.array[:n])
            if cmax >= self.n_sites:
                raise ValueError(f"initial lattice concentration reaches {cmax:g} ≥ N_L = "
                                 f"{self.n_sites:g}: Oriani traps need C_L < N_L")
        for i in self.equilibrium:  # a formula N_T (kinetic traps: checked below)
            density = self.traps[i].density
            if not is_real(density) and not isinstance(density, fem.Function):
                N = self._nodal(density_value(density, self.x)).x.array
                lo, _ = global_min_max(comm, N[:n])
                if lo < 0:
                    raise ValueError(f"traps[{i}]: trap density N_T must be ≥ 0, minimum "
                                     f"{lo:g}")
        self._N_nodal: list[np.ndarray] = []
        self.trap_scale: list[float] = []
        for k, i in enumerate(self.kinetic):
            trap = cast(McNabbFoster, self.traps[i])
            N = self._nodal(density_value(trap.density, self.x)).x.array.copy()
            frac = self._lumped_fraction(i)
            lo, hi = global_min_max(comm, N[:n])
            if lo < 0:
                raise ValueError(f"traps[{i}]: trap density N_T must be ≥ 0, minimum {lo:g}")
            scale = hi if hi > 0 else self.c_scale
            if self.trap_initial == "equilibrium":
                CT = self._nodal(self._equilibrium_ufl(i, self.C)).x.array
            else:
                # a number N_T: McNabbFoster checked 0 ≤ initial ≤ N_T already
                CT = np.minimum(float(trap.initial) * frac, N * frac)
                if not is_real(trap.density) and trap.initial > 0:
                    over = comm.allreduce(bool(np.any(trap.initial > N[:n] * (1 + 1e-12))),
                                          op=MPI.LOR)
                    if over:
                        raise ValueError(f"traps[{i}]: initial C_T = {trap.initial:g} exceeds "
                                         f"N_T somewhere (min N_T {lo:g})")
            self._N_nodal.append(N)
            self.trap_scale.append(scale)
            self.u.x.array[self.dofs_trap[k]] = CT / scale
        self._start_from_current()

    def _boundary_scale(self) -> float:
        """The largest |C| the FixedConcentration conditions hold (0 with none)."""
        g = fem.Function(self.V_c)
        n = self.V_c.dofmap.index_map.size_local
        top = 0.0
        for bc in self.bcs:
            if isinstance(bc, FixedConcentration):
                interpolate_into(g, bc.value)
                dofs = fem.locate_dofs_topological(self.V_c, self.domain.tdim - 1,
                                                   self.domain.facets(bc.boundary))
                dofs = dofs[dofs < n]
                top = max(top, float(np.max(np.abs(g.x.array[dofs]), initial=0.0)))
        return float(self.domain.comm.allreduce(top, op=MPI.MAX))

    def _equilibrium_ufl(self, i: int, C_L: Any, T: Any = None) -> Any:
        """C_T of trap i in equilibrium with C_L (UFL)."""
        trap = self.traps[i]
        T = self.T if T is None else T
        chi = self._indicators[i]
        if isinstance(trap, Oriani):
            assert self.n_sites is not None
            return trap.trapped(C_L, T, self.n_sites, self.x) * chi
        return trap.equilibrium(C_L, T, self.x) * chi

    # -- weak form -------------------------------------------------------------------------

    def _trap_states(self, u: fem.Function) -> list[Any]:
        parts = ufl.split(u)
        return [self.trap_scale[k] * parts[2 + k] for k in range(len(self.kinetic))]

    def _create_formulation(self) -> None:
        super()._create_formulation()
        # Newton starts from the last state: an extrapolated guess is not kept inside
        # 0 ≤ C_T ≤ N_T (nor C_L > 0 when the traps are condensed, without bounds)
        self._extrapolate_guess = False
        a0, a1, a2 = self.bdf
        bdf2 = self.time.scheme == "bdf2"
        scale = self.length ** -self.domain.tdim
        tests = ufl.TestFunctions(self.W)
        q = scale * tests[0]
        Cs = self.c_scale
        C = Cs * ufl.split(self.u)[0]
        C_n = Cs * ufl.split(self.u_n)[0]
        C_nn = Cs * ufl.split(self.u_nn)[0]
        dx_t = self.dx_t

        def bdf(x0: Any, x1: Any, x2: Any) -> Any:
            return a0 * x0 + a1 * x1 + (a2 * x2 if bdf2 else 0)

        storage = 0
        # Oriani: C_T(C_L, T) of each time level in the storage term
        for i in self.equilibrium:
            storage += bdf(self._equilibrium_ufl(i, C, self.T),
                           self._equilibrium_ufl(i, C_n, self.T_n),
                           self._equilibrium_ufl(i, C_nn, self.T_nn))
        # McNabb–Foster: one nodal ODE per trap and its storage in the mobile balance
        F_T = 0
        CT, CT_n, CT_nn = (self._trap_states(u) for u in (self.u, self.u_n, self.u_nn))
        for k, i in enumerate(self.kinetic):
            trap = cast(McNabbFoster, self.traps[i])
            S = self.trap_scale[k]
            w = scale * tests[2 + k]
            change = bdf(CT[k], CT_n[k], CT_nn[k])
            N_T = self.density(i)
            rate = trap.k(self.T) * C * (N_T - CT[k]) - trap.p(self.T) * CT[k]
            F_T += (change - self.dt * rate) / S * w * dx_t
            storage += change
        if self.traps:
            self.residual = self.residual + storage / Cs * q * dx_t + F_T
        if self.lumped and self.traps:
            # lumped mobile storage too: the trap exchange is nodal, and a consistent mass
            # next to a strong sink asks for negative C_L ahead of a trapping front (no
            # M-matrix), which stalls the bounded Newton. ∫ C dx is unchanged for P1.
            c = ufl.split(self.u)[0], ufl.split(self.u_n)[0], ufl.split(self.u_nn)[0]
            mobile = bdf(*c)
            self.residual = self.residual + mobile * q * dx_t - mobile * q * self.dx
        self.trapped_ufl = []
        for i in range(len(self.traps)):
            if i in self.kinetic:
                self.trapped_ufl.append(CT[self.kinetic.index(i)])
            else:
                self.trapped_ufl.append(self._equilibrium_ufl(i, C, self.T))

    @property
    def bounded(self) -> bool:  # type: ignore[override]
        """Bound-constrained Newton: for ln C (super) and for 0 ≤ C_T ≤ N_T.

        Not with ``condense_traps`` (see the class doc).
        """
        if self.condense_traps:
            return False
        return bool(self.kinetic) or super().bounded

    def _bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        super()._bounds(lower, upper)
        if self.equilibrium and self.n_sites is not None:
            upper[self.dofs_c] = np.minimum(upper[self.dofs_c],
                                            self.n_sites / self.c_scale * (1 - 1e-10))
        for k in range(len(self.kinetic)):
            lower[self.dofs_trap[k]] = 0.0
            upper[self.dofs_trap[k]] = self._N_nodal[k] / self.trap_scale[k]

    def _admissible(self) -> bool:
        """Whether −0.1 N_T ≤ C_T ≤ 1.1 N_T node by node.

        Unbounded Newton (condense_traps, the iterative split) can converge to the
        spurious root of the bilinear trap law (ver-1d trap-limited, Δt = 1 s: C_T from
        −30 N_T to 4e4 N_T); such a step is retried with a smaller Δt instead of
        accepted. The 10 % margin leaves BDF2's own overshoot (~1.5 % of N_T at a filling
        front) alone.
        """
        n = self.V_c.dofmap.index_map.size_local
        for k in range(len(self.kinetic)):
            x = self.u.x.array[np.asarray(self.dofs_trap[k]).ravel()[:n]]
            top = self._N_nodal[k][:n] / self.trap_scale[k]
            if np.any(x < -0.1 * top) or np.any(x > 1.1 * top):
                return False
        return True

    # -- accessors of MixedProblem -----------------------------------------------------

    @property
    def concentration_dofs(self) -> Any:
        """Dofs of W holding ĉ_L and the scaled McNabb–Foster C_T."""
        return np.concatenate([np.asarray(self.dofs_c), *map(np.asarray, self.dofs_trap)])

    def field_blocks(self) -> list[tuple[str, Any]]:
        """(C, μ) and one block ``trap<i>`` per McNabb–Foster trap.

        With ``condense_traps``: ``traps`` (all of them) then ``lattice`` (C and μ).
        """
        if self.condense_traps and self.kinetic:
            return [("traps", np.concatenate([np.asarray(d) for d in self.dofs_trap])),
                    ("lattice", np.concatenate([np.asarray(self.dofs_c),
                                                np.asarray(self.dofs_mu)]))]
        return super().field_blocks() + [(f"trap{i}", self.dofs_trap[k])
                                         for k, i in enumerate(self.kinetic)]

    def scaled_blocks(self) -> list[tuple[str, float, Any]]:
        """ĉ, μ̂ and Ĉ_T,i = C_T,i/S_i (S_i: max N_T,i)."""
        return super().scaled_blocks() + [(f"trap_scale_{i}", self.trap_scale[k],
                                           self.dofs_trap[k])
                                          for k, i in enumerate(self.kinetic)]

    def _sync_outputs(self) -> None:
        super()._sync_outputs()
        if not hasattr(self, "trap_scale"):
            return
        for k, i in enumerate(self.kinetic):
            self.trapped_fields[i].x.array[:] = (self.u.x.array[self.dofs_trap[k]]
                                                 * self.trap_scale[k])
        for i in self.equilibrium:
            interpolate_into(self.trapped_fields[i], self._equilibrium_ufl(i, self.C))

    # -- diagnostics ---------------------------------------------------------------------

    def trapped_amount(self, i: int | None = None) -> float:
        """∫ C_T dx of trap i (all traps with None), with the trap measure of the form."""
        self.initialise()
        idx = range(len(self.traps)) if i is None else [i]
        total = 0.0
        for j in idx:
            if j in self.kinetic:
                value: Any = self.trapped_fields[j]
            else:
                value = self._equilibrium_ufl(j, self.C)
            total += self.integrate(value * self.dx_t)
        return total

    def desorption_flux(self, boundary: str) -> float:
        """Outward hydrogen flux through a named boundary over the last step.

        The conservative (reaction) flux of the mobile balance, whose rows hold the
        trapped storage too (:meth:`~femdiff.problems.base.MixedProblem.flux_through`): the
        boundary fluxes add up exactly to −d(total inventory)/dt with the scheme's time
        derivative, however steep C_L is at the boundary.
        """
        return self.flux_through(boundary)

    # -- the activity formulation (femdiff.problems.trap_activity) ---------------------------------

    def _create_activity_formulation(self) -> None:
        super()._create_activity_formulation()
        self.activity_traps = trap_activity.ActivityTraps(self)

    def _create_reaction_flux(self) -> None:
        if self.formulation == "activity":
            self._reaction = self.activity_traps.reaction_flux()
            return
        super()._create_reaction_flux()

    def _solve_failure(self) -> tuple[str, str]:
        if self.formulation == "activity":
            return self.activity_traps.failure()
        return super()._solve_failure()

    def solver_description(self) -> str:
        """The activity Newton with traps eliminated, or the mixed form's solver."""
        self.initialise()
        if self.formulation == "activity":
            return self.activity_traps.describe()
        return super().solver_description()

    def _newton(self) -> tuple[bool, int, int]:
        """Newton with full steps, then (if that fails) with backtracking, same Δt.

        Where trapping or release changes C_L by orders of magnitude within a step (TDS),
        backtracking on ‖F‖ stalls at λ ~ 1e-3 (the ln C rows are far from linear) while
        full steps converge in a handful of iterations; from data far from a boundary
        value (a permeation start, C = 1 next to 1e-6) full steps can diverge where
        backtracking converges. Trying both costs a failed solve only on such steps.
        """
        if self.formulation == "activity":
            return self.activity_traps.solve()
        guess = self.u.x.array.copy()
        ok, its, kits = super()._newton()
        if not ok and self._fallback_linesearch:
            linesearch = self.problem.solver.getLineSearch()
            linesearch.setType("bt")
            self.u.x.array[:] = guess
            try:
                ok, its2, kits2 = super()._newton()
            finally:
                linesearch.setType("basic")
            its, kits = its + its2, kits + kits2
        return ok, its, kits

    def inventory(self) -> dict[str, float]:
        """Mobile, trapped (per trap ``trap<i>`` and summed) and total hydrogen."""
        mobile = self.amount()
        out = {"mobile": mobile}
        trapped = 0.0
        for i in range(len(self.traps)):
            out[f"trap{i}"] = self.trapped_amount(i)
            trapped += out[f"trap{i}"]
        out["trapped"] = trapped
        out["total"] = mobile + trapped
        return out
