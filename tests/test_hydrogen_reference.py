"""Checks of the analytic hydrogen references against limits derived independently."""

import math

import hydrogen_reference as ref
import numpy as np
import pytest
from scipy import integrate

L, D, C0 = 1.0e-3, 1.0e-9, 1.0


@pytest.mark.verification(quantity="the permeation reference itself: Q(t) and the time lag",
                         reference="L²/(6D)", source="Crank, The Mathematics of Diffusion, §4.3.2",
                         error="rel 1e-6")
def test_permeated_amount_is_the_integral_of_the_flux_and_lags_by_l2_over_6d():
    """Q(t) from Crank's series equals ∫J dt (quadrature, 1e-9), and its asymptote
    D C₀ (t − t_lag)/L meets the axis at L²/(6D): at t = 10 t_lag the remaining series is
    ~ exp(−π²·10/6) ≈ 7e-8 of L C₀."""
    t = np.linspace(0, 3 * L**2 / D, 7)[1:]
    for ti, qi in zip(t, ref.permeated_amount(t, L, D, C0), strict=True):
        quad = integrate.quad(lambda s: ref.permeation_flux(s, L, D, C0)[0], 0, ti,
                              epsabs=0, epsrel=1e-11, limit=400)[0]
        assert qi == pytest.approx(quad, rel=1e-9)
    t_lag = ref.time_lag(L, D)
    late = 10 * t_lag
    intercept = late - ref.permeated_amount(late, L, D, C0)[0] * L / (D * C0)
    assert intercept == pytest.approx(t_lag, rel=1e-6)
    assert t_lag == pytest.approx(L**2 / (6 * D))


def test_flux_limits():
    """J → 0 at t → 0⁺ and → D C₀/L at steady state."""
    assert ref.permeation_flux(1e-4 * L**2 / D, L, D, C0)[0] == pytest.approx(0, abs=1e-12)
    assert ref.permeation_flux(5 * L**2 / D, L, D, C0)[0] == pytest.approx(D * C0 / L,
                                                                           rel=1e-12)


def test_breakthrough_time_matches_longhurst_to_the_stated_accuracy():
    """The steepest-tangent intercept is s₀ = 0.4985 (computed), Longhurst's closed form
    1/2: they agree to 0.3 %, which bounds how a breakthrough test may use either."""
    tb = ref.breakthrough_time(L, D)
    assert tb == pytest.approx(ref.breakthrough_time_longhurst(L, D), rel=3.5e-3)
    assert tb != pytest.approx(ref.breakthrough_time_longhurst(L, D), rel=1e-4)
    # the tangent at the inflection really is the steepest one: J' there is the max of J'
    t = np.linspace(0.3, 2.0, 2001) * L**2 / (np.pi**2 * D)
    J = ref.permeation_flux(t, L, D, C0)
    slope = np.gradient(J, t)
    i = int(np.argmax(slope))
    intercept = t[i] - J[i] / slope[i]
    assert intercept == pytest.approx(tb, rel=1e-4)


def test_tmap_ver_1d_numbers():
    """TMAP8 ver-1d (Longhurst 1992): N = 3.1622e22 m⁻³, c = 1e-4, ρ = 0.1, D = 1 m²/s,
    L = 1 m, T = 1000 K, trapping D/λ² = 1e15 /s per site, release ν = 1e13 /s.
    ε/k = 100 K gives ζ = 91.47 c/ρ; ε/k = 10000 K gives 1.00454 c/ρ and τ_bd = 500 s."""
    N = 3.1622e22
    N_T, C0_ = 0.1 * N, 1e-4 * N
    k = 1e15 / N  # per volume
    for eps, zeta_over in ((100.0, 91.47), (10000.0, 1.00454)):
        p = 1e13 * math.exp(-eps / 1000.0)
        zeta = ref.trapping_parameter(k, p, N_T, C0_)
        # λ²ν e^{−ε/kT}/(ρ D) = 0.1 e^{−ε/1000 K} against c/ρ = 1e-3
        assert zeta / (C0_ / N_T) == pytest.approx(1 + 100 * math.exp(-eps / 1000), rel=1e-12)
        # TMAP8's documentation quotes the ratio truncated (91.47 for 91.484)
        assert zeta / (C0_ / N_T) == pytest.approx(zeta_over, rel=2e-4)
    assert ref.strong_trapping_breakthrough(1.0, 1.0, C0_, N_T) == pytest.approx(500.0)


