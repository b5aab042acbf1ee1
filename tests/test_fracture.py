"""The mode-I K-field and the crack-tip boundary-layer mesh.

References: Anderson, *Fracture Mechanics* (3rd ed.), Table 2.1 and eq. 2.44 (the
displacement and stress fields); Sofronis & McMeeking, J. Mech. Phys. Solids 37 (1989)
317, for the boundary-layer set-up (K-field displacements on the outer circle).

The crack-tip geometry's own checks live here too (beside the one line registering it in
``test_geometry.py``), because its K-field loading is what they prepare.
"""

import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
from dolfinx import fem

from femdiff import geometry
from femdiff.physics.fracture import KField
from femdiff.physics.mechanics import Displacement, Elasticity, ElasticMaterial

R = 1.0e-2  # m: a 10 mm boundary layer
E, NU = 200e9, 0.3
K_I = 30e6  # Pa·√m (30 MPa√m, as in Sofronis–McMeeking's and Krom et al.'s demos)


def total(d, measure):
    value = fem.assemble_scalar(fem.form(fem.Constant(d.mesh, 1.0) * measure))
    return d.comm.allreduce(value, op=MPI.SUM)


# --- the analytic field ------------------------------------------------------------------

@pytest.mark.parametrize("model", ["plane_strain", "plane_stress"])
def test_kfield_stress_is_hookes_law_of_its_displacement(model):
    """σ from the displacement's gradient (central differences, Hooke's law) equals the
    stress formulas: the displacement and stress tables are consistent. Central
    differences of step δ = 1e-6 r have relative error O((δ/r)²) ~ 1e-12, and round-off
    ~ 1e-16 r/δ = 1e-10: 1e-7 leaves a wide margin."""
    mat = ElasticMaterial(E, NU, model)
    kf = KField(K_I, mat)
    r = np.array([1e-4, 1e-3, 3e-3, 7e-3])
    th = np.array([0.0, 0.7, -2.0, 2.9])
    x = np.vstack([r * np.cos(th), r * np.sin(th)])
    delta = 1e-6 * r
    grad = np.empty((2, 2, r.size))
    for j in range(2):
        e = np.zeros_like(x)
        e[j] = delta
        up, um = kf.displacement(x + e), kf.displacement(x - e)
        for i in range(2):
            grad[i, j] = (up[i] - um[i]) / (2 * delta)
    eps = 0.5 * (grad + grad.transpose(1, 0, 2))
    lam = mat.lmbda
    if model == "plane_stress":
        lam = 2 * mat.lmbda * mat.mu / (mat.lmbda + 2 * mat.mu)
    tr = eps[0, 0] + eps[1, 1]
    sxx, syy, sxy = kf.stress(x)
    scale = K_I / np.sqrt(2 * np.pi * r)
    assert np.allclose((2 * mat.mu * eps[0, 0] + lam * tr) / scale, sxx / scale, atol=1e-7)
    assert np.allclose((2 * mat.mu * eps[1, 1] + lam * tr) / scale, syy / scale, atol=1e-7)
    assert np.allclose(2 * mat.mu * eps[0, 1] / scale, sxy / scale, atol=1e-7)
    # σ_h: the in-plane trace plus σ_zz = ν(σ_xx + σ_yy) in plane strain, 0 in plane stress
    zz = 0.0 if model == "plane_stress" else NU * (sxx + syy)
    assert np.allclose(kf.sigma_h(x), (sxx + syy + zz) / 3, rtol=1e-12)


