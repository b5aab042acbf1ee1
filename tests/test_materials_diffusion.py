"""Diffusion through several materials and in a temperature field (issue #12).

Interfaces: μ continuous, C broken (jumps by the solubility ratio); T as a field with
Arrhenius D(T), S(T) and the Soret flux J = −D∇C − D C Q*∇T/(R T²) of
:mod:`femdiff.models.material_law`.
"""

import math

from mpi4py import MPI

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx.mesh import compute_midpoints
from scipy.linalg import solve_banded

from femdiff.geometry import mesh
from femdiff.models.materials import Arrhenius, Material, assign
from femdiff.models.thermodynamics import (
    R_GAS,
    ChemicalPotential,
    GradientEnergy,
    Ideal,
    Mobility,
)
from femdiff.numerics.timestepping import TimeControl
from femdiff.problems.diffusion import DiffusionProblem, FixedConcentration

T0 = 600.0  # K
RT = R_GAS * T0
# hydrogen-like numbers: steel D0 = 7.23e-8 m²/s, E_D = 5.69 kJ/mol (Nagano et al. 1982);
# a coating 100x slower with a 10x lower solubility (a permeation barrier)
STEEL = dict(D0=7.23e-8, E_D=5690.0, S0=10.0, E_S=2.0e4)
COAT = dict(D0=1.0e-8, E_D=2.0e4, S0=1.0, E_S=2.0e4)


def D_of(p, T=T0):
    return p["D0"] * math.exp(-p["E_D"] / (R_GAS * T))


def S_of(p, T=T0):
    return p["S0"] * math.exp(-p["E_S"] / (R_GAS * T))


def bilayer(n, comm=MPI.COMM_WORLD, length=1.0e-3, split=0.4):
    """[0, length]: "coating" for x < split·length, "steel" beyond."""
    d = mesh.interval(n, length, comm=comm)
    xi = split * length
    return mesh.with_volumes(d, {"coating": lambda x: x[0] < xi,
                                 "steel": lambda x: x[0] > xi})


def materials():
    return [Material("coating", ("coating",), **COAT), Material("steel", ("steel",), **STEEL)]


def interface_values(problem, xi):
    """The two C values at the interface node (one per side), gathered on all ranks."""
    x, c = problem.owned_concentration()
    at = np.isclose(x[:, 0], xi, rtol=0, atol=1e-12 * max(1.0, abs(xi)))
    vals = np.concatenate(problem.domain.comm.allgather(c[at]))
    return np.sort(vals)


#: Newton options of the steady solves. Near the steady state a step of large Δt changes
#: the state by less than the round-off of its Δt-scaled flux terms, so the relative
#: test snes_rtol can no longer be met; the absolute test on the scaled residual (entries
#: ~ (h/L)·ĉ, so 1e-7 is a relative balance error far below the tolerances asserted
#: here) ends those solves instead. (1e-9 before the fitted flux of several materials,
#: issue #24: its residual, from differences of nearly equal nodal C, stalls at ~1e-7 at
#: Δt = 1e7 on 800 cells.)
STEADY = {"snes_atol": 1.0e-7}


def steady(problem, dts):
    """Backward Euler steps of growing Δt up to Δt ≫ τ = L²/D: the transient decays by
    ~τ/Δt per step, so the last steps leave the steady state to round-off."""
    for dt in dts:
        problem.step(dt)


# --- bilayer permeation ------------------------------------------------------------------

@pytest.mark.mpi
@pytest.mark.verification(quantity="steady flux through coating|steel",
                         reference="series resistance (φ_L − φ_R)/Σ L/(D S)",
                         source="Crank, The Mathematics of Diffusion, §3.4",
                         error="~2e-9 expected; rel 1e-8 asserted")
def test_bilayer_steady_flux_is_series_resistance(comm):
    """Fixed C at both faces of coating|steel: the steady flux equals the series formula

        J = (φ_L − φ_R) / (L_c/(D_c S_c) + L_s/(D_s S_s)),   φ = C/S,

    (Crank, The Mathematics of Diffusion, §3.4, composite membrane with partition). The
    discrete cell flux is D C̄ Δln C/h instead of D ΔC/h, a relative error ε²/12 per cell
    for ε = Δln C (second order in h). Measured at Δln φ = 0.105: 5.8e-7, 1.4e-7,
    3.6e-8 at n = 100, 200, 400 (ratio 4.0); here Δln φ = 0.051 and n = 800, so
    (0.51)²·3.6e-8/4 ≈ 2.3e-9 is expected: we assert the issue's 1e-8. The
    flux is the domain mean of −M∇μ, which equals the conservative (residual) flux of
    every cell in 1D steady state (the P1 test functions make the cell means equal).
    The interface jump equals S_c/S_s nodally (the constitutive law holds per cell at the
    interface node): to 1e-12.
    """
    Lx = 1.0e-3
    d = bilayer(800, comm, Lx)
    Sc, Ss = S_of(COAT), S_of(STEEL)
    phiL, phiR = 1.0, 0.95  # the driving "pressures" C/S (Sieverts: √p)
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=materials(),
                         initial={"coating": 0.95 * Sc, "steel": 0.95 * Ss},
                         time=TimeControl(dt=1.0), petsc_options=STEADY,
                         bcs=[FixedConcentration("left", Sc * phiL),
                              FixedConcentration("right", Ss * phiR)])
    assert p.broken
    steady(p, [10.0**k for k in range(2, 8)])  # τ ~ 1e3 s
    Pc, Ps = D_of(COAT) * Sc, D_of(STEEL) * Ss
    J = (phiL - phiR) / (0.4 * Lx / Pc + 0.6 * Lx / Ps)
    J_num = p.integrate(p.flux_ufl[0] * ufl.dx) / Lx
    assert J_num == pytest.approx(J, rel=1e-8)
    cl, cs = interface_values(p, 0.4 * Lx)
    assert cs / cl == pytest.approx(Ss / Sc, rel=1e-12)
    # and φ at the interface is the series-formula value (to the same 1e-8)
    phi_i = phiL - J * 0.4 * Lx / Pc
    assert cl / Sc == pytest.approx(phi_i, rel=1e-8)


