"""Time-stepping schemes and step control shared by the diffusion problems.

The time derivative is discretised with BDF formulas on a (possibly variable) step:
``∂C/∂t ≈ (a0 Cⁿ⁺¹ + a1 Cⁿ + a2 Cⁿ⁻¹) / Δt`` with coefficients held in ``fem.Constant``s
so the forms never recompile when Δt changes. Crank–Nicolson instead weights the flux
term by θ = ½ at the new and old levels.

A step whose Newton solve fails (diverged, or a NaN/Inf in the state) is rejected, the
state restored, and retried with Δt scaled by ``shrink`` until ``dt_min``; only accepted
steps ever reach output. :class:`Adaptive` adds error control on top: a Milne-device
local error estimate against the extrapolated history and a PI step-size controller,
which lets coarsening runs span many decades of time in a few hundred steps.

This module is the single owner of the Δt policy: :class:`TimeControl` (fixed steps,
optionally growing by ``growth``), :class:`Adaptive` (error control) and
:func:`next_dt` (the step requested after each accepted step), which
:meth:`femdiff.problems.base.MixedProblem.run` applies.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Scheme = Literal["backward_euler", "bdf2", "crank_nicolson"]
SCHEMES: tuple[str, ...] = ("backward_euler", "bdf2", "crank_nicolson")


class StepFailure(RuntimeError):
    """A time step failed even at the smallest allowed Δt."""


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
    #: the step landed on a requested output time (``run(times=...)`` or ``t_end``)
    at_output: bool = False
    #: not a step: the initial state, passed to a callback with ``at_start`` by ``run``
    initial: bool = False


def bdf_coefficients(order: int, dt: float, dt_prev: float | None) -> tuple[float, float, float]:
    """Variable-step BDF coefficients (a0, a1, a2) so that ∂C/∂t ≈ Σ a_i C_i / Δt.

    BDF2 with ω = Δt/Δt_prev: a0 = (1+2ω)/(1+ω), a1 = −(1+ω), a2 = ω²/(1+ω).
    """
    if order == 1 or dt_prev is None:
        return 1.0, -1.0, 0.0
    w = dt / dt_prev
    return (1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w)


@dataclass(frozen=True)
class TimeControl:
    """Time-step settings.

    Step-size rule of :meth:`~femdiff.problems.base.MixedProblem.run` (see :func:`next_dt`).
    The first step requests min(dt, dt_max). Each step is shortened, if needed, to land
    exactly on the next output time (``run(times=...)``) or on t_end; the *requested* Δt
    is kept apart from that shortened one. After each accepted step the next request is

    * with :class:`Adaptive` error control: the controller's proposal (already limited to
      ``dt_max``), or the previous request if that step was only shortened to land on an
      output time and was accepted at its first attempt, whichever is larger;
    * without it, after a step that needed retries: the Δt that finally succeeded;
    * without it, otherwise (an *easy* step: accepted at the first attempt and, if
      ``growth_newton_max`` is set, with at most that many Newton iterations):
      min(request · ``growth``, ``dt_max``); a step that was not easy keeps the request.

    With the default ``growth = 1`` the steps stay fixed (apart from failure retries).
    This is the rule of the ``femdiff run`` case files (``[time] growth``).

    Attributes:
        dt: initial time step [s].
        t0: start time [s].
        scheme: ``"backward_euler"``, ``"bdf2"`` or ``"crank_nicolson"``.
        dt_min: smallest Δt tried after failures [s] (default dt·1e-6).
        dt_max: largest Δt [s] that growth or an adaptive controller may reach; also caps
            the first step.
        shrink: factor applied to Δt after a failed step.
        max_retries: failed attempts allowed for a single step.
        growth: factor (≥ 1) applied to the requested Δt after an easy step without
            adaptive control; 1 keeps Δt fixed.
        growth_newton_max: a step counts as easy only with at most this many Newton
            iterations (``None``: any accepted first attempt is easy).
    """

    dt: float
    t0: float = 0.0
    scheme: Scheme = "backward_euler"
    dt_min: float | None = None
    dt_max: float = math.inf
    shrink: float = 0.5
    max_retries: int = 8
    growth: float = 1.0
    growth_newton_max: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dt, int | float) or not math.isfinite(self.dt) or self.dt <= 0:
            raise ValueError(f"time step dt must be positive, got {self.dt!r}")
        if not math.isfinite(self.t0):
            raise ValueError(f"start time t0 must be finite, got {self.t0!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}; got {self.scheme!r}")
        if not 0 < self.shrink < 1:
            raise ValueError(f"shrink must lie in (0, 1), got {self.shrink!r}")
        if self.dt_min is not None and not 0 < self.dt_min <= self.dt:
            raise ValueError(f"dt_min must lie in (0, dt], got {self.dt_min!r}")
        if not self.dt_max > 0:
            raise ValueError(f"dt_max must be positive, got {self.dt_max!r}")
        if not (isinstance(self.growth, int | float) and math.isfinite(self.growth)
                and self.growth >= 1):
            raise ValueError(f"growth must be a finite number ≥ 1, got {self.growth!r}")
        if not (isinstance(self.max_retries, int) and not isinstance(self.max_retries, bool)
                and self.max_retries >= 0):
            raise ValueError(f"max_retries must be an integer ≥ 0 (0: no retry), got "
                             f"{self.max_retries!r}")
        if self.growth_newton_max is not None and not self.growth_newton_max >= 0:
            raise ValueError(f"growth_newton_max must be ≥ 0 or None, got "
                             f"{self.growth_newton_max!r}")

    @property
    def order(self) -> int:
        """Formal order of accuracy of the scheme."""
        return 1 if self.scheme == "backward_euler" else 2

    @property
    def smallest(self) -> float:
        """The smallest Δt retried before giving up."""
        return self.dt_min if self.dt_min is not None else self.dt * 1e-6

    @property
    def first_dt(self) -> float:
        """The first requested step: dt, never more than dt_max."""
        return min(self.dt, self.dt_max)


@dataclass(frozen=True)
class Adaptive:
    """Error-controlled time steps: a Milne-device error estimate and a PI controller.

    Error estimate. After each converged step the solution ĉⁿ⁺¹ (ĉ: the nondimensional
    concentration) is compared with the explicit polynomial extrapolation ĉ_p of the last
    accepted states to tⁿ⁺¹, of the scheme's order p (linear for backward Euler,
    quadratic for BDF2 and Crank–Nicolson, through the actual, variable step times). Both
    agree to O(Δtᵖ⁺¹), and the scheme's local error is a fixed fraction of the difference
    (Milne's device), so

        e = C · max|ĉⁿ⁺¹ − ĉ_p|,  C = 1/3 (BE), 2/7 (BDF2), 1/11 (CN)

    (constant-step error constants). While too few states exist for that predictor (the
    first steps), a lower-degree one is used with C = 1: that estimates the error of a
    lower-order method, which only makes the start more cautious.

    Controller. A step with e > ``reject`` · tol is redone with a smaller Δt. Otherwise
    the next step is the PI controller (Gustafsson; Hairer–Wanner IV.2)

        Δt_new = Δt · safety · (tol/e)^(k_I/q) · (e_prev/tol)^(k_P/q),   q = p + 1,

    limited to [min_shrink, max_growth] · Δt and to ``TimeControl.dt_max``; after a
    rejection (or at the start) the elementary controller (tol/e)^(1/q) is used. The
    proportional term damps the step-size oscillations of the elementary controller.
    Newton failures are handled separately (retry with Δt · ``TimeControl.shrink``).

    Attributes:
        tol: target local error per step (nondimensional concentration, max norm).
        safety: safety factor of the controller.
        max_growth: largest step-size growth per step.
        min_shrink: smallest step-size factor per step.
        reject: steps with e > reject · tol are rejected.
        k_I: integral gain of the PI controller.
        k_P: proportional gain (0 gives the elementary controller).
        guess_degree: degree of the polynomial extrapolation of the last accepted states
            that starts Newton (0: the last state; 1: linear; 2: quadratic, BDF2's own
            predictor). It changes only Newton's start, not the converged state or the
            error estimate. Default (None): quadratic when Newton stops on the time error
            (:class:`femdiff.numerics.newton.ErrorControlledStop`, Cahn–Hilliard's default), where
            the start sets how many iterations a step needs (PFHub 1b, 2 ranks, tol 2e-3
            to t = 10⁴: Newton 1154 → 946 on 150², 1168 → 987 on 200²,
            ``benchmarks/bench_pfhub_speed.py``); linear otherwise, where Newton runs to
            its residual tolerance and the start matters little.
    """

    tol: float = 1e-3
    safety: float = 0.9
    max_growth: float = 2.0
    min_shrink: float = 0.2
    reject: float = 2.0
    k_I: float = 0.7
    k_P: float = 0.4
    guess_degree: int | None = None

    def __post_init__(self) -> None:
        if not self.tol > 0:
            raise ValueError(f"adaptive tol must be positive, got {self.tol!r}")
        if not 0 < self.safety <= 1:
            raise ValueError(f"adaptive safety must lie in (0, 1], got {self.safety!r}")
        if not self.max_growth > 1 or not 0 < self.min_shrink < 1:
            raise ValueError("adaptive max_growth must be > 1 and min_shrink in (0, 1)")
        if not self.reject >= 1:
            raise ValueError(f"adaptive reject must be ≥ 1, got {self.reject!r}")
        if not self.k_I > 0 or not self.k_P >= 0:
            raise ValueError(f"adaptive gains need k_I > 0 and k_P ≥ 0, got "
                             f"k_I={self.k_I!r}, k_P={self.k_P!r}")
        if self.guess_degree not in (None, 0, 1, 2):
            raise ValueError(f"adaptive guess_degree must be 0, 1 or 2, got "
                             f"{self.guess_degree!r}")

    def accept(self, error: float) -> bool:
        """Whether a step with this error estimate is kept."""
        return error <= self.reject * self.tol

    def propose(self, dt: float, error: float, order: int,
                error_prev: float | None = None) -> float:
        """The next step size after a step of size ``dt`` with estimate ``error``.

        ``order`` is the order p of the estimated local error's method (e ∝ Δtᵖ⁺¹);
        ``error_prev`` the previous accepted step's estimate (``None``: elementary
        controller).
        """
        q = order + 1
        if error <= 0:
            return dt * self.max_growth
        if error_prev is None or error_prev <= 0:
            factor = self.safety * (self.tol / error) ** (1.0 / q)
        else:
            factor = (self.safety * (self.tol / error) ** (self.k_I / q)
                      * (error_prev / self.tol) ** (self.k_P / q))
        return dt * min(self.max_growth, max(self.min_shrink, factor))


#: Milne constants |C_scheme / (C_predictor − C_scheme)| for constant steps, by scheme
MILNE = {"backward_euler": 1.0 / 3.0, "bdf2": 2.0 / 7.0, "crank_nicolson": 1.0 / 11.0}


def extrapolation_weights(times: list[float], t: float) -> list[float]:
    """Lagrange extrapolation weights.

    p(t) = Σ w_i c(times[i]) is the polynomial through the given (distinct) times.
    """
    weights = []
    for i, ti in enumerate(times):
        w = 1.0
        for j, tj in enumerate(times):
            if j != i:
                w *= (t - tj) / (ti - tj)
        weights.append(w)
    return weights


def before(t: float, target: float) -> bool:
    """Whether time ``t`` has not yet reached ``target`` (to round-off)."""
    return t < target * (1 - 1e-12) - 1e-300


def milestones(t_end: float | None, times: Iterable[float] | None) -> list[float]:
    """The times a run lands on: the sorted output ``times`` before ``t_end``, then t_end.

    ``t_end`` defaults to the last of ``times``.
    """
    marks = sorted({float(t) for t in (times or ())})
    if t_end is None:
        if not marks:
            raise ValueError("run() needs t_end or output times")
        t_end = marks[-1]
    return [t for t in marks if t < t_end] + [float(t_end)]


def check_end_time(t0: float, t_end: float) -> None:
    """Raise a clear error for an end time before the start."""
    if not math.isfinite(t_end) or t_end < t0:
        raise ValueError(f"end time t_end={t_end!r} is before the start time t0={t0!r}")


def check_policy(time: TimeControl, adaptive: Adaptive | None) -> None:
    """Warn when ``dt_max`` suggests a growth that can never happen.

    A finite ``dt_max`` above ``dt`` with neither ``growth > 1`` nor adaptive control
    runs every step at Δt = dt (e.g. ``TimeControl(dt=1.0, dt_max=1e5)``: 10⁵ s takes
    10⁵ steps).
    """
    if (adaptive is None and time.growth == 1 and math.isfinite(time.dt_max)
            and time.dt_max > time.dt):
        warnings.warn(
            f"TimeControl(dt={time.dt!r}, dt_max={time.dt_max!r}): dt_max is above dt but "
            "nothing grows the step (growth=1 and no adaptive control), so every step "
            "keeps dt; set growth > 1 (e.g. 1.1) or adaptive=Adaptive(...), or drop dt_max",
            UserWarning, stacklevel=4)


def next_dt(time: TimeControl, adaptive: Adaptive | None, dt: float, dt_try: float,
            info: StepInfo) -> float:
    """The Δt requested after an accepted step (the rule in :class:`TimeControl`).

    Args:
        time: the step settings.
        adaptive: the error control, or ``None``.
        dt: the Δt that was requested for the step.
        dt_try: the Δt attempted first (``dt`` or less, to land on an output time).
        info: what the step did.
    """
    if adaptive is not None:
        # a step shortened to land on an output time does not shrink the next one
        return max(info.dt_next, dt if dt_try < dt and info.retries == 0 else 0.0)
    if info.retries:
        return info.dt  # keep the reduced step after a failure
    easy = time.growth_newton_max is None or info.newton_iterations <= time.growth_newton_max
    return min(dt * time.growth, time.dt_max) if easy else dt
