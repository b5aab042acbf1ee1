"""Non-ideal free-energy terms: μ from ufl.diff against closed forms, convex-splitting
bounds, F bookkeeping, κ = 0, mobility × stress coupling, and input validation."""

import logging
import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
from dolfinx import fem

from femdiff.geometry import mesh
from femdiff.models.thermodynamics import (
    R_GAS,
    Activity,
    ChemicalPotential,
    DoubleWell,
    FreeEnergy,
    GradientEnergy,
    Ideal,
    Mobility,
    RegularSolution,
    StressCoupling,
)
from femdiff.numerics.timestepping import TimeControl
from femdiff.problems.diffusion import DiffusionProblem, FixedPotential

T = 800.0
RT = R_GAS * T


def nodal(expr_of_c, lo=0.02, hi=0.98, n=48):
    """Evaluate a UFL expression of c at the nodes of a P1 field c(x) = x on [lo, hi]."""
    d = mesh.interval(n, hi - lo, x0=lo, comm=MPI.COMM_SELF)
    V = fem.functionspace(d.mesh, ("Lagrange", 1))
    c = fem.Function(V)
    c.interpolate(lambda x: x[0])
    out = fem.Function(V)
    out.interpolate(fem.Expression(expr_of_c(c), V.element.interpolation_points))
    return c.x.array.copy(), out.x.array.copy()


def test_regular_solution_mu_is_the_derivative_of_f():
    """ufl.diff of f = c_s{RT[X ln X + (1−X)ln(1−X)] + Ω X(1−X)} gives the exchange
    potential RT ln(X/(1−X)) + Ω(1 − 2X); only round-off differs (1e-10 relative)."""
    omega, cs = 2.7 * RT, 3.0
    pot = ChemicalPotential([RegularSolution(T, omega, c_sites=cs)])
    c, mu = nodal(lambda c: pot.dfdc(cs * c))  # c here is X
    exact = RT * np.log(c / (1 - c)) + omega * (1 - 2 * c)
    assert np.allclose(mu, exact, rtol=1e-10, atol=1e-10 * RT)


def test_double_well_mu_is_the_derivative_of_f():
    """f = ρ(c−a)²(b−c)²: f′ = 2ρ(c−a)(b−c)(a+b−2c), exact in floating point."""
    a, b, rho = 0.3, 0.7, 5.0
    pot = ChemicalPotential([DoubleWell(rho, a, b)])
    c, mu = nodal(pot.dfdc, lo=-0.5, hi=1.5)
    assert np.allclose(mu, 2 * rho * (c - a) * (b - c) * (a + b - 2 * c), atol=1e-12)


def test_activity_general_gamma():
    """μ = μ° + RT ln(γ(X) X) for a UFL γ: γ = 1 is the ideal solution on the sites, and
    the regular-solution γ = exp(Ω(1−X)²/RT) gives RT ln X + Ω(1−X)² (round-off only)."""
    omega, mu0 = 2.0 * RT, 1234.0
    ideal = ChemicalPotential([Activity(T, lambda X: 1.0 + 0.0 * X, mu0=mu0)])
    reference = ChemicalPotential([Ideal(T, mu0=mu0, c_ref=1.0)])
    c, mu_a = nodal(ideal.dfdc)
    _, mu_i = nodal(reference.dfdc)
    assert np.allclose(mu_a, mu_i, rtol=1e-12, atol=1e-12 * RT)
    regular = ChemicalPotential(
        [Activity(T, lambda X: ufl.exp(omega * (1 - X) ** 2 / RT), mu0=mu0)])
    c, mu = nodal(regular.dfdc)
    assert np.allclose(mu, mu0 + RT * np.log(c) + omega * (1 - c) ** 2, rtol=1e-10)


def test_user_free_energy():
    """A user's own f(c): μ = f′(c) by differentiation (here f = c⁴ − c², f′ = 4c³ − 2c)."""
    pot = ChemicalPotential([FreeEnergy(lambda c: c**4 - c**2)])
    c, mu = nodal(pot.dfdc, lo=-1.0, hi=1.0)
    assert np.allclose(mu, 4 * c**3 - 2 * c, atol=1e-12)