@pytest.mark.mpi
def test_closed_bimaterial_relaxes_to_uniform_potential(comm):
    """A closed 2D body of two materials, C uniform at first: C partitions, μ becomes
    uniform, and the end state is C_m = S_m φ with φ = N/(S_A V_A + S_B V_B) from the
    conserved amount N (equilibrium partition; the ideal law μ = RT ln(C/S)). Mass is
    conserved every step to 1e-12 relative (v = 1 is a P1 test function: the mass
    change is a sum of Newton residuals, tolerance 1e-10 relative → we assert 1e-10).
    """
    d = mesh.rectangle(8, 4, 1.0e-3, 0.5e-3, comm=comm)
    d = mesh.with_volumes(d, {"A": lambda x: x[0] < 0.25e-3, "B": lambda x: x[0] > 0.25e-3})
    mA = Material("A", ("A",), D0=1.0e-9, S0=1.0)
    mB = Material("B", ("B",), D0=3.0e-9, S0=20.0)
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=[mA, mB],
                         initial=5.0, time=TimeControl(dt=2.0, growth=2.0))
    p.initialise()
    N = p.amount()
    for _ in range(25):
        p.step(min(p._dt_request, 1e4))
        p._dt_request *= 2
        assert p.amount() == pytest.approx(N, rel=1e-10)
    n_mu = p.V_mu.dofmap.index_map.size_local
    lo = d.comm.allreduce(p.mu.x.array[:n_mu].min(), op=MPI.MIN)
    hi = d.comm.allreduce(p.mu.x.array[:n_mu].max(), op=MPI.MAX)
    assert (hi - lo) / RT < 1e-8
    VA, VB = 0.25e-3 * 0.5e-3, 0.75e-3 * 0.5e-3
    phi = N / (1.0 * VA + 20.0 * VB)
    assert p.amount("A") == pytest.approx(1.0 * phi * VA, rel=1e-8)
    assert p.amount("B") == pytest.approx(20.0 * phi * VB, rel=1e-8)


# --- transient two-layer: against a fine finite-volume reference -------------------------

def finite_volume_reference(n, t_end, steps, Lx, xi, DA, SA, DB, SB, phiL, phiR, phi0):
    """An independent 1D reference: cell-centred finite volumes for φ = C/S,

        S ∂φ/∂t = ∂/∂x (D S ∂φ/∂x),  φ(0) = φ_L, φ(L) = φ_R,

    with harmonic-mean face permeabilities (exact for the interface on a face) and
    Crank–Nicolson in time, started with four backward-Euler quarter steps (Rannacher's
    start: CN alone keeps the stiff modes of the step at x = 0 oscillating). Returns the
    cell centres and C = S φ."""
    h = Lx / n
    xc = (np.arange(n) + 0.5) * h
    S = np.where(xc < xi, SA, SB)
    P = np.where(xc < xi, DA * SA, DB * SB)
    Pf = 2 * P[:-1] * P[1:] / (P[:-1] + P[1:])  # interior faces
    # boundary faces: half cells to the Dirichlet value
    PL, PR = 2 * P[0], 2 * P[-1]
    dt = t_end / steps
    main = np.zeros(n)
    main[:-1] += Pf
    main[1:] += Pf
    main[0] += PL
    main[-1] += PR
    A = np.zeros((3, n))  # K = (1/h²) tridiag(−Pf, main, −Pf)
    A[0, 1:] = -Pf
    A[1, :] = main
    A[2, :-1] = -Pf
    A /= h * h
    b = np.zeros(n)
    b[0] = PL * phiL / h**2
    b[-1] = PR * phiR / h**2
    phi = np.full(n, phi0)
    be = A * (dt / 4)
    be[1] += S
    for _ in range(4):
        phi = solve_banded((1, 1), be, S * phi + dt / 4 * b)
    lhs = A * (0.5 * dt)
    lhs[1] += S
    for _ in range(steps - 1):
        Kphi = A[1] * phi
        Kphi[:-1] += A[0, 1:] * phi[1:]
        Kphi[1:] += A[2, :-1] * phi[:-1]
        rhs = S * phi - 0.5 * dt * Kphi + dt * b
        phi = solve_banded((1, 1), lhs, rhs)
    return xc, S * phi


@pytest.mark.verification(quantity="two-layer transient C(x, t)",
                         reference="4000-cell Crank–Nicolson finite volumes",
                         source="numerical reference in the test",
                         error="4e-4 C_L measured; < 1e-3, ratio ≥ 3.5 per halving")
