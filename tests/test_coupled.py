"""Two-way chemo-mechanics (femdiff.problems.coupled): swelling, sphere under galvanostatic
charging (Cheng & Verbrugge 2009), a two-way 1D radial reference, monolithic =
staggered, free-energy decay, bad input.

Units are SI throughout; the test particle has R = 1 m and D = 1 m²/s, so τ = D t/R² = t.
"""

from __future__ import annotations

from mpi4py import MPI

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx import geometry as dgeom

from femdiff import geometry
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import R_GAS, ChemicalPotential, Ideal, Mobility, StressCoupling
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics.mechanics import Displacement, Elasticity, ElasticMaterial, Fixed
from femdiff.problems.coupled import Coupled, free_rigid_modes
from femdiff.problems.diffusion import DiffusionProblem, Flux

T = 300.0
RT = R_GAS * T
OMEGA = 3.5e-6  # m³/mol (LiMn2O4, Zhang, Shi & Sastry 2007)
NU = 0.3
C0 = 1.0e4  # mol/m³
SYMMETRY = ("x0", "y0", "z0")


def sigma_h_function(domain, degree=1):
    return fem.Function(fem.functionspace(domain.mesh, ("Discontinuous Lagrange", degree)))


def octant(h, comm=MPI.COMM_WORLD):
    return geometry.build("sphere_octant", comm, radius=1.0, h=h)


def symmetry_bcs():
    return [Displacement(name, {i: 0.0}) for i, name in enumerate(SYMMETRY)]


def point_values(f: fem.Function, points: np.ndarray) -> np.ndarray:
    """f at points (n × 3) on every rank (the value of the first rank owning a cell)."""
    m = f.function_space.mesh
    tree = dgeom.bb_tree(m, m.topology.dim)
    cand = dgeom.compute_collisions_points(tree, points)
    cells = dgeom.compute_colliding_cells(m, cand, points)
    size = int(np.prod(f.function_space.value_shape)) if f.function_space.value_shape else 1
    out = np.full((len(points), size), np.nan)
    for i in range(len(points)):
        links = cells.links(i)
        if len(links):
            out[i] = f.eval(points[i], links[:1]).reshape(-1)
    comm = m.comm
    gathered = comm.allgather(out)
    result = np.full_like(out, np.nan)
    for arr in gathered:  # the lowest rank that found the point wins
        fill = np.isnan(result[:, 0]) & ~np.isnan(arr[:, 0])
        result[fill] = arr[fill]
    assert not np.isnan(result).any(), "a point lies outside the mesh"
    return result


# --- 1. stress-free swelling ------------------------------------------------------------


@pytest.mark.mpi
@pytest.mark.parametrize("clamped", [False, True])
@pytest.mark.verification(quantity="stress of a free/clamped body swollen uniformly",
                         reference="0; −EΩΔC/(3(1−2ν)) I", source="analytic",
                         error="< 1e-7 of the stress scale (Krylov tolerance)")
def test_uniform_swelling(clamped, comm):
    """Uniform C = C_ref + ΔC: a free body swells stress-free, a clamped one carries
    σ = −E Ω ΔC / (3(1 − 2ν)) I (= −3K ε*, K the bulk modulus; ε* = ΩΔC/3).

    Both are exact in any FE space (uniform strain); the tolerance 1e-7 of the stress
    scale is the Krylov tolerance (GAMG-CG, rtol 1e-10) with a margin for 2 ranks.
    """
    E, dC = 10e9, 2.0e3
    d = mesh.box(2, 2, 2, comm=comm)
    bcs = ([Fixed(n) for n in ("left", "right", "front", "back", "bottom", "top")]
           if clamped else [Displacement("left", {0: 0.0}), Displacement("front", {1: 0.0}),
                            Displacement("bottom", {2: 0.0})])
    mech = Elasticity(d, ElasticMaterial(E, NU), bcs, degree=1)
    s = sigma_h_function(d, 0)
    diff = DiffusionProblem(d, ChemicalPotential([Ideal(T), StressCoupling(OMEGA, s)]),
                            Mobility.from_diffusivity(1.0, T), initial=C0 + dC,
                            time=TimeControl(dt=0.1))
    cp = Coupled(mech, diff, c_ref=C0)
    cp.step()
    scale = E * OMEGA * dC / (3 * (1 - 2 * NU))
    stress = cp.stress().x.array.reshape(-1, 3, 3)
    expected = -scale * np.eye(3) if clamped else np.zeros((3, 3))
    err = comm.allreduce(float(np.abs(stress - expected).max()) if stress.size else 0.0,
                         op=MPI.MAX)
    assert err < 1e-7 * scale, err
    # the uniform C stays uniform, μ = RT ln C − Ω σ_h
    c_err = comm.allreduce(float(np.abs(cp.C.x.array - C0 - dC).max()), op=MPI.MAX)
    assert c_err < 1e-9 * C0


