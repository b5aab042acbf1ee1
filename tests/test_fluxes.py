"""Conservative boundary fluxes (femdiff.numerics.fluxes): permeation, balances, parallel."""

import math

from mpi4py import MPI

import numpy as np
import pytest

from femdiff.geometry import mesh
from femdiff.models.thermodynamics import (
    R_GAS,
    ChemicalPotential,
    DoubleWell,
    GradientEnergy,
    Ideal,
    Mobility,
)
from femdiff.numerics.timestepping import TimeControl, bdf_coefficients
from femdiff.problems.diffusion import DiffusionProblem, FixedConcentration, Flux
from femdiff.problems.multicomponent import IdealMixing, Mixture, MulticomponentProblem, Onsager

T_UNIT = 1.0 / R_GAS  # R T = 1
C_IN, C_OUT = 1.0, 1e-3


def permeation_flux(t, terms=400):
    """Exit flux of a membrane (L = D = 1) from C = C_OUT to C_IN at x = 0, C_OUT at 1.

    Crank, The Mathematics of Diffusion (2nd ed.), eq. 4.24a differentiated in x at L.
    """
    s = sum((-1) ** n * math.exp(-n * n * math.pi**2 * t) for n in range(1, terms))
    return (C_IN - C_OUT) * (1 + 2 * s)


def permeation(n, dt, scheme="bdf2", comm=MPI.COMM_WORLD, formulation="mixed"):
    return DiffusionProblem(
        mesh.interval(n, 1.0, comm=comm), ChemicalPotential([Ideal(T_UNIT)]),
        Mobility.from_diffusivity(1.0, T_UNIT), initial=C_OUT,
        time=TimeControl(dt=dt, scheme=scheme),
        bcs=[FixedConcentration("left", C_IN), FixedConcentration("right", C_OUT)],
        formulation=formulation)


def exit_flux_error(n, dt, formulation="mixed"):
    """Max relative error of the exit flux for t > 0.05, and the first-step Newton count."""
    p = permeation(n, dt, formulation=formulation)
    errors, first = [], []

    def check(p, info):
        first.append(info.newton_iterations + 100 * info.retries)
        assert info.retries == 0  # a retried step would change the time grid
        if p.current_time > 0.05 + 1e-12:
            errors.append(abs(p.flux_through("right") / permeation_flux(p.current_time) - 1))

    p.run(0.3, callback=check)
    return max(errors), first[0]


@pytest.mark.parametrize("formulation", ["mixed", "activity"])
@pytest.mark.verification(quantity="permeation exit flux J(t) (mixed and activity forms)",
                         reference="series solution of the permeation transient",
                         source="Crank, The Mathematics of Diffusion, §4.3",
                         error="0.066 → 0.028 → 0.0083 measured; finest < 1 %, rate > 1")
def test_permeation_exit_flux_converges(formulation):
    """Pointwise-in-time exit flux against the series, refined in space and time together.

    BDF2 and P1 are both second order; the backward-Euler first step from discontinuous
    data costs some of that at the earliest times checked (t ≈ 0.05, where J is 3 % of
    its steady value). Measured max relative errors for t > 0.05: 0.066, 0.028, 0.0083
    (rates 1.25, 1.73, no step retried), so the assertion asks for better than first
    order and the finest run within 1 %. The activity formulation (one linear solve a
    step) discretises the same problem: measured 0.06562, 0.02764, 0.00833 (mixed:
    0.06561, 0.02764, 0.00833).
    """
    runs = [exit_flux_error(n, dt, formulation)
            for n, dt in ((16, 0.01), (32, 0.005), (64, 0.0025))]
    errs = [e for e, _ in runs]
    rates = [math.log(errs[i] / errs[i + 1], 2) for i in range(2)]
    assert min(rates) > 1.0, (errs, rates)
    assert errs[-1] < 0.01, errs
    # the first step from C = 1e-3 to a face held at 1 (issue #11: 100-200 before)
    assert max(f for _, f in runs) <= 10