def test_two_layer_transient_against_finite_volumes():
    """Coating|steel, C = C_L switched on at x = 0, C_R fixed: C(x, t) at t ≈ 0.1 L²/D
    against a 4000-cell Crank–Nicolson finite-volume solve (its error is ~1e-6 of the
    FE errors measured here). The nodal FE error (max over the nodes, both interface
    values included) must fall by ≥ 3.5 on halving h (second order: 4; measured 3.8) and
    be below 1e-3 of C_L at n = 80 (measured 4e-4). The initial C is given per material:
    a callable of x would give the interface node one side's value in both cells, an
    O(h) mass error that caps the rate near 1.5."""
    Lx, xi, t_end = 1.0e-3, 0.4e-3, 4.0
    Sc, Ss, Dc, Ds = 1.0, 10.0, 2.0e-8, 1.0e-7
    phiL, phiR, phi0 = 1.0, 0.05, 0.05
    xr, Cr = finite_volume_reference(4000, t_end, 4000, Lx, xi, Dc, Sc, Ds, Ss,
                                     phiL, phiR, phi0)
    errors = []
    for n in (40, 80):
        d = bilayer(n, MPI.COMM_SELF, Lx, split=0.4)
        mats = [Material("coating", ("coating",), D0=Dc, S0=Sc),
                Material("steel", ("steel",), D0=Ds, S0=Ss)]
        p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=mats,
                             # per material: each side's value at the interface node
                             initial={"coating": Sc * phi0, "steel": Ss * phi0},
                             time=TimeControl(dt=t_end / 400, scheme="bdf2"),
                             bcs=[FixedConcentration("left", Sc * phiL),
                                  FixedConcentration("right", Ss * phiR)])
        p.run(t_end)
        x, c = p.owned_concentration()
        # the reference at each node, from the side of the cell that holds the dof (a
        # broken C has one value per side at the interface node)
        V = p.V_c
        ncell = V.mesh.topology.index_map(1).size_local
        mid = compute_midpoints(V.mesh, 1, np.arange(ncell, dtype=np.int32))[:, 0]
        left = np.empty(len(c), dtype=bool)
        for cell in range(ncell):
            left[V.dofmap.cell_dofs(cell)] = mid[cell] < xi
        ref = np.empty(len(c))
        for side in (True, False):
            sel = xr < xi if side else xr > xi
            ref[left == side] = _interp_extrap(x[left == side, 0], xr[sel], Cr[sel])
        errors.append(np.max(np.abs(c - ref)) / (Sc * phiL))
    assert errors[1] < 1e-3
    assert errors[0] / errors[1] > 3.5


def _interp_extrap(x, xp, fp):
    """Linear interpolation, extrapolated linearly beyond the end points."""
    out = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    out[lo] = fp[0] + (x[lo] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    out[hi] = fp[-1] + (x[hi] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return out


# --- one material: the broken space reproduces P1 ----------------------------------------

def test_broken_space_reproduces_continuous_one_material():
    """With one material the broken (DG1) C equals the P1 C to Newton tolerance: the
    per-cell constitutive rows μ_i = f′(C_{K,i}) of one material give one C_i per node,
    the same equations as the lumped P1 problem (module doc of material_diffusion)."""
    def solve(broken):
        d = mesh.with_volumes(mesh.interval(20, 1.0e-3), {"all": lambda x: x[0] > -1})
        p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None,
                             materials=[Material("fe", ("all",), **STEEL)],
                             initial=lambda x: 1.0 + 0.5 * np.cos(np.pi * x[0] / 1.0e-3),
                             time=TimeControl(dt=0.5), broken=broken)
        p.run(5.0)
        return p
    a, b = solve(False), solve(True)
    assert not a.broken and b.broken
    xa, ca = a.owned_concentration()
    xb, cb = b.owned_concentration()
    order = np.argsort(xa[:, 0])
    ref = np.interp(xb[:, 0], xa[order, 0], ca[order])
    assert np.max(np.abs(cb - ref)) < 1e-9 * np.max(ca)


# --- Soret -------------------------------------------------------------------------------

def linear_T(d, T_left, T_right, Lx):
    V = fem.functionspace(d.mesh, ("Lagrange", 1))
    T = fem.Function(V, name="T")
    T.interpolate(lambda x: T_left + (T_right - T_left) * x[0] / Lx)
    return T


@pytest.mark.parametrize("n, tol", [(64, 2e-4)])
def test_soret_closed_bar_steady_profile(n, tol):
    """A closed bar in T(x) linear from 500 to 700 K with heat of transport Q* = 20 kJ/mol:
    zero flux J = −D∇C − D C Q*∇T/(R T²) gives C = A exp(Q*/(R T)) (Shewmon, Diffusion
    in Solids §7.2; TMAP8 thermomigration verification), A from the conserved amount.
    The discrete zero-flux state differs by O(h²) (the drive varies inside a cell);
    we check the nodal error at n = 64 (measured ~5e-5) and that it falls ~4× under
    refinement (rate > 1.8)."""
    Lx, Q = 1.0e-3, 2.0e4
    errs = []
    for m in (n // 2, n):
        d = mesh.with_volumes(mesh.interval(m, Lx), {"bar": lambda x: x[0] > -1})
        T = linear_T(d, 500.0, 700.0, Lx)
        p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None,
                             materials=[Material("fe", ("bar",), D0=1e-7, S0=1.0)],
                             temperature=T, heat_of_transport=Q, initial=1.0,
                             time=TimeControl(dt=1.0), petsc_options=STEADY)
        steady(p, [1.0, 10.0, 1e2, 1e3, 1e4])  # τ = L²/(π²D) ≈ 1 s
        N = p.amount()
        x, c = p.owned_concentration()
        Tx = 500.0 + 200.0 * x[:, 0] / Lx
        s = np.linspace(0, Lx, 20001)
        f = np.exp(Q / (R_GAS * (500.0 + 200.0 * s / Lx)))
        integral = np.sum((f[1:] + f[:-1]) / 2) * (s[1] - s[0])
        exact = N / integral * np.exp(Q / (R_GAS * Tx))
        errs.append(np.max(np.abs(c - exact) / exact))
    assert errs[1] < tol
    assert math.log2(errs[0] / errs[1]) > 1.8


def soret_reference(n, t_end, steps, Lx, D, Q, T_of, C0):
    """An independent 1D reference for the closed Soret bar: with φ = C exp(−Q*/RT) the
    flux is J = −D∇C − D C Q*∇T/(RT²) = −D e^{Q*/RT} ∇φ, so

        e^{Q*/RT} ∂φ/∂t = ∂/∂x (D e^{Q*/RT} ∂φ/∂x),  no flux at both ends,

    solved by cell-centred finite volumes (face weights at the face temperature) and
    Crank–Nicolson after four backward-Euler quarter steps. Returns centres and C."""
    h = Lx / n
    xc = (np.arange(n) + 0.5) * h
    xf = np.arange(1, n) * h
    S = np.exp(Q / (R_GAS * T_of(xc)))
    Pf = D * np.exp(Q / (R_GAS * T_of(xf)))
    main = np.zeros(n)
    main[:-1] += Pf
    main[1:] += Pf
    A = np.zeros((3, n))
    A[0, 1:] = -Pf
    A[1, :] = main
    A[2, :-1] = -Pf
    A /= h * h
    dt = t_end / steps
    phi = C0 / S
    be = A * (dt / 4)
    be[1] += S
    for _ in range(4):
        phi = solve_banded((1, 1), be, S * phi)
    lhs = A * (0.5 * dt)
    lhs[1] += S
    for _ in range(steps - 1):
        Kphi = A[1] * phi
        Kphi[:-1] += A[0, 1:] * phi[1:]
        Kphi[1:] += A[2, :-1] * phi[:-1]
        phi = solve_banded((1, 1), lhs, S * phi - 0.5 * dt * Kphi)
    return xc, S * phi


def test_soret_transient_against_finite_volumes():
    """The closed Soret bar (uniform C₀ at t = 0, T linear 500 → 700 K, Q* = 20 kJ/mol)
    at t = 0.1 s ≈ τ/10, mid-way to the exp(Q*/RT) profile: nodal C against a 4000-cell
    finite-volume solve of the same flux law written in φ = C e^{−Q*/RT}
    (:func:`soret_reference`; its own error ~1e-7). Second order in h: the max nodal
    error falls by ≥ 3.5 from n = 40 to 80 (measured 4.0) and is < 1e-3 C₀ at n = 80."""
    Lx, D, Q, C0, t_end = 1.0e-3, 1.0e-7, 2.0e4, 1.0, 0.1

    def T_of(x):
        return 500.0 + 200.0 * x / Lx

    xr, Cr = soret_reference(4000, t_end, 2000, Lx, D, Q, T_of, C0)
    errors = []
    for n in (40, 80):
        d = mesh.with_volumes(mesh.interval(n, Lx, comm=MPI.COMM_SELF),
                              {"bar": lambda x: x[0] > -1})
        T = linear_T(d, 500.0, 700.0, Lx)
        p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None,
                             materials=[Material("fe", ("bar",), D0=D, S0=1.0)],
                             temperature=T, heat_of_transport=Q, initial=C0,
                             time=TimeControl(dt=t_end / 200, scheme="bdf2"))
        p.run(t_end)
        x, c = p.owned_concentration()
        errors.append(np.max(np.abs(c - _interp_extrap(x[:, 0], xr, Cr))) / C0)
    assert errors[1] < 1e-3
    assert errors[0] / errors[1] > 3.5


