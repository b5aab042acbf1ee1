"""Periodic cells under a prescribed mean strain (femdiff.problems.homogenisation)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import ufl
from dolfinx import fem

from femdiff.geometry import mesh
from femdiff.models.materials import Material
from femdiff.physics.mechanics import ElasticMaterial
from femdiff.problems.homogenisation import PeriodicElasticity

BOTH = [("left", "right"), ("bottom", "top")]


def lame(E, nu):
    return E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))


def plane_strain_stiffness(E, nu):
    mu, lam = lame(E, nu)
    return np.array([[lam + 2 * mu, lam, 0], [lam, lam + 2 * mu, 0], [0, 0, mu]])


def laminate_stiffness(layers):
    """Exact plane-strain effective stiffness (Voigt xx, yy, xy) of isotropic layers stacked
    along x, [(volume fraction, E, ν)] (Backus 1962, J. Geophys. Res. 67:4427; Milton, The
    Theory of Composites, §9.5). Across the layers the tangential strain ε_yy = ε̄_yy and the
    tractions σ_xx, σ_xy are uniform; with M = λ + 2μ and ⟨·⟩ the volume average:
    C_xxxx = 1/⟨1/M⟩ (the Reuss average of M), C_xxyy = ⟨λ/M⟩/⟨1/M⟩,
    C_yyyy = ⟨M⟩ − ⟨λ²/M⟩ + ⟨λ/M⟩²/⟨1/M⟩, C_xyxy = 1/⟨1/μ⟩."""
    f = np.array([w for w, _, _ in layers])
    mu, lam = np.array([lame(E, nu) for _, E, nu in layers]).T
    M = lam + 2 * mu

    def avg(q):
        return float(f @ q)

    c11 = 1 / avg(1 / M)
    c12 = avg(lam / M) * c11
    c22 = avg(M) - avg(lam**2 / M) + avg(lam / M) ** 2 * c11
    return np.array([[c11, c12, 0], [c12, c22, 0], [0, 0, 1 / avg(1 / mu)]])


@pytest.mark.mpi
def test_homogeneous_cell_has_uniform_stress_and_no_fluctuation():
    """One material: ũ = 0 and σ = C : Ē exactly (the affine field solves the problem), so
    the only error is the CG+GAMG tolerance (rtol 1e-10 of the default options; measured
    ~1e-12 relative, bound 1e-8)."""
    E, nu = 200e9, 0.3
    d = mesh.periodic(mesh.rectangle(6, 5, 1.0, 0.8), BOTH)
    Ebar = np.array([[1e-3, 2e-4], [2e-4, -5e-4]])
    p = PeriodicElasticity(d, ElasticMaterial(E=E, nu=nu, model="plane_strain"), Ebar)
    u = p.solve()
    unorm = d.comm.allreduce(float(np.abs(u.x.array).max(initial=0.0)), op=max)
    assert unorm < 1e-8 * 1e-3  # |ũ| ≪ |Ē| L
    mu, lam = lame(E, nu)
    exact = 2 * mu * Ebar + lam * np.trace(Ebar) * np.eye(2)
    assert np.allclose(p.mean_stress(), exact, rtol=0, atol=1e-8 * np.abs(exact).max())
    C = p.effective_stiffness()
    ref = plane_strain_stiffness(E, nu)
    assert np.allclose(C, ref, rtol=0, atol=1e-8 * ref.max())
    assert np.array_equal(p.mean_strain, Ebar)  # restored after the unit solves


@pytest.mark.mpi
@pytest.mark.parametrize("solver", ["lu", "gamg"])
@pytest.mark.verification(quantity="effective stiffness of a two-layer laminate",
                         reference="Backus closed form",
                         source="Backus, J. Geophys. Res. 67 (1962) 4427",
                         error="~1e-13 (LU) measured; 1e-7 asserted")
def test_laminate_effective_stiffness_is_exact(solver):
    """Two layers (30 % stiff, 70 % soft, stacked along x, interfaces on mesh lines): the
    exact fluctuation is piecewise linear in x, which P1 holds, so C̄ equals Backus's
    closed form up to solver tolerance (LU: round-off, measured ~1e-13; GAMG: rtol 1e-10;
    bound 1e-7 relative). The laminate's C_xxxx is the Reuss bound of M = λ + 2μ and lies
    far below its Voigt bound ⟨M⟩ (here by 2.4×), so an error that smeared the layers (or
    ignored the fluctuation: C̄ would be the Voigt average) fails the check."""
    (Ea, nua), (Eb, nub) = (400e9, 0.25), (40e9, 0.35)
    d = mesh.with_volumes(mesh.rectangle(10, 4, 1.0, 0.4),
                          {"stiff": lambda x: x[0] < 0.3, "soft": lambda x: x[0] > 0.3})
    d = mesh.periodic(d, BOTH)
    materials = [Material("stiff", ("stiff",), E=Ea, nu=nua),
                 Material("soft", ("soft",), E=Eb, nu=nub)]
    p = PeriodicElasticity(d, materials, model="plane_strain", solver=solver)
    C = p.effective_stiffness()
    ref = laminate_stiffness([(0.3, Ea, nua), (0.7, Eb, nub)])
    assert np.allclose(C, ref, rtol=0, atol=1e-7 * ref.max())
    voigt = 0.3 * plane_strain_stiffness(Ea, nua) + 0.7 * plane_strain_stiffness(Eb, nub)
    assert voigt[0, 0] / C[0, 0] > 2.0


@pytest.mark.mpi
def test_mean_strain_is_the_mean_of_the_total_strain():
    """⟨Ē + ε(ũ)⟩ = Ē because ũ is periodic (∫ ε(ũ) = ∮ sym(ũ ⊗ n) cancels on opposite
    sides), here with a non-trivial ũ (a laminate loaded across its layers); and the total
    displacement on the parent mesh is Ē·x + ũ, whose jump across the cell is Ē·L
    (checked at the corners; both are exact up to round-off, bound 1e-10 relative)."""
    d = mesh.with_volumes(mesh.rectangle(8, 4, 1.0, 0.5),
                          {"a": lambda x: x[0] < 0.5, "b": lambda x: x[0] > 0.5})
    d = mesh.periodic(d, BOTH)
    Ebar = np.array([[2e-3, 5e-4], [5e-4, 1e-3]])
    p = PeriodicElasticity(d, [Material("a", ("a",), E=100.0, nu=0.2),
                               Material("b", ("b",), E=10.0, nu=0.3)],
                           Ebar, model="plane_strain", solver="lu")
    p.solve()
    vol = d.comm.allreduce(fem.assemble_scalar(fem.form(1.0 * ufl.dx(domain=d.mesh))))
    eps = p.strain()
    mean = np.array([[d.comm.allreduce(fem.assemble_scalar(fem.form(eps[i, j] * ufl.dx)))
                      for j in range(2)] for i in range(2)]) / vol
    assert np.allclose(mean, Ebar, rtol=0, atol=1e-10 * np.abs(Ebar).max())
    fluct = d.comm.allreduce(fem.assemble_scalar(fem.form(ufl.inner(p.u, p.u) * ufl.dx)))
    assert math.sqrt(fluct / vol) > 1e-2 * np.abs(Ebar).max()  # ũ is not trivial
    u = p.total_displacement()
    from dolfinx import geometry as dgeom

    pts = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.0], [1.0, 0.5, 0.0]])
    msh = u.function_space.mesh
    tree = dgeom.bb_tree(msh, msh.topology.dim)
    cells = dgeom.compute_colliding_cells(msh, dgeom.compute_collisions_points(tree, pts), pts)
    vals = {}
    for k in range(len(pts)):
        if len(cells.links(k)):
            vals[k] = u.eval(pts[k], cells.links(k)[:1])
    allvals = {}
    for part in d.comm.allgather(vals):
        allvals.update(part)
    L = np.array([[1.0, 0.0], [0.0, 0.5]])
    scale = np.abs(Ebar).max()
    assert np.allclose(allvals[1] - allvals[0], Ebar @ L[0], rtol=0, atol=1e-10 * scale)
    assert np.allclose(allvals[2] - allvals[0], Ebar @ L[1], rtol=0, atol=1e-10 * scale)
    assert np.allclose(allvals[3] - allvals[0], Ebar @ (L[0] + L[1]), rtol=0,
                       atol=1e-10 * scale)


def test_bad_input():
    d = mesh.rectangle(4, 4)
    material = ElasticMaterial(E=1.0, nu=0.3, model="plane_strain")
    with pytest.raises(ValueError, match="needs a periodic domain"):
        PeriodicElasticity(d, material, np.zeros((2, 2)))
    p = mesh.periodic(d, BOTH)
    with pytest.raises(ValueError, match="symmetric"):
        PeriodicElasticity(p, material, [[0.0, 1e-3], [0.0, 0.0]])
    with pytest.raises(ValueError, match="2×2"):
        PeriodicElasticity(p, material, np.zeros((3, 3)))


CASES = Path(__file__).resolve().parent.parent / "cases"


@pytest.mark.mpi
def test_laminate_cell_case_gives_the_exact_laminate(mpi_tmp_path):
    """cases/laminate_cell.toml (the two-layer laminate above, as a case file, on the Gmsh
    "diffusion_couple" mesh, GAMG): homogenisation.json's C̄ is Backus's closed form and
    σ̄ = C̄ ε̄ for the given Ē, in the JSON and the series. The interfaces and the glued
    sides lie on mesh lines, so P1 holds the exact piecewise-linear fluctuation and the only
    error is the CG+GAMG tolerance (rtol 1e-10; measured ~1e-12 relative on 1 and 2 ranks):
    bound 1e-7 of the largest entry, as in test_laminate_effective_stiffness_is_exact. The
    Voigt bound of C_xxxx is 2.4 times the exact value, so a run that smeared the layers or
    dropped the fluctuation fails."""
    from mpi4py import MPI

    from femdiff import io as fio
    from femdiff.cli import main

    out = mpi_tmp_path / "laminate"
    strain = [[0.0, 5.0e-4], [5.0e-4, 2.0e-3]]  # through --set: a shear and a stretch
    assert main(["-q", "run", str(CASES / "laminate_cell.toml"), "-o", str(out),
                 "--set", f"mechanics.mean_strain={strain}", "--set", "output.png=false",
                 "--set", "output.profiles=[]"]) == 0
    MPI.COMM_WORLD.Barrier()
    res = json.loads((out / "homogenisation.json").read_text())
    assert res["voigt_order"] == ["xx", "yy", "xy"]
    ref = laminate_stiffness([(0.3, 400e9, 0.25), (0.7, 40e9, 0.35)])
    C = np.array(res["effective_stiffness"])
    assert np.allclose(C, ref, rtol=0, atol=1e-7 * ref.max())
    assert np.array_equal(res["mean_strain"], strain)
    ebar = np.array([strain[0][0], strain[1][1], 2 * strain[0][1]])  # engineering shear
    sref = ref @ ebar
    sigma = np.array(res["mean_stress"])
    got = np.array([sigma[0, 0], sigma[1, 1], sigma[0, 1]])
    assert np.allclose(got, sref, rtol=0, atol=1e-7 * np.abs(sref).max())
    series = fio.read_csv(out / "series.csv")
    assert [series[f"sigma_{n}"][0] for n in ("xx", "yy", "xy")] == got.tolist()
    assert series["eps_xy"][0] == strain[0][1]
    assert fio.bp_steps(out / "fields_P1.bp") == 1  # u = Ē·x + ũ and ũ


@pytest.mark.mpi
def test_case_cell_with_thermal_strain():
    """The case form passes [thermal] T and mechanics.T_ref to the cell: one material on
    both layers, so ũ = 0 and σ̄ is the plane-strain law with the 3D thermal strain
    α ΔT I (ε_zz = 0 imposed): σ̄ = λ (tr Ē − 3 α ΔT) I + 2μ (Ē − α ΔT I). Exact up to the
    solver tolerance (rtol 1e-10; bound 1e-8 relative, as for the homogeneous cell)."""
    import tomllib

    from mpi4py import MPI

    from femdiff import case as fcase

    raw = tomllib.loads((CASES / "laminate_cell.toml").read_text())
    E, nu, alpha, dT = 200e9, 0.3, 1.2e-5, 300.0
    raw["materials"] = [{"name": "one", "regions": ["A", "B"], "E": E, "nu": nu,
                         "alpha": alpha}]
    raw["thermal"] = {"T": 300.0 + dT}
    Ebar = np.array([[1e-3, 2e-4], [2e-4, -5e-4]])
    raw["mechanics"].update(mean_strain=Ebar.tolist(), effective_stiffness=False,
                            T_ref=300.0)
    c = fcase.validate(raw, "cell.toml", CASES)
    sim = c.build(MPI.COMM_WORLD)
    assert sim.stiffness is None
    mu, lam = lame(E, nu)
    e = alpha * dT
    exact = lam * (np.trace(Ebar) - 3 * e) * np.eye(2) + 2 * mu * (Ebar - e * np.eye(2))
    assert np.allclose(sim.mean_stress, exact, rtol=0, atol=1e-8 * np.abs(exact).max())