def amounts_balance(p, steps, dt, boundaries, amount):
    """Max over steps of |Σ boundary fluxes + d(amount)/dt| (the scheme's own BDF weights;
    for Crank–Nicolson the difference quotient), and the largest flux seen."""
    history = [amount()]
    worst, largest = 0.0, 0.0
    dt_prev = None
    for _ in range(steps):
        p.step(dt)
        history.insert(0, amount())
        if p.time.scheme == "bdf2":
            a = bdf_coefficients(2, dt, dt_prev)
        else:
            a = (1.0, -1.0, 0.0)
        rate = sum(ai * m for ai, m in zip(a, history + [0.0], strict=False)) / dt
        fluxes = [p_flux(b) for b, p_flux in boundaries]
        worst = max(worst, abs(sum(fluxes) + rate))
        largest = max([largest] + [abs(f) for f in fluxes])
        dt_prev = dt
    return worst, largest


@pytest.mark.mpi
@pytest.mark.parametrize("formulation", ["mixed", "activity"])
@pytest.mark.parametrize("scheme", ["backward_euler", "bdf2", "crank_nicolson"])
@pytest.mark.verification(quantity="boundary fluxes against d(amount)/dt",
                         reference="discrete conservation law", source="exact identity",
                         error="< 1e-8 of the largest flux")
def test_fluxes_sum_to_amount_rate_and_closed_is_zero(scheme, formulation):
    """Two fixed-C faces sharing a corner, a prescribed outflow, a closed face.

    The reaction fluxes are the discrete conservation law itself, so the balance holds to
    the Newton tolerance (scaled residual 1e-10 → 1e-8 of the largest flux, with margin);
    the corner node held by both fixed faces counts once (else the sum would be off by its
    reaction); the closed face reports exactly 0.
    """
    d = mesh.rectangle(12, 8, 1.0, 1.0)
    p = DiffusionProblem(
        d, ChemicalPotential([Ideal(T_UNIT)]), Mobility.from_diffusivity(1.0, T_UNIT),
        initial=lambda x: 0.2 + 0.1 * x[0], time=TimeControl(dt=0.01, scheme=scheme),
        bcs=[FixedConcentration("left", 1.0), FixedConcentration("bottom", 0.05),
             Flux("top", 0.3)], formulation=formulation)
    names = ["left", "bottom", "top", "right"]
    worst, largest = amounts_balance(
        p, 6, 0.01, [(b, lambda b, p=p: p.flux_through(b)) for b in names], p.amount)
    assert largest > 0.1
    assert worst < 1e-8 * largest
    assert p.flux_through("right") == 0.0
    assert p.flux_through("top") == pytest.approx(0.3, rel=1e-12)  # ∫ j ds, width 1
    assert p.flux_through("left") < 0  # inflow at the charged face


@pytest.mark.mpi
@pytest.mark.parametrize("formulation", ["mixed", "activity"])
def test_flux_balance_with_stress(formulation):
    """The balance above under a stress gradient (Ω σ_h from 0 to 1.5 R T across).

    For the activity formulation C = C_s w ρ̂ with a weight w ≠ 1 that varies from node
    to node, so ĉ/w is not ρ̂ to the last bit: the reaction flux must still use the step
    it recorded (all ranks alike), not a state recomputed from C, which drops the time
    derivative (the flux was then off by ~1 % on one of two ranks). Same tolerance.
    """
    from dolfinx import fem

    from femdiff.models.thermodynamics import StressCoupling

    d = mesh.rectangle(12, 8, 1.0, 1.0)
    sig = fem.Function(fem.functionspace(d.mesh, ("Lagrange", 1)))
    sig.interpolate(lambda x: 7.5e5 * x[0] * (1 + 0.3 * x[1]))  # Ω σ_h ≤ 1.5 (R T = 1)
    p = DiffusionProblem(
        d, ChemicalPotential([Ideal(T_UNIT), StressCoupling(2.0e-6, sig)]),
        Mobility.from_diffusivity(1.0, T_UNIT), initial=lambda x: 0.2 + 0.1 * x[0],
        time=TimeControl(dt=0.01, scheme="bdf2"),
        bcs=[FixedConcentration("left", 1.0), FixedConcentration("bottom", 0.05)],
        formulation=formulation)
    names = ["left", "bottom", "top", "right"]
    worst, largest = amounts_balance(
        p, 4, 0.01, [(b, lambda b, p=p: p.flux_through(b)) for b in names], p.amount)
    assert largest > 0.1
    assert worst < 1e-8 * largest


