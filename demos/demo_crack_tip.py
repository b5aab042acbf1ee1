# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # Hydrogen ahead of a loaded crack tip: lattice saturation and Oriani traps
#
# Hydrogen embrittlement starts where hydrogen gathers: ahead of a crack tip, where the
# hydrostatic stress σ_h is tensile and large. Sofronis & McMeeking (J. Mech. Phys.
# Solids 37 (1989) 317) and Krom, Koers & Bakker (J. Mech. Phys. Solids 47 (1999) 971)
# model lattice hydrogen C_L on N_L interstitial sites with
#
# $$ \mu = \mu^\circ + RT\ln\frac{\theta_L}{1-\theta_L} - V_H\,\sigma_h,
#    \qquad \theta_L = C_L/N_L, $$
#
# in local equilibrium (Oriani) with N_T trap sites of binding energy E_b,
#
# $$ \frac{\theta_T}{1-\theta_T} = K\frac{\theta_L}{1-\theta_L},\qquad K = e^{E_b/RT}, $$
#
# and the total hydrogen C_L + C_T diffusing with the lattice flux J = −M ∇μ:
#
# $$ \frac{\partial (C_L + C_T(C_L))}{\partial t} = \nabla\cdot(M\nabla\mu),
#    \qquad M = \frac{D_L C_L (1-\theta_L)}{RT}. $$
#
# The stress is the mode-I boundary layer: a disc with a slit, the plane-strain K_I
# displacement field on its outer circle (femdiff.physics.fracture.KField), linear elastic.
#
#     mpirun -n 2 python demos/demo_crack_tip.py

# +
import argparse
import math
import os
from pathlib import Path

from mpi4py import MPI

import numpy as np

from femdiff import geometry
from femdiff import io as fio
from femdiff.models.thermodynamics import (
    R_GAS,
    ChemicalPotential,
    LatticeSaturation,
    Mobility,
    StressCoupling,
)
from femdiff.models.trap_laws import AVOGADRO, Oriani
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics.boundary import FixedPotential
from femdiff.physics.fracture import KField
from femdiff.physics.mechanics import Displacement, Elasticity, ElasticMaterial
from femdiff.problems.trapping import TrappingProblem

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")))
parser.add_argument("--out", type=Path, default=fio.demo_output("crack_tip"))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
# -

# ## Parameters (Krom et al. 1999; molar units)
#
# D_L = 1.27e-8 m²/s, N_L = 5.1e29 m⁻³, V_H = 2e-6 m³/mol, T = 293 K, E_b = 60 kJ/mol,
# C_L0 = 2.084e21 m⁻³ (θ_L0 ≈ 4e-9). The trap density is a number: Krom's
# N_T = 10^(23.26 − 2.33 e^(−5.5 ε_p)) sites/m³ at zero plastic strain, 8.5e20 m⁻³ (this
# model is elastic). K = e^(E_b/RT) ≈ 5e10, so the traps are nearly full (θ_T ≈ 0.995).
# K_I = 30 MPa√m, E = 200 GPa, ν = 0.3; the disc has R = 10 mm.

# +
T = 293.0
RT = R_GAS * T
D_L, V_H, E_b = 1.27e-8, 2.0e-6, 60.0e3
N_L = 5.1e29 / AVOGADRO  # mol/m³
N_T = 8.5e20 / AVOGADRO
C_L0 = 2.084e21 / AVOGADRO
R, K_I = 1.0e-2, 30.0e6
material = ElasticMaterial(200e9, 0.3, "plane_strain")
grading = 0.5 if args.small else 0.25
domain = geometry.build("crack_tip", comm, radius=R, grading=grading, tip_size=R / 1000)
# -

# ## The stress: σ_h of the K-field boundary layer
#
# P2 displacements; σ_h projected onto P1, so the lumped constitutive law holds node by
# node (μ_i = ∂f/∂C(C_i) − V_H σ_h,i).

# +
kfield = KField(K_I, material)
solid = Elasticity(domain, material, [kfield.boundary_condition("outer"),
                                      Displacement("symmetry", {1: 0.0})],
                   degree=2, solver="lu")
