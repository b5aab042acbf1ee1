# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # The stressed rod: diffusion without a concentration gradient
#
# A steel rod holds dissolved hydrogen at a perfectly **uniform** concentration C₀.
# Fick's law, J = −D∇C, predicts that nothing happens. But matter diffuses down the
# gradient of its *chemical potential*, and a dissolved atom that expands the lattice
# by its partial molar volume Ω has an interaction energy with the hydrostatic stress σ_h:
#
# $$ \mu = \mu^\circ + RT\ln C - \Omega\,\sigma_h . $$
#
# A press squeezes the rod, harder at one end than the other. Hydrogen then leaves the
# more compressed end, although ∇C = 0 at t = 0: the initial flux is
# J = M₀C₀Ω∇σ_h. The rod is closed (no flux anywhere), so the amount of hydrogen is
# conserved and the rod relaxes to a uniform μ, i.e. to
#
# $$ C_\mathrm{eq}(x) = \bar C\,\frac{\exp(\Omega\sigma_h/RT)}{\langle\exp(\Omega\sigma_h/RT)\rangle}. $$
#
# The demo chains the three steps of femdiff: Gmsh geometry → mechanics (σ_h) →
# mixed μ–C diffusion with σ_h as a coefficient. Run it with
#
#     mpirun -n 2 python demos/demo_stressed_rod.py
#
# Set `CI=1` (or pass `--small`) for a coarse, fast run.

# +
import argparse
import os
import time
from pathlib import Path

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem

import femdiff  # noqa: F401  (loads MPI before PETSc for the wheel stack)
from femdiff import geometry
from femdiff import io as fio
from femdiff.models.thermodynamics import R_GAS, ChemicalPotential, Ideal, Mobility, StressCoupling
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics import mechanics
from femdiff.problems.diffusion import DiffusionProblem

parser = argparse.ArgumentParser(description="stressed-rod demo")
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")))
parser.add_argument("--out", type=Path, default=fio.demo_output("stressed_rod"))
args, _ = parser.parse_known_args()

comm = MPI.COMM_WORLD
out = args.out
if comm.rank == 0:
    out.mkdir(parents=True, exist_ok=True)
timings: dict[str, float] = {}


def say(msg: str) -> None:
    if comm.rank == 0:
        print(msg, flush=True)
# -

# ## Parameters (SI units)
#
# Hydrogen in a ferritic steel at room temperature: D ≈ 1e-9 m²/s, Ω ≈ 2 cm³/mol.
# The rod is 10 mm long with a 1 mm radius; the press exerts 200–800 MPa.

# +
length, radius = 10e-3, 1e-3
E, nu = 210e9, 0.3
T = 300.0
D = 1.0e-9
omega = 2.0e-6
C0 = 1.0  # mol/m³
p_left, p_right = 800e6, 200e6
RT = R_GAS * T
h = radius / (1.2 if args.small else 2.5)
# -

# ## Geometry and mesh
#
# `geometry.build` runs Gmsh on rank 0 and distributes the mesh. Its boundaries are
# named "left", "right" and "surface".

t0 = time.perf_counter()
rod = geometry.build("rod", comm, length=length, radius=radius, dim=3, h=h)
timings["meshing"] = time.perf_counter() - t0
ncells = comm.allreduce(rod.mesh.topology.index_map(3).size_local, op=MPI.SUM)
say(f"mesh: {ncells} tetrahedra on {comm.size} rank(s)")

# ## Mechanics: the press
#
# The left end is clamped; the lateral surface carries a pressure that falls linearly
# from 800 MPa to 200 MPa along the rod. We use P2 displacements, so σ_h is a
# piecewise-linear (DG1) field: the diffusion problem uses σ_h only inside the
# constitutive law, never differentiated, so a discontinuous field is fine there.

# +
t0 = time.perf_counter()
x = ufl.SpatialCoordinate(rod.mesh)
pressure = p_left + (p_right - p_left) * x[0] / length
solid = mechanics.Elasticity(
    rod, mechanics.ElasticMaterial(E=E, nu=nu),
    [mechanics.Fixed("left"), mechanics.Pressure("surface", pressure)], degree=2)
solid.solve()
sigma_h = solid.sigma_h()
timings["mechanics"] = time.perf_counter() - t0
# -

# ## Diffusion: the mixed μ–C problem
#
# The chemical potential is the sum of an ideal term and the stress coupling; the
# mobility M = M₀C with M₀ = D/RT recovers Fick's law where σ_h is uniform. All
# boundaries are closed (no-flux is the default). BDF2 with a time step that grows
# geometrically resolves the fast start and the slow approach to equilibrium:
# `TimeControl(growth=1.25, dt_max=τ/20)` multiplies Δt by 1.25 after every step that
# converges at the first attempt, up to τ/20, and `run` lands exactly on each snapshot.

