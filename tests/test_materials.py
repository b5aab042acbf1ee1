"""Materials by region: validation, Arrhenius laws, assignment to named volumes, fields."""

import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
from dolfinx import fem

from femdiff import geometry
from femdiff.geometry import mesh
from femdiff.geometry.mesh import MeshError
from femdiff.models.materials import Arrhenius, Material, assign, piecewise
from femdiff.models.thermodynamics import R_GAS


def integrate(d, expr, degree=None):
    md = {} if degree is None else {"quadrature_degree": degree}
    form = fem.form(expr * ufl.dx(domain=d.mesh, metadata=md))
    return d.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)


def two_volumes(comm=MPI.COMM_WORLD):
    """[0, 1]² split at x = 0.25 into "coating" (area 0.25) and "steel" (area 0.75)."""
    d = mesh.rectangle(8, 4, comm=comm)
    return mesh.with_volumes(d, {"coating": lambda x: x[0] < 0.25,
                                 "steel": lambda x: x[0] > 0.25})


# --- Arrhenius -----------------------------------------------------------------------------

def test_arrhenius_number():
    """D = D0 exp(−E/RT) for H in α-Fe (D0 = 7.23e-8 m²/s, E = 5.69 kJ/mol; Nagano et
    al. 1982), against the formula written out independently, to round-off."""
    law = Arrhenius(7.23e-8, 5690.0)
    for T in (293.0, 600.0, 1200.0):
        assert law(T) == pytest.approx(7.23e-8 * math.exp(-5690.0 / (8.314462618 * T)),
                                       rel=1e-15)
    assert law(293.0) < law(600.0) < law(1200.0) < 7.23e-8


@pytest.mark.mpi
def test_arrhenius_of_constant_and_function(comm):
    """The UFL law of a Constant T integrates to the number; of a linear T(x) on [0, 1] to
    ∫ A exp(−Q/R T(x)) dx, which we compare with a 2000-interval composite Simpson rule
    (error ~1e-13 for this smooth integrand; quadrature degree 12 in the form: ~1e-12)."""
    law = Arrhenius(2.0, 4.0e4)
    d = mesh.interval(16, comm=comm)
    T = fem.Constant(d.mesh, 700.0)
    assert integrate(d, law(T)) == pytest.approx(law(700.0), rel=1e-13)
    V = fem.functionspace(d.mesh, ("Lagrange", 1))
    Tf = fem.Function(V)
    Tf.interpolate(lambda x: 500.0 + 400.0 * x[0])
    s = np.linspace(0.0, 1.0, 2001)
    f = 2.0 * np.exp(-4.0e4 / (R_GAS * (500.0 + 400.0 * s)))
    simpson = (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum()) / (3 * 2000)
    assert integrate(d, law(Tf), degree=12) == pytest.approx(simpson, rel=1e-10)


@pytest.mark.parametrize("T", [0.0, -5.0, float("nan")])
def test_arrhenius_rejects_non_positive_temperature(T):
    with pytest.raises(ValueError, match="temperature must be positive"):
        Arrhenius(1.0, 1e4)(T)


