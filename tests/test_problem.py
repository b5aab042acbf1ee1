"""The shared base of the mixed problems (femdiff.problems.base): run, restart, diagnostics."""

import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl

from femdiff.geometry import mesh
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Mobility
from femdiff.numerics.timestepping import TimeControl
from femdiff.problems.base import MixedProblem
from femdiff.problems.diffusion import DiffusionProblem

T, D, L, C0 = 300.0, 1.0e-9, 1.0e-3, 1000.0
TAU = L**2 / (D * math.pi**2)  # decay time of the cos(πx/L) mode


def cosine(time, n=16, scale=None):
    """C = C0 (1 + ½ cos(πx/L)) in a closed bar: decays as exp(−t/τ)."""
    return DiffusionProblem(
        mesh.interval(n, L), ChemicalPotential([Ideal(T)]), Mobility.from_diffusivity(D, T),
        initial=lambda x: C0 * (1 + 0.5 * np.cos(np.pi * x[0] / L)), time=time,
        concentration_scale=scale)


@pytest.mark.mpi
def test_run_with_growth_lands_on_milestones_like_the_cli_loop():
    """run(times=..., growth) takes exactly the steps of femdiff.cli.run_case's loop.

    The reference is that loop written out (shortened steps to land on each output time,
    request × growth after every step, capped at dt_max): same Δt sequence, same state to
    the last digit.
    """
    tc = TimeControl(dt=0.01 * TAU, scheme="bdf2", growth=1.3, dt_max=0.2 * TAU)
    times = [0.05 * TAU, 0.3 * TAU, 1.0 * TAU]
    a = cosine(tc)
    seen = []
    history = a.run(times=times, callback=lambda p, info: seen.append(p.current_time))
    b = cosine(tc)
    b.initialise()
    dts, dt = [], tc.dt
    for target in times:
        while b.current_time < target * (1 - 1e-12) - 1e-300:
            info = b.step(min(dt, target - b.current_time))
            dts.append(info.dt)
            dt = dt if info.retries else min(dt * tc.growth, tc.dt_max)
    assert [i.dt for i in history] == dts
    assert np.array_equal(a.u.x.array, b.u.x.array)
    for t in times:  # every milestone is a step end
        assert min(abs(s - t) for s in seen) <= 1e-12 * t
    assert a.current_time == times[-1]
    assert len(history) < 40  # fixed steps of 0.01 τ would take 100


@pytest.mark.mpi
def test_load_state_rescales_to_the_new_scales():
    """A state saved with C_s = C0 loads into a problem with C_s = 2 C0 unchanged.

    The scaled unknowns differ by the factor 2; the physical fields must agree to
    round-off (1e-14), and stepping on must agree to the Newton tolerance (1e-9).
    """
    tc = TimeControl(dt=0.05 * TAU, scheme="bdf2")
    a = cosine(tc, scale=C0)
    a.run(0.2 * TAU)
    b = cosine(tc, scale=2 * C0)
    b.initialise()
    b.load_state(*a.state_dict())
    comm = a.domain.comm
    _, ca = a.owned_concentration()
    _, cb = b.owned_concentration()
    assert comm.allreduce(np.max(np.abs(ca - cb), initial=0.0), op=MPI.MAX) < 1e-14 * C0
    mu_diff = np.abs(a.mu.x.array - b.mu.x.array).max()
    assert comm.allreduce(mu_diff, op=MPI.MAX) < 1e-12 * abs(a.mu.x.array).max()
    a.run(0.4 * TAU)
    b.run(0.4 * TAU)
    _, ca = a.owned_concentration()
    _, cb = b.owned_concentration()
    assert comm.allreduce(np.max(np.abs(ca - cb), initial=0.0), op=MPI.MAX) < 1e-9 * C0


@pytest.mark.mpi
def test_public_diagnostics():
    """integrate, amount and owned_concentration against the exact initial field.

    ∫ C0 (1 + ½ cos(πx/L)) dx = C0 L; the nodal values are the interpolant itself.
    """
    p = cosine(TimeControl(dt=1.0), n=64)
    p.initialise()
    assert p.amount() == pytest.approx(C0 * L, rel=1e-12)
    x = ufl.SpatialCoordinate(p.domain.mesh)
    assert p.integrate(p.C * x[0] * ufl.dx) == pytest.approx(p.amount() * L / 2 - C0 * L**2
                                                             / math.pi**2, rel=1e-3)
    coords, values = p.owned_concentration()
    assert np.allclose(values, C0 * (1 + 0.5 * np.cos(np.pi * coords[:, 0] / L)), rtol=1e-12)


def test_base_needs_the_hooks():
    """MixedProblem is abstract: a subclass must provide the spaces (its contract)."""
    p = MixedProblem(mesh.interval(4, 1.0), time=TimeControl(dt=1.0), adaptive=None,
                     degree=1, petsc_options=None, lumped=True, name="base")
    with pytest.raises(NotImplementedError):
        p.initialise()


@pytest.mark.mpi
def test_rejection_is_reported_as_a_rejection(caplog):
    """An error-control rejection names the estimate, the tolerance and dt_min (issue #17).

    With tol = 1e-12 every step of a decaying mode is rejected; with dt_min just below
    the first Δt the controller's smaller proposal falls under dt_min at once.
    """
    from femdiff.numerics.timestepping import Adaptive, StepFailure

    tc = TimeControl(dt=0.1 * TAU, dt_min=0.05 * TAU, scheme="bdf2")
    p = cosine(tc)
    p.adaptive = Adaptive(tol=1e-12)
    with caplog.at_level("INFO", logger="femdiff"):
        with pytest.raises(StepFailure, match=r"error control rejected the step at t=0 .*"
                           r"error estimate .* > 2 x tol 1e-12.* below dt_min"):
            p.step()
    assert "Newton failed" not in caplog.text