def test_thermal_and_compositional_eigenstrains_add():
    """A clamped box at T = T_ref + ΔT with C = C_ref + ΔC: σ = −3K(αΔT + ΩΔC/3) I,
    K = E/(3(1 − 2ν)) (both eigenstrains isotropic and uniform; exact in any FE space;
    tolerance: the Krylov tolerance with margin, as above)."""
    E, alpha, dT, dC = 10e9, 1e-5, 50.0, 2.0e3
    d = mesh.box(2, 2, 2)
    mech = Elasticity(d, ElasticMaterial(E, NU, alpha=alpha),
                      [Fixed(n) for n in ("left", "right", "front", "back", "bottom", "top")],
                      temperature=T + dT, T_ref=T)
    diff = DiffusionProblem(d, ChemicalPotential([Ideal(T), StressCoupling(
        OMEGA, sigma_h_function(d, 0))]), Mobility.from_diffusivity(1.0, T),
        initial=C0 + dC, time=TimeControl(dt=0.1))
    cp = Coupled(mech, diff, c_ref=C0, scheme="staggered")
    cp.step()
    expected = -E / (1 - 2 * NU) * (alpha * dT + OMEGA * dC / 3)
    stress = cp.stress().x.array.reshape(-1, 3, 3)
    err = MPI.COMM_WORLD.allreduce(float(np.abs(stress - expected * np.eye(3)).max()),
                                   op=MPI.MAX)
    assert err < 1e-7 * abs(expected), err


# --- 2. one-way limit: Cheng & Verbrugge (2009) ------------------------------------------


def galvanostatic_c(r: np.ndarray, tau: float, j: float, n_terms: int = 200) -> np.ndarray:
    """C(r, τ) in a sphere (R = 1, D = 1) from C0 under the influx j: Carslaw & Jaeger
    (1959) §9.3, as used by Cheng & Verbrugge (2009) eq. (7), λ_n the roots of tan λ = λ.
    """
    from scipy.optimize import brentq

    lam = np.array([brentq(lambda x: np.tan(x) - x, n * np.pi + 1e-9,
                           n * np.pi + np.pi / 2 - 1e-9) for n in range(1, n_terms + 1)])
    r = np.atleast_1d(r).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        shape = np.where(r[:, None] > 1e-12,
                         np.sin(lam * r[:, None]) / np.where(r[:, None] > 1e-12, r[:, None], 1),
                         lam)
    series = (shape / (lam**2 * np.sin(lam)) * np.exp(-lam**2 * tau)).sum(axis=1)
    return C0 + j * (3 * tau + r**2 / 2 - 0.3 - 2 * series)


def cheng_verbrugge_stresses(tau: float, j: float, E: float) -> dict[str, float]:
    """σ_r, σ_θ at the centre and σ_θ at the surface of a free sphere (R = 1):
    Cheng & Verbrugge (2009) eqs. (9)–(10) (and Zhang, Shi & Sastry 2007) with the
    concentration above, σ_r(0) = σ_θ(0) = 2ΩE/(9(1−ν)) (C̄ − C(0)),
    σ_θ(R) = ΩE/(3(1−ν)) (C̄ − C(R)), σ_r(R) = 0; C̄ = C0 + 3 j τ (R = D = 1).
    """
    cbar = C0 + 3 * j * tau
    c0, cR = galvanostatic_c(np.array([0.0, 1.0]), tau, j)
    return {"centre": 2 * OMEGA * E / (9 * (1 - NU)) * (cbar - c0),
            "surface_theta": OMEGA * E / (3 * (1 - NU)) * (cbar - cR)}