@pytest.mark.parametrize("term, f2", [
    (DoubleWell(5.0, 0.3, 0.7),
     lambda c: 5.0 * (2 * (0.7 - c) ** 2 - 8 * (c - 0.3) * (0.7 - c) + 2 * (c - 0.3) ** 2)),
    (RegularSolution(T, 3 * RT, c_sites=2.0),
     lambda c: (RT / ((c / 2) * (1 - c / 2)) - 2 * 3 * RT) / 2.0),
])
def test_concave_bound_is_sharp(term, f2):
    """S = concave_bound makes f + S c²/2 convex, and no smaller S does (grid minimum of
    f″ + S is 0 within the grid spacing's O(h²) = 1e-8 relative)."""
    lo, hi = term.domain
    lo, hi = (max(lo, -1.0), min(hi, 2.0))
    c = np.linspace(lo, hi, 20001)[1:-1]
    S = term.concave_bound
    assert S > 0
    values = f2(c) + S
    assert values.min() >= -1e-8 * S
    assert values.min() <= 1e-6 * S


def test_free_energy_excludes_direct_mu_terms():
    """An Activity term adds μ directly but nothing to F (documented): F is f's integral."""
    d = mesh.interval(8, 1.0)
    pot = ChemicalPotential([Activity(T, lambda X: 1.0 + 0.0 * X),
                             DoubleWell(1.0, 0.3, 0.7)])
    p = DiffusionProblem(d, pot, Mobility.constant(1.0), initial=0.5,
                         time=TimeControl(dt=1.0), concentration_scale=1.0)
    # f = (0.2)²(0.2)² on the unit interval, exact in quadrature
    assert p.free_energy() == pytest.approx(0.2**4, rel=1e-12)


@pytest.mark.mpi
def test_kappa_zero_runs_outside_the_spinodal_and_warns_inside(caplog):
    """κ = 0 is allowed: outside the spinodal the regular solution smooths a step
    (downhill), conserving mass; initial data inside the spinodal trigger a warning that
    the problem is ill-posed there (the run still proceeds)."""
    pot = ChemicalPotential([RegularSolution(T, 3 * RT)])  # spinodal 0.211 < X < 0.789
    d = mesh.interval(40, 1.0)
    p = DiffusionProblem(d, pot, Mobility.constant(1e-2 / RT),
                         initial=lambda x: 0.05 + 0.05 * (x[0] > 0.5),
                         time=TimeControl(dt=0.5, scheme="bdf2"))
    with caplog.at_level(logging.WARNING, logger="femdiff.models.checks"):
        p.initialise()
    assert "spinodal" not in caplog.text
    m0 = p.amount()
    p.run(5.0)
    # downhill: the flux runs against ∇X on average
    assert p._integrate(ufl.inner(p.flux_ufl, ufl.grad(p.C)) * ufl.dx) < 0
    assert abs(p.amount() - m0) / m0 < 1e-10
    assert p._integrate((p.C - 0.075) ** 2 * ufl.dx) < 0.5 * 0.025**2
    q = DiffusionProblem(d, pot, Mobility.constant(1e-2 / RT), initial=0.5,
                         time=TimeControl(dt=0.5))
    with caplog.at_level(logging.WARNING, logger="femdiff.models.checks"):
        q.initialise()
    assert "spinodal" in caplog.text and "kappa" in caplog.text


@pytest.mark.mpi
def test_ch_mobility_with_stress_coupling_initial_flux():
    """M = M₀c(1−c) combines with V_int = −Ωσ_h: for uniform X₀ and σ_h = s₀x/L the
    initial flux is J = M₀X₀(1−X₀)Ω s₀/L although ∇X = 0 (μ is then the L2 projection of
    a P1 field onto P1, so only round-off remains: 1e-8)."""
    L, s0, omega, X0, M0 = 1.0e-3, 5.0e8, 2.0e-6, 0.3, 1.0e-12
    d = mesh.interval(20, L)
    V = fem.functionspace(d.mesh, ("Lagrange", 1))
    sigma = fem.Function(V)
    sigma.interpolate(lambda x: s0 * x[0] / L)
    pot = ChemicalPotential([RegularSolution(T, 1.5 * RT), StressCoupling(omega, sigma)])
    p = DiffusionProblem(d, pot, Mobility.cahn_hilliard(M0), initial=X0,
                         time=TimeControl(dt=1.0))
    J = p.flux(degree=0)
    n_owned = J.function_space.dofmap.index_map.size_local
    expected = M0 * X0 * (1 - X0) * omega * s0 / L
    assert np.allclose(J.x.array[:n_owned], expected, rtol=1e-8)


