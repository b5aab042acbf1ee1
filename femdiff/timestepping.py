"""Time-stepping schemes and step control shared by the diffusion problems.

The time derivative is discretised with BDF formulas on a (possibly variable) step:
``∂C/∂t ≈ (a0 Cⁿ⁺¹ + a1 Cⁿ + a2 Cⁿ⁻¹) / Δt`` with coefficients held in ``fem.Constant``s
so the forms never recompile when Δt changes. Crank–Nicolson instead weights the flux
term by θ = ½ at the new and old levels.

A step whose Newton solve fails (diverged, or a NaN/Inf in the state) is rejected, the
state restored, and retried with Δt scaled by ``shrink`` until ``dt_min``; only accepted
steps ever reach output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Scheme = Literal["backward_euler", "bdf2", "crank_nicolson"]
SCHEMES: tuple[str, ...] = ("backward_euler", "bdf2", "crank_nicolson")


class StepFailure(RuntimeError):
    """A time step failed even at the smallest allowed Δt."""


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

    Attributes:
        dt: initial time step [s].
        t0: start time [s].
        scheme: ``"backward_euler"``, ``"bdf2"`` or ``"crank_nicolson"``.
        dt_min: smallest Δt tried after failures [s] (default dt·1e-6).
        dt_max: largest Δt an adaptive controller may choose [s].
        shrink: factor applied to Δt after a failed step.
        max_retries: failed attempts allowed for a single step.
    """

    dt: float
    t0: float = 0.0
    scheme: Scheme = "backward_euler"
    dt_min: float | None = None
    dt_max: float = math.inf
    shrink: float = 0.5
    max_retries: int = 8

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

    @property
    def order(self) -> int:
        """Formal order of accuracy of the scheme."""
        return 1 if self.scheme == "backward_euler" else 2

    @property
    def smallest(self) -> float:
        """The smallest Δt retried before giving up."""
        return self.dt_min if self.dt_min is not None else self.dt * 1e-6


@dataclass(frozen=True)
class Adaptive:
    """Error-controlled time steps (predictor–corrector estimate).

    After each converged step the solution is compared with the explicit extrapolation
    from the previous two states, ĉ_p = ĉⁿ + (Δt/Δt_prev)(ĉⁿ − ĉⁿ⁻¹) (for the first step,
    ĉ_p = ĉⁿ). e = max|ĉⁿ⁺¹ − ĉ_p| (ĉ: the nondimensional concentration) is a local
    error indicator of order p+1 (p = 2 for BDF2 with history, else 1). A step with
    e > ``reject`` · tol is redone; the next step is Δt · safety · (tol/e)^(1/(p+1)),
    limited to [min_shrink, max_growth] · Δt and to ``TimeControl.dt_max``.

    Attributes:
        tol: target local error per step (nondimensional concentration).
        safety: safety factor of the controller.
        max_growth: largest step-size growth per step.
        min_shrink: smallest step-size factor per step.
        reject: steps with e > reject · tol are rejected.
    """

    tol: float = 1e-3
    safety: float = 0.9
    max_growth: float = 2.0
    min_shrink: float = 0.2
    reject: float = 2.0

    def __post_init__(self) -> None:
        if not self.tol > 0:
            raise ValueError(f"adaptive tol must be positive, got {self.tol!r}")
        if not 0 < self.safety <= 1:
            raise ValueError(f"adaptive safety must lie in (0, 1], got {self.safety!r}")
        if not self.max_growth > 1 or not 0 < self.min_shrink < 1:
            raise ValueError("adaptive max_growth must be > 1 and min_shrink in (0, 1)")
        if not self.reject >= 1:
            raise ValueError(f"adaptive reject must be ≥ 1, got {self.reject!r}")

    def accept(self, error: float) -> bool:
        """Whether a step with this error indicator is kept."""
        return error <= self.reject * self.tol

    def propose(self, dt: float, error: float, order: int) -> float:
        """The next step size."""
        if error <= 0:
            return dt * self.max_growth
        factor = self.safety * (self.tol / error) ** (1.0 / (order + 1))
        return dt * min(self.max_growth, max(self.min_shrink, factor))


def check_end_time(t0: float, t_end: float) -> None:
    """Raise a clear error for an end time before the start."""
    if not math.isfinite(t_end) or t_end < t0:
        raise ValueError(f"end time t_end={t_end!r} is before the start time t0={t0!r}")