def one_way_errors(h: float, j: float, E: float, taus: list[float]) -> list[float]:
    d = octant(h)
    mech = Elasticity(d, ElasticMaterial(E, NU), symmetry_bcs(), degree=2)
    diff = DiffusionProblem(d, ChemicalPotential([Ideal(T)]),
                            Mobility.from_diffusivity(1.0, T), initial=C0,
                            time=TimeControl(dt=0.005, scheme="bdf2"),
                            bcs=[Flux("surface", -j)])
    cp = Coupled(mech, diff, scheme="staggered", two_way=False, omega=OMEGA)
    scale = OMEGA * E / (3 * (1 - NU)) * j  # the stress scale ΩE/(3(1−ν)) · jR/D
    errors = []
    for tau in taus:
        cp.run(tau)
        exact = cheng_verbrugge_stresses(tau, j, E)
        s = point_values(cp.stress(), np.array([[0.0, 0, 0], [1.0, 0, 0]])).reshape(2, 3, 3)
        errors.append(max(abs(s[0, 0, 0] - exact["centre"]), abs(s[0, 1, 1] - exact["centre"]),
                          abs(s[1, 1, 1] - exact["surface_theta"]),
                          abs(s[1, 2, 2] - exact["surface_theta"]), abs(s[1, 0, 0])) / scale)
    return errors


@pytest.mark.verification(quantity="σ_r, σ_θ of a galvanostatically charged sphere (one-way)",
                         reference="analytic stresses",
                         source="Cheng & Verbrugge, J. Power Sources 190 (2009) 453",
                         error="0.026 → 0.0083 → 0.0023 measured; < 0.005")
def test_cheng_verbrugge_one_way():
    """Galvanostatic charging of a free sphere, one-way: σ_r, σ_θ at the centre and the
    surface at τ = 0.05, 0.1, 0.2 against Cheng & Verbrugge (2009), J. Power Sources
    190, 453, on an octant with symmetry planes.

    The mobility M = DC/RT with the ideal μ gives Fick's law with D = 1, as in the
    reference. The errors (max over the stress components, relative to ΩE jR/(3(1−ν)D),
    point values of the DG1 stress of P2 displacements and of P1 concentrations on a
    faceted sphere, BDF2 with Δτ = 0.005) must fall at every refinement h = 0.4 → 0.2
    → 0.1; measured max over τ 0.026 → 0.0083 → 0.0023 (rate ≈ 1.8), so the finest is
    asserted below 0.005.
    """
    j, E, taus = 0.5 * C0, 10e9, [0.05, 0.1, 0.2]
    errors = [one_way_errors(h, j, E, taus) for h in (0.4, 0.2, 0.1)]
    for coarse, fine in zip(errors[:-1], errors[1:], strict=True):
        assert all(f < c for f, c in zip(fine, coarse, strict=True)), errors
    assert max(errors[-1]) < 0.005, errors


# --- 3. two-way sphere against a 1D radial reference ----------------------------------------