def test_soret_two_materials_steady():
    """Two materials in a linear T and a closed bar: within each, C ∝ exp(Q*_m/(RT));
    at the interface, C_A/C_B = S_A(T_i)/S_B(T_i) (μ continuous at the local T). The
    solubilities differ in E_S, so the partition ratio depends on T_i. Nodal jump to
    1e-10 (per-cell constitutive law), profile shape to O(h²) (5e-4 at n = 60)."""
    Lx, xi = 1.0e-3, 0.5e-3
    d = mesh.with_volumes(mesh.interval(60, Lx), {"A": lambda x: x[0] < xi,
                                                  "B": lambda x: x[0] > xi})
    T = linear_T(d, 500.0, 700.0, Lx)
    A = Material("A", ("A",), D0=1e-7, S0=2.0, E_S=1.0e4)
    B = Material("B", ("B",), D0=5e-8, S0=1.0, E_S=3.0e4)
    QA, QB = 2.0e4, -1.0e4
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=[A, B],
                         temperature=T, heat_of_transport={"A": QA, "B": QB},
                         initial=1.0, time=TimeControl(dt=1.0), petsc_options=STEADY)
    steady(p, [1.0, 10.0, 1e2, 1e3, 1e4])  # τ ≈ 2 s
    Ti = 600.0
    lo, hi = interface_values(p, xi)
    SA = 2.0 * math.exp(-1.0e4 / (R_GAS * Ti))
    SB = 1.0 * math.exp(-3.0e4 / (R_GAS * Ti))
    x, c = p.owned_concentration()
    # which value is whose: the larger S wins (SA > SB here)
    assert SA > SB
    assert hi / lo == pytest.approx(SA / SB, rel=1e-10)
    # shape within each material: C exp(−Q*/RT) constant
    Tx = 500.0 + 200.0 * x[:, 0] / Lx
    inA, inB = x[:, 0] < xi - 1e-12, x[:, 0] > xi + 1e-12
    for mask, Q in ((inA, QA), (inB, QB)):
        g = c[mask] * np.exp(-Q / (R_GAS * Tx[mask]))
        assert (g.max() - g.min()) / g.mean() < 5e-4


# --- MMS: T(x), Arrhenius D(T), Soret ------------------------------------------------------