def test_kfield_faces_are_traction_free_and_ligament_symmetric():
    """On θ = ±π: σ_yy = σ_xy = 0 (free faces); on θ = 0: u_y = 0 and σ_xy = 0 (mode I)."""
    kf = KField(K_I, ElasticMaterial(E, NU, "plane_strain"))
    r = np.linspace(1e-4, R, 7)
    face = np.vstack([-r, np.full_like(r, 1e-300)])  # θ → π from above
    _, syy, sxy = kf.stress(face)
    scale = K_I / np.sqrt(2 * np.pi * r)
    assert np.allclose(syy / scale, 0.0, atol=1e-15)
    assert np.allclose(sxy / scale, 0.0, atol=1e-15)
    lig = np.vstack([r, np.zeros_like(r)])
    assert np.allclose(kf.displacement(lig)[1], 0.0, atol=0)
    # the upper face opens: u_y(θ = π) = K/(2μ) √(r/2π) (κ + 1) > 0
    mu = E / (2 * (1 + NU))
    opening = K_I / (2 * mu) * np.sqrt(r / (2 * np.pi)) * (3 - 4 * NU + 1)
    assert np.allclose(kf.displacement(face)[1], opening, rtol=1e-12)
    # round-off below the crack line (as at interpolation points) still means the upper face
    assert np.allclose(kf.displacement(np.vstack([-r, -1e-18 * r]))[1], opening, rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(K_I=-1e6), "K_I must be ≥ 0, got -1000000.0: a negative mode-I intensity closes "
     "the crack, and the linear-elastic K-field (no contact) would make its faces "
     "interpenetrate"),
    (dict(K_I=math.nan), "K_I must be a finite number"),
    (dict(K_I=True), "K_I must be a finite number"),
    (dict(K_I=1e6, tip=(0.0,)), "tip must be two finite coordinates"),
])
def test_bad_kfield_input(kwargs, message):
    with pytest.raises(ValueError) as info:
        KField(material=ElasticMaterial(E, NU, "plane_strain"), **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# --- the crack-tip mesh ------------------------------------------------------------------

@pytest.mark.mpi
@pytest.mark.parametrize("symmetric", [True, False])
def test_crack_tip_names_and_measures(comm, symmetric):
    """Half disc: outer πR, face R, ligament R, area πR²/2 (order 2: arc error O(h⁴)). The
    full disc's faces are exterior facets (length 2R): the slit is open, not a seam."""
    d = geometry.build("crack_tip", comm, radius=R, symmetric=symmetric, order=2)
    half = 0.5 if symmetric else 1.0
    names = ["crack_faces", "outer", "symmetry"] if symmetric else ["crack_faces", "outer"]
    assert d.boundary_names == names
    assert d.volume_names == ["disc"]
    # order-2 arcs at h = R/8: relative area error ~ (h/R)⁴/… ≪ 1e-4
    assert d.volume() == pytest.approx(half * math.pi * R**2, rel=1e-4)
    assert total(d, d.ds("outer")) == pytest.approx(2 * half * math.pi * R, rel=1e-4)
    assert total(d, d.ds("crack_faces")) == pytest.approx(R if symmetric else 2 * R, rel=1e-12)
    if symmetric:
        assert total(d, d.ds("symmetry")) == pytest.approx(R, rel=1e-12)


@pytest.mark.mpi
def test_crack_tip_is_graded(comm):
    """The default mesh has cells of about ``grading``·r at distance r from the tip (the
    Threshold fields allow up to twice that, before the next size class starts), and
    ``tip_size`` at the tip."""
    grading, tip = 0.25, R / 500
    d = geometry.build("crack_tip", comm, radius=R, grading=grading)
    m = d.mesh
    n = m.topology.index_map(2).size_local
    h = m.h(2, np.arange(n, dtype=np.int32))
    mid = m.geometry.x[m.geometry.dofmaps[0][:n]].mean(axis=1)
    r = np.hypot(mid[:, 0], mid[:, 1])
    graded = (r > 4 * tip / grading) & (r < R / 2)
    worst = comm.allreduce(float((h[graded] / r[graded]).max(initial=0)), op=MPI.MAX)
    assert 0 < worst < 4 * grading
    smallest = comm.allreduce(float(h.min(initial=np.inf)), op=MPI.MIN)
    assert tip / 3 < smallest < 3 * tip


@pytest.mark.parametrize("params, message", [
    (dict(radius=-1.0), "radius must be a positive number"),
    (dict(grading=1.5), "grading 1.5 must be in (0, 1)"),
    (dict(tip_size=1.0, h=0.1), "tip_size 1.0 must not exceed h 0.1"),
    (dict(refine=geometry.Refine(0.01, 0.1, boundary="ligament")),
     "unknown boundary 'ligament'; known: crack_faces, outer, symmetry"),
])
def test_bad_crack_tip_parameters(params, message):
    with pytest.raises(ValueError) as info:
        geometry.build("crack_tip", MPI.COMM_WORLD, **params)
    assert message in str(info.value)


# --- the boundary-layer solve ------------------------------------------------------------

def annulus_error(grading, comm=MPI.COMM_WORLD):
    """Relative L2 error of σ_h (P2 displacement, DG1 σ_h) over R/50 < r < R/5."""
    mat = ElasticMaterial(E, NU, "plane_strain")
    kf = KField(K_I, mat)
    d = geometry.build("crack_tip", comm, radius=R, grading=grading,
                       h=min(R / 8, grading * R / 2), tip_size=R / 5000)
    solid = Elasticity(d, mat, [kf.boundary_condition("outer"),
                                Displacement("symmetry", {1: 0.0})], degree=2, solver="lu")
    solid.solve()
    x = ufl.SpatialCoordinate(d.mesh)
    r = ufl.sqrt(x[0] ** 2 + x[1] ** 2)
    ring = ufl.conditional(ufl.And(r > R / 50, r < R / 5), 1.0, 0.0)
    exact = kf.sigma_h(x, ufl)

    def integral(f):
        return comm.allreduce(fem.assemble_scalar(fem.form(f * ufl.dx(degree=6))), MPI.SUM)

    return math.sqrt(integral(ring * (solid.sigma_h() - exact) ** 2) / integral(ring * exact**2))


@pytest.mark.mpi
@pytest.mark.verification(quantity="σ_h near a mode-I crack tip",
                         reference="(2/3)(1+ν) K_I cos(θ/2)/√(2πr)",
                         source="Williams K-field (Anderson, Fracture Mechanics)",
                         error="2.2 % → 0.79 % → 0.25 % measured; < 0.5 %, rate > 1.4")
def test_sigma_h_matches_the_k_field_and_converges():
    """The K-field solves the boundary-layer problem exactly (equilibrium, free faces, its
    own displacement on the outer circle), so σ_h differs from
    (2/3)(1+ν) K_I cos(θ/2)/√(2πr) by discretisation error only.

    The annulus R/50 < r < R/5 keeps away from the singular tip and the prescribed
    circle. There the mesh has cells h ≈ grading·r (see test_crack_tip_is_graded), and σ
    of P2 displacements errs by O((h/r)²) relatively: halving the grading should divide
    the error by 4. Measured (serial): 2.2 %, 0.79 %, 0.25 % for grading 0.5, 0.25,
    0.125, rates 1.45 then 1.66 (pre-asymptotic; the tip's pollution is already below
    this, since shrinking tip_size tenfold leaves the error unchanged). Asserted: rate
    > 1.4 on the finer pair and 0.5 % at grading 0.125.
    """
    errors = [annulus_error(g) for g in (0.25, 0.125)]
    rate = math.log(errors[0] / errors[1]) / math.log(2)
    assert errors[1] < 5e-3
    assert rate > 1.4
