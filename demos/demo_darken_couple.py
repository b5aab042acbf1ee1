# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # Darken's Fe–Si–C couple: carbon diffuses uphill
#
# Darken (Trans. AIME 180 (1949) 430) welded two austenitic steels with almost the same
# carbon content, one with 3.8 wt% Si and one nearly Si-free, and annealed the couple for
# 13 days at 1050 °C. Silicon strongly raises the activity of carbon, so carbon left the
# high-Si side *against* its own concentration gradient: after the anneal the carbon
# profile has a peak on the low-Si side of the weld and a dip on the high-Si side.
#
# Fick's law with a carbon diffusivity cannot produce this. Diffusion down the gradient
# of the diffusion potential μ̃_C = μ_C − μ_Fe does:
#
# $$ J_i = -\sum_j L_{ij}\nabla\tilde\mu_j,\qquad
#    \tilde\mu_C = \mu_C^\circ + RT\,\bigl(\ln X_C + \varepsilon_{CC}X_C
#                  + \varepsilon_{CSi}X_{Si}\bigr) + \dots $$
#
# with Wagner's interaction parameter ε_CSi > 0 (the "…" is the second-order term that
# keeps Gibbs–Duhem exact; see `femdiff.problems.multicomponent.WagnerDilute`).
#
#     mpirun -n 2 python demos/demo_darken_couple.py

# +
import argparse
import os
from pathlib import Path

from mpi4py import MPI

import numpy as np

import femdiff  # noqa: F401
from femdiff import io as fio
from femdiff.geometry import mesh
from femdiff.numerics.timestepping import TimeControl
from femdiff.problems.multicomponent import Mixture, MulticomponentProblem, Onsager, WagnerDilute

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")))
parser.add_argument("--out", type=Path,
                    default=fio.demo_output("darken_couple"))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
# -

# ## Data and sources
#
# * Compositions (Darken 1949): high-Si side 0.49 wt% C, 3.80 wt% Si; low-Si side
#   0.45 wt% C, 0.05 wt% Si; balance Fe. Anneal: 13 days at 1050 °C (1323 K).
# * Carbon diffusivity in austenite, D_C = D₀ exp(−Q/RT) with D₀ = 2.3e-5 m²/s and
#   Q = 148 kJ/mol (the textbook Arrhenius pair, e.g. Callister, Materials Science and
#   Engineering, table "Diffusion data"): 3.3e-11 m²/s at 1323 K. The composition-
#   dependent fit of Wells, Batz & Mehl (Trans. AIME 188 (1950) 553),
#   D_C = (0.07 + 0.06 wt% C) exp(−32 kcal/mol / RT) cm²/s, gives 5e-11 m²/s at
#   0.47 wt% C: the same order, which is all the profile shape depends on.
# * Silicon is substitutional and far slower; D_Si ~ 1e-15 m²/s at 1050 °C is the
#   order of magnitude of substitutional diffusion in γ-Fe (e.g. Smithells Metals
#   Reference Book, 8th ed., ch. 13). Only D_Si ≪ D_C matters here.
# * ε_C^Si ≈ 9 in mole fractions: an assumed value of the order that analyses of this
#   couple use (Darken 1949; the textbook treatments in Shewmon, Diffusion in Solids,
#   2nd ed. 1989, ch. 4, and Kirkaldy & Young, Diffusion in the Condensed State, 1987).
#   Positive ε_C^Si (Si raises the carbon activity) is what makes carbon go uphill; the
#   value sets the height of the peak and dip, not their existence.
#   We set ε_CC = ε_SiSi = 0 and ln γ° = 0: they only shift μ̃ by constants or change the
#   effective D_C a little.
#
# Simplifications. Carbon is interstitial, yet it is treated here as a dilute species on
# the same lattice as Fe and Si (X_Fe = 1 − X_C − X_Si); in a dilute solution this only
# changes terms of order X_C. The Onsager matrix is the dilute one,
# L_ij = δ_ij D_i X_i / RT, so that J_C = −D_C (∇X_C + X_C ε_CSi ∇X_Si + …).

# +
T = 1323.15
D = {"C": 3.3e-11, "Si": 1.0e-15}
eps_C_Si = 9.0
molar_mass = {"C": 12.011, "Si": 28.086, "Fe": 55.845}  # g/mol


def mole_fractions(wt):
    """Mole fractions from wt% of C and Si (balance Fe)."""
    wt = dict(wt, Fe=100.0 - sum(wt.values()))
    n = {s: w / molar_mass[s] for s, w in wt.items()}
    return {s: v / sum(n.values()) for s, v in n.items()}


high_si = mole_fractions({"C": 0.49, "Si": 3.80})  # left, x < 0
low_si = mole_fractions({"C": 0.45, "Si": 0.05})  # right, x > 0
t_end = 13 * 86400.0
# -

# ## Mesh: 2 × 25 mm, graded towards the weld
#
# Carbon spreads over 2√(D_C t) ≈ 12 mm in 13 days; silicon over only ~20 μm. The
# uniform interval is mapped by x = L sinh(a ξ)/sinh(a), which gives cells of a few μm at
# the weld and a fraction of a mm at the ends. The initial weld is a tanh of width 3 μm.

