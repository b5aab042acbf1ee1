"""Case files with several materials: a solved [thermal] T, per-material mechanics, errors.

The [thermal] conduction solve (:mod:`femdiff.case.thermal`), ``[[materials]]`` E, ν, α
in [mechanics] with the thermal strain α (T − T_ref), and their bad-input messages.
"""

import math

from mpi4py import MPI

import numpy as np
import pytest

from femdiff import case
from femdiff.case.schema import CaseError

COUPLE = """
[geometry]
builder = "diffusion_couple"
params = {{ length = 1.0, height = 0.25, interface = 0.4 }}
h = 0.05

[[materials]]
name = "a"
regions = ["A"]
{mat_a}

[[materials]]
name = "b"
regions = ["B"]
{mat_b}

{rest}
"""

MECHANICS = """
[physics]
model = "mechanics"

[mechanics]
elastic_model = "plane_strain"
solver = "lu"
{mech}
[[mechanics.boundary]]
name = "left"
type = "displacement"
components = {{ x = 0.0 }}
[[mechanics.boundary]]
name = "right"
type = "displacement"
components = {{ x = 0.0 }}
[[mechanics.boundary]]
name = "bottom"
type = "displacement"
components = {{ y = 0.0 }}
[[mechanics.boundary]]
name = "top"
type = "displacement"
components = {{ y = 0.0 }}
"""

STEADY = """
[thermal]
solve = "steady"
solver = "lu"
[[thermal.boundary]]
name = "left"
type = "temperature"
value = 600.0
[[thermal.boundary]]
name = "right"
type = "temperature"
value = 400.0
"""

K = {"a": 10.0, "b": 40.0}


def write(tmp_path, mat_a, mat_b, rest):
    path = tmp_path / "c.toml"
    path.write_text(COUPLE.format(mat_a=mat_a, mat_b=mat_b, rest=rest))
    return path


def owned_nodal(f):
    n = f.function_space.dofmap.index_map.size_local
    return f.function_space.tabulate_dof_coordinates()[:n], f.x.array[:n]


@pytest.mark.mpi
def test_steady_two_material_wall_temperature(tmp_path):
    """[thermal] solve = "steady" with per-material k: T is piecewise linear with the
    series interface value T_i = (k_a T_L/L_a + k_b T_R/L_b)/(k_a/L_a + k_b/L_b)
    (Carslaw & Jaeger §3.4, composite wall). The interface lies on mesh nodes, so P1
    is nodally exact: to 1e-9 (LU round-off on a 600 K scale)."""
    path = write(tmp_path, f"k = {K['a']}\nE = 1.0e9\nnu = 0.3",
                 f"k = {K['b']}\nE = 1.0e9\nnu = 0.3", STEADY + MECHANICS.format(mech=""))
    sim = case.load(path).build(MPI.COMM_WORLD)
    La, Lb = 0.4, 0.6
    Ti = (K["a"] * 600.0 / La + K["b"] * 400.0 / Lb) / (K["a"] / La + K["b"] / Lb)
    x, T = owned_nodal(sim.T)
    exact = np.where(x[:, 0] <= La, 600.0 + (Ti - 600.0) * x[:, 0] / La,
                     Ti + (400.0 - Ti) * (x[:, 0] - La) / Lb)
    assert np.allclose(T, exact, rtol=0, atol=1e-9 * 600.0)
    assert sim.T in sim.fields()


def test_transient_conduction_reaches_the_steady_wall(tmp_path):
    """solve = "transient" from 500 K for t_end = 20 τ (τ = L² ρc_p/k_min, slowest
    mode decays by e^{−π²·20/4} ≈ 1e-21 per its own time; backward Euler with Δt = τ/4
    still damps it below 1e-9): T is the steady series profile of the test above (to
    1e-6 K; the BE amplification (1 + Δt λ)^(−80) of the slowest mode leaves < 1e-9)."""
    thermal = (STEADY.replace('solve = "steady"', 'solve = "transient"\ninitial = 500.0\n'
                              'dt = 0.25\nt_end = 20.0'))
    path = write(tmp_path, f"k = {K['a']}\nrho_cp = 10.0\nE = 1.0e9\nnu = 0.3",
                 f"k = {K['b']}\nrho_cp = 10.0\nE = 1.0e9\nnu = 0.3",
                 thermal + MECHANICS.format(mech=""))
    sim = case.load(path).build(MPI.COMM_WORLD)
    La, Lb = 0.4, 0.6
    Ti = (K["a"] * 600.0 / La + K["b"] * 400.0 / Lb) / (K["a"] / La + K["b"] / Lb)
    x, T = owned_nodal(sim.T)
    exact = np.where(x[:, 0] <= La, 600.0 + (Ti - 600.0) * x[:, 0] / La,
                     Ti + (400.0 - Ti) * (x[:, 0] - La) / Lb)
    assert np.allclose(T, exact, rtol=0, atol=1e-6)


