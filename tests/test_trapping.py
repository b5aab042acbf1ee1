"""Trap parameters and local laws: conventions, equilibria, the kinetic → equilibrium limit,
UFL evaluation and bad input.

The trap *problem* (fields in the μ–C solve) is not here yet; these are the laws it uses.
"""

import math

from mpi4py import MPI

import hydrogen_reference as ref
import numpy as np
import pytest
import ufl
from dolfinx import fem
from scipy import integrate

from femdiff.geometry import mesh
from femdiff.models.thermodynamics import K_BOLTZMANN, R_GAS
from femdiff.models.trap_laws import (
    AVOGADRO,
    EV,
    Arrhenius,
    McNabbFoster,
    Oriani,
    check_regions,
    check_trapped,
)

T = 293.0
N_L = 5.1e29 / AVOGADRO  # mol/m³ (iron, tetrahedral sites)
N_T = 1e-3 * N_L
E_B = 60e3  # J/mol (Krom et al.)


def test_arrhenius_molar_and_atomic_agree():
    """The same barrier in J/mol and in J per atom gives the same rate."""
    E_eV = 0.5
    molar = Arrhenius(1e13, E_eV * EV * AVOGADRO, "molar")
    atomic = Arrhenius(1e13, E_eV * EV, "atomic")
    assert molar(T) == pytest.approx(atomic(T), rel=1e-8)
    assert molar(T) == pytest.approx(1e13 * math.exp(-E_eV * EV / (K_BOLTZMANN * T)),
                                     rel=1e-8)
    assert Arrhenius(3.0, 0.0)(T) == 3.0  # no barrier


def test_per_site_and_per_volume_conventions_give_the_same_k():
    """A per-site frequency ν over N_L is the per-volume k (TMAP's α_t/N vs FESTIM's k)."""
    nu = 1e11  # 1/s
    per_site = McNabbFoster(N_T, nu, 20e3, 1e13, 80e3, rate_units="per_site", n_sites=N_L)
    per_volume = McNabbFoster(N_T, nu / N_L, 20e3, 1e13, 80e3)
    assert per_site.k(T) == pytest.approx(per_volume.k(T), rel=1e-14)
    assert per_site.k(T) == pytest.approx(nu / N_L * math.exp(-20e3 / (R_GAS * T)))


def test_mcnabb_foster_equilibrium_zeroes_the_rate():
    trap = McNabbFoster(N_T, 1e5, 0.0, 1e13, 50e3)
    for C in (1e-6, 1.0, 1e3):
        C_T = trap.equilibrium(C, T)
        assert 0 <= C_T <= N_T
        assert abs(trap.rate(C, C_T, T)) <= 1e-12 * trap.k(T) * C * N_T


def test_oriani_law_and_derivative_match_the_reference():
    trap = Oriani(N_T, E_B)
    K = math.exp(E_B / (R_GAS * T))
    assert trap.K(T) == pytest.approx(K)
    for C in (1e-6, 1e-3, 1.0):
        assert trap.trapped(C, T, N_L) == pytest.approx(ref.oriani_trapped(C, N_L, N_T, K),
                                                        rel=1e-12)
        assert trap.dtrapped(C, T, N_L) == pytest.approx(ref.oriani_dtrapped(C, N_L, N_T, K),
                                                         rel=1e-12)
    # dilute: ∂C_T/∂C_L → N_T K/N_L
    weak = Oriani(N_T, 10e3)
    K_weak = weak.K(T)
    assert weak.dtrapped(1e-12, T, N_L) == pytest.approx(N_T * K_weak / N_L, rel=1e-9)


def test_kinetic_equivalent_has_the_oriani_equilibrium_when_dilute():
    """Oriani.kinetic: k N_L/p = K. Its McNabb–Foster equilibrium equals Oriani's up to
    the lattice blocking factor (1 − θ_L), so the relative gap is O(θ_L)."""
    oriani = Oriani(N_T, E_B)
    for rate_units, k0 in (("per_volume", 1e5), ("per_site", 1e11)):
        mf = oriani.kinetic(k0, 20e3, N_L, rate_units)
        assert mf.k(T) * N_L / mf.p(T) == pytest.approx(oriani.K(T), rel=1e-10)
        for C in (1e-9, 1e-6, 1e-3):
            gap = abs(mf.equilibrium(C, T) / oriani.trapped(C, T, N_L) - 1)
            assert gap <= 2 * C / N_L + 1e-13  # (1 − θ_L) factor, plus round-off