def test_weak_traps_mcnabb_foster_agrees_with_dilute_oriani():
    """With ζ ≫ C₀/N_T (low filling), D/(1 + 1/ζ) → D/(1 + k N_T/p), which is Oriani's
    dilute D_L/(1 + N_T K/N_L) with K = k N_L/p."""
    N_L, N_T, k, p = 1e6, 1.0, 1e3, 1e5
    K = k * N_L / p
    C = 1e-8
    d_mf = ref.effective_diffusivity_mcnabb_foster(D, ref.trapping_parameter(k, p, N_T, C))
    d_or = ref.effective_diffusivity_oriani(D, C, N_L, N_T, K)
    assert d_mf == pytest.approx(D / (1 + N_T * K / N_L), rel=1e-6)
    assert d_or == pytest.approx(d_mf, rel=1e-6)


def test_oriani_derivative_and_forms():
    """∂C_T/∂C_L by the complex-step derivative; the dilute limit N_T K/N_L; Krom's form equals
    Oriani's to O(θ_L); and the equilibrium law itself holds."""
    N_L, N_T, K = 8.47e5, 8.47e5 * 1e-3, math.exp(60e3 / (ref.R_GAS * 293))
    for C in (1e-6, 1e-3, 1.0, 1e3):
        h = 1e-20 * C  # complex step: f'(C) = Im f(C + ih)/h to round-off
        cs = ref.oriani_trapped(C + 1j * h, N_L, N_T, K).imag / h
        assert ref.oriani_dtrapped(C, N_L, N_T, K) == pytest.approx(cs, rel=1e-12)
        tT, tL = ref.oriani_trapped(C, N_L, N_T, K) / N_T, C / N_L
        # at C = 1e3, 1 − θ_T ≈ 2e-8 cancels 8 of 16 digits: 1e-6
        assert tT / (1 - tT) == pytest.approx(K * tL / (1 - tL), rel=1e-6)
        krom = ref.effective_diffusivity_oriani_krom(1.0, C, N_L, N_T, K)
        assert krom == pytest.approx(ref.effective_diffusivity_oriani(1.0, C, N_L, N_T, K),
                                     rel=3 * C / N_L)
    dilute = ref.oriani_dtrapped(1e-12, N_L, 1e-12 * N_L, 1.0)
    assert dilute == pytest.approx(1e-12, rel=1e-9)


@pytest.mark.parametrize("E, p0", [(50e3, 1e13), (120e3, 1e11)])
def test_kissinger_relation_for_first_order_desorption(E, p0):
    """The computed spectrum peaks at the Kissinger temperature (to the grid step), and
    ln(β/T_p²) against 1/T_p over three heating rates has slope −E/R exactly (the
    relation is exact for first order: only the root-finding tolerance remains)."""
    betas = [0.05, 0.2, 1.0]  # K/s
    peaks = [ref.kissinger_peak(p0, E, b) for b in betas]
    assert peaks[0] < peaks[1] < peaks[2]
    T0 = peaks[0] - 150.0
    T = np.linspace(T0, peaks[0] + 60, 4001)
    _, flux = ref.tds_first_order(T, p0, E, betas[0], T0)
    assert T[int(np.argmax(flux))] == pytest.approx(peaks[0], abs=2 * (T[1] - T[0]))
    assert ref.kissinger_slope(betas, peaks) == pytest.approx(-E / ref.R_GAS, rel=1e-9)


def test_strong_trapping_front():
    """The quasi-static front ODE N_T dx/dt = D C₀/x integrated numerically reaches L at
    L² N_T/(2 C₀ D)."""
    N_T, C = 100.0, 1.0
    # starting at x = 1e-12 instead of 0 shifts the time by (1e-12/L)² relative
    t_exact = ref.strong_trapping_breakthrough(L, D, C, N_T)
    sol = integrate.solve_ivp(lambda t, x: [D * C / (N_T * x[0])], (0, 2 * t_exact),
                              [1e-12], events=lambda t, x: x[0] - L, rtol=1e-10,
                              atol=1e-18)
    assert sol.t_events[0][0] == pytest.approx(t_exact, rel=1e-6)