@pytest.mark.mpi
def test_constrained_bimaterial_bar_thermal_stress_jump(tmp_path):
    """Per-material E, ν, α and a uniform ΔT = T − T_ref in a plane-strain bar held at
    both ends (u_x = 0) and on rollers (u_y = 0 top and bottom): u = (u_x(x), 0) with
    uniform σ_xx = S and, in material m (P-wave modulus M = λ + 2μ, bulk K),

        ε_m = (S + 3K_m α_m ΔT)/M_m,   Σ ε_m L_m = 0,
        σ_yy = σ_zz = λ_m ε_m − 3K_m α_m ΔT,   σ_h = (S + 2σ_yy)/3,

    so σ_h jumps at the interface. P1 with the interface on nodes represents the
    piecewise-linear u_x exactly, and σ_h (DG0) is exact per cell: to 1e-6 relative
    (LU round-off on a 1e9 Pa scale)."""
    mats = {"a": (200.0e9, 0.3, 12.0e-6), "b": (70.0e9, 0.33, 23.0e-6)}
    text = {n: f"E = {E}\nnu = {nu}\nalpha = {a}" for n, (E, nu, a) in mats.items()}
    rest = "[thermal]\nT = 400.0\n" + MECHANICS.format(mech="T_ref = 300.0")
    sim = case.load(write(tmp_path, text["a"], text["b"], rest)).build(MPI.COMM_WORLD)
    dT = 100.0
    lame = {}
    for n, (E, nu, a) in mats.items():
        lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
        lame[n] = (lam, lam + 2 * mu, 3 * (lam + 2 * mu / 3) * a * dT)  # λ, M, 3KαΔT
    L = {"a": 0.4, "b": 0.6}
    S = -sum(L[n] * lame[n][2] / lame[n][1] for n in L) / sum(L[n] / lame[n][1] for n in L)
    sh = {}
    for n, (lam, M, th) in lame.items():
        eps = (S + th) / M
        sh[n] = (S + 2 * (lam * eps - th)) / 3
    V = sim.sigma_h.function_space
    x = V.tabulate_dof_coordinates()[: V.dofmap.index_map.size_local]
    values = sim.sigma_h.x.array[: len(x)]
    expected = np.where(x[:, 0] < 0.4, sh["a"], sh["b"])
    assert np.allclose(values, expected, rtol=1e-6)
    assert not math.isclose(sh["a"], sh["b"], rel_tol=0.05)  # a real jump (9 %)


GOOD_A, GOOD_B = "k = 10.0\nE = 1.0e9\nnu = 0.3", "k = 40.0\nE = 1.0e9\nnu = 0.3"


