"""The base of every mixed μ–C problem: lifecycle, time stepping, restart, diagnostics.

:class:`MixedProblem` holds what the single-species
(:class:`~femdiff.problems.diffusion.DiffusionProblem`) and the multicomponent
(:class:`~femdiff.problems.multicomponent.MulticomponentProblem`) problems share: the pipeline
:meth:`~MixedProblem.initialise`, the step with failure retries and adaptive error
control, :meth:`~MixedProblem.run` to an end time through output milestones, the
restart state, Newton's variable bounds, and the public diagnostics
(:meth:`~MixedProblem.integrate`, :meth:`~MixedProblem.amount`,
:meth:`~MixedProblem.flux_through`, :meth:`~MixedProblem.flux`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import Any

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
import ufl.algorithms
from dolfinx import fem

from femdiff.geometry.mesh import Domain
from femdiff.io.progress import progress_bar
from femdiff.numerics import solvers
from femdiff.numerics.fem_utils import (
    global_min_max,
    interpolate_into,
    invert_potential,
    newton_solve,
)
from femdiff.numerics.fluxes import ConservedField, ReactionFlux
from femdiff.numerics.newton import SolverMixin
from femdiff.numerics.timestepping import (
    MILNE,
    Adaptive,
    StepFailure,
    StepInfo,
    TimeControl,
    bdf_coefficients,
    before,
    check_end_time,
    check_policy,
    extrapolation_weights,
    milestones,
    next_dt,
)
from femdiff.physics.boundary import Value
from femdiff.problems import restart
from femdiff.problems.component import Component, composed_blocks, composed_elements

log = logging.getLogger(__name__)

# the helpers are re-exported: they lived here (femdiff.numerics.fem_utils now)
__all__ = ["MixedProblem", "global_min_max", "interpolate_into", "newton_solve",
           "set_step_constants"]


# --- helpers -------------------------------------------------------------------------


def set_step_constants(problem: MixedProblem, dt: float) -> None:
    """Set a problem's Δt and (variable-step) BDF coefficient Constants for a step of dt."""
    order = 2 if problem.time.scheme == "bdf2" else 1
    for const, a in zip(problem.bdf, bdf_coefficients(order, dt, problem._dt_prev),
                        strict=True):
        const.value = a
    problem.dt.value = dt