def mms_error(n, degree):
    """Steady 2D MMS on the unit square [0, L]²: C_e = 2 + sin(πx/L) cos(πy/L)/2,
    T = 500 + 200 x/L + 50 y/L, D = D0 exp(−E_D/RT), Q* = 15 kJ/mol. Source
    s = ∇·J(C_e) with J = −D∇C − D C Q*∇T/(R T²) (the documented flux form, written
    here independently of the code's μ-based form), C = C_e on the boundary."""
    Lx = 1.0e-3
    d = mesh.with_volumes(mesh.rectangle(n, n, Lx, Lx),
                          {"all": lambda x: x[0] > -1})
    D0, ED, Q = 1e-7, 1.5e4, 1.5e4
    V = fem.functionspace(d.mesh, ("Lagrange", 2))
    T = fem.Function(V)
    T.interpolate(lambda x: 500.0 + 200.0 * x[0] / Lx + 50.0 * x[1] / Lx)

    def c_exact(xx, mod):
        return 2.0 + 0.5 * mod.sin(np.pi * xx[0] / Lx) * mod.cos(np.pi * xx[1] / Lx)

    x = ufl.SpatialCoordinate(d.mesh)
    Ce = c_exact(x, ufl)
    Tx = 500.0 + 200.0 * x[0] / Lx + 50.0 * x[1] / Lx
    Dx = D0 * ufl.exp(-ED / (R_GAS * Tx))
    J = -Dx * ufl.grad(Ce) - Dx * Ce * Q * ufl.grad(Tx) / (R_GAS * Tx**2)
    source = ufl.div(J)
    bcs = [FixedConcentration(b, lambda xx: c_exact(xx, np)) for b in
           ("left", "right", "bottom", "top")]
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None,
                         materials=[Material("m", ("all",), D0=D0, E_D=ED, S0=3.0,
                                             E_S=5.0e3)],
                         temperature=T, heat_of_transport=Q, degree=degree, bcs=bcs,
                         initial=lambda xx: c_exact(xx, np),
                         source=lambda xx, t: source, time=TimeControl(dt=1.0),
                         petsc_options=STEADY)
    # τ ≈ 20 s; starts at C_e, which differs from the discrete steady state by the
    # discretisation error e: after these steps by e·(1/6)(1/50), negligible for rates
    steady(p, [1e2, 1e3])
    err = p.integrate((p.C - Ce) ** 2 * ufl.dx(degree=8))
    ref = p.integrate(Ce**2 * ufl.dx(degree=8))
    return math.sqrt(err / ref)


@pytest.mark.parametrize("degree, rate", [(1, 2.0), (2, 3.0)])
def test_mms_temperature_field_arrhenius_soret(degree, rate):
    """L2 rates 2 (P1) and 3 (P2) from n = 8 → 16 (observed within 0.2 of them; the
    tolerance is the pre-asymptotic spread of dolfinx-tutorial chapter4 convergence)."""
    e1, e2 = mms_error(8, degree), mms_error(16, degree)
    assert math.log2(e1 / e2) == pytest.approx(rate, abs=0.2)


# --- parallel ----------------------------------------------------------------------------

@pytest.mark.mpi
def test_parallel_matches_serial():
    """A 2D coating|steel transient in a T gradient with Soret on COMM_WORLD and on
    COMM_SELF: the same amounts and moments to Newton tolerance (1e-8 relative)."""
    def solve(comm):
        d = mesh.rectangle(12, 6, 1.0e-3, 0.5e-3, comm=comm)
        d = mesh.with_volumes(d, {"coating": lambda x: x[0] < 0.25e-3,
                                  "steel": lambda x: x[0] > 0.25e-3})
        T = linear_T(d, 550.0, 650.0, 1.0e-3)
        p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None,
                             materials=materials(), temperature=T,
                             heat_of_transport={"steel": 2.0e4},
                             initial={"coating": 0.5 * S_of(COAT),
                                      "steel": 0.5 * S_of(STEEL)},
                             time=TimeControl(dt=0.5, scheme="bdf2"),
                             bcs=[FixedConcentration("left", S_of(COAT, 550.0))])
        p.run(3.0)
        x = ufl.SpatialCoordinate(d.mesh)
        return np.array([p.amount(), p.amount("steel"),
                         p.integrate(p.C * x[0] * ufl.dx), p.integrate(p.mu * ufl.dx)])

    world = solve(MPI.COMM_WORLD)
    alone = solve(MPI.COMM_SELF)
    assert np.allclose(world, alone, rtol=1e-8)


# --- bad input -----------------------------------------------------------------------------

def two_regions():
    d = mesh.interval(10, 1.0)
    return mesh.with_volumes(d, {"A": lambda x: x[0] < 0.5, "B": lambda x: x[0] > 0.5})


def AB(**kw):
    return [Material("A", ("A",), D0=1e-8, S0=1.0, **kw),
            Material("B", ("B",), D0=1e-8, S0=2.0, **kw)]


