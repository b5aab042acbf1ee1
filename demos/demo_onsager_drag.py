# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # Onsager drag: a flux without a driving force of its own
#
# In a multicomponent solid each flux responds to every driving force:
#
# $$ J_i = -\sum_j L_{ij}\,\nabla\tilde\mu_j, \qquad \tilde\mu_j = \mu_j - \mu_S, $$
#
# with L symmetric (Onsager reciprocity) and positive semi-definite (the second law).
# Here species A and B share a lattice with a solvent S. B starts with a perfectly flat
# diffusion potential, ∇μ̃_B = 0, while A has a strong gradient. Fick's law would leave B
# alone; the cross coefficient L_BA drags it along: J_B = −L_BA ∇μ̃_A ≠ 0. The drag then
# builds a B gradient, whose own flux eventually opposes it.
#
#     mpirun -n 2 python demos/demo_onsager_drag.py

# +
import argparse
import os
from pathlib import Path

from mpi4py import MPI

import numpy as np
import ufl

import femdiff  # noqa: F401
from femdiff import io as fio
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import R_GAS
from femdiff.numerics.timestepping import TimeControl
from femdiff.problems.multicomponent import IdealMixing, Mixture, MulticomponentProblem, Onsager

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")))
parser.add_argument("--out", type=Path,
                    default=fio.demo_output("onsager_drag"))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
# -

# ## Model (lengths in μm, time in s, μ in J/mol)
#
# Ideal mixing at T = 1000 K, so μ̃_B = RT ln(X_B/X_S). Choosing X_B = r (1 − X_A)/(1 + r)
# makes X_B/X_S = r everywhere: μ̃_B is flat although X_B is not. A constant Onsager
# matrix with a strong cross term (L_AB/√(L_AA L_BB) = 0.8; positive definite):
#
# $$ L = \frac{0.1\ \mu\mathrm{m^2/s}}{RT}\begin{pmatrix}1 & 0.8\\ 0.8 & 1\end{pmatrix}. $$

# +
T = 1000.0
RT = R_GAS * T
M = 0.1 / RT
L = {("A", "A"): M, ("B", "B"): M, ("A", "B"): 0.8 * M, ("B", "A"): 0.8 * M}
r = 0.5
length = 10.0


def x_a(x):
    return 0.3 + 0.2 * np.tanh((x[0] - 0.5 * length) / 0.5)


n = 100 if args.small else 400
domain = mesh.interval(n, length, comm=comm)
problem = MulticomponentProblem(
    domain, ["A", "B", "S"], Mixture([IdealMixing(T)]), Onsager.matrix(L),
    initial={"A": x_a, "B": lambda x: r * (1 - x_a(x)) / (1 + r)},
    time=TimeControl(dt=0.5 if args.small else 0.2, scheme="bdf2"))
problem.initialise()
# -

# ## The initial drag flux
#
# At t = 0, ∇μ̃_B vanishes, so J_B must equal −L_BA ∇μ̃_A: a flux of B driven only by A.

# +
J_B0 = problem.flux_ufl["B"]
drag = -L[("B", "A")] * ufl.grad(problem.mu["A"])
mismatch = problem.integrate(ufl.inner(J_B0 - drag, J_B0 - drag) * ufl.dx)
scale = problem.integrate(ufl.inner(drag, drag) * ufl.dx)
if comm.rank == 0:
    print(f"t = 0: ‖J_B + L_BA ∇μ̃_A‖ / ‖L_BA ∇μ̃_A‖ = {np.sqrt(mismatch / scale):.2e}")
# -

# ## Time loop: CSV series, ParaView fields, profiles

# +
series = fio.TimeSeries(comm, args.out / "onsager_drag.csv",
                        ["t", "J_A_mean", "J_B_mean", "amount_A", "amount_B"])
fluxes = [problem.flux(s, degree=0) for s in ("A", "B")]
fields = fio.FieldWriter(comm, args.out / "fields",
                         [*problem.X.values(), *problem.mu.values(), *fluxes])
points = np.column_stack([np.linspace(0, length, 401), np.zeros(401), np.zeros(401)])
snapshots = (0.0, 2.0, 10.0, 40.0) if args.small else (0.0, 2.0, 10.0, 40.0, 120.0)
profiles = {}


def record(p, info=None):
    t = p.current_time
    mean = [p.integrate(p.flux_ufl[s][0] * ufl.dx) / length for s in ("A", "B")]
    series.append(t=t, J_A_mean=mean[0], J_B_mean=mean[1], amount_A=p.amount("A"),
                  amount_B=p.amount("B"))


record(problem)
for t in snapshots:
    if t > problem.current_time:
        problem.run(t, callback=record)
    profiles[t] = fio.sample_line(problem.X["B"], points)
    for s in ("A", "B"):
        problem.flux(s, degree=0)
    fields.write(t)
    if comm.rank == 0:
        print(f"t = {t:6.1f} s: X_B range {np.nanmin(profiles[t]):.4f}–"
              f"{np.nanmax(profiles[t]):.4f}")
fields.close()
series.close()
# -

# ## Plots: the drag flux over time, and B's profile developing
#
# The mean flux of B starts at −L_BA⟨∇μ̃_A⟩ and decays as A's gradient relaxes and B's
# own gradient (built by the drag) pushes back.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = fio.read_csv(args.out / "onsager_drag.csv")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(data["t"], data["J_B_mean"], label="B (dragged)")
    ax1.plot(data["t"], data["J_A_mean"], "--", label="A (driven)")
    ax1.set_xscale("symlog", linthresh=1.0)
    ax1.set_xlabel("t [s]")
    ax1.set_ylabel("mean flux ⟨J⟩ [μm/s]")
    ax1.legend()
    ax1.set_title("B flows with no gradient of its own")
    for t, prof in profiles.items():
        ax2.plot(points[:, 0], prof, label=f"t = {t:g} s")
    ax2.set_xlabel("x [μm]")
    ax2.set_ylabel("X_B")
    ax2.legend()
    ax2.set_title("B profile developing")
    fig.tight_layout()
    fig.savefig(args.out / "onsager_drag.png", dpi=120)
    drift = abs(data["amount_B"][-1] - data["amount_B"][0]) / data["amount_B"][0]
    print(f"initial mean J_B = {data['J_B_mean'][0]:.3e} μm/s; B conserved to {drift:.1e}")
# -