def test_mcnabb_foster_tends_to_oriani_as_rates_grow():
    """Local ODE dC_T/dt = k C_L(t)(N_T − C_T) − p C_T under a slow lattice ramp C_L(t):
    with k, p both multiplied by λ (k/p fixed) the lag behind Oriani's C_T(C_L(t))
    falls like 1/λ (first-order relaxation with time constant 1/(λ(k C_L + p))): at
    t = 5 s the relative lag is ≈ (d ln C_L/dt)/p = (1/6)/(3.8 λ) ≈ 0.044/λ."""
    oriani = Oriani(N_T, 30e3)
    gaps = []
    for lam in (1.0, 10.0, 100.0):
        mf = oriani.kinetic(lam, 0.0, N_L)  # p = k N_L/K ≈ 3.8 λ /s: relaxes in 0.26/λ s

        def C_L(t):
            return 1e-3 * (1 + t)  # mol/m³, doubling in 1 s

        def rhs(t, y, trap=mf):
            return [trap.rate(C_L(t), y[0], T)]

        sol = integrate.solve_ivp(rhs,
                                  (0, 5.0), [oriani.trapped(C_L(0), T, N_L)],
                                  method="Radau", rtol=1e-10, atol=1e-14)
        gaps.append(abs(sol.y[0, -1] / oriani.trapped(C_L(5.0), T, N_L) - 1))
    rates = [math.log10(gaps[i] / gaps[i + 1]) for i in range(2)]
    # the lag is first order in 1/λ; the O(θ_L ~ 1e-8) blocking gap is far below it
    assert rates[0] == pytest.approx(1.0, abs=0.15)
    assert rates[1] == pytest.approx(1.0, abs=0.05)
    assert gaps[-1] < 1e-2