@pytest.mark.parametrize("kwargs, potential, message", [
    (dict(materials=AB()), [Ideal(T0), GradientEnergy(1e-3)],
     "gradient energy across a material interface is not supported"),
    (dict(materials=AB(), heat_of_transport=0.2), [Ideal(T0)],
     "heat of transport Q\\* of 'A'=0.2 is implausible: expected J/mol"),
    (dict(materials=AB(), heat_of_transport={"C": 1e4}), [Ideal(T0)],
     "heat_of_transport for unknown material\\(s\\) 'C'"),
    (dict(materials=AB(), temperature=-5.0), [Ideal(T0)],
     "temperature must be positive \\[K\\], got -5.0"),
    (dict(materials=AB(), mobility=Mobility.linear(1.0)), [Ideal(T0)],
     "give either mobility= or materials with D0/M, not both"),
    (dict(materials=[Material("A", ("A",), D0=1e-8, S0=1.0),
                     Material("B", ("B",), D0=1e-8)]), [Ideal(T0)],
     "material\\(s\\) 'B' set no solubility S0"),
    (dict(materials=[Material("A", ("A",), D0=1e-8)]), [Ideal(T0)],
     "volume\\(s\\) without a material: 'B'"),
    (dict(heat_of_transport=1e4, mobility=Mobility.linear(1.0)), [Ideal(T0)],
     "heat_of_transport needs materials="),
])
def test_bad_input(kwargs, potential, message):
    kwargs = {"mobility": None, **kwargs}
    mobility = kwargs.pop("mobility")
    with pytest.raises(ValueError, match=message):
        DiffusionProblem(two_regions(), ChemicalPotential(potential), mobility,
                         initial=1.0, time=TimeControl(dt=1.0), **kwargs)


def test_negative_temperature_field_rejected():
    d = two_regions()
    T = linear_T(d, 300.0, -10.0, 1.0)
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=AB(),
                         temperature=T, initial=1.0, time=TimeControl(dt=1.0))
    with pytest.raises(ValueError, match="temperature must be positive \\[K\\] everywhere; "
                                         "its minimum on the mesh is -10"):
        p.initialise()


def test_field_temperature_in_ideal_term():
    """Ideal(T=Function) is accepted (R T(x) ln C) and gives the same state as
    temperature=T (one material, a T field, no Soret: J = −D∇C exactly as in
    test_diffusion's cosine decay, so both runs must agree to round-off)."""
    def run(direct):
        d = mesh.with_volumes(mesh.interval(16, 1.0e-3), {"all": lambda x: x[0] > -1})
        T = linear_T(d, 500.0, 700.0, 1.0e-3)
        pot = ChemicalPotential([Ideal(T if direct else T0)])
        p = DiffusionProblem(d, pot, None, materials=[Material("m", ("all",), D0=1e-7)],
                             temperature=None if direct else T,
                             initial=lambda x: 1 + 0.5 * np.cos(np.pi * x[0] / 1e-3),
                             time=TimeControl(dt=0.5))
        p.run(2.0)
        return p.C.x.array.copy()
    assert np.allclose(run(True), run(False), rtol=1e-10)
    with pytest.raises(ValueError, match="temperature T \\[K\\] must be a positive"):
        Ideal(-3.0)


def test_materials_assignment_object_accepted():
    """An assign() result (MaterialFields) works like the list of materials."""
    d = two_regions()
    fields = assign(d, AB())
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=fields,
                         initial=1.0, time=TimeControl(dt=1.0))
    p.initialise()
    assert p.broken
    assert isinstance(Arrhenius(1.0, 1e4)(T0), float)


# --- case files ----------------------------------------------------------------------------

CASE = """
[geometry]
builder = "diffusion_couple"
params = {{ length = 2.0e-3, height = 0.5e-3 }}
h = 0.25e-3

[[materials]]
name = "coating"
regions = ["A"]
D0 = 1.0e-8
S0 = 1.0
E_S = 1.0e4

[[materials]]
name = "steel"
regions = ["B"]
D0 = 5.0e-8
S0 = 8.0
E_S = 2.0e4

[thermal]
T = "{T}"
{extra}

[physics]
terms = [{{ type = "ideal" }}]

[[species]]
name = "H"
initial = 0.5

[time]
t_end = 2.0
dt = 0.5
"""


def test_case_file_materials_and_thermal(tmp_path):
    """``[[materials]]`` with regions and a ``[thermal]`` T formula build a broken
    multi-material problem; after a few steps the interface values keep the partition
    ratio S_A(T_i)/S_B(T_i) at T_i = 600 K (nodal, to 1e-10)."""
    from femdiff.case import load

    path = tmp_path / "couple.toml"
    path.write_text(CASE.format(T="500 + 1.0e5*x", extra="heat_of_transport = 1.0e4"))
    case = load(path)
    sim = case.build(MPI.COMM_WORLD)
    p = sim.problem
    assert p.broken
    p.run(2.0)
    x, c = p.owned_concentration()
    at = np.isclose(x[:, 0], 1.0e-3)
    SA = 1.0 * math.exp(-1.0e4 / (R_GAS * 600.0))
    SB = 8.0 * math.exp(-2.0e4 / (R_GAS * 600.0))
    # each interface node carries one value per adjacent cell: the coating cells' and
    # the steel cells' values, whose ratio is S_B/S_A
    pairs = {}
    for xy, value in zip(x[at, :2].round(12).tolist(), c[at], strict=True):
        pairs.setdefault(tuple(xy), []).append(value)
    ratios = [max(v) / min(v) for v in pairs.values() if len(v) >= 2]
    assert ratios and np.allclose(ratios, max(SA, SB) / min(SA, SB), rtol=1e-10)


@pytest.mark.parametrize("T, extra, key, message", [
    ("-5.0", "", "thermal.T", "temperature must be positive"),
    ("600", "heat_of_transport = 0.3", "thermal.heat_of_transport", "implausible"),
    ("600", "bogus = 1", "thermal.bogus", "unknown key 'bogus'"),
])
def test_case_file_bad_materials_input(tmp_path, T, extra, key, message):
    from femdiff.case import load
    from femdiff.case.schema import CaseError

    path = tmp_path / "couple.toml"
    text = CASE.format(T=T, extra=extra).replace('T = "-5.0"', "T = -5.0")
    path.write_text(text)
    with pytest.raises(CaseError, match=f"{key}: .*{message}"):
        load(path)


