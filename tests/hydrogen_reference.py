"""Analytic references for hydrogen transport with traps (a test helper, NumPy/SciPy only).

Sources:
- Crank, *The Mathematics of Diffusion*, 2nd ed. (1975), §4.3.2: permeation through a
  membrane 0 < x < L with C(0) = C₀, C(L) = 0, initially empty; the cumulative amount
  Q(t) and the time lag t_lag = L²/(6D) (Daynes 1920, Barrer 1939).
- Longhurst et al., *Verification and validation of TMAP4*, EGG-FSP-10347 (1992), and
  Longhurst & Ambrosek, Fusion Sci. Technol. (2005), TMAP7 V&V, problem "1d", as
  reproduced in TMAP8's ``doc/content/verification_and_validation/ver-1d.md`` and
  ``test/tests/ver-1d``: the trapping parameter ζ, D_eff = D/(1 + 1/ζ), the
  breakthrough time L²/(2π² D_eff) (weak traps) and L² N_T/(2 C₀ D) (strong traps).
- Oriani, Acta Metall. 18 (1970) 147: local equilibrium, D_eff = D_L/(1 + ∂C_T/∂C_L).
- Kissinger, Anal. Chem. 29 (1957) 1702; Redhead, Vacuum 12 (1962) 203: first-order
  desorption at a linear ramp peaks where β E/(R T_p²) = p₀ exp(−E/(R T_p)), so
  ln(β/T_p²) = ln(p₀ R/E) − E/(R T_p).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize

R_GAS = 8.314462618  # J/(mol K)


# --- permeation through a membrane (Crank §4.3.2) ---------------------------------------

def _modes(t, L, D, terms):
    m = np.arange(1, terms + 1)[:, None]
    s = np.pi**2 * D * np.atleast_1d(np.asarray(t, dtype=float))[None, :] / L**2
    return m, s


def permeation_flux(t, L, D, C0, terms=2000):
    """Exit flux J(L, t) = (D C₀/L)[1 + 2 Σ (−1)^m exp(−m² π² D t/L²)]."""
    m, s = _modes(t, L, D, terms)
    return D * C0 / L * (1 + 2 * np.sum((-1.0) ** m * np.exp(-(m**2) * s), axis=0))


def permeated_amount(t, L, D, C0, terms=2000):
    """Q(t) = ∫₀ᵗ J dt' per unit area (Crank eq. 4.24a)."""
    m, s = _modes(t, L, D, terms)
    series = np.sum((-1.0) ** m / m**2 * np.exp(-(m**2) * s), axis=0)
    t = np.atleast_1d(np.asarray(t, dtype=float))
    return L * C0 * (D * t / L**2 - 1 / 6 - 2 / np.pi**2 * series)


def time_lag(L, D):
    """Intercept of Q(t)'s asymptote with the time axis: L²/(6D) (Crank eq. 4.24b)."""
    return L**2 / (6 * D)


def breakthrough_time(L, D):
    """Intercept of the steepest tangent of J(t) with the time axis (computed).

    With s = π² D t/L², the inflection of J is at s* ≈ 0.9056 and the tangent meets
    J = 0 at s₀ ≈ 0.4985: Longhurst's L²/(2π² D) (s₀ = 1/2) to 0.3 %.
    """
    m = np.arange(1, 200)

    def f(s, k):
        return (1 if k == 0 else 0) + 2 * np.sum((-1.0) ** m * (-(m**2)) ** k
                                                 * np.exp(-(m**2) * s))

    s_star = optimize.brentq(lambda s: f(s, 2), 0.3, 2.0, xtol=1e-14)
    s0 = s_star - f(s_star, 0) / f(s_star, 1)
    return s0 * L**2 / (np.pi**2 * D)


def breakthrough_time_longhurst(L, D_eff):
    """τ_be = L²/(2π² D_eff): the weak-trap (effective-diffusivity) breakthrough."""
    return L**2 / (2 * np.pi**2 * D_eff)


# --- traps --------------------------------------------------------------------------

