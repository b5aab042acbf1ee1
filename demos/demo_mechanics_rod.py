# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # A rod in a press: the hydrostatic stress that drives diffusion
#
# Before any diffusion, femdiff needs the stress field. Here a 3D steel rod is clamped
# at its left end and squeezed on its lateral surface by a press whose pressure falls
# linearly along the rod, p(x) = p_L + (p_R − p_L) x/L. We solve small-strain linear
# elasticity,
#
# $$ -\nabla\cdot\sigma(u) = 0,\qquad \sigma = 2\mu\varepsilon(u) + \lambda\,\mathrm{tr}\,\varepsilon(u)\,I, $$
#
# with σ·n = −p n on the lateral surface, and extract the hydrostatic stress
# σ_h = tr(σ)/3, negative (compressive) where the press is hardest. Far from the clamp
# a long cylinder under lateral pressure p has σ_rr = σ_θθ = −p, so σ_h ≈ −(2/3)p
# (less the axial relaxation of a free end).
#
#     mpirun -n 2 python demos/demo_mechanics_rod.py        # CI=1 for a coarse run

# +
import argparse
import os
from pathlib import Path

from mpi4py import MPI

import numpy as np

import femdiff  # noqa: F401
from femdiff import geometry
from femdiff import io as fio
from femdiff.physics import mechanics

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")))
parser.add_argument("--out", type=Path,
                    default=fio.demo_output("mechanics_rod"))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
# -

# ## Geometry and loads (SI)
#
# The rod comes from femdiff's Gmsh builders, with its boundaries named "left", "right"
# and "surface". A load that varies in space is a function of the coordinate
# x = `ufl.SpatialCoordinate`, so the press is written as it reads on paper.

# +
length, radius = 10e-3, 1e-3
p_left, p_right = 800e6, 200e6
rod = geometry.build("rod", comm, length=length, radius=radius, dim=3,
                     h=radius / (1.2 if args.small else 3.0))


def pressure(x):
    return p_left + (p_right - p_left) * x[0] / length


press = mechanics.Pressure("surface", pressure)
# -

# ## Solve: P2 displacements, CG + GAMG with the rigid-body near-nullspace

solid = mechanics.Elasticity(rod, mechanics.ElasticMaterial(E=210e9, nu=0.3),
                             [mechanics.Fixed("left"), press], degree=2)
solid.solve()
if comm.rank == 0:
    print(f"CG iterations: {solid.iterations}")

# ## Output: σ_h and von Mises for ParaView, and σ_h along the axis
#
# σ_h of a P2 displacement is piecewise linear and discontinuous (DG1), the exact field
# of the discrete solution. We sample it on the axis on every rank (each rank evaluates
# the points inside its own cells) and gather the profile to rank 0. Within about one
# radius of the clamp the fixed end stops the radial contraction and σ_h departs from
# the long-cylinder estimate; on a coarse mesh the DG field also jumps from cell to cell.

# +
paths = solid.write(args.out / "rod")
axis = np.column_stack([np.linspace(0, length, 201), np.zeros(201), np.zeros(201)])
sigma_h = fio.sample_line(solid.sigma_h(), axis)
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = axis[:, 0]
    estimate = -(2 / 3) * pressure(axis.T)  # the same p(x), evaluated with NumPy
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(xs * 1e3, sigma_h / 1e6, label="FE σ_h on the axis")
    ax.plot(xs * 1e3, estimate / 1e6, "k--",
            label="−(2/3) p(x): long-cylinder estimate")
    ax.set_xlabel("x [mm]")
    ax.set_ylabel("σ_h [MPa]")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "sigma_h_axis.png", dpi=120)
    np.savetxt(args.out / "sigma_h_axis.csv",
               np.column_stack([xs, sigma_h, estimate]), delimiter=",",
               header="x [m],sigma_h [Pa],-(2/3)p(x) [Pa]", comments="")
    mid = np.nanmean(sigma_h[80:120]) / 1e6
    print(f"σ_h at mid-length ≈ {mid:.0f} MPa; fields: {', '.join(map(str, paths))}")
# -
