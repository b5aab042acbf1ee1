"""Lattice site saturation (Fermi–Dirac) with stress: equilibria and the lattice mobility.

References: Sofronis & McMeeking, J. Mech. Phys. Solids 37 (1989) 317 (μ = μ° +
RT ln(θ/(1−θ)) − V_H σ_h, N_L = 5.1e29 m⁻³ for iron); Krom, Koers & Bakker,
J. Mech. Phys. Solids 47 (1999) 971.
"""

import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
from dolfinx import fem

from femdiff import geometry
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import (
    R_GAS,
    ChemicalPotential,
    LatticeSaturation,
    Mobility,
    StressCoupling,
)
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics.fracture import KField
from femdiff.physics.mechanics import Displacement, Elasticity, ElasticMaterial
from femdiff.problems.diffusion import DiffusionProblem, FixedConcentration, FixedPotential

T = 300.0
RT = R_GAS * T
D = 1.27e-8  # m²/s, lattice diffusivity of H in iron (Sofronis–McMeeking)
L = 1.0e-3
TAU = L**2 / (D * math.pi**2)  # ≈ 8 s, decay time of the cos(πx/L) mode
V_H = 2.0e-6  # m³/mol
S0 = 1.0e9  # Pa: σ_h = S0 x/L, so V_H σ_h/RT reaches 0.80
AVOGADRO = 6.02214076e23
N_IRON = 5.1e29 / AVOGADRO  # 8.47e5 mol/m³


def stressed_rod(n_sites, c0, n=64):
    """Rod [0, L] with C = c0 at x = 0, closed at x = L, σ_h = S0 x/L."""
    domain = mesh.interval(n, L)
    x = ufl.SpatialCoordinate(domain.mesh)
    potential = ChemicalPotential([LatticeSaturation(T, n_sites),
                                   StressCoupling(V_H, S0 * x[0] / L)])
    return DiffusionProblem(domain, potential, Mobility.lattice(D, T, n_sites),
                            initial=c0, bcs=[FixedConcentration("left", c0)],
                            time=TimeControl(dt=4 * TAU))


@pytest.mark.mpi
@pytest.mark.parametrize("n_sites, c0", [
    (2000.0, 1000.0),  # θ0 = 0.5: far from dilute, so the test tells FD from Boltzmann
    (N_IRON, 2.084e21 / AVOGADRO),  # Krom et al.'s C_L0 = 2.084e21 m⁻³: θ0 = 4e-9
])
@pytest.mark.verification(quantity="lattice hydrogen at equilibrium under σ_h",
                         reference="θ/(1−θ) ∝ exp(V_H σ_h/RT)",
                         source="Sofronis & McMeeking, J. Mech. Phys. Solids 37 (1989) 317",
                         error="rel 1e-7 (nodally exact)")
def test_open_rod_reaches_fermi_dirac_equilibrium(n_sites, c0):
    """θ/(1−θ) = θ0/(1−θ0) exp(V_H σ_h/RT) node by node (μ uniform = μ of the reservoir).

    Slowest mode with one open end: τ' = 4τ; backward Euler at Δt = 4τ damps it by
    (1 + 1)^-30 ≈ 1e-9 in 30 steps. The lumped constitutive law makes the equilibrium
    nodally exact, so 1e-7 only covers that unrelaxed remainder (as in test_diffusion).
    """
    problem = stressed_rod(n_sites, c0)
    problem.run(120 * TAU)
    xs = problem.V_c.tabulate_dof_coordinates()[:, 0]
    y = c0 / (n_sites - c0) * np.exp(V_H * S0 * xs / L / RT)
    exact = n_sites * y / (1 + y)
    assert np.allclose(problem.C.x.array, exact, rtol=1e-7)
    dilute = c0 * np.exp(V_H * S0 * xs / L / RT)
    if c0 / n_sites > 0.1:
        # saturation matters: the dilute Boltzmann law overshoots by up to 2.2 / 1.7 ≈ 30 %
        assert not np.allclose(problem.C.x.array, dilute, rtol=1e-2)
        assert problem.C.x.array.max() < n_sites
    else:
        # dilute limit: C_L/C_L0 = exp(V_H σ_h/RT) up to θ ~ 1e-8
        assert np.allclose(problem.C.x.array, dilute, rtol=1e-7)


def decay_rate(mobility, n_sites, theta, amp):
    """Fitted D of the cos(πx/L) mode around θ̄ = ``theta`` on a closed rod, no stress."""
    domain = mesh.interval(128, L)
    mean = theta * n_sites
    problem = DiffusionProblem(
        domain, ChemicalPotential([LatticeSaturation(T, n_sites)]), mobility,
        initial=lambda x: mean * (1 + amp * np.cos(np.pi * x[0] / L)),
        time=TimeControl(dt=TAU / 200, scheme="bdf2"))
    problem.initialise()
    x = ufl.SpatialCoordinate(domain.mesh)
    mode = ufl.cos(ufl.pi * x[0] / L)

    def amplitude():
        return problem._integrate((problem.C - mean) * mode * ufl.dx)

    a0 = amplitude()
    t_end = 0.4 * TAU
    problem.run(t_end)
    return -math.log(amplitude() / a0) * L**2 / (math.pi**2 * t_end)