def radial_reference(j: float, theta: float, taus: list[float], n: int = 400,
                     two_way: bool = True) -> list[tuple[float, float]]:
    """(C(0), C(R)) of ∂C/∂t = r⁻² ∂_r(r² D(1 + θC) ∂_r C), D(1 + θC)∂_r C = j at r = R.

    The stress-enhanced diffusivity follows from μ = RT ln C − Ωσ_h with the stress
    integral of the free sphere, σ_h = 2ΩE/(9(1−ν)) (C̄ − C) (Cheng & Verbrugge 2009;
    Zhang, Shi & Sastry 2007): J = −D∇C + (DCΩ/RT)∇σ_h = −D(1 + θC)∇C with
    θ = 2Ω²E/(9(1−ν)RT). Finite volumes on n shells (second order), BDF in time.
    """
    from scipy.integrate import solve_ivp

    edges = np.linspace(0.0, 1.0, n + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    vol = (edges[1:] ** 3 - edges[:-1] ** 3) / 3
    area = edges**2
    th = theta if two_way else 0.0

    def rhs(_, c):
        cf = 0.5 * (c[1:] + c[:-1])
        flux = np.zeros(n + 1)  # inward-positive radial flux −J·e_r at the edges
        flux[1:-1] = -(1 + th * cf) * (c[1:] - c[:-1]) / (centres[1:] - centres[:-1])
        flux[-1] = -j
        return -(area[1:] * flux[1:] - area[:-1] * flux[:-1]) / vol

    sol = solve_ivp(rhs, (0.0, max(taus)), np.full(n, C0), method="BDF", t_eval=taus,
                    rtol=1e-9, atol=1e-6)
    # C at r = 0 and r = R: quadratic extrapolation from the first/last three shells
    out = []
    for k in range(len(taus)):
        c = sol.y[:, k]
        c_centre = np.polyval(np.polyfit(centres[:3] ** 2, c[:3], 1), 0.0)
        c_surface = np.polyval(np.polyfit(centres[-3:], c[-3:], 2), 1.0)
        out.append((c_centre, c_surface))
    return out


def two_way_errors(h: float, j: float, E: float, taus: list[float],
                   ref: list[tuple[float, float]]) -> list[float]:
    d = octant(h)
    mech = Elasticity(d, ElasticMaterial(E, NU), symmetry_bcs(), degree=2)
    s = sigma_h_function(d)
    diff = DiffusionProblem(d, ChemicalPotential([Ideal(T), StressCoupling(OMEGA, s)]),
                            Mobility.from_diffusivity(1.0, T), initial=C0,
                            time=TimeControl(dt=0.01, scheme="bdf2"),
                            bcs=[Flux("surface", -j)])
    cp = Coupled(mech, diff)  # monolithic
    errors = []
    for tau, (c0_ref, cR_ref) in zip(taus, ref, strict=True):
        cp.run(tau)
        c0, cR = point_values(cp.C, np.array([[0.0, 0, 0], [1.0, 0, 0]]))[:, 0]
        errors.append(max(abs(c0 - c0_ref), abs(cR - cR_ref)) / j)
    return errors


def two_way_setup():
    j, E = 0.5 * C0, 50e9
    theta = 2 * OMEGA**2 * E / (9 * (1 - NU) * RT)
    taus = [0.05, 0.1]
    return j, E, taus, radial_reference(j, theta, taus), radial_reference(
        j, theta, taus, two_way=False)


def test_two_way_sphere_radial_reference_coarse():
    """The coarse half of the refinement study below (h = 0.3, ~2 s): the error of C(0),
    C(R) relative to jR/D was measured 0.0076; asserted below 0.012. The one-way
    difference (≥ 0.08 jR/D) is 7× that bound, so a lost feedback fails this test."""
    j, E, taus, ref, one_way = two_way_setup()
    for (c0, cR), (c0_one, cR_one) in zip(ref, one_way, strict=True):
        assert abs((cR_one - c0_one) - (cR - c0)) > 5 * 0.012 * j
    assert max(two_way_errors(0.3, j, E, taus, ref)) < 0.012


@pytest.mark.slow
@pytest.mark.verification(quantity="C(0), C(R) of a two-way coupled sphere",
                         reference="1D radial reference (800 shells)",
                         source="Larché–Cahn two-way model, 1D solve in tests/test_coupled.py",
                         error="0.0076 → 0.0025 measured; < 0.005")
def test_two_way_sphere_radial_reference():
    """Two-way octant (monolithic) against the 1D radial reference above, at τ = 0.05, 0.1.

    θ C0 = 0.78 (E = 50 GPa), so the stress nearly doubles the effective diffusivity:
    the one-way (θ = 0) surface–centre difference exceeds the two-way one by ≥ 0.08 jR/D,
    16× the tolerance, so the test fails if the feedback is lost. The reference itself
    changes by < 1e-6 jR/D from n = 400 to 800 shells, and its θ = 0 case reproduces the
    analytic galvanostatic C. Errors of C(0), C(R) relative to jR/D must fall under
    refinement h = 0.3 → 0.15 (measured 0.0076 → 0.0025); the finest is asserted below
    0.005.
    """
    j, E = 0.5 * C0, 50e9
    theta = 2 * OMEGA**2 * E / (9 * (1 - NU) * RT)
    taus = [0.05, 0.1]
    ref = radial_reference(j, theta, taus)
    one_way = radial_reference(j, theta, taus, two_way=False)
    for (c0, cR), (c0_one, cR_one) in zip(ref, one_way, strict=True):
        assert abs((cR_one - c0_one) - (cR - c0)) > 10 * 0.005 * j
    assert abs(one_way[-1][0] - galvanostatic_c(np.array([0.0]), taus[-1], j)[0]) < 1e-4 * j
    coarse = two_way_errors(0.3, j, E, taus, ref)
    fine = two_way_errors(0.15, j, E, taus, ref)
    assert max(fine) < max(coarse), (coarse, fine)
    assert max(fine) < 0.005, (coarse, fine)


# --- 4. monolithic = staggered; 5. free energy and amount ------------------------------------


def closed_particle(scheme: str, comm=MPI.COMM_WORLD):
    d = octant(0.4, comm)
    mech = Elasticity(d, ElasticMaterial(50e9, NU), symmetry_bcs(), degree=2)
    s = sigma_h_function(d)
    x = ufl.SpatialCoordinate(d.mesh)
    diff = DiffusionProblem(d, ChemicalPotential([Ideal(T), StressCoupling(OMEGA, s)]),
                            Mobility.from_diffusivity(1.0, T),
                            initial=C0 * (1 + 0.5 * x[0] ** 2 * x[1]),
                            time=TimeControl(dt=0.01, scheme="backward_euler"))
    return Coupled(mech, diff, scheme=scheme, c_ref=C0, tol=1e-10)


@pytest.mark.mpi
def test_monolithic_equals_staggered_and_energy_decays(comm):
    """A closed octant relaxing from a nonuniform C, backward Euler, both schemes.

    * The fixed point of the staggered iteration is the monolithic BE solution: they
      agree to the staggered tolerance (1e-10 relative; asserted 1e-8, the fixed point
      contracts with factor ~θC/(1+θC) ≈ 0.4, so the last correction bounds the error
      up to 1/(1 − 0.4)).
    * F = ∫ RT C(ln C − 1) + ½σ:(ε−ε*) dx never increases (BE of a gradient flow of a
      convex F; Larché & Cahn 1985), and the elastic energy is part of it (nonzero).
    * The amount is conserved to 1e-10 (no flux; the residual is conservative).
    """
    runs = {}
    for scheme in ("monolithic", "staggered"):
        cp = closed_particle(scheme, comm)
        cp.initialise()
        amount0, energies = cp.amount(), [cp.free_energy()]
        elastic0 = cp.elastic_energy()
        for _ in range(4):
            cp.step()
            energies.append(cp.free_energy())
            assert abs(cp.amount() - amount0) < 1e-10 * amount0
        assert elastic0 > 0
        drops = np.diff(energies)
        assert (drops <= 1e-12 * abs(energies[0])).all(), energies
        assert drops.sum() < 0
        runs[scheme] = cp
        if scheme == "staggered":
            assert cp.iterations > 1
    a, b = (runs[s].C.x.array for s in ("monolithic", "staggered"))
    diff = comm.allreduce(float(np.abs(a - b).max()), op=MPI.MAX)
    assert diff < 1e-8 * C0, diff
    sa, sb = (runs[s].sigma_h.x.array for s in ("monolithic", "staggered"))
    sdiff = comm.allreduce(float(np.abs(sa - sb).max()), op=MPI.MAX)
    smax = comm.allreduce(float(np.abs(sa).max()), op=MPI.MAX)
    assert sdiff < 1e-7 * smax


@pytest.mark.mpi
def test_serial_equals_parallel(comm):
    """The same closed-particle run on one rank (COMM_SELF, on every rank) and on all
    ranks: the free energy, elastic energy and max σ_h agree to 1e-9 (Newton's rtol
    1e-10 on the same mesh; only the partition and the Krylov iterates differ)."""
    results = []
    for c in (MPI.COMM_SELF, comm):
        cp = closed_particle("monolithic", c)
        cp.step()
        cp.step()
        smax = c.allreduce(float(np.abs(cp.sigma_h.x.array).max()), op=MPI.MAX)
        results.append(np.array([cp.free_energy(), cp.elastic_energy(), smax]))
    assert np.allclose(results[0], results[1], rtol=1e-9, atol=0), results


# --- bad input -----------------------------------------------------------------------------


def small_problems(bcs=None, omega=OMEGA, stress=True):
    d = mesh.box(2, 2, 2)
    mech = Elasticity(d, ElasticMaterial(10e9, NU),
                      [Fixed("left")] if bcs is None else bcs, degree=1)
    terms = [Ideal(T)] + ([StressCoupling(omega, sigma_h_function(d, 0))] if stress else [])
    diff = DiffusionProblem(d, ChemicalPotential(terms), Mobility.from_diffusivity(1.0, T),
                            initial=C0, time=TimeControl(dt=0.1))
    return mech, diff


def test_two_way_without_mechanics():
    _, diff = small_problems()
    with pytest.raises(ValueError, match="needs a mechanics problem"):
        Coupled(None, diff)


def test_two_way_without_stress_coupling():
    mech, diff = small_problems(stress=False)
    with pytest.raises(ValueError, match="needs a StressCoupling"):
        Coupled(mech, diff)


def test_omega_given_twice():
    mech, diff = small_problems()
    with pytest.raises(ValueError, match="Ω is given twice"):
        Coupled(mech, diff, omega=2 * OMEGA)
    Coupled(mech, diff, omega=OMEGA)  # the same value once more is fine


@pytest.mark.parametrize("bcs", [[], [Displacement("left", {0: 0.0})],
                                 [Displacement("left", {0: 0.0, 1: 0.0, 2: 0.0})]])
def test_free_rigid_mode_is_reported_before_the_solve(bcs):
    """No support (6 modes free), a roller u_x = 0 on x = 0 (3 free: the translations
    along y, z and the rotation about x): a clear error at initialise(), before any
    PETSc solve. A face fixed in every component removes all 6."""
    mech, diff = small_problems(bcs=bcs)
    cp = Coupled(mech, diff)
    free = 6 if not bcs else (3 if len(bcs[0].components) == 1 else 0)
    if free == 0:
        cp.initialise()  # a fully fixed face removes every mode
        assert free_rigid_modes(mech.V, mech.dirichlet) == 0
        return
    with pytest.raises(ValueError, match=f"leaves {free} rigid-body mode"):
        cp.initialise()


def test_symmetry_planes_remove_every_mode():
    d = mesh.box(2, 2, 2)
    mech = Elasticity(d, ElasticMaterial(10e9, NU),
                      [Displacement("left", {0: 0.0}), Displacement("front", {1: 0.0}),
                       Displacement("bottom", {2: 0.0})], degree=1)
    mech.initialise()
    assert free_rigid_modes(mech.V, mech.dirichlet) == 0
    mech2 = Elasticity(d, ElasticMaterial(10e9, NU),
                       [Displacement("left", {0: 0.0}), Displacement("front", {1: 0.0})],
                       degree=1)
    mech2.initialise()
    assert free_rigid_modes(mech2.V, mech2.dirichlet) == 1  # translation along z


def test_incompressible_nu_rejected():
    """ν = 0.5 makes the bulk modulus K = E/(3(1 − 2ν)) infinite."""
    with pytest.raises(ValueError, match=r"nu must lie in .*bulk modulus .* infinite"):
        ElasticMaterial(10e9, 0.5)


def test_bad_scheme_and_initialised_problems():
    mech, diff = small_problems()
    with pytest.raises(ValueError, match="scheme must be"):
        Coupled(mech, diff, scheme="explicit")
    diff.initialise()
    with pytest.raises(RuntimeError, match="not initialised"):
        Coupled(mech, diff)


# --- case files -------------------------------------------------------------------------------


def test_case_file_two_way(tmp_path):
    """cases/electrode_particle.toml validates; two_way without a 'stress' term, or with
    model 'mechanics', is refused with the key path."""
    from pathlib import Path

    from femdiff import case

    text = (Path(__file__).resolve().parent.parent / "cases"
            / "electrode_particle.toml").read_text()
    case.load(Path(__file__).resolve().parent.parent / "cases" / "electrode_particle.toml")
    bad = tmp_path / "no_stress.toml"
    bad.write_text(text.replace('{ type = "ideal" }, { type = "stress" }',
                                '{ type = "ideal" }'))
    with pytest.raises(Exception, match="mechanics.two_way.*needs a 'stress' term"):
        case.load(bad)


# --- traps composed with two-way mechanics -------------------------------------------------


def _trapped_coupled(d, bcs, scheme, initial, comm):
    from femdiff.models.trap_laws import McNabbFoster, Oriani
    from femdiff.problems.trapping import TrappingProblem

    # P2 displacements: σ_h(u, C) is exactly the DG1 Function the staggered scheme uses
    mech = Elasticity(d, ElasticMaterial(10e9, NU), bcs, degree=2)
    s = sigma_h_function(d, 1)
    traps = [Oriani(density=2.0e3, binding_energy=1.0e4),
             McNabbFoster(density=1.0e3, k0=1.0e-3, E_k=0.0, p0=1.0, E_p=0.0)]
    diff = TrappingProblem(d, ChemicalPotential([Ideal(T), StressCoupling(OMEGA, s)]),
                           Mobility.from_diffusivity(1.0, T), traps=traps, temperature=T,
                           n_sites=1.0e5, trap_initial="equilibrium", initial=initial,
                           time=TimeControl(dt=0.02, scheme="backward_euler"))
    return Coupled(mech, diff, c_ref=C0, scheme=scheme, tol=1e-10), traps


@pytest.mark.mpi
def test_traps_with_two_way_mechanics_uniform(comm):
    """Traps + two-way mechanics on a clamped, uniformly charged box: the state stays
    uniform, σ = −3K ε* I (ε* = ΩΔC/3, K = E/(3(1−2ν))), the Oriani population is
    N_T y/(1+y) with y = K θ/(1−θ), K = exp(E_b/RT) (Oriani 1970), the McNabb–Foster one
    stays at its equilibrium N_T kC/(kC + p), and nothing is lost.

    All exact in any FE space (uniform fields): the tolerances are the Krylov and
    Newton tolerances (1e-10) with a margin for 2 ranks.
    """
    dC = 2.0e3
    d = mesh.box(2, 2, 2, comm=comm)
    bcs = [Fixed(n) for n in ("left", "right", "front", "back", "bottom", "top")]
    cp, traps = _trapped_coupled(d, bcs, "monolithic", C0 + dC, comm)
    cp.initialise()
    before = cp.problem.inventory()
    cp.run(0.06)
    after = cp.problem.inventory()
    E = 10e9
    scale = E * OMEGA * dC / (3 * (1 - 2 * NU))
    stress = cp.stress().x.array.reshape(-1, 3, 3)
    err = comm.allreduce(float(np.abs(stress + scale * np.eye(3)).max()) if stress.size
                         else 0.0, op=MPI.MAX)
    assert err < 1e-7 * scale, err
    C = C0 + dC
    theta = C / 1.0e5
    y = np.exp(1.0e4 / (8.314462618 * T)) * theta / (1 - theta)
    oriani = 2.0e3 * y / (1 + y)
    k, p = 1.0e-3, 1.0
    mcnabb = 1.0e3 * k * C / (k * C + p)
    assert after["trap0"] == pytest.approx(oriani, rel=1e-9)
    assert after["trap1"] == pytest.approx(mcnabb, rel=1e-9)
    assert after["mobile"] == pytest.approx(C, rel=1e-9)
    assert abs(after["total"] - before["total"]) <= 1e-10 * before["total"]


@pytest.mark.mpi
def test_traps_with_two_way_mechanics_monolithic_equals_staggered(comm):
    """A charged face of a free cube with traps: the monolithic (one Newton) and the
    staggered (fixed point to 1e-10) schemes solve the same discrete problem, so C and
    the trapped amount agree to the fixed-point tolerance (asserted 1e-8 relative: the
    fixed point's last correction bounds its error up to the contraction factor)."""
    results = []
    for scheme in ("monolithic", "staggered"):
        d = mesh.box(3, 3, 3, comm=comm)
        bcs = [Displacement("left", {0: 0.0}), Displacement("front", {1: 0.0}),
               Displacement("bottom", {2: 0.0})]
        cp, _ = _trapped_coupled(d, bcs, scheme, lambda x: C0 * (1 + 0.5 * x[0]), comm)
        cp.run(0.06)
        results.append((cp.C.x.array.copy(), cp.problem.trapped_amount()))
    (c1, t1), (c2, t2) = results
    err = comm.allreduce(float(np.abs(c1 - c2).max()), op=MPI.MAX)
    assert err < 1e-8 * C0, err
    assert t1 == pytest.approx(t2, rel=1e-8)
