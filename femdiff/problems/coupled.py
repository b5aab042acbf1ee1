"""Two-way chemo-mechanics (Larché–Cahn): composition changes the stress that drives it.

A solute of partial molar volume Ω swells the lattice. The mechanics then carries the
compositional eigenstrain

    ε*(C) = (Ω/3) (C − C_ref) I,

and the hydrostatic stress σ_h = tr σ(u, C)/3 of that strain enters the chemical
potential through :class:`~femdiff.models.thermodynamics.StressCoupling`, μ = ∂f/∂C − Ω σ_h.
Ω is given once: :class:`Coupled` reads it from the diffusion's StressCoupling term (or
takes ``omega=`` for a one-way run without that term) and refuses two different values.

Two solution schemes give the same answer:

* ``"monolithic"`` (default): (C, μ, u) in one Newton. A :class:`MechanicsField` is
  attached to the diffusion problem, whatever its class (traps included): its mixed
  space gains the displacement, and σ_h is the UFL expression of (u, C), so Newton sees
  the full Jacobian. The linear
  solver is FGMRES with a multiplicative fieldsplit: GAMG with the rigid-body
  near-nullspace on the displacement block, LU on the diffusion block (C, μ).
* ``"staggered"``: per time step a fixed-point iteration. The mechanics is solved with
  ε*(C_k), σ_h (the StressCoupling's Function) is updated in place, and the diffusion
  step is redone from the old state, until max|C̃_{k+1} − C_k| ≤ tol · max|C|, with
  Aitken's dynamic relaxation (the plain iteration diverges once θC > 1, θ =
  2Ω²E/(9(1−ν)RT)). The iterations of the last step are :attr:`Coupled.iterations`
  (all steps: :attr:`Coupled.history_iterations`).

Case files: ``two_way = true`` (and ``c_ref``) in [mechanics] with a ``stress`` term in
[physics] runs the monolithic scheme (``cases/electrode_particle.toml``).

``two_way=False`` is the one-way limit: the stress follows C but does not act on the
diffusion (no StressCoupling term; give ``omega=``).

Free energy. With Ψ the chemical free energy (the diffusion's terms without the
StressCoupling one, which is the derivative of the elastic energy and not an energy of
its own) the total is

    F = ∫ Ψ(C) + G(∇C) + ½ σ : (ε(u) − ε*) dx,

which never increases for closed particles with fixed or traction-free boundaries.

Displacement degree. σ_h from P1 displacements is piecewise constant; the monolithic
scheme uses it only inside the constitutive law (never differentiated), so P1 works,
but P2 displacements (``Elasticity(..., degree=2)``) give a piecewise-linear σ_h and are
what the tests and the demo use.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable
from typing import Any, Literal

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem

from femdiff.models.thermodynamics import ChemicalPotential, StressCoupling
from femdiff.numerics import solvers
from femdiff.numerics.timestepping import StepFailure, StepInfo, before, milestones
from femdiff.physics.mechanics import Elasticity
from femdiff.problems.base import global_min_max, interpolate_into
from femdiff.problems.diffusion import DiffusionProblem
from femdiff.problems.mechanics_field import MechanicsField, coupled_options, free_rigid_modes

log = logging.getLogger(__name__)

Scheme = Literal["monolithic", "staggered"]

__all__ = ["Coupled", "MechanicsField", "coupled_options", "free_rigid_modes"]


# --- the user-facing coupling ---------------------------------------------------------------


class Coupled:
    """Two-way (or one-way) coupling of an :class:`Elasticity` and a diffusion problem.

    Args:
        mechanics: the elasticity problem (loads, Dirichlet conditions, material); not yet
            initialised. The compositional eigenstrain is added to it here.
        diffusion: the :class:`DiffusionProblem` (model, boundary conditions, time
            control). For ``two_way=True`` its potential has a
            :class:`~femdiff.models.thermodynamics.StressCoupling` term whose ``sigma_h`` is a
            ``fem.Function``; that Function is kept up to date with the coupled σ_h.
            ``StressCoupling(Ω, None)``: Coupled makes that Function itself (DG(k−1)).
        scheme: ``"monolithic"`` (default) or ``"staggered"``.
        omega: partial molar volume Ω [m³/mol]; read from the StressCoupling term when
            omitted, and it must equal that term's Ω when both are given.
        c_ref: the stress-free concentration C_ref of ε* = (Ω/3)(C − C_ref) I (default:
            the initial concentration, when that is a number).
        two_way: whether σ_h acts on the diffusion (False: the one-way limit).
        tol: staggered: relative tolerance of the fixed point, max|ΔC| ≤ tol·max|C|.
        max_iterations: staggered: at most this many fixed-point iterations per step.
        relaxation: staggered: the first relaxation factor ω₀ of each step.
        aitken: staggered: update ω by Aitken's Δ² rule (else keep ω₀; ω₀ = 1 and
            ``aitken=False`` is the plain fixed point).
        petsc_options: monolithic: options over :func:`coupled_options` (e.g. LU on the
            whole system: ``{"pc_type": "lu", "ksp_type": "preonly"}``).

    Public API: :meth:`initialise`, :meth:`step`, :meth:`run`, :attr:`current_time`,
    :attr:`C`, :attr:`mu`, :attr:`displacement`, :attr:`sigma_h`, :meth:`von_mises`,
    :meth:`elastic_energy`, :meth:`chemical_energy`, :meth:`free_energy`,
    :meth:`amount`, :attr:`iterations`, :attr:`problem` (the MixedProblem that steps).
    """

    def __init__(self, mechanics: Elasticity | None, diffusion: DiffusionProblem, *,
                 scheme: Scheme = "monolithic", omega: float | None = None,
                 c_ref: float | None = None, two_way: bool = True, tol: float = 1e-8,
                 max_iterations: int = 50, relaxation: float = 0.5, aitken: bool = True,
                 petsc_options: dict[str, Any] | None = None) -> None:
        if mechanics is None:
            raise ValueError("chemo-mechanical coupling needs a mechanics problem "
                             "(femdiff.physics.mechanics.Elasticity); got None")
        if not isinstance(mechanics, Elasticity):
            raise TypeError("mechanics must be a femdiff.physics.mechanics.Elasticity")
        if not isinstance(diffusion, DiffusionProblem) or diffusion.components:
            raise TypeError("diffusion must be a femdiff.problems.diffusion.DiffusionProblem")
        if scheme not in ("monolithic", "staggered"):
            raise ValueError(f"scheme must be 'monolithic' or 'staggered', got {scheme!r}")
        if not (isinstance(tol, float | int) and 0 < tol < 1):
            raise ValueError(f"tol must lie in (0, 1), got {tol!r}")
        if not (isinstance(max_iterations, int) and max_iterations >= 1):
            raise ValueError(f"max_iterations must be a positive integer, got "
                             f"{max_iterations!r}")
        if getattr(diffusion, "_initialised", False) or getattr(mechanics, "_initialised",
                                                                 False):
            raise RuntimeError("pass Coupled problems that are not initialised yet (the "
                               "compositional eigenstrain must enter their forms)")
        if diffusion.domain.mesh is not mechanics.domain.mesh:
            raise ValueError("mechanics and diffusion must share one mesh")
        couplings = [t for t in diffusion.potential.terms if isinstance(t, StressCoupling)]
        if len(couplings) > 1:
            raise ValueError("the diffusion potential has several StressCoupling terms; "
                             "give one")
        if two_way and not couplings:
            raise ValueError("two_way=True needs a StressCoupling(omega, sigma_h) term in "
                             "the diffusion's potential (or use two_way=False)")
        if couplings:
            term_omega = float(couplings[0].omega)
            if omega is not None and not math.isclose(float(omega), term_omega,
                                                      rel_tol=1e-12):
                raise ValueError(f"Ω is given twice with different values: omega={omega!r} "
                                 f"and StressCoupling.omega={term_omega!r}; give it once")
            omega = term_omega
            if not two_way:
                raise ValueError("two_way=False but the diffusion has a StressCoupling term: "
                                 "drop the term for the one-way limit")
        if omega is None:
            raise ValueError("one-way coupling needs omega=Ω (there is no StressCoupling "
                             "term to read it from)")
        if not math.isfinite(omega) or omega == 0:
            raise ValueError(f"omega must be a nonzero finite number, got {omega!r}")
        if c_ref is None:
            if not isinstance(diffusion.initial, int | float):
                raise ValueError("c_ref (the stress-free concentration) is needed when the "
                                 "initial concentration is not a number")
            c_ref = float(diffusion.initial)
        self.sigma_h_function: fem.Function | None = None
        if couplings and couplings[0].sigma_h is None:
            # StressCoupling(Ω, None): Coupled builds σ_h's space, DG(k−1) as the discrete
            # σ_h of P_k displacements (the frozen term is completed in place: the
            # diffusion's forms do not exist yet, they are built at initialise)
            k = max(mechanics.degree - 1, 0)
            V = fem.functionspace(diffusion.domain.mesh, ("Discontinuous Lagrange", k))
            object.__setattr__(couplings[0], "sigma_h", fem.Function(V, name="sigma_h"))
        if couplings:
            s = couplings[0].sigma_h
            if not isinstance(s, fem.Function) or s.function_space.value_shape != ():
                raise TypeError("StressCoupling.sigma_h must be a scalar fem.Function: "
                                "Coupled updates it in place with the coupled σ_h")
            self.sigma_h_function = s
        self.mechanics = mechanics
        self.diffusion = diffusion
        self.scheme: Scheme = scheme
        self.omega = float(omega)
        self.c_ref = float(c_ref)
        self.two_way = bool(two_way)
        self.tol = float(tol)
        self.max_iterations = max_iterations
        if not 0 < relaxation <= 1:
            raise ValueError(f"relaxation must lie in (0, 1], got {relaxation!r}")
        self.relaxation = float(relaxation)
        self.aitken = bool(aitken)
        self.petsc_options = dict(petsc_options or {})
        self.iterations = 0
        self.history_iterations: list[int] = []
        self._initialised = False
        self._mech_stale = True

    # -- lifecycle ---------------------------------------------------------------------

    def initialise(self) -> None:
        """Add ε*(C) to the mechanics, check its supports, build the problem(s)."""
        if self._initialised:
            return
        mech, diff = self.mechanics, self.diffusion
        mesh = diff.domain.mesh
        Vc = fem.functionspace(mesh, ("Lagrange", diff.degree))
        self.C_mech = fem.Function(Vc, name="C_mechanics")
        interpolate_into(self.C_mech, diff.initial)
        mech.add_eigenstrain(self.omega / 3 * (self.C_mech - self.c_ref))
        mech.initialise()
        free = free_rigid_modes(mech.V, mech.dirichlet)
        if free:
            raise ValueError(
                f"the mechanics leaves {free} rigid-body mode(s) free (no Dirichlet "
                "condition removes them): the coupled system would be singular. Fix a "
                "boundary, or use symmetry planes (Displacement(boundary, {axis: 0}))")
        if self.scheme == "monolithic":
            self.field = MechanicsField(mech, self.C_mech, self.two_way,
                                        self.sigma_h_function)
            diff.attach(self.field)
            # the fieldsplit (GAMG on u, LU on the rest) under the diffusion's and these
            # options; a trap problem keeps its full-step-first line search
            options = solvers.merge(coupled_options(), diff.user_petsc_options)
            diff.petsc_options = solvers.merge(options, self.petsc_options)
            if getattr(diff, "_fallback_linesearch", False):
                diff.petsc_options["snes_linesearch_type"] = "basic"
            diff.user_petsc_options = dict(self.petsc_options)
            self.problem = diff
            self.problem.initialise()
            self._mech_stale = False
        else:
            # σ_h changes at every fixed-point iteration: the mixed (Newton) form, as the
            # monolithic one, so that both schemes solve the same discrete problem
            if diff.formulation == "auto":
                diff.formulation = "mixed"
            self.problem = diff
            mech.solve()
            self._update_sigma_h()
            diff.initialise()
            self.C_mech.interpolate(diff.C)
            self._mech_stale = False
        self._update_sigma_h()
        self._initialised = True

    def _update_sigma_h(self) -> None:
        if self.sigma_h_function is not None:
            mech = self.mechanics
            V = self.sigma_h_function.function_space
            self.sigma_h_function.interpolate(
                fem.Expression(mech.trace_sigma(mech.u) / 3, V.element.interpolation_points))

    def _ensure_mechanics(self) -> None:
        """One-way staggered runs solve the mechanics only when a stress is asked for."""
        self.initialise()
        if self._mech_stale:
            self.C_mech.interpolate(self.diffusion.C)
            self.mechanics.solve()
            self._update_sigma_h()
            self._mech_stale = False

    # -- stepping -------------------------------------------------------------------------

    def step(self, dt: float | None = None) -> StepInfo:
        """One coupled time step (Δt = ``dt`` or the problem's requested one)."""
        self.initialise()
        if self.scheme == "monolithic":
            info = self.problem.step(dt)
            self.iterations = 1
        elif not self.two_way:
            info = self.diffusion.step(dt)
            self.iterations = 1
            self._mech_stale = True
        else:
            info = self._staggered_step(dt)
        self.history_iterations.append(self.iterations)
        return info

    def _staggered_step(self, dt: float | None) -> StepInfo:
        """Fixed point C_k → mechanics(ε*(C_k)) → σ_h → diffusion step from Cⁿ → C̃_{k+1}.

        The plain iteration contracts only while θC < 1 (θ = 2Ω²E/(9(1−ν)RT) for a free
        sphere: the frozen-stress update over-corrects by −θC δC); Aitken's dynamic
        relaxation C_{k+1} = C_k + ω_k (C̃_{k+1} − C_k) (Irons & Tuck 1969; Küttler &
        Wall 2008) makes it converge beyond that. Stop when max|C̃_{k+1} − C_k| ≤
        tol · max|C|; the accepted state is the diffusion's C̃_{k+1}.
        """
        diff, mech, comm = self.diffusion, self.mechanics, self.diffusion.domain.comm
        saved = diff.state_dict()
        dt = diff._dt_request if dt is None else float(dt)
        if not hasattr(self, "_C_iter"):
            self._C_iter = fem.Function(diff.V_c)
        C_it = self._C_iter
        C_it.x.array[:] = diff.C.x.array
        n_owned = diff.V_c.dofmap.index_map.size_local
        newton = krylov = 0
        r_prev, omega = None, self.relaxation
        for k in range(1, self.max_iterations + 1):
            if k > 1:  # (at k = 1 the mechanics is already on Cⁿ)
                self.C_mech.interpolate(C_it)
                mech.solve()
                self._update_sigma_h()
                diff.load_state(*saved)
            info = diff.step(dt)
            newton += info.newton_iterations
            krylov += info.krylov_iterations + (mech.iterations if k > 1 else 0)
            if not math.isclose(info.dt, dt, rel_tol=1e-12):
                raise StepFailure(f"staggered step: the diffusion step shrank from dt={dt:g} "
                                  f"to {info.dt:g}; use a smaller time step")
            r = diff.C.x.array - C_it.x.array
            ro = r[:n_owned]
            change = comm.allreduce(float(np.abs(ro).max()) if ro.size else 0.0, op=MPI.MAX)
            _, cmax = global_min_max(comm, np.abs(diff.C.x.array[:n_owned]))
            if change <= self.tol * max(cmax, 1e-300):
                break
            if r_prev is not None and self.aitken:
                dr = ro - r_prev[:n_owned]
                num = comm.allreduce(float(r_prev[:n_owned] @ dr), op=MPI.SUM)
                den = comm.allreduce(float(dr @ dr), op=MPI.SUM)
                if den > 0:
                    omega = -omega * num / den
            C_it.x.array[:] += omega * r
            r_prev = r
        else:
            raise StepFailure(f"staggered iteration did not converge in {self.max_iterations} "
                              f"iterations at t={diff.current_time:g} (last relative change "
                              f"{change / max(cmax, 1e-300):.3g} > tol={self.tol:g})")
        self.iterations = k
        # leave the mechanics on the accepted C
        self.C_mech.interpolate(diff.C)
        mech.solve()
        self._update_sigma_h()
        return dataclasses.replace(info, newton_iterations=newton, krylov_iterations=krylov)

    def run(self, t_end: float | None = None, *, times: Iterable[float] | None = None,
            callback: Callable[[Coupled, StepInfo], None] | None = None) -> list[StepInfo]:
        """Step to ``t_end`` landing on each time in ``times`` (as MixedProblem.run).

        Monolithic and one-way runs use the problem's own loop (growth, adaptivity,
        milestones); two-way staggered runs step with the diffusion's requested Δt,
        shortened only to land on the milestones. ``callback(coupled, info)`` runs after
        every accepted step.
        """
        self.initialise()
        if self.scheme == "monolithic" or not self.two_way:
            # the problem's own loop (milestones, growth, adaptivity); σ_h kept in sync
            def cb(_: Any, info: StepInfo) -> None:
                if info.initial:  # the start (a callback with at_start): not a step
                    callback(self, info)  # type: ignore[misc]
                    return
                if self.scheme != "monolithic":
                    self._mech_stale = True
                self.history_iterations.append(1)
                if callback is not None:
                    callback(self, info)
            cb.at_start = getattr(callback, "at_start", False)  # type: ignore[attr-defined]
            return self.problem.run(t_end, times=times, callback=cb)
        out = []
        dt = self.diffusion._dt_request
        if callback is not None and getattr(callback, "at_start", False):
            callback(self, StepInfo(self.current_time, 0.0, 0, 0, 0, at_output=True,
                                    initial=True))
        for target in milestones(t_end, times):
            while before(self.current_time, target):
                info = self.step(min(dt, target - self.current_time))
                if not before(self.current_time, target):
                    info = dataclasses.replace(info, at_output=True)
                out.append(info)
                if callback is not None:
                    callback(self, info)
        return out

    # -- fields and diagnostics ------------------------------------------------------------

    @property
    def current_time(self) -> float:
        """Time of the last accepted state."""
        return (self.problem if self._initialised else self.diffusion).current_time

    @property
    def C(self) -> fem.Function:
        """The concentration."""
        self.initialise()
        return self.problem.C

    @property
    def mu(self) -> fem.Function:
        """The chemical potential."""
        self.initialise()
        return self.problem.mu

    @property
    def displacement(self) -> fem.Function:
        """The displacement [m] (the mechanics' Function)."""
        self._ensure_mechanics()
        return self.mechanics.u

    @property
    def sigma_h(self) -> fem.Function:
        """σ_h [Pa] (the StressCoupling's Function; for one-way runs a new DG Function)."""
        self._ensure_mechanics()
        if self.sigma_h_function is not None:
            return self.sigma_h_function
        return self.mechanics.sigma_h()

    def von_mises(self) -> fem.Function:
        """Von Mises stress [Pa] of the current state (DG(k−1))."""
        self._ensure_mechanics()
        return self.mechanics.von_mises()

    def stress(self) -> fem.Function:
        """The stress tensor [Pa] of the current state (DG(k−1))."""
        self._ensure_mechanics()
        return self.mechanics.stress()

    def _integrate(self, expr: Any) -> float:
        return self.diffusion.domain.comm.allreduce(
            fem.assemble_scalar(fem.form(expr)), op=MPI.SUM)

    def elastic_energy(self) -> float:
        """∫ ½ σ : (ε(u) − ε*) dx [J] (3D; a 2D model: per unit thickness, in-plane)."""
        self._ensure_mechanics()
        mech = self.mechanics
        eps = mech.epsilon(mech.u)
        eig = mech.eigenstrain()
        el = eps - eig if eig is not None else eps
        return self._integrate(0.5 * ufl.inner(mech.sigma(mech.u), el)
                               * self.diffusion.domain.dx())

    def chemical_energy(self) -> float:
        """∫ Ψ(C) + G(∇C) dx: the diffusion's free energy without the StressCoupling term."""
        self.initialise()
        terms = [t for t in self.diffusion.potential.terms if not isinstance(t, StressCoupling)]
        pot = ChemicalPotential(terms, self.diffusion.potential.energy_scale)
        return self._integrate(pot.energy_density(self.problem.C) * self.diffusion.domain.dx())

    def free_energy(self) -> float:
        """The total F = chemical + elastic energy [J]."""
        return self.chemical_energy() + self.elastic_energy()

    def amount(self) -> float:
        """∫ C dx."""
        self.initialise()
        return self.problem.amount()