# +
half = 25e-3
n = 300 if args.small else 1200
domain = mesh.interval(n, 2 * half, -half, comm=comm)
a = 7.0
xg = domain.mesh.geometry.x
xg[:, 0] = half * np.sinh(a * xg[:, 0] / half) / np.sinh(a)
width = 3e-6


def step(left, right):
    return lambda x: 0.5 * (left + right) + 0.5 * (right - left) * np.tanh(x[0] / width)


problem = MulticomponentProblem(
    domain, ["C", "Si", "Fe"],
    Mixture([WagnerDilute(T, epsilon={("C", "Si"): eps_C_Si})]),
    Onsager.dilute(D, T),
    initial={s: step(high_si[s], low_si[s]) for s in ("C", "Si")},
    time=TimeControl(dt=1.0, scheme="bdf2", growth=1.15,
                     dt_max=t_end / (30 if args.small else 60)))
problem.initialise()
# -

# ## Annealing: geometrically growing steps
#
# The start is fast (the carbon redistributes over micrometres within seconds), the end
# slow, so Δt grows by 15 % a step from 1 s up to t_end/60: `TimeControl(growth=1.15,
# dt_max=...)`, the rule of the case files' `[time] growth`.

# +
weight = {}


def wt_percent(X):
    """wt% of C and Si from mole-fraction arrays."""
    mass = {s: X[s] * molar_mass[s] for s in molar_mass}
    total = sum(mass.values())
    return {s: 100 * mass[s] / total for s in ("C", "Si")}


xs = np.concatenate([np.linspace(-half, -1e-3, 200), np.linspace(-1e-3, 1e-3, 801)[1:-1],
                     np.linspace(1e-3, half, 200)])
points = np.column_stack([xs, np.zeros_like(xs), np.zeros_like(xs)])


def sample():
    X = {s: fio.sample_line(problem.X[s], points) for s in molar_mass}
    return wt_percent(X) if comm.rank == 0 else None


profiles = {0.0: sample()}
series = fio.TimeSeries(comm, args.out / "darken_couple.csv",
                        ["t", "wC_max", "wC_min", "amount_C", "amount_Si"])
fields = fio.FieldWriter(comm, args.out / "fields",
                         [*problem.X.values(), *problem.mu.values()])
fields.write(0.0)
steps = 0


def record(problem, info):
    global steps
    steps += 1
    wC = problem.X["C"]
    lo = comm.allreduce(float(wC.x.array.min()), MPI.MIN)
    hi = comm.allreduce(float(wC.x.array.max()), MPI.MAX)
    # X → wt% for the extremes (dilute: wt%_C ≈ X_C M_C / M_Fe)
    series.append(t=info.t, wC_max=100 * hi * molar_mass["C"] / molar_mass["Fe"],
                  wC_min=100 * lo * molar_mass["C"] / molar_mass["Fe"],
                  amount_C=problem.amount("C"), amount_Si=problem.amount("Si"))
    if steps % 20 == 0 and comm.rank == 0:
        print(f"step {steps}: t = {info.t / 86400:6.2f} d, dt = {info.dt:.3g} s")


problem.run(t_end, callback=record)
profiles[t_end] = sample()
fields.write(t_end)
fields.close()
series.close()
# -

# ## Result: carbon and silicon after 13 days
#
# Darken measured about 0.6 wt% C just on the low-Si side of the weld and about 0.3 wt%
# just on the high-Si side, from a nearly flat 0.45–0.49 wt% start.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mm = xs * 1e3
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(mm, profiles[0.0]["C"], "k:", label="C, initial")
    ax1.plot(mm, profiles[t_end]["C"], "C3", label="C, 13 days")
    ax1.axvline(0, color="grey", lw=0.5)
    ax1.set_xlabel("distance from weld [mm]")
    ax1.set_ylabel("carbon [wt%]")
    ax1.text(-20, 0.5, "3.8 % Si", ha="left")
    ax1.text(20, 0.5, "0.05 % Si", ha="right")
    ax1.legend(loc="upper left")
    ax1.set_title("uphill carbon diffusion (1050 °C)")
    near = np.abs(xs) < 1e-4
    ax2.plot(xs[near] * 1e6, profiles[0.0]["Si"][near], "k:", label="initial")
    ax2.plot(xs[near] * 1e6, profiles[t_end]["Si"][near], "C0", label="13 days")
    ax2.set_xlabel("distance from weld [μm]")
    ax2.set_ylabel("silicon [wt%]")
    ax2.legend()
    ax2.set_title("silicon barely moves")
    fig.tight_layout()
    fig.savefig(args.out / "darken_couple.png", dpi=120)
    c = profiles[t_end]["C"]
    print(f"after 13 days: C peak {c.max():.3f} wt% at x = {mm[np.argmax(c)]:+.2f} mm "
          f"(low-Si side), dip {c.min():.3f} wt% at x = {mm[np.argmin(c)]:+.2f} mm "
          f"(high-Si side)")
# -
