"""The Δt policy (femdiff.numerics.timestepping): growth rule, milestones, the dt_max trap."""

import math
import warnings

import pytest

from femdiff.numerics.timestepping import Adaptive, StepInfo, TimeControl, check_policy, next_dt


def _info(dt, retries=0, newton=2, dt_next=0.0):
    return StepInfo(t=1.0, dt=dt, newton_iterations=newton, krylov_iterations=0,
                    retries=retries, dt_next=dt_next)


def test_growth_rule():
    """The rule documented in TimeControl, case by case (exact arithmetic on floats)."""
    tc = TimeControl(dt=1.0, growth=1.5, dt_max=2.0)
    assert next_dt(tc, None, 1.0, 1.0, _info(1.0)) == 1.5  # easy step: × growth
    assert next_dt(tc, None, 1.0, 0.3, _info(0.3)) == 1.5  # shortened: the request grows
    assert next_dt(tc, None, 1.6, 1.6, _info(1.6)) == 2.0  # capped at dt_max
    assert next_dt(tc, None, 1.0, 1.0, _info(0.25, retries=2)) == 0.25  # failures: keep
    hard = TimeControl(dt=1.0, growth=1.5, growth_newton_max=3)
    assert next_dt(hard, None, 1.0, 1.0, _info(1.0, newton=4)) == 1.0  # not easy: keep
    assert next_dt(hard, None, 1.0, 1.0, _info(1.0, newton=3)) == 1.5
    fixed = TimeControl(dt=1.0)
    assert next_dt(fixed, None, 1.0, 1.0, _info(1.0)) == 1.0  # default: fixed steps
    ad = Adaptive()
    assert next_dt(fixed, ad, 1.0, 1.0, _info(1.0, dt_next=0.7)) == 0.7
    # a step shortened to land on a milestone does not shrink the next one
    assert next_dt(fixed, ad, 1.0, 0.1, _info(0.1, dt_next=0.2)) == 1.0


def test_first_step_never_exceeds_dt_max():
    assert TimeControl(dt=5.0, dt_max=2.0).first_dt == 2.0
    assert TimeControl(dt=1.0).first_dt == 1.0


def test_dt_max_without_growth_warns():
    """TimeControl(dt=1, dt_max=1e5) alone would silently run 1e5 fixed steps."""
    with pytest.warns(UserWarning, match="nothing grows the step"):
        check_policy(TimeControl(dt=1.0, dt_max=1e5), None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_policy(TimeControl(dt=1.0, dt_max=1e5, growth=1.2), None)
        check_policy(TimeControl(dt=1.0, dt_max=1e5), Adaptive())
        check_policy(TimeControl(dt=1.0), None)  # dt_max = ∞: nothing suggested


@pytest.mark.parametrize("kw, message", [
    ({"growth": 0.9}, "growth must be a finite number ≥ 1"),
    ({"growth": math.inf}, "growth must be a finite number ≥ 1"),
    ({"dt_max": 0.0}, "dt_max must be positive"),
    ({"growth_newton_max": -1}, "growth_newton_max must be ≥ 0"),
])
def test_bad_time_control(kw, message):
    with pytest.raises(ValueError, match=message):
        TimeControl(dt=1.0, **kw)