def test_fixed_potential_reservoir_partitions_both_materials():
    """A reservoir μ_b on the coating face of a closed bilayer: at equilibrium μ = μ_b
    everywhere and C_m = S_m exp(μ_b/RT) in each material (μ = RT ln(C/S_m)), nodally
    (the constitutive law holds per cell node): to 1e-8 after the transient (slowest
    time: the steel's capacity S_s L_s over the coating's conductance D_c S_c/L_c,
    τ ≈ 200 s; Δt grows to 1e6 s)."""
    from femdiff.problems.diffusion import FixedPotential

    mu_b = 0.3 * RT
    S = {"coating": 1.0, "steel": 8.0}
    mats = [Material("coating", ("coating",), D0=1e-8, S0=S["coating"]),
            Material("steel", ("steel",), D0=5e-8, S0=S["steel"])]
    d = bilayer(40)
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=mats,
                         initial={k: 0.5 * v for k, v in S.items()},
                         time=TimeControl(dt=1.0), petsc_options=STEADY,
                         bcs=[FixedPotential("left", mu_b)])
    steady(p, [10.0**k for k in range(0, 7)])
    x, c = p.owned_concentration()
    V = p.V_c
    ncell = V.mesh.topology.index_map(1).size_local
    mid = compute_midpoints(V.mesh, 1, np.arange(ncell, dtype=np.int32))[:, 0]
    S_node = np.empty(len(c))
    for cell in range(ncell):
        S_node[V.dofmap.cell_dofs(cell)] = S["coating" if mid[cell] < 0.4e-3 else "steel"]
    assert np.allclose(c, S_node * math.exp(mu_b / RT), rtol=1e-8)


def test_gradient_energy_allowed_within_one_material():
    """Gradient energy on a single-material mesh keeps C continuous (P1): accepted."""
    d = mesh.with_volumes(mesh.interval(10, 1.0), {"all": lambda x: x[0] > -1})
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0), GradientEnergy(1e-3)]), None,
                         materials=[Material("m", ("all",), D0=1e-8, S0=1.0)],
                         initial=1.0, time=TimeControl(dt=1.0))
    p.initialise()
    assert not p.broken


@pytest.mark.mpi
def test_bilayer_boundary_fluxes_are_the_series_flux(comm):
    """The conservative boundary fluxes (flux_through) of a broken C: at the steady state
    of the bilayer above, −flux(left) = flux(right) = J of the series formula. They are
    the reactions of the conservation rows, which a broken C tests with μ's P_k space; the
    discrete flux differs from the series formula by the same O(h²) cell error as the mean
    flux (measured 3.4e-8 at n = 200, Δln φ = 0.051: asserted to 2e-7), and the two boundary
    fluxes balance to the Newton tolerance (measured 1.2e-10; 1e-9 asserted)."""
    Lx = 1.0e-3
    d = bilayer(200, comm, Lx)
    Sc, Ss = S_of(COAT), S_of(STEEL)
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=materials(),
                         initial={"coating": 0.95 * Sc, "steel": 0.95 * Ss},
                         time=TimeControl(dt=1.0), petsc_options=STEADY,
                         bcs=[FixedConcentration("left", Sc), FixedConcentration("right",
                                                                                  0.95 * Ss)])
    steady(p, [10.0**k for k in range(2, 8)])
    J = 0.05 / (0.4 * Lx / (D_of(COAT) * Sc) + 0.6 * Lx / (D_of(STEEL) * Ss))
    left, right = p.flux_through("left"), p.flux_through("right")
    assert right == pytest.approx(J, rel=2e-7)
    assert -left == pytest.approx(right, rel=1e-9)


# --- free energy with the materials' μ° ------------------------------------------------------

@pytest.mark.mpi
def test_free_energy_includes_reference_potential_and_decreases(comm):
    """F = ∫ f(C) + μ°_m C dx on a closed A|B body (μ°_m = −RT ln S_m): at t₀ (C = 5
    uniform) it is Σ_m V_m (μ°_m C + RT C (ln C − 1)) to quadrature round-off (P1 C is
    uniform: 1e-12 relative); it decreases every step of the relaxation (backward Euler
    of a gradient flow; relative slack 1e-12 for round-off) and ends at the equilibrium
    value with C_m = S_m φ (to the 1e-8 of the amounts in the relaxation test above).
    Without the μ° term the first check fails by O(1) and F would *increase* as C moves
    into the more soluble material.
    """
    d = mesh.rectangle(8, 4, 1.0e-3, 0.5e-3, comm=comm)
    d = mesh.with_volumes(d, {"A": lambda x: x[0] < 0.25e-3, "B": lambda x: x[0] > 0.25e-3})
    S = {"A": 1.0, "B": 20.0}
    mats = [Material("A", ("A",), D0=1.0e-9, S0=S["A"]),
            Material("B", ("B",), D0=3.0e-9, S0=S["B"])]
    p = DiffusionProblem(d, ChemicalPotential([Ideal(T0)]), None, materials=mats,
                         initial=5.0, time=TimeControl(dt=2.0))
    V = {"A": 0.25e-3 * 0.5e-3, "B": 0.75e-3 * 0.5e-3}

    def F_of(C):
        return sum(V[m] * (-RT * math.log(S[m]) * C[m] + RT * C[m] * (math.log(C[m]) - 1))
                   for m in V)

    F = [p.free_energy()]
    assert F[0] == pytest.approx(F_of({"A": 5.0, "B": 5.0}), rel=1e-12)
    N = p.amount()
    dt = 2.0
    for _ in range(25):
        p.step(dt)
        dt = min(2 * dt, 1.0e4)
        F.append(p.free_energy())
        assert F[-1] <= F[-2] + 1e-12 * abs(F[-2])
    phi = N / (S["A"] * V["A"] + S["B"] * V["B"])
    assert F[-1] == pytest.approx(F_of({m: S[m] * phi for m in S}), rel=1e-8)