def trapping_parameter(k, p, N_T, C0):
    """Longhurst's ζ = p/(k N_T) + C₀/N_T in concentration form (k per volume).

    Longhurst writes ζ = λ²ν exp((E_d − ε)/kT)/(ρ D₀) + c/ρ with ρ = N_T/N the trap
    fraction, c = C₀/N, trapping k = D/(λ² N) and detrapping p = ν exp(−ε/kT): the same.
    ζ ≫ C₀/N_T: effective-diffusivity regime; ζ ≈ C₀/N_T: strong trapping.
    """
    return p / (k * N_T) + C0 / N_T


def effective_diffusivity_mcnabb_foster(D, zeta):
    """D_eff = D/(1 + 1/ζ) (Longhurst, weak traps)."""
    return D / (1 + 1 / zeta)


def strong_trapping_breakthrough(L, D, C0, N_T):
    """τ_bd = L² N_T/(2 C₀ D): the trap-filling front x_f(t) reaches L.

    Behind the front the traps are full and C_L is linear, so N_T dx_f/dt = D C₀/x_f
    (mobile inventory C₀ ≪ N_T neglected): x_f² = 2 D C₀ t/N_T.
    """
    return L**2 * N_T / (2 * C0 * D)


def oriani_trapped(C_L, N_L, N_T, K):
    """C_T with θ_T/(1−θ_T) = K θ_L/(1−θ_L)."""
    y = K * (C_L / N_L) / (1 - C_L / N_L)
    return N_T * y / (1 + y)


def oriani_dtrapped(C_L, N_L, N_T, K):
    """∂C_T/∂C_L = N_T K/(N_L (1 − θ_L)² (1 + y)²) (→ N_T K/N_L when θ_L, y ≪ 1)."""
    theta = C_L / N_L
    y = K * theta / (1 - theta)
    return N_T * K / (N_L * (1 - theta) ** 2 * (1 + y) ** 2)


def effective_diffusivity_oriani(D_L, C_L, N_L, N_T, K):
    """D_eff = D_L/(1 + ∂C_T/∂C_L) (Oriani 1970)."""
    return D_L / (1 + oriani_dtrapped(C_L, N_L, N_T, K))


def effective_diffusivity_oriani_krom(D_L, C_L, N_L, N_T, K):
    """Krom et al.'s form D_L/(1 + C_T (1−θ_T)/C_L), equal to Oriani's for θ_L ≪ 1."""
    C_T = oriani_trapped(C_L, N_L, N_T, K)
    return D_L / (1 + C_T * (1 - C_T / N_T) / C_L)


# --- thermal desorption ------------------------------------------------------------------

def tds_first_order(T, p0, E, beta, T0, theta0=1.0):
    """First-order detrapping at T = T₀ + βt: (θ(T), −dθ/dt) for dθ/dt = −p₀ e^{−E/RT} θ.

    θ(T) = θ₀ exp(−(p₀/β) ∫_{T₀}^{T} exp(−E/(R T')) dT') (quadrature per point).
    """
    T = np.atleast_1d(np.asarray(T, dtype=float))
    rate = p0 * np.exp(-E / (R_GAS * T))
    integral = np.array([integrate.quad(lambda s: math.exp(-E / (R_GAS * s)), T0, Ti,
                                        epsabs=0, epsrel=1e-12, limit=200)[0] for Ti in T])
    theta = theta0 * np.exp(-p0 / beta * integral)
    return theta, rate * theta


def kissinger_peak(p0, E, beta):
    """Peak temperature T_p of first-order desorption: β E/(R T_p²) = p₀ exp(−E/(R T_p)).

    Independent of T₀ as long as the ramp starts well below the peak.
    """
    def g(T):
        return math.log(beta * E / (R_GAS * T**2)) - math.log(p0) + E / (R_GAS * T)

    return optimize.brentq(g, 10.0, 1.0e5, xtol=1e-12, rtol=1e-15)


def kissinger_slope(betas, peaks):
    """Least-squares slope of ln(β/T_p²) against 1/T_p (−E/R for first order)."""
    peaks = np.asarray(peaks, dtype=float)
    y = np.log(np.asarray(betas, dtype=float) / peaks**2)
    return float(np.polyfit(1 / peaks, y, 1)[0])