# --- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "make, message",
    [
        # an activation energy in eV (0.2 eV for H in Fe) where J/mol is expected
        (lambda: Arrhenius(1e-7, 0.2), "activation energy=0.2 is implausible: expected "
                                       "J/mol with 100 ≤ |activation energy| ≤ 1e+06"),
        (lambda: Arrhenius(1e-7, 0.2), "in eV that is 1.93e+04 J/mol"),
        (lambda: Arrhenius(1e-7, 5e7), "activation energy=50000000.0 is implausible"),
        (lambda: Arrhenius(0.0, 1e4), "Arrhenius prefactor must be a positive number, got 0.0"),
        (lambda: Arrhenius(-1.0, 1e4), "Arrhenius prefactor must be a positive number"),
        (lambda: Material("fe", ("steel",), D0=1e-7, E_D=0.5),
         "material 'fe': E_D=0.5 is implausible: expected J/mol"),
        (lambda: Material("fe", ("steel",), S0=1.0, E_S=2e7), "E_S=20000000.0 is implausible"),
        (lambda: Material("fe", ("steel",), D0=0.0), "material 'fe': D0 must be positive"),
        (lambda: Material("fe", ("steel",), D0=-1e-7), "D0 must be positive, got -1e-07"),
        (lambda: Material("fe", ("steel",), k=0.0),
         "thermal conductivity k must be positive, got 0.0"),
        (lambda: Material("fe", ("steel",), rho_cp=-3e6),
         "heat capacity rho_cp must be positive, got -3000000.0"),
        (lambda: Material("fe", ("steel",), E=0.0), "Young's modulus E must be positive"),
        (lambda: Material("fe", ("steel",), nu=0.5), "nu must lie in (-1, 0.5), got 0.5"),
        (lambda: Material("fe", ("steel",), D0=1e-7, M=1e-12),
         "give either D0 (with E_D) or M, not both"),
        (lambda: Material("fe", ("steel",), S0=1.0, mu0=0.0),
         "give either S0 (with E_S) or mu0, not both"),
        (lambda: Material("fe", ("steel",), E_D=4e4), "E_D needs the prefactor D0"),
        # H in Fe: Ω = 2e-6 m³/mol; per atom it would be 3.3e-30 m³
        (lambda: Material("fe", ("steel",), Omega=3.3e-30),
         "material 'fe': Omega=3.3e-30 is implausible: expected m³/mol"),
        (lambda: Material("fe", ()), "material 'fe' has no region"),
        (lambda: Material("fe", ("a", "a")), "lists a region twice"),
        (lambda: Material("", ("a",)), "a material needs a non-empty name"),
        (lambda: Material("fe", ("a",), k="hot"), "k must be a number, an Arrhenius law"),
    ],
)
def test_bad_parameters(make, message):
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    assert message in str(info.value)


def test_plausible_values_accepted():
    """Negative solution enthalpies (H in Pd: about −10 kJ/mol) and E = 0 are allowed;
    a single region may be given as a string."""
    m = Material("pd", "bulk", S0=1.0, E_S=-1.0e4, D0=2.9e-7, E_D=0.0, Omega=1.7e-6)
    assert m.regions == ("bulk",)
    assert m.parameter("S", T=300.0) == pytest.approx(math.exp(1.0e4 / (R_GAS * 300.0)))
    assert m.parameter("D", T=300.0) == 2.9e-7


def test_parameter_needs_temperature_and_x():
    m = Material("fe", ("steel",), D0=1e-7, E_D=4e4, k=Arrhenius(50.0, 1e3),
                 alpha=lambda x: 1e-5 * (1 + x[0]))
    with pytest.raises(ValueError, match="E_D depends on the temperature; pass T"):
        m.parameter("D")
    with pytest.raises(ValueError, match="k depends on the temperature"):
        m.parameter("k")
    with pytest.raises(ValueError, match="alpha is a function of x; pass x"):
        m.parameter("alpha")
    with pytest.raises(ValueError, match="does not set rho_cp"):
        m.parameter("rho_cp")
    with pytest.raises(ValueError, match="unknown material parameter 'kappa'"):
        m.parameter("kappa")
    D = 1e-7 * math.exp(-4e4 / (R_GAS * 500.0))
    assert m.parameter("D", T=500.0) == pytest.approx(D, rel=1e-14)


# --- assignment ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "materials, message",
    [
        ([Material("steel", ("steel",))],
         "volume(s) without a material: 'coating'; materials cover 'steel'"),
        ([Material("steel", ("steel", "coating")), Material("tin", ("coating",))],
         "volume(s) assigned to two materials: 'coating' (in 'steel' and 'tin')"),
        ([Material("steel", ("steel",)), Material("tin", ("coating", "oxide"))],
         "unknown region(s) 'oxide'; this mesh has volumes: 'coating', 'steel'"),
        ([Material("steel", ("steel",)), Material("steel", ("coating",))],
         "two materials are named 'steel'"),
        ([], "no materials given"),
    ],
)
def test_assignment_errors(materials, message):
    with pytest.raises(ValueError) as info:
        assign(two_volumes(), materials)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_mesh_without_volumes_rejected():
    with pytest.raises(ValueError, match="the mesh has no named volumes"):
        assign(mesh.rectangle(2, 2), [Material("steel", ("steel",))])