# --- a coating: the exponentially fitted flux of several materials (issue #24) -----------

def coated(n_b):
    """1 mm of A then 0.1 mm of B, one cell size: 10·n_b cells in A and n_b in B."""
    d = mesh.interval(11 * n_b, 1.1e-3)
    return mesh.with_volumes(d, {"A": lambda x: x[0] < 1.0e-3, "B": lambda x: x[0] > 1.0e-3})


@pytest.mark.parametrize("n_b", [10, 20])
def test_coating_exit_flux_with_fitted_flux_from_a_uniform_start(n_b):
    """Steady permeation through A (D = 1e-9, S = 1, 1 mm) and a coating B (D = 1e-12,
    S = 10, 0.1 mm), C/S = 1 upstream and 1e-9 downstream, from a uniform C/S = 1e-9.

    Series resistance: in layer i the steady flux is uniform, J = −D_i dC/dx, and with
    C = S_i φ (φ = C/S, continuous at an interface where μ = R T ln(C/S_i) is) the drop
    of φ across the layer is J L_i/(D_i S_i); summing the drops,

        J = (φ_in − φ_out) / Σ_i L_i/(D_i S_i)

    (Crank, The Mathematics of Diffusion, 2nd ed., §3.4, composite membrane). The
    fitted flux M₀_m R T ∇C_h makes each cell's flux D_m ΔC/h, and the steady C is linear
    in each layer, so the discrete steady state is nodally exact: the exit flux agrees
    to round-off and the solve tolerance (asserted 1e-8; measured ~1e-12 at n_b = 10,
    20, 40), where the unfitted M(C_h)∇μ_h is 12 %, 5.7 %, 2.7 % high (first order: the
    last cell of B spans C/S from 0.1 to 1e-9) and cannot take the first step from
    this start. The exactness leaves no rate to measure here.
    """
    Sa, Sb, Da, Db = 1.0, 10.0, 1.0e-9, 1.0e-12
    start, phi_out = 1.0e-9, 1.0e-9
    mats = [Material("A", ("A",), D0=Da, S0=Sa), Material("B", ("B",), D0=Db, S0=Sb)]
    p = DiffusionProblem(
        coated(n_b), ChemicalPotential([Ideal(T0)]), None, materials=mats,
        initial={"A": start * Sa, "B": start * Sb}, time=TimeControl(dt=1.0),
        # C_s = mean initial C ~ 5e-9: scaled C reaches ~1e8, and a residual of 0.1 is a
        # relative balance ~1e-9 (the round-off floor of the large-Δt steps is ~1e-2)
        petsc_options={"snes_atol": 0.1},
        bcs=[FixedConcentration("left", Sa), FixedConcentration("right", Sb * phi_out)])
    assert p.broken
    # τ ≈ (S_A L_A)·L_B/(D_B S_B) = 1e4 s: eight Δt = 1e5 backward-Euler steps leave
    # (1/11)⁸ ≈ 5e-9 of the transient
    steady(p, [10.0**k for k in range(6)] + [1.0e5] * 8)
    J = (1.0 - phi_out) / (1.0e-3 / (Da * Sa) + 1.0e-4 / (Db * Sb))
    assert p.flux_through("right") == pytest.approx(J, rel=1e-8)
    assert -p.flux_through("left") == pytest.approx(J, rel=1e-8)
    # the partition at the interface stays nodally exact: C_B/C_A = S_B/S_A
    ca, cb = interface_values(p, 1.0e-3)
    assert cb / ca == pytest.approx(Sb / Sa, rel=1e-12)


def test_coating_transient_exit_flux_converges_at_second_order():
    """The fitted flux is second order where the profile is not piecewise linear.

    The coating of the test above, from C/S = 1e-3, BDF2 with Δt = 100 s to t = 5000 s
    (the flux is rising: B's τ = L_B²/D_B = 1e4 s), on 11·n_b cells for n_b = 4, 8, 16.
    The same Δt on every mesh, so the differences of successive exit fluxes measure the
    spatial error alone (dolfinx-tutorial chapter4/convergence.py's rate, with the
    difference of successive solutions as the error). Measured: differences 3.57e-10,
    8.98e-11 (J ≈ 8.58e-8 mol/m²/s), rate 1.99; the unfitted M(C_h)∇μ_h gives 1.19e-8,
    5.22e-9 (rate 1.19). Asserted rate > 1.8 (a first-order flux fails it).
    """
    Sa, Sb, Da, Db, start = 1.0, 10.0, 1.0e-9, 1.0e-12, 1.0e-3
    mats = [Material("A", ("A",), D0=Da, S0=Sa), Material("B", ("B",), D0=Db, S0=Sb)]
    fluxes = []
    for n_b in (4, 8, 16):
        p = DiffusionProblem(
            coated(n_b), ChemicalPotential([Ideal(T0)]), None, materials=mats,
            initial={"A": start * Sa, "B": start * Sb},
            time=TimeControl(dt=100.0, scheme="bdf2"),
            bcs=[FixedConcentration("left", Sa), FixedConcentration("right", Sb * start)])
        while p.current_time < 5000.0 * (1 - 1e-12):
            p.step(min(100.0, 5000.0 - p.current_time))
        fluxes.append(p.flux_through("right"))
    d1, d2 = abs(fluxes[0] - fluxes[1]), abs(fluxes[1] - fluxes[2])
    assert math.log2(d1 / d2) > 1.8
    assert d2 < 2e-3 * abs(fluxes[2])  # and small: 0.1 % between n_b = 8 and 16