class MixedProblem(SolverMixin):
    """Base of the mixed (concentrations, potentials) problems.

    New physics is a subclass or a term, never a copy. A subclass sets up its own
    fields and weak form and inherits everything else: the lifecycle, :meth:`step`
    (failure retries, adaptive error control), :meth:`run`, :meth:`state_dict` /
    :meth:`load_state`, Newton's variable bounds, the measures and the diagnostics.

    Subclass contract. ``__init__`` validates its own input (before any mesh work) and
    calls ``super().__init__``. The subclass implements these hooks, called in this
    order by :meth:`initialise`:

    * ``_create_function_spaces()``: call :meth:`_create_measures` and
      :meth:`_create_states` (``W`` first), and set the collapsed spaces and the dof
      maps.
    * ``_create_initial_state()``: set the scaled initial state in ``u`` and the scales;
      end with :meth:`_start_from_current` (copies u to the history levels and syncs).
    * ``_check_model()`` (optional): checks needing the initial fields.
    * ``_create_dirichlet_bcs()``: fill ``self.dirichlet`` (a list of DirichletBC); the
      base then applies them to the initial state.
    * ``_create_formulation()``: call :meth:`_create_time_constants` first, then set
      ``self.residual`` (a UFL form in ``self.u``, ``self.u_n``, ``self.u_nn``, with
      ``self.dt``, ``self.t`` and the BDF Constants ``self.bdf``).
    * ``_create_solver()`` is the base's; it uses ``bounded`` (whether ln C-type terms
      need Newton's variable bounds) and ``_bounds(lower, upper)`` to fill those bounds.

    and these accessors:

    * ``concentration_dofs`` (property): the dofs of ``W`` holding the scaled
      concentrations (the adaptive error is measured there);
    * ``field_blocks()``: ``[(name, dofs of W)]`` for a fieldsplit preconditioner;
    * ``scaled_blocks()``: ``[(key, scale, dofs of W)]``, the scale each block of ``u``
      is divided by (restart rescaling);
    * ``_sync_outputs()``: refresh the physical output Functions from ``u``;
    * ``concentration_ufl(species)`` and ``flux_ufl_of(species)``: the physical C and
      J of a species (``None`` for a single-species problem), for the diagnostics;
    * ``conserved_fields()``: ``{name: ConservedField}``, the conservation equations
      whose reactions are the boundary fluxes (:mod:`femdiff.numerics.fluxes`), and
      ``flux_components(species)``: ``[(sign, name)]``, how a species' flux is made of
      them (a dependent species: minus the sum of the others);
    * ``_admissible()`` (optional): extra acceptance test after Newton converged;
    * ``schur_space()`` / ``schur_alpha()`` (optional): for the Cahn–Hilliard Schur
      preconditioner of :mod:`femdiff.numerics.preconditioners`.

    A new free-energy or mobility *term* needs no subclass at all: it is a term of
    :mod:`femdiff.models.thermodynamics` or :mod:`femdiff.models.mixtures`.

    Public API: :meth:`initialise`, :meth:`step`, :meth:`run`, :attr:`current_time`,
    :meth:`state_dict`, :meth:`load_state`, :meth:`integrate`, :meth:`amount`,
    :meth:`flux_through` (conservative), :meth:`gradient_flux_through`, :meth:`flux`,
    :meth:`owned_concentration`,
    :meth:`split_index_sets`, :meth:`set_schur_context`, :meth:`invert_potential`,
    :meth:`linear_solver` (which linear solver runs, and why).
    """

    #: whether the problem needs the bound-constrained Newton (read in ``_create_solver``)
    bounded: bool = False
    # set by the hooks
    W: fem.FunctionSpace
    residual: Any
    dirichlet: list[fem.DirichletBC]

    def __init__(self, domain: Domain, *, time: TimeControl, adaptive: Adaptive | None,
                 degree: int, petsc_options: dict[str, Any] | None, lumped: bool,
                 name: str, solver: str = "auto") -> None:
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {degree!r}")
        if not isinstance(time, TimeControl):
            raise TypeError("time must be a femdiff.numerics.timestepping.TimeControl")
        if adaptive is not None and not isinstance(adaptive, Adaptive):
            raise TypeError("adaptive must be a femdiff.numerics.timestepping.Adaptive")
        check_policy(time, adaptive)
        self.domain = domain
        self.time = time
        self.adaptive = adaptive
        self.degree = degree
        self.user_petsc_options = dict(petsc_options or {})
        self.petsc_options = solvers.merge(solvers.newton_options(), petsc_options)
        #: why this solver: the rule that picked the defaults (see solver_description)
        self.solver_reason = (
            "mixed μ–C default (solvers.newton_options): Newton with a fresh LU "
            "factorisation at every iteration, robust for small and medium problems")
        self.lumped = bool(lumped) and degree == 1
        self.solver_choice = solvers.check_solver_choice(solver)
        self.linear_solver_reason = ""
        #: whether the subclass chose its own solver (solver_reason says which and why)
        self.model_solver = False
        self.prefix = solvers.unique_prefix(name)
        #: called with the new time t_{n+1} before each solve attempt (time-dependent
        #: boundary data: update Constants or Dirichlet values, never the forms)
        self.before_solve: list[Callable[[float], None]] = []
        self.schur_context: Any = None
        self._split_sets: list[tuple[str, PETSc.IS]] = []
        #: fields with their own terms composed into this problem (:meth:`attach`)
        self.components: list[Component] = []
        self._initialised = False

    def attach(self, component: Component) -> None:
        """Compose a field with its terms into this problem (before :meth:`initialise`).

        The component's unknowns join the mixed space after the problem's own, its
        residual is added to the problem's, and its blocks, scales and outputs follow the
        problem's (see :class:`Component`). ``component.check(problem)`` refuses a
        combination it cannot pose, with one line naming both parts.
        """
        if self._initialised:
            raise RuntimeError(f"attach {type(component).__name__} before the problem is "
                               "initialised: its unknowns join the mixed space")
        component.check(self)
        self.components.append(component)

    # -- lifecycle ---------------------------------------------------------------------

    def initialise(self) -> None:
        """Build spaces, initial state, BCs, forms and solver (idempotent)."""
        if self._initialised:
            return
        self._create_function_spaces()
        self._create_initial_state()
        for c in self.components:
            c.initial_state(self)
        self._check_model()
        self._create_dirichlet_bcs()
        for c in self.components:
            self.dirichlet += c.dirichlet_bcs(self)
        # start Newton from a state that satisfies the Dirichlet data
        for bc in self.dirichlet:
            bc.set(self.u.x.array)
        self.u_n.x.array[:] = self.u.x.array
        self.u_nn.x.array[:] = self.u.x.array
        self._sync()  # the outputs, amount() at t0: the state Newton starts from
        self._create_formulation()
        for c in self.components:
            self.residual = self.residual + c.residual(self)
        self._create_solver()
        for c in self.components:
            c.solver_created(self)
        self._create_reaction_flux()
        self._initialised = True

    def _create_function_spaces(self) -> None:
        raise NotImplementedError

    def _create_initial_state(self) -> None:
        raise NotImplementedError

    def _check_model(self) -> None:
        """Checks that need the initial fields (default: none)."""

    def _create_dirichlet_bcs(self) -> None:
        raise NotImplementedError

    def _create_formulation(self) -> None:
        raise NotImplementedError

    def _sync_outputs(self) -> None:
        raise NotImplementedError

    def _bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Fill Newton's variable bounds (arrays over W, preset to ±∞)."""

    def _admissible(self) -> bool:
        """Extra acceptance test of a converged state on this rank (default: True)."""
        return True

    @property
    def concentration_dofs(self) -> Any:
        """Dofs of W holding the scaled concentrations."""
        raise NotImplementedError

    def field_blocks(self) -> list[tuple[str, Any]]:
        """``[(name, dofs of W)]``: the blocks of a fieldsplit preconditioner."""
        raise NotImplementedError

    def scaled_blocks(self) -> list[tuple[str, float, Any]]:
        """``[(key, scale, dofs of W)]``: what each block of ``u`` is divided by."""
        raise NotImplementedError

    def concentration_ufl(self, species: str | None = None) -> Any:
        """The physical concentration of a species (UFL or Function)."""
        raise NotImplementedError

    def schur_space(self) -> tuple[fem.FunctionSpace, Any]:
        """The potential space and its dofs in W (Schur preconditioner; optional)."""
        raise NotImplementedError(f"{type(self).__name__} has no Schur preconditioner")

    def schur_alpha(self) -> float:
        """α of the Schur approximation H = M + √α K at the current Δt (optional)."""
        raise NotImplementedError(f"{type(self).__name__} has no Schur preconditioner")

    def flux_ufl_of(self, species: str | None = None) -> Any:
        """The physical flux of a species (UFL)."""
        raise NotImplementedError

    def conserved_fields(self) -> dict[str, ConservedField]:
        """The conserved fields whose reaction fluxes :meth:`flux_through` reports."""
        raise NotImplementedError

    def flux_components(self, species: str | None = None) -> list[tuple[float, str]]:
        """``[(sign, field name)]``: a species' flux from the conserved fields' fluxes."""
        raise NotImplementedError

    # -- building blocks for the hooks -------------------------------------------------

    def _create_measures(self) -> None:
        # one measure without subdomain data for every volume term: UFL forms may not mix
        # measures whose subdomain data differ
        self.dx = self.domain.measure("dx", tagged=False)
        self.dx_mu = (self.domain.measure("dx", tagged=False, metadata={
            "quadrature_rule": "vertex", "quadrature_degree": 1}) if self.lumped else self.dx)

    def _create_mixed_space(self, elements: list[Any]) -> None:
        """W from the problem's own sub-elements followed by its components' ones."""
        elements, offsets = composed_elements(self, elements)
        self._create_states(fem.functionspace(self.domain.mesh,
                                              basix.ufl.mixed_element(elements)))
        for c, index in zip(self.components, offsets, strict=True):
            c.bind(self, index)

    def solver_blocks(self) -> list[tuple[str, Any]]:
        """The fieldsplit blocks of W (:func:`~femdiff.problems.component.composed_blocks`)."""
        return composed_blocks(self, self.field_blocks())

    def all_scaled_blocks(self) -> list[tuple[str, float, Any]]:
        """:meth:`scaled_blocks` of the problem and of its components."""
        return self.scaled_blocks() + [b for c in self.components
                                       for b in c.scaled_blocks(self)]

    def _sync(self) -> None:
        """Refresh the output Functions of the problem and of its components."""
        self._sync_outputs()
        for c in self.components:
            c.sync(self)

    def _create_states(self, W: fem.FunctionSpace) -> None:
        self.W = W
        self.u = fem.Function(W, name="state")
        self.u_n = fem.Function(W, name="state_n")
        self.u_nn = fem.Function(W, name="state_nn")

    def _start_from_current(self) -> None:
        """After the initial state is in ``u``: copy it to the history levels, sync."""
        self.u.x.scatter_forward()
        self.u_n.x.array[:] = self.u.x.array
        self.u_nn.x.array[:] = self.u.x.array
        self._sync()

    def _create_time_constants(self) -> None:
        mesh = self.domain.mesh
        self.t = fem.Constant(mesh, PETSc.ScalarType(self.time.t0))
        self.dt = fem.Constant(mesh, PETSc.ScalarType(self.time.dt))
        self.bdf = [fem.Constant(mesh, PETSc.ScalarType(a)) for a in (1.0, -1.0, 0.0)]
        self._dt_prev: float | None = None
        self._error_prev: float | None = None
        self._dt_request = float(self.time.first_dt)
        self._t_accepted = float(self.time.t0)
        # last accepted (t, state) pairs, newest first (adaptive runs only)
        self._history: list[tuple[float, np.ndarray]] = []

    def _dirichlet_on(self, sub: int, V: fem.FunctionSpace, value: Value, boundary: str,
                      scale: float) -> fem.DirichletBC:
        """A Dirichlet condition value/scale on block ``sub`` of W along a boundary."""
        g = fem.Function(V)
        interpolate_into(g, value)
        g.x.array[:] /= scale
        dofs = fem.locate_dofs_topological((self.W.sub(sub), V), self.domain.tdim - 1,
                                           self.domain.facets(boundary))
        return fem.dirichletbc(g, dofs, self.W.sub(sub))

    def invert_potential(self, value: Value, boundary: str, V: fem.FunctionSpace,
                         dfdc: Callable[[Any], Any], start: fem.Function,
                         domain: tuple[float, float]) -> fem.Function:
        """The concentration in equilibrium with a reservoir at μ = ``value`` on a boundary.

        See :func:`femdiff.numerics.fem_utils.invert_potential`.
        """
        dofs = fem.locate_dofs_topological(V, self.domain.tdim - 1,
                                           self.domain.facets(boundary))
        return invert_potential(value, boundary, V, dofs, dfdc, start, domain)

    # -- time stepping -------------------------------------------------------------------

    def step(self, dt: float | None = None) -> StepInfo:
        """Advance one step (Δt = ``dt`` or the requested one), retrying smaller on failure.

        Raises:
            StepFailure: when Newton fails even at ``time.smallest``.
        """
        self.initialise()
        dt = self._dt_request if dt is None else float(dt)
        if not dt > 0:
            raise ValueError(f"time step dt must be positive, got {dt!r}")
        newton = krylov = 0
        rejected = 0
        error = 0.0
        for attempt in range(self.time.max_retries + 1):
            set_step_constants(self, dt)
            self.t.value = self.current_time + dt
            for hook in self.before_solve:
                hook(self.current_time + dt)
            self._initial_guess(dt)
            ok, its, kits = self._newton()
            newton += its
            krylov += kits
            error, dt_next = 0.0, dt
            this_rejected = False
            if ok and self.adaptive is not None:
                error, order = self._error_indicator(dt)
                # PI memory only across accepted steps; after a rejection: elementary
                memory = None if rejected else self._error_prev
                dt_next = min(self.adaptive.propose(dt, error, order, memory),
                              self.time.dt_max)
                if not self.adaptive.accept(error):
                    ok, this_rejected = False, True
                    rejected += 1
            if ok:
                self._reaction.record()  # the step's state and history, before the shift
                self.u_nn.x.array[:] = self.u_n.x.array
                self.u_n.x.array[:] = self.u.x.array
                self._dt_prev = dt
                self._t_accepted = self.current_time + dt
                self._error_prev = error if self.adaptive is not None else None
                self._remember(self._t_accepted)
                self._sync()
                return StepInfo(self._t_accepted, dt, newton, krylov, attempt, error, dt_next)
            self.u.x.array[:] = self.u_n.x.array
            self.t.value = self.current_time
            self.dt.value = self._dt_prev or self.time.dt
            new_dt = dt_next if this_rejected and dt_next < dt else dt * self.time.shrink
            if new_dt < self.time.smallest or attempt == self.time.max_retries:
                raise StepFailure(self._failure(this_rejected, dt, new_dt, error, attempt + 1))
            if this_rejected:
                assert self.adaptive is not None
                log.info("step to t=%g with dt=%g rejected by the error control (error "
                         "estimate %.3g > %g x tol %g); retrying with dt=%g",
                         self.current_time + dt, dt, error, self.adaptive.reject,
                         self.adaptive.tol, new_dt)
            else:
                log.info("step to t=%g with dt=%g: %s (%s); retrying with dt=%g",
                         self.current_time + dt, dt, *self._solve_failure(), new_dt)
            dt = new_dt
        raise AssertionError("unreachable")  # the loop returns or raises

    def _failure(self, rejected: bool, dt: float, new_dt: float, error: float,
                 attempts: int) -> str:
        """Why a step was given up: an error-control rejection or a Newton failure."""
        t = self.current_time
        if new_dt < self.time.smallest:
            limit = (f"the next Δt {new_dt:g} would be below dt_min = {self.time.smallest:g}"
                     f" ({attempts} attempts)")
        else:
            limit = f"max_retries = {self.time.max_retries} reached"
        if rejected:
            assert self.adaptive is not None
            return (f"the error control rejected the step at t={t:g} with dt={dt:g} (error "
                    f"estimate {error:.3g} > {self.adaptive.reject:g} x tol "
                    f"{self.adaptive.tol:g}) and {limit}; loosen the tolerance or lower "
                    "dt_min; the last accepted state is kept")
        what, why = self._solve_failure()
        return (f"{what} at t={t:g} with dt={dt:g} ({why}) and {limit}; the last "
                "accepted state is kept")

    def _solve_failure(self) -> tuple[str, str]:
        """What failed in the last solve, and why: Newton, with its SNES reason."""
        return "Newton failed", f"SNES reason {self.problem.solver.getConvergedReason()}"

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
        """Newton's start: the last state, or (adaptive runs) its extrapolation.

        The polynomial extrapolation of degree ``Adaptive.guess_degree`` (default:
        quadratic when Newton stops on the time error, else linear). The extrapolated
        concentrations are kept inside the Newton bounds, so bounded models (ln C) start
        from an admissible state.
        """
        degree = 0 if self.adaptive is None else self.adaptive.guess_degree
        if degree is None:
            degree = 2 if self.newton_stop is not None else 1
        if degree == 0 or not self._history:
            self.u.x.array[:] = self.u_n.x.array
            return
        guess, _ = self._extrapolate(dt, degree)
        self._clip_to_bounds(guess)
        self.u.x.array[:] = guess

    def _clip_to_bounds(self, guess: np.ndarray) -> None:
        """Keep the concentrations of a guess inside Newton's variable bounds (if any)."""
        if hasattr(self, "_lower"):
            dofs = self.concentration_dofs
            lo = self._lower.x.array[dofs]
            hi = self._upper.x.array[dofs]
            guess[dofs] = np.clip(guess[dofs], lo, hi)

    def _error_indicator(self, dt: float) -> tuple[float, int]:
        """Milne-device local error estimate and the order p it measures (e ∝ Δtᵖ⁺¹).

        See :class:`~femdiff.numerics.timestepping.Adaptive`: the new scaled concentrations against
        the polynomial extrapolation of the last accepted states (degree = the scheme's
        order when enough states exist, scaled by the scheme's Milne constant; lower
        degree and constant 1 before that); the max norm over every species.
        """
        p = self.time.order
        pred, degree = self._extrapolate(dt, p)
        scale = MILNE[self.time.scheme] if degree == p else 1.0
        dofs = self.concentration_dofs
        diff = self.u.x.array[dofs] - pred[dofs]
        local = float(np.max(np.abs(diff))) if diff.size else 0.0
        return scale * self.domain.comm.allreduce(local, op=MPI.MAX), degree

    @property
    def current_time(self) -> float:
        """Time of the last accepted state."""
        return getattr(self, "_t_accepted", self.time.t0)

    def run(self, t_end: float | None = None, *, times: Iterable[float] | None = None,
            callback: Callable[[Any, StepInfo], None] | None = None,
            max_steps: int = 10**7, progress: bool | str = False) -> list[StepInfo]:
        """Step to ``t_end``, landing exactly on each output time in ``times`` on the way.

        Δt follows :func:`femdiff.numerics.timestepping.next_dt` (fixed, growing by
        ``time.growth``, or error-controlled); a step is shortened only to land on the
        next milestone, which does not shrink the requested Δt. ``callback(problem,
        info)`` runs after every accepted step, when the next requested Δt is already
        set (so a checkpoint written there restarts with it).

        Args:
            t_end: end time (default: the last of ``times``).
            times: output milestones (those at or before the current time are skipped).
            callback: called after each accepted step.
            max_steps: at most this many steps in this call.
            progress: show a progress bar (tqdm.auto: a notebook widget or a terminal
                line; a log line every 30 s elsewhere), see :mod:`femdiff.io.progress`.

        A callback with a true ``at_start`` attribute (e.g. a
        :class:`femdiff.io.quantities.Recorder`) is also called once before the first step,
        with a StepInfo whose ``initial`` is True. ``info.at_output`` tells a step that
        landed on an output time.

        Returns:
            The :class:`~femdiff.numerics.timestepping.StepInfo` of every accepted step.
        """
        self.initialise()
        targets = milestones(t_end, times)
        check_end_time(self.current_time, targets[-1])
        history: list[StepInfo] = []
        dt = self._dt_request
        if callback is not None and getattr(callback, "at_start", False):
            callback(self, StepInfo(self.current_time, 0.0, 0, 0, 0, at_output=True,
                                    initial=True))
        bar = progress_bar(self.domain.comm, self.current_time, targets[-1], progress)
        for target in targets:
            while before(self.current_time, target) and len(history) < max_steps:
                dt_try = min(dt, target - self.current_time)
                info = self.step(dt_try)
                if not before(self.current_time, target):
                    info = dataclasses.replace(info, at_output=True)
                dt = next_dt(self.time, self.adaptive, dt, dt_try, info)
                self._dt_request = dt
                history.append(info)
                if bar is not None:
                    bar.update(info)
                if callback is not None:
                    callback(self, info)
        if bar is not None:
            bar.close()
        return history

    # -- restart -------------------------------------------------------------------------

    def _state_scalars(self) -> dict[str, float]:
        """Extra scalars of a subclass's restart state."""
        return {}

    def _check_state(self, scalars: dict[str, float]) -> None:
        """Raise ValueError if a stored state does not fit this problem."""

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The state that a restart needs (:func:`femdiff.problems.restart.state_dict`)."""
        return restart.state_dict(self)

    def load_state(self, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> None:
        """Put back a state from :meth:`state_dict` (:func:`~femdiff.problems.restart.load_state`).

        Raises:
            ValueError: the state does not fit this problem (e.g. other species).
        """
        restart.load_state(self, arrays, scalars)

    # -- diagnostics ---------------------------------------------------------------------

    def integrate(self, integrand: Any) -> float:
        """The global value of a scalar UFL form (``expr * dx`` or ``* ds``), all ranks."""
        value = fem.assemble_scalar(fem.form(integrand))
        return self.domain.comm.allreduce(value, op=MPI.SUM)

    _integrate = integrate  # the former private name

    def amount(self, volume: str | None = None, *, species: str | None = None) -> float:
        """Total amount ∫ C dx of a species (over a named volume, or everywhere)."""
        self.initialise()
        return self.integrate(self.concentration_ufl(species) * self.domain.dx(volume))

    def step_constants(self) -> list[fem.Constant]:
        """The Constants the residual uses, Δt first (recorded with each accepted step)."""
        constants = [self.dt, *self.bdf, self.t]
        theta = getattr(self, "theta", None)
        if isinstance(theta, fem.Constant):
            constants.append(theta)
        return constants

    def _create_reaction_flux(self) -> None:
        """The conservative boundary fluxes (:mod:`femdiff.numerics.fluxes`) of this problem."""
        self._reaction = ReactionFlux(self.domain, self.residual,
                                      (self.u, self.u_n, self.u_nn), self.step_constants(),
                                      self.conserved_fields())

    def flux_through(self, boundary: str, *, species: str | None = None) -> float:
        """Outward flux ∫ J·n ds of a species through a named boundary, over the last step.

        Conservative (:mod:`femdiff.numerics.fluxes`): on a fixed-C (or fixed-μ) boundary, the
        reaction of the discrete conservation equation; on a Flux boundary, the prescribed
        ∫ j ds; elsewhere 0 (exactly). The fluxes through all boundaries add up to
        −d(amount)/dt (+ ∫ s dx) with the scheme's discrete time derivative (for
        Crank–Nicolson: the midpoint flux); a dependent species' flux is minus the sum of
        the others'. Before the first step (or after a restart): the flux of the current
        field.
        """
        self.initialise()
        self.domain.check_boundaries([boundary])
        return sum(sign * self._reaction(name, boundary)
                   for sign, name in self.flux_components(species))

    def gradient_flux_through(self, boundary: str, *, species: str | None = None) -> float:
        """∫ J·n ds with J = −M∇μ evaluated from the discrete fields (not conservative).

        Kept for comparison: on a boundary where C is small and fixed it converges only
        logarithmically (issue #11); use :meth:`flux_through`.
        """
        self.initialise()
        n = ufl.FacetNormal(self.domain.mesh)
        return self.integrate(ufl.inner(self.flux_ufl_of(species), n)
                              * self.domain.ds(boundary))

    def flux(self, degree: int | None = None, *, species: str | None = None) -> fem.Function:
        """J of a species interpolated into a discontinuous vector space (degree k−1).

        The same Function is returned and refreshed on every call (per species and
        degree), so it can be handed to a writer once.
        """
        self.initialise()
        k = self.degree - 1 if degree is None else degree
        cache = self.__dict__.setdefault("_flux_cache", {})
        key = (species, k)
        if key not in cache:
            J_ufl = self.flux_ufl_of(species)
            V = fem.functionspace(self.domain.mesh,
                                  ("Discontinuous Lagrange", k, (self.domain.gdim,)))
            J = fem.Function(V, name="flux" if species is None else f"J_{species}")
            cache[key] = (J, fem.Expression(J_ufl, V.element.interpolation_points))
        J, expr = cache[key]
        J.interpolate(expr)
        return J

    def owned_concentration(self, species: str | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
        """(coordinates, values) of a species' concentration at this rank's owned nodes.

        The coordinates have shape (n, gdim); gather over ranks for global statements.
        """
        self.initialise()
        C = self.concentration_ufl(species)
        V = C.function_space
        n = V.dofmap.index_map.size_local * V.dofmap.index_map_bs
        x = V.tabulate_dof_coordinates()[:n, : self.domain.gdim]
        return x, C.x.array[:n].copy()