@pytest.mark.mpi
def test_ufl_laws_on_a_mesh(comm):
    """trapped/dtrapped/rate evaluate as UFL with a Function C_L, a Function T and a
    formula N_T(x), and agree with NumPy at the nodes (P1 interpolation of a nodal
    expression is exact at the nodes)."""
    domain = mesh.interval(8, 1.0, comm=comm)
    V = fem.functionspace(domain.mesh, ("Lagrange", 1))
    C = fem.Function(V)
    C.interpolate(lambda x: 1e-3 * (1 + x[0]))
    temp = fem.Function(V)
    temp.interpolate(lambda x: 300 + 100 * x[0])
    x = ufl.SpatialCoordinate(domain.mesh)
    oriani = Oriani(lambda x: N_T * (1 + x[0]), E_B)
    mf = McNabbFoster(lambda x: N_T * (1 + x[0]), 1e5, 0.0, 1e13, 50e3)
    out = fem.Function(V)
    X = V.tabulate_dof_coordinates()[:, 0]
    Cn, Tn, NTn = 1e-3 * (1 + X), 300 + 100 * X, N_T * (1 + X)
    K = np.exp(E_B / (R_GAS * Tn))
    for expr, exact in (
        (oriani.trapped(C, temp, N_L, x), ref.oriani_trapped(Cn, N_L, NTn, K)),
        (oriani.dtrapped(C, temp, N_L, x), ref.oriani_dtrapped(Cn, N_L, NTn, K)),
    ):
        out.interpolate(fem.Expression(expr, V.element.interpolation_points))
        assert np.allclose(out.x.array, exact, rtol=1e-10)
    # the McNabb–Foster rate at half the equilibrium filling: positive (traps fill)
    out.interpolate(fem.Expression(mf.rate(C, 0.5 * mf.equilibrium(C, temp, x), temp, x),
                                   V.element.interpolation_points))
    k, p = mf.k(Tn), mf.p(Tn)
    eq = NTn * (k / p * Cn) / (1 + k / p * Cn)
    assert np.allclose(out.x.array, k * Cn * (NTn - eq / 2) - p * eq / 2, rtol=1e-8)
    assert comm.allreduce(bool((out.x.array > 0).all()), op=MPI.LAND)


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda: McNabbFoster(-1.0, 1e5, 0, 1e13, 5e4), "trap density N_T must be a finite "
     "number ≥ 0, got -1.0"),
    (lambda: Oriani(-1.0, E_B), "trap density N_T must be a finite number ≥ 0"),
    (lambda: McNabbFoster(N_T, 0.0, 0, 1e13, 5e4), "trapping rate k0 prefactor must be a "
     "positive finite number, got 0.0"),
    (lambda: McNabbFoster(N_T, 1e5, 0, -1e13, 5e4), "detrapping rate p0 prefactor must be a "
     "positive finite number, got -10000000000000.0"),
    (lambda: McNabbFoster(N_T, 1e5, 0, 1e13, 0.8), "detrapping rate p0 activation "
     "energy=0.8 is implausible for molar units"),
    (lambda: McNabbFoster(N_T, 1e5, 0, 1e13, -5e4), "activation energy must be ≥ 0"),
    (lambda: McNabbFoster(1e26, 1e-17, 0, 1e13, 50e3, units="atomic"),
     "detrapping rate p0 activation energy=50000.0 is implausible for atomic units "
     "(expected 0 or 1.6e-22 to 1.6e-18 J per atom, i.e. 1 meV to 10 eV); in J/mol? "
     "use units='molar'"),
    (lambda: Oriani(N_T, 0.6), "in eV? multiply by 96485.3 for J/mol"),
    (lambda: McNabbFoster(1e26, 1e13, 0, 1e13, 0.5 * EV, units="atomic"),
     "trapping prefactor k0=10000000000000.0 is implausible for rate_units='per_volume', "
     "units='atomic' (expected 1e-29 to 1e-09 m³/s); it would fit rate_units='per_site'"),
    (lambda: McNabbFoster(1e26, 1e-17, 0, 1e13, 0.5 * EV, units="atomic",
                          rate_units="per_site", n_sites=5.1e29),
     "it would fit rate_units='per_volume' with units='atomic'"),
    (lambda: McNabbFoster(N_T, 1e11, 0, 1e13, 5e4, rate_units="per_site"),
     "rate_units='per_site' needs the lattice site density n_sites"),
    (lambda: McNabbFoster(N_T, 1e5, 0, 1e13, 5e4, rate_units="site"),
     "rate_units must be 'per_volume' or 'per_site', got 'site'"),
    (lambda: McNabbFoster(N_T, 1e5, 0, 1e13, 5e4, initial=2 * N_T),
     "initial trapped concentration 1693.7"),
    (lambda: McNabbFoster(N_T, 1e5, 0, 1e13, 5e4, initial=-1.0), "must lie in [0, N_T"),
    (lambda: Oriani(N_T, E_B, units="SI"), "units must be 'molar' or 'atomic'"),
    (lambda: Oriani("many", E_B), "trap density N_T must be a number, a callable"),
])
def test_bad_input(make, message):
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.mpi
def test_negative_density_function_is_rejected_on_every_rank(comm):
    domain = mesh.interval(8, 1.0, comm=comm)
    V = fem.functionspace(domain.mesh, ("Lagrange", 1))
    N = fem.Function(V, name="N_T")
    N.interpolate(lambda x: N_T * (x[0] - 0.75))  # negative for x < 0.75
    with pytest.raises(ValueError, match="has minimum"):
        Oriani(N, E_B)
    N.interpolate(lambda x: N_T * (1 + x[0]))
    assert Oriani(N, E_B).density is N


@pytest.mark.mpi
def test_trapped_range_and_regions(comm):
    check_trapped(np.array([0.0, 0.5, 1.0]), 1.0, comm)
    with pytest.raises(ValueError, match="above N_T by up to 0.5"):
        check_trapped(np.array([0.0, 1.5]), np.array([1.0, 1.0]), comm)
    with pytest.raises(ValueError, match="below 0 by up to 0.1"):
        check_trapped(np.array([-0.1]), 1.0, comm)
    check_regions([Oriani(N_T, E_B, region="steel")], ["steel", "weld"])
    with pytest.raises(ValueError) as info:
        check_regions([Oriani(N_T, E_B), Oriani(N_T, E_B, region="ferrite")], ["steel"])
    assert str(info.value) == ("trap 1 (Oriani) is in region 'ferrite', which has no "
                               "material; volumes: steel")