solid.solve()
sigma_h = solid.sigma_h(space="CG", degree=1)
sigma_h.name = "sigma_h"
# -

# ## Hydrogen: charged to C_L0, loaded at t = 0, the outer circle a reservoir
#
# The outer circle holds the chemical potential of the unstressed charged material,
# μ = RT ln(θ_L0/(1−θ_L0)); the crack faces and the ligament (symmetry) are closed.
# Hydrogen then flows up the stress gradient to the tip. Steps grow geometrically from
# 0.1 s; the diffusion time of the disc is R²/D_L ≈ 7900 s.

# +
traps = [Oriani(N_T, E_b)]
potential = ChemicalPotential([LatticeSaturation(T, N_L), StressCoupling(V_H, sigma_h)])
mu_reservoir = RT * math.log(C_L0 / (N_L - C_L0))
problem = TrappingProblem(
    domain, potential, Mobility.lattice(D_L, T, N_L), traps=traps, temperature=T,
    initial=C_L0, bcs=[FixedPotential("outer", mu_reservoir)],
    time=TimeControl(dt=0.1, growth=1.3, dt_max=500.0))
problem.initialise()
args.out.mkdir(parents=True, exist_ok=True)
times = [1.0, 10.0, 100.0, 1000.0] if args.small else [1.0, 10.0, 100.0, 1000.0, 1.0e4]
ahead = np.column_stack([np.geomspace(R / 1000, 0.99 * R, 120), np.zeros(120),
                         np.zeros(120)])
series = fio.TimeSeries(comm, args.out / "crack_tip.csv",
                        ["t", "mobile", "trapped", "total", "C_L_max"])
fields = fio.FieldWriter(comm, args.out / "fields",
                         [problem.C, problem.trapped_fields[0], sigma_h])
profiles = {}


def record(p, info):
    inventory = p.inventory()
    peak = comm.allreduce(float(p.C.x.array.max()), op=MPI.MAX)
    series.append(t=info.t, mobile=inventory["mobile"], trapped=inventory["trapped"],
                  total=inventory["total"], C_L_max=peak)


for t in times:
    problem.run(t, callback=record)
    profiles[t] = (fio.sample_line(problem.C, ahead), fio.sample_line(problem.trapped_fields[0],
                                                                      ahead))
    fields.write(t)
fields.close()
series.close()
steady = np.exp(V_H * fio.sample_line(sigma_h, ahead) / RT)  # C_L/C_L0 at equilibrium
# -

# ## Plots: C_L/C_L0 and C_T/N_T ahead of the tip
#
# The lattice hydrogen rises towards the equilibrium C_L/C_L0 = exp(V_H σ_h/RT) (dashed),
# first near the tip (short diffusion paths), then further out. The traps, nearly full
# from the start, fill a little more where C_L grows.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = ahead[:, 0] * 1e3
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for t, (cl, ct) in profiles.items():
        ax1.semilogx(r, cl / C_L0, label=f"t = {t:g} s")
        ax2.semilogx(r, ct / N_T, label=f"t = {t:g} s")
    ax1.semilogx(r, steady, "k--", label="exp(V_H σ_h/RT)")
    ax1.set_xlabel("distance ahead of the tip [mm]")
    ax1.set_ylabel("C_L / C_L0")
    ax1.legend()
    ax2.set_xlabel("distance ahead of the tip [mm]")
    ax2.set_ylabel("C_T / N_T")
    ax2.legend()
    fig.suptitle(f"K_I = {K_I / 1e6:g} MPa√m, Oriani traps E_b = {E_b / 1e3:g} kJ/mol")
    fig.tight_layout()
    fig.savefig(args.out / "crack_tip_profiles.png", dpi=120)
    cl, _ = profiles[times[-1]]
    print(f"C_L/C_L0 at r = {r[0]:.3g} mm after {times[-1]:g} s: {cl[0] / C_L0:.2f} "
          f"(equilibrium {steady[0]:.2f})")
# -