def test_with_volumes_requires_cover():
    with pytest.raises(MeshError, match="cell\\(s\\) match none of the volumes 'left'"):
        mesh.with_volumes(mesh.rectangle(4, 2), {"left": lambda x: x[0] < 0.5})


@pytest.mark.mpi
def test_piecewise_fields(comm):
    """Integrals of the assembled fields over the two volumes (areas 0.25, 0.75): numbers
    give a DG0 Function, a callable of x and an Arrhenius law of T give the UFL sum.
    Exact to round-off (polynomials of degree ≤ 1, integrated exactly; exp(·) of a
    constant T)."""
    d = two_volumes(comm)
    T = fem.Constant(d.mesh, 800.0)
    mats = [Material("coat", ("coating",), k=2.0, D0=1e-9, E_D=6e4, E=70e9, nu=0.33),
            Material("fe", ("steel",), k=lambda x: 40.0 * (1 + x[0]), D0=7e-8,
                     E_D=6e3, E=200e9, nu=0.3)]
    fields = assign(d, mats)
    E_field = fields.get("E")
    assert isinstance(E_field, fem.Function)
    assert integrate(d, E_field) == pytest.approx(0.25 * 70e9 + 0.75 * 200e9, rel=1e-12)
    # ∫_{0.25}^{1} 40(1 + x) dx = 40 (0.75 + (1 − 0.0625)/2) = 48.75
    assert integrate(d, fields.get("k")) == pytest.approx(0.25 * 2.0 + 48.75, rel=1e-12)
    D = {m.name: m.parameter("D", T=800.0) for m in mats}
    assert integrate(d, fields.get("D", T)) == pytest.approx(
        0.25 * D["coat"] + 0.75 * D["fe"], rel=1e-12)
    custom = piecewise(fields, {"coat": 1.0, "fe": 3.0})
    assert integrate(d, custom) == pytest.approx(0.25 + 2.25, rel=1e-12)
    with pytest.raises(ValueError, match="parameter 'alpha' is not set by material\\(s\\) "
                                         "'coat', 'fe'"):
        fields.get("alpha")
    # the indicators partition the mesh: Σχ = 1 on every cell, ghosts included
    total = sum(chi.x.array for chi in fields.indicators.values())
    assert comm.allreduce(float(np.max(np.abs(total - 1))), op=MPI.MAX) == 0.0


def test_gmsh_volumes_by_name(comm):
    """The Gmsh diffusion couple: volumes "A" and "B" of equal area 1 (2 × 1 domain)."""
    d = geometry.build("diffusion_couple", comm, h=0.25)
    fields = assign(d, [Material("coating", ("A",), k=1.0), Material("steel", "B", k=5.0)])
    assert integrate(d, fields.get("k")) == pytest.approx(6.0, rel=1e-12)
    with pytest.raises(ValueError, match="volume\\(s\\) without a material: 'B'"):
        assign(d, [Material("coating", ("A",), k=1.0)])


def test_cellwise_fields_follow_the_temperature():
    """A number T evaluates laws to numbers (a DG0 field); a new T gives a new field."""
    d = two_volumes()
    mats = [Material("coat", ("coating",), D0=1e-9, E_D=6e4),
            Material("fe", ("steel",), D0=7e-8, E_D=6e3)]
    fields = assign(d, mats)
    for T in (400.0, 900.0):
        expected = sum(a * m.parameter("D", T=T) for a, m in zip((0.25, 0.75), mats, strict=True))
        assert integrate(d, fields.get("D", T)) == pytest.approx(expected, rel=1e-12)