@pytest.mark.parametrize("mat_a, rest, key, message", [
    ("k = -1.0", STEADY, r"materials\[0\]\.k", "must be a positive number"),
    ("k = 10.0\nrho_cp = 0.0", STEADY, r"materials\[0\]\.rho_cp", "must be a positive"),
    ("E = 1.0e9\nnu = 0.3", STEADY, r"materials\[0\]\.k", "needs k of every material"),
    (GOOD_A, STEADY.replace("value = 600.0", "value = -5.0"),
     r"thermal\.boundary\[0\]\.value", "temperature must be positive"),
    (GOOD_A, STEADY.replace('name = "left"', 'name = "inner"'),
     r"thermal\.boundary\[0\]\.name", "unknown boundary 'inner'"),
    (GOOD_A, STEADY.replace('solve = "steady"', 'solve = "transient"\ninitial = -3.0\n'
                            'dt = 1.0\nt_end = 2.0'),
     r"materials\[0\]\.rho_cp", "needs rho_cp of every material"),
    (GOOD_A + "\nrho_cp = 1.0", STEADY.replace('solve = "steady"', 'solve = "transient"\n'
                                               'initial = -3.0\ndt = 1.0\nt_end = 2.0'),
     None, None),  # filled below: b has no rho_cp either
    (GOOD_A, STEADY.replace('type = "temperature"', 'type = "flux"'), None, None),
    (GOOD_A, "[thermal]\nT = 500.0\nsolve = \"steady\"", "thermal.T", "not both"),
    (GOOD_A, "[thermal]\ndt = 1.0\nT = 300.0", "thermal.dt", "is for a conduction solve"),
    (GOOD_A, "[thermal]\nT = -1.0", "thermal.T", "temperature must be positive"),
    (GOOD_A, "[thermal]\nT = 400.0\n" + MECHANICS.format(mech="T_ref = 300.0"),
     r"materials\[0\]\.alpha", "thermal strain"),
    (GOOD_A, MECHANICS.format(mech="T_ref = 300.0"), "mechanics.T_ref", r"\[thermal\]"),
])
def test_bad_thermal_and_material_input(tmp_path, mat_a, rest, key, message):
    """One clear line naming the key path for each bad input."""
    if key is None:  # the parametrisation's derived cases
        if "initial = -3.0" in rest:
            key, message = r"materials\[1\]\.rho_cp", "needs rho_cp"
        else:
            key, message = "thermal.boundary", "steady conduction needs a 'temperature'"
    if "[physics]" not in rest:
        rest += MECHANICS.format(mech="")
    path = write(tmp_path, mat_a, GOOD_B, rest)
    with pytest.raises(CaseError, match=f"{key}: .*{message}") as info:
        case.load(path)
    assert "\n" not in str(info.value)


def test_negative_initial_temperature_and_unknown_region(tmp_path):
    thermal = STEADY.replace('solve = "steady"', 'solve = "transient"\ninitial = -3.0\n'
                             'dt = 1.0\nt_end = 2.0')
    path = write(tmp_path, GOOD_A + "\nrho_cp = 1.0", GOOD_B + "\nrho_cp = 1.0",
                 thermal + MECHANICS.format(mech=""))
    with pytest.raises(CaseError, match=r"thermal\.initial: temperature must be positive"):
        case.load(path)
    path.write_text(path.read_text().replace('regions = ["B"]', 'regions = ["steel"]'))
    with pytest.raises(CaseError, match=r"materials\[1\]\.regions\[0\]: unknown volume "
                                        r"'steel'; the geometry has: A, B"):
        case.load(path)


DIFFUSION = """
[physics]
terms = [{{ type = "ideal", T = 600.0 }}, {{ type = "stress"{omega} }}]

[mechanics]
[[mechanics.boundary]]
name = "left"
type = "fixed"

[[species]]
name = "H"
initial = {initial}

[time]
t_end = 1.0
dt = 0.5
"""


@pytest.mark.parametrize("mat_b, omega, initial, key, message", [
    ("Omega = 1.0e-6", ', omega = 2.0e-6', "1.0", r"physics\.terms\[1\]\.omega",
     "given twice"),
    ("", "", "1.0", "materials", "each material's Omega; not set by 'b'"),
    ("Omega = 1.0e-6", "", "{ a = 1.0 }", r"species\[0\]\.initial",
     "must name exactly the materials a, b"),
    ("Omega = 1.0e-29", "", "1.0", r"materials\[1\]", "implausible"),
])
def test_bad_omega_and_initial_input(tmp_path, mat_b, omega, initial, key, message):
    base = "D0 = 1.0e-9\nS0 = 1.0\nE = 1.0e9\nnu = 0.3"
    rest = DIFFUSION.format(omega=omega, initial=initial)
    path = write(tmp_path, base + "\nOmega = 2.0e-6", base + "\n" + mat_b, rest)
    with pytest.raises(CaseError, match=f"{key}: .*{message}"):
        case.load(path)