# +
t0 = time.perf_counter()
tau = length**2 / (np.pi**2 * D)  # slowest relaxation time of the closed rod
problem = DiffusionProblem(
    rod, ChemicalPotential([Ideal(T), StressCoupling(omega, sigma_h)]),
    Mobility.from_diffusivity(D, T), initial=C0,
    time=TimeControl(dt=tau * 1e-4, scheme="bdf2", growth=1.25, dt_max=tau / 20))
problem.initialise()
amount0 = problem.amount()

# the analytic equilibrium, from the computed σ_h
boltzmann = ufl.exp(omega * sigma_h / RT)
mean = problem.integrate(boltzmann * ufl.dx) / rod.volume()
# in σ_h's own (discontinuous) space: interpolating into P1 would pick one cell's value
# at each node, which depends on the partition
V_eq = sigma_h.function_space
C_eq = fem.Function(V_eq, name="C_eq")
C_eq.interpolate(fem.Expression(C0 * boltzmann / mean, V_eq.element.interpolation_points))

# flux through the mid-section: J_x averaged over a slab of width 2h around x = L/2
slab = ufl.conditional(abs(x[0] - length / 2) < h, 1.0, 0.0) / (2 * h)

t_end = (0.5 if args.small else 3.0) * tau
snapshots = sorted({0.0, 0.02 * tau, 0.1 * tau, 0.3 * tau, t_end})
axis = np.column_stack([np.linspace(0, length, 101), np.zeros(101), np.zeros(101)])
profiles = {0.0: fio.sample_line(problem.C, axis)}

# C, μ (P1) go to fields_P1.bp; σ_h (DG1) and the flux J (DG0) to their own files
flux = problem.flux()
fields = fio.FieldWriter(comm, out / "fields", [problem.C, problem.mu, sigma_h, flux])
series = fio.TimeSeries(comm, out / "stressed_rod.csv",
                        ["t", "dt", "amount", "flux_mid", "C_min", "C_max", "newton"])


def record(info=None):
    _, C = problem.owned_concentration()
    cmin = comm.allreduce(C.min(), op=MPI.MIN)
    cmax = comm.allreduce(C.max(), op=MPI.MAX)
    flux_mid = problem.integrate(problem.flux_ufl[0] * slab * ufl.dx)
    t = problem.current_time
    series.append(t=t, dt=0.0 if info is None else info.dt, amount=problem.amount(),
                  flux_mid=flux_mid, C_min=cmin, C_max=cmax,
                  newton=0 if info is None else info.newton_iterations)
    problem.flux()  # refresh J before writing
    fields.write(t)


record()
steps = 0


def on_step(p, info):
    global steps
    steps += 1
    record(info)
    if steps % 10 == 0:
        say(f"step {steps:4d}  t = {p.current_time:10.4g} s  dt = {info.dt:9.3g} s  "
            f"newton = {info.newton_iterations}")


for target in snapshots[1:]:
    problem.run(target, callback=on_step)
    profiles[target] = fio.sample_line(problem.C, axis)
timings["diffusion"] = time.perf_counter() - t0
fields.close()
series.close()
# -

# ## Checks and plots
#
# The amount is conserved to round-off, and the final profile is close to the analytic
# equilibrium (how close depends on how long we ran: e^{-t/τ} remains).

# +
drift = abs(problem.amount() - amount0) / amount0
eq_profile = fio.sample_line(C_eq, axis)
sig_profile = fio.sample_line(sigma_h, axis)
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    xs = axis[:, 0] * 1e3
    ax1.plot(xs, sig_profile / 1e6, "k-")
    ax1.set_ylabel("σ_h [MPa]")
    ax1.set_title("Hydrostatic stress along the axis")
    for t, prof in profiles.items():
        ax2.plot(xs, prof, label=f"t = {t / tau:.2g} τ")
    ax2.plot(xs, eq_profile, "k--", label="analytic equilibrium")
    ax2.set_xlabel("x [mm]")
    ax2.set_ylabel("C [mol/m³]")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "stressed_rod_profiles.png", dpi=120)
    err = np.nanmax(np.abs(profiles[t_end] - eq_profile)) / C0
    print(f"relative mass drift {drift:.2e}; max |C − C_eq|/C0 at t_end: {err:.3e}")
    print("timings [s]: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))
    print(f"output in {out}")
# -
