# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # Uphill diffusion in a regular-solution alloy
#
# Fick's law says solute flows from high to low concentration. In a regular solution
#
# $$ f = RT\,[X\ln X + (1-X)\ln(1-X)] + \Omega_\mathrm{mix} X(1-X) $$
#
# with Ω_mix > 2RT, the curvature f″(X) is negative between the spinodal compositions,
# and there the chemical potential μ = f′ *decreases* with X: matter still flows down
# ∇μ, which is now *up* ∇X. A gentle composition step inside the spinodal sharpens
# instead of smoothing out. A small gradient energy κ keeps the problem well posed.
#
#     mpirun -n 2 python demos/demo_uphill.py

# +
import argparse
import os
from pathlib import Path

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem

import femdiff  # noqa: F401
from femdiff import io as fio
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import (
    R_GAS,
    ChemicalPotential,
    GradientEnergy,
    Mobility,
    RegularSolution,
)
from femdiff.numerics.timestepping import Adaptive, TimeControl
from femdiff.problems.diffusion import DiffusionProblem

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")))
parser.add_argument("--dim", type=int, choices=[1, 2], default=1)
parser.add_argument("--out", type=Path, default=fio.demo_output("uphill"))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
# -

# ## Model (X is a mole fraction; lengths in μm, time in s)
#
# T = 800 K, Ω_mix = 3RT: spinodal for 0.21 < X < 0.79. Constant mobility
# M = D/(RT) with D = 1e-4 μm²/s, κ = 1e-3 RT μm². `--dim 2` runs the same step on a
# unit square (the step along x, uniform in y), which must reproduce the 1D physics.

# +
T = 800.0
RT = R_GAS * T
n = 100 if args.small else 400
if args.dim == 1:
    domain = mesh.interval(n, 1.0, comm=comm)
else:
    domain = mesh.rectangle(n, n // 10, 1.0, 0.1, comm=comm)
problem = DiffusionProblem(
    domain,
    ChemicalPotential([RegularSolution(T, omega_mix=3 * RT), GradientEnergy(1e-3 * RT)]),
    Mobility.constant(1e-4 / RT),
    initial=lambda x: 0.5 + 0.05 * np.tanh((x[0] - 0.5) / 0.1),
    time=TimeControl(dt=1e-2, scheme="bdf2"), adaptive=Adaptive(tol=1e-3))
problem.initialise()
y_mid = 0.05 if args.dim == 2 else 0.0
x_line = np.column_stack([np.linspace(0, 1, 201), np.full(201, y_mid), np.zeros(201)])
profiles = {0.0: fio.sample_line(problem.C, x_line)}
series = fio.TimeSeries(comm, args.out / "uphill.csv", ["t", "dt", "F", "uphill_work"])
fields = fio.FieldWriter(comm, args.out / "fields", [problem.C, problem.mu])
fields.write(0.0)
x = ufl.SpatialCoordinate(domain.mesh)


def record(p, info):
    # ∫ J·∇X > 0 means the flux runs up the concentration gradient on average
    uphill = p.integrate(ufl.inner(p.flux_ufl, ufl.grad(p.C)) * ufl.dx)
    series.append(t=info.t, dt=info.dt, F=p.free_energy(), uphill_work=uphill)


for t in (1.0, 5.0, 20.0):
    problem.run(t, callback=record)
    profiles[t] = fio.sample_line(problem.C, x_line)
    fields.write(t)
fields.close()
series.close()
J = problem.flux(degree=0)
flux = fio.sample_line(J, x_line)
Vg = J.function_space
gradC = fem.Function(Vg)
gradC.interpolate(fem.Expression(ufl.grad(problem.C), Vg.element.interpolation_points))
grad = fio.sample_line(gradC, x_line)
# -

# ## Plots: profiles sharpening, and the flux against ∇X (same sign = uphill)

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for t, prof in profiles.items():
        ax1.plot(x_line[:, 0], prof, label=f"t = {t:g} s")
    ax1.set_xlabel("x [μm]")
    ax1.set_ylabel("X")
    ax1.legend()
    ax1.set_title("composition step sharpens")
    ax2.plot(grad[:, 0] if grad.ndim > 1 else grad, flux[:, 0] if flux.ndim > 1 else flux,
             ".")
    ax2.axhline(0, color="k", lw=0.5)
    ax2.axvline(0, color="k", lw=0.5)
    ax2.set_xlabel("∂X/∂x [1/μm]")
    ax2.set_ylabel("J [1/(μm s)]")
    ax2.set_title("J and ∇X share a sign: uphill")
    fig.tight_layout()
    fig.savefig(args.out / "uphill.png", dpi=120)
    data = fio.read_csv(args.out / "uphill.csv")
    print(f"∫J·∇X at t = {data['t'][-1]:g}: {data['uphill_work'][-1]:.3e} (> 0: uphill); "
          f"X range {np.nanmin(profiles[20.0]):.3f}–{np.nanmax(profiles[20.0]):.3f}")
# -