def test_cahn_hilliard_flux_balance():
    """Cahn–Hilliard (double well + κ) with a fixed-c face: reactions balance ∫c."""
    d = mesh.rectangle(16, 4, 32.0, 8.0)
    p = DiffusionProblem(
        d, ChemicalPotential([DoubleWell(5.0, 0.3, 0.7), GradientEnergy(2.0)]),
        Mobility.constant(5.0), initial=lambda x: 0.5 + 0.01 * np.cos(0.2 * x[0]),
        time=TimeControl(dt=0.5, scheme="bdf2"), bcs=[FixedConcentration("left", 0.3)])
    worst, largest = amounts_balance(
        p, 5, 0.5, [(b, lambda b, p=p: p.flux_through(b)) for b in ("left", "right")],
        p.amount)
    assert largest > 1e-3
    assert worst < 1e-7 * largest  # Newton tolerance, as above
    assert p.flux_through("right") == 0.0


def test_multicomponent_flux_balance():
    """Ternary lattice, A fixed on the left: per-species balances; S = −(A + B)."""
    d = mesh.interval(40, 1.0)
    p = MulticomponentProblem(
        d, ["A", "B", "S"], Mixture([IdealMixing(T_UNIT)]),
        Onsager.mobilities({"A": 1.0, "B": 2.0, "S": 0.5}),
        initial={"A": 0.1, "B": lambda x: 0.3 + 0.1 * x[0]},
        time=TimeControl(dt=2e-3, scheme="bdf2"),
        bcs={"A": [FixedConcentration("left", 0.4)]})
    p.initialise()
    hist = {s: [p.amount(s)] for s in p.species}
    dt_prev, dt = None, 2e-3
    worst = {s: 0.0 for s in p.species}
    largest = 0.0
    for _ in range(5):
        p.step(dt)
        a = bdf_coefficients(2, dt, dt_prev)
        for s in p.species:
            hist[s].insert(0, p.amount(s))
            rate = sum(ai * m for ai, m in zip(a, hist[s] + [0.0], strict=False)) / dt
            total = p.flux_through(s, "left") + p.flux_through(s, "right")
            worst[s] = max(worst[s], abs(total + rate))
            largest = max(largest, abs(p.flux_through(s, "left")))
        dt_prev = dt
    assert largest > 0.1
    for s in p.species:
        assert worst[s] < 1e-8 * largest, (s, worst)
    assert p.flux_through("B", "left") == 0.0  # B has no condition: closed
    assert p.flux_through("S", "left") == pytest.approx(-p.flux_through("A", "left"))


@pytest.mark.mpi
@pytest.mark.parametrize("formulation", ["mixed", "activity"])
def test_exit_flux_parallel_matches_serial(formulation):
    """The exit flux (owned rows + allreduce) is the same on 1 and 2 ranks."""

    def run(comm):
        p = permeation(24, 0.01, comm=comm, formulation=formulation)
        p.run(0.1)
        return np.array([p.flux_through("right"), p.flux_through("left")])

    assert np.allclose(run(MPI.COMM_WORLD), run(MPI.COMM_SELF), rtol=1e-8)