@pytest.mark.parametrize("make, error, message", [
    (lambda: GradientEnergy(-1.0), ValueError, "kappa"),
    (lambda: GradientEnergy(math.nan), ValueError, "kappa"),
    (lambda: DoubleWell(-5.0, 0.3, 0.7), ValueError, "rho"),
    (lambda: DoubleWell(5.0, 0.5, 0.5), ValueError, "c_alpha"),
    (lambda: RegularSolution(T, math.inf), ValueError, "omega_mix"),
    (lambda: RegularSolution(T, RT, c_sites=0.0), ValueError, "c_sites"),
    (lambda: Activity(T, 1.0), TypeError, "gamma"),
    (lambda: Activity(0.0, lambda X: X), ValueError, "temperature"),
    (lambda: Mobility.cahn_hilliard(0.0), ValueError, "M0"),
])
def test_bad_parameters_name_the_parameter(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("initial", [0.0, 2.5, lambda x: 2.1 * x[0] + 0.05])
def test_regular_solution_initial_data_outside_the_sites(initial):
    """X = c/c_sites must lie in (0, 1): with c_sites = 2 that is 0 < c < 2."""
    d = mesh.interval(8, 1.0)
    p = DiffusionProblem(d, ChemicalPotential([RegularSolution(T, RT, c_sites=2.0)]),
                         Mobility.constant(1.0), initial=initial, time=TimeControl(dt=1.0))
    with pytest.raises(ValueError, match=r"initial concentration must lie in \(0, 2\)"):
        p.initialise()


@pytest.mark.mpi
def test_energy_stable_regular_solution():
    """Convex splitting also for the regular solution (S = 2Ω − 4RT): with Δt ~7× above
    the explicit limit F never increases (up to the Newton tolerance, 1e-9 of |F|) and
    the amount is conserved to round-off (1e-10), while X stays inside (0, 1)."""
    pot = ChemicalPotential([RegularSolution(T, 3 * RT), GradientEnergy(2e-3 * RT)])
    d = mesh.rectangle(16, 16, 1.0, 1.0)
    p = DiffusionProblem(
        d, pot, Mobility.cahn_hilliard(1.0 / RT),
        initial=lambda x: 0.5 + 0.05 * np.cos(2 * np.pi * x[0]) * np.cos(3 * np.pi * x[1]),
        time=TimeControl(dt=0.05), energy_stable=True)
    p.initialise()
    m0, F = p.amount(), [p.free_energy()]
    for _ in range(10):
        p.step()
        F.append(p.free_energy())
    assert abs(p.amount() - m0) / m0 < 1e-10
    assert all(b <= a + 1e-9 * abs(F[0]) for a, b in zip(F, F[1:], strict=False)), F
    assert F[-1] < F[0]
    n_owned = p.V_c.dofmap.index_map.size_local
    assert 0 < p.C.x.array[:n_owned].min() and p.C.x.array[:n_owned].max() < 1


def test_user_free_energy_with_plain_number_coefficients():
    """FreeEnergy(lambda c: 0.5 * c**2): f″ = 1 is a constant UFL value with no mesh.

    It used to fail at the spinodal check ("Expression was created on a different mesh",
    issue #24) and at a FixedPotential (the nodal inversion's slope). With μ = C the run is
    the same as with the coefficient a fem.Constant: the states agree to round-off.
    """
    d = mesh.interval(8, 1.0)
    half = fem.Constant(d.mesh, 0.5)
    runs = []
    for coeff in (0.5, half):
        p = DiffusionProblem(
            d, ChemicalPotential([FreeEnergy(lambda c, a=coeff: a * c**2)]),
            Mobility.constant(1.0), initial=lambda x: 1 + 0.1 * x[0],
            time=TimeControl(dt=0.01), bcs=[FixedPotential("left", 2.0)])
        p.step()
        runs.append(p.C.x.array.copy())
    assert np.allclose(runs[0], runs[1], rtol=1e-12, atol=0)
    assert np.isclose(runs[0].max(), 2.0)  # μ = C: the reservoir's μ = 2 holds C = 2
