"""Verification of hydrogen transport with traps (femdiff.traps).

References (analytic forms in tests/hydrogen_reference.py):
- Crank, The Mathematics of Diffusion (1975) §4.3.2: permeation time lag L²/(6D).
- Oriani, Acta Metall. 18 (1970) 147: D_eff = D_L/(1 + ∂C_T/∂C_L).
- Longhurst et al., TMAP4/TMAP7 V&V problem 1d (TMAP8 ver-1d): weak-trap D_eff = D/(1 + 1/ζ)
  and the strong-trap breakthrough τ = L² N_T/(2 C₀ D).
- Kissinger, Anal. Chem. 29 (1957) 1702: ln(β/T_p²) = ln(p₀R/E) − E/(R T_p).
"""

import math

from mpi4py import MPI

import numpy as np
import pytest

import hydrogen_reference as ref
from femdiff import mesh
from femdiff.diffusion import FixedConcentration
from femdiff.thermodynamics import R_GAS, ChemicalPotential, Ideal, Mobility
from femdiff.timestepping import TimeControl
from femdiff.trapping import McNabbFoster, Oriani
from femdiff.traps import TrappingProblem

T = 300.0
D = 1.0e-9  # m²/s
L = 1.0e-3  # m
C0 = 1.0  # mol/m³ at the entry face
N_L = 1.0e6  # mol/m³ lattice sites (dilute: C0/N_L = 1e-6)
C_EXIT = 1.0e-6 * C0  # the exit face: ~0 (ln C needs C > 0)


def membrane(traps, n, dt, comm=MPI.COMM_WORLD, scheme="bdf2", **kw):
    """Permeation through 0 < x < L: C = C0 at x = 0, ≈ 0 at x = L, initially ≈ empty."""
    domain = mesh.interval(n, L, comm=comm)
    return TrappingProblem(
        domain, ChemicalPotential([Ideal(T)]), Mobility.from_diffusivity(D, T),
        traps=traps, temperature=T, n_sites=N_L, initial=C_EXIT,
        time=TimeControl(dt=dt, scheme=scheme),
        bcs=[FixedConcentration("left", C0), FixedConcentration("right", C_EXIT)],
        concentration_scale=C0, **kw)


def permeation(problem, t_end):
    """(t, exit flux, cumulative permeated amount Q) through the right face."""
    ts, J, Q = [0.0], [0.0], [0.0]

    def record(p, info):
        ts.append(info.t)
        J.append(p.desorption_flux("right"))
        Q.append(Q[-1] + info.dt * J[-1])

    problem.run(t_end, callback=record)
    return np.array(ts), np.array(J), np.array(Q)


def time_lag(ts, Q, t_fit):
    """Intercept with the t axis of the straight asymptote of Q(t) fitted for t > t_fit."""
    m = ts > t_fit
    slope, icpt = np.polyfit(ts[m], Q[m], 1)
    return -icpt / slope


def test_oriani_effective_diffusivity_time_lag():
    """Oriani traps slow permeation by 1 + ∂C_T/∂C_L = 1 + N_T K/N_L in the dilute limit.

    The ratio of the trapped and the trap-free time lags on the same mesh and time grid
    (in units of each lag) is compared with D/D_eff = 1 + N_T K/N_L = 4, so the
    discretisation error common to both runs (the steep exit layer of ln C) cancels.
    Tolerance 2 %: the dilute-limit nonlinearity K C/N_L ≤ 3e-3 changes ∂C_T/∂C_L by
    ≤ 0.6 %, and the time lag of a straight-line fit over 3.5-5 lags (transients
    exp(−π²·3.5/6) ≈ 3e-3) plus BDF2 at 60 steps per lag add ≲ 0.5 %.
    """
    E_b = R_GAS * T * math.log(3.0e3)  # K = 3000
    N_T = 3.0 * N_L / 3.0e3  # N_T K/N_L = 3
    trap = Oriani(N_T, E_b)
    ratio = 1 + N_T * trap.K(T) / N_L
    lags = []
    for traps, factor in (([], 1.0), ([trap], ratio)):
        lag = ref.time_lag(L, D / factor)
        ts, _, Q = permeation(membrane(traps, 40, lag / 60), 5 * lag)
        lags.append(time_lag(ts, Q, 3.5 * lag) / lag)
    # lags in units of the expected lag: the trapped/untrapped ratio must be 1
    assert abs(lags[1] / lags[0] - 1) < 0.02, lags