@pytest.mark.mpi
def test_lattice_mobility_gives_ficks_law_at_any_filling():
    """M = D C (1−θ)/RT makes J = −D ∇C exactly (∇μ = RT ∇C/(C(1−θ))): a large mode
    (θ from 0.2 to 0.8) decays at D π²/L², the linear rate, although μ is far from ln C.
    Errors O(h²) + O(Δt²) at h = L/128, Δt = τ/200 are ~1e-4 (as in test_diffusion's
    Einstein test); 1e-3 leaves margin."""
    N = 2000.0
    assert decay_rate(Mobility.lattice(D, T, N), N, 0.5, 0.6) == pytest.approx(D, rel=1e-3)


def test_dilute_mobility_overestimates_by_one_over_one_minus_theta():
    """With M = D C/RT instead, a small mode around θ̄ decays with D/(1−θ̄): at θ̄ = 0.5,
    2D. The amplitude 1e-3 makes the nonlinear correction O(1e-6)."""
    N = 2000.0
    D_fit = decay_rate(Mobility.from_diffusivity(D, T), N, 0.5, 1e-3)
    assert D_fit == pytest.approx(D / (1 - 0.5), rel=1e-3)


@pytest.mark.parametrize("make, message", [
    (lambda: LatticeSaturation(T, 5.1e29), "n_sites=5.1e+29 is implausible for molar units "
     "(expected 1000 to 1e+08 mol/m³); did you mean units='atomic'?"),
    (lambda: LatticeSaturation(T, N_IRON, units="atomic"), "did you mean units='molar'?"),
    (lambda: LatticeSaturation(-T, N_IRON), "temperature T [K] must be a positive"),
    (lambda: stressed_rod(2000.0, 2000.0).initialise(),
     "initial concentration must lie in (0, 2000)"),
])
def test_bad_input(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert message in str(info.value)


def test_potential_is_the_derivative_and_domain_is_the_lattice():
    """μ = ∂f/∂C = RT ln(θ/(1−θ)) by UFL differentiation; the domain is (0, N_L)."""
    N = 2000.0
    term = LatticeSaturation(T, N, mu0=123.0)
    cp = ChemicalPotential([term])
    assert cp.domain == (0.0, N)
    assert cp.scale == pytest.approx(RT)
    for c in (1.0, 500.0, 1999.0):
        value = float(ufl.algorithms.expand_derivatives(cp.dfdc(ufl.as_ufl(c))))
        assert value == pytest.approx(123.0 + RT * math.log(c / (N - c)), rel=1e-12)


@pytest.mark.mpi
def test_crack_tip_lattice_hydrogen_at_steady_state():
    """Issue #13, check 8: hydrogen ahead of a K_I = 30 MPa√m crack tip (the boundary layer
    of geometry.crack_tip loaded by fracture.KField), in equilibrium with a reservoir at
    the outer circle, reaches θ/(1−θ) = θ0/(1−θ0) exp(V_H σ_h/RT) at every node; at
    Krom et al.'s C_L0 this is C_L/C_L0 = exp(V_H σ_h/RT).

    σ_h: the P2 solve's σ_h projected onto P1 (a nodal field, so the lumped law holds node
    by node). Relaxation: the slowest mode of the disc decays in R²/(5.78 D); ten
    backward-Euler steps of R²/D damp it by 6.78^-10 ≈ 5e-9, so 1e-7 covers what remains.
    The peak C_L/C_L0 ≈ 100 at the first node off the tip (V_H σ_h/RT ≈ 4.7)."""
    R, T_ = 1e-2, 293.0
    rt = R_GAS * T_
    c0 = 2.084e21 / AVOGADRO
    material = ElasticMaterial(200e9, 0.3, "plane_strain")
    kfield = KField(30e6, material)
    domain = geometry.build("crack_tip", radius=R, grading=0.5, tip_size=R / 1000)
    solid = Elasticity(domain, material, [kfield.boundary_condition("outer"),
                                          Displacement("symmetry", {1: 0.0})],
                       degree=2, solver="lu")
    solid.solve()
    sigma_h = solid.sigma_h(space="CG", degree=1)
    potential = ChemicalPotential([LatticeSaturation(T_, N_IRON), StressCoupling(V_H, sigma_h)])
    mu_reservoir = rt * math.log(c0 / (N_IRON - c0))
    tau = R**2 / D
    problem = DiffusionProblem(domain, potential, Mobility.lattice(D, T_, N_IRON), initial=c0,
                               bcs=[FixedPotential("outer", mu_reservoir)],
                               time=TimeControl(dt=tau / 100))
    for k in range(17):  # Δt doubling from R²/(100 D) to R²/D, then ten steps of R²/D
        problem.step(min(tau / 100 * 2**k, tau))
    s = fem.Function(problem.V_c)
    s.interpolate(sigma_h)
    y = c0 / (N_IRON - c0) * np.exp(V_H * s.x.array / rt)
    assert np.allclose(problem.C.x.array, N_IRON * y / (1 + y), rtol=1e-7)
    # dilute: θ_L ≤ 5e-7 everywhere, so Boltzmann holds to that order
    assert np.allclose(problem.C.x.array / c0, np.exp(V_H * s.x.array / rt), rtol=1e-6)
    peak = problem.domain.comm.allreduce(float(problem.C.x.array.max()), op=MPI.MAX)
    assert 50 < peak / c0 < 200
