"""CG + GAMG (rigid-body near-nullspace) for 3D elasticity under 2× and 4× refinement.

Prints CG iterations and solve time per mesh, for femdiff's Elasticity and for a plain
DOLFINx LinearProblem with the same options and near-nullspace, side by side. The
iteration counts should stay roughly flat as the mesh refines.

    python benchmarks/bench_elasticity_gamg.py [--n 6]
    mpirun -n 2 python benchmarks/bench_elasticity_gamg.py
"""

import argparse
import time

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import LinearProblem

import femdiff  # noqa: F401
from femdiff import mesh, solvers
from femdiff.mechanics import Elasticity, ElasticMaterial, Fixed, Pressure, rigid_body_modes

E, NU = 210e9, 0.3


def femdiff_solve(n):
    d = mesh.box(4 * n, n, n, 4.0, 1.0, 1.0)
    x = ufl.SpatialCoordinate(d.mesh)
    solid = Elasticity(d, ElasticMaterial(E, NU), [Fixed("left"),
                                                   Pressure("top", 1e8 * (1 + x[0]))])
    solid.initialise()
    t0 = time.perf_counter()
    solid.solve()
    return time.perf_counter() - t0, solid.iterations, d


def plain_solve(d):
    V = fem.functionspace(d.mesh, ("Lagrange", 1, (3,)))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    mu, lmbda = E / (2 * (1 + NU)), E * NU / ((1 + NU) * (1 - 2 * NU))
    eps = ufl.sym(ufl.grad(u))
    sig = 2 * mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(3)
    x = ufl.SpatialCoordinate(d.mesh)
    n = ufl.FacetNormal(d.mesh)
    a = ufl.inner(sig, ufl.sym(ufl.grad(v))) * ufl.dx
    L = -1e8 * (1 + x[0]) * ufl.inner(n, v) * d.ds("top")
    dofs = fem.locate_dofs_topological(V, 2, d.facets("left"))
    bc = fem.dirichletbc(np.zeros(3), dofs, V)
    problem = LinearProblem(a, L, bcs=[bc], petsc_options_prefix="plain_el_",
                            petsc_options=solvers.elasticity_options())
    problem.A.setNearNullSpace(rigid_body_modes(V))
    t0 = time.perf_counter()
    problem.solve()
    return time.perf_counter() - t0, problem.solver.getIterationNumber()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=6, help="cells across the bar (coarsest)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        print(f"ranks={comm.size}")
        print(f"{'cells':>9} {'dofs':>9} {'its':>4} {'femdiff s':>10} {'plain s':>8} {'ratio':>6}")
    for k in (1, 2, 4):
        n = args.n * k
        tf, its, d = femdiff_solve(n)
        tp, its_p = plain_solve(d)
        cells = comm.allreduce(d.mesh.topology.index_map(3).size_local, MPI.SUM)
        dofs = 3 * (4 * n + 1) * (n + 1) ** 2
        if comm.rank == 0:
            print(f"{cells:9d} {dofs:9d} {its:4d} {tf:10.3f} {tp:8.3f} {tf / tp:6.2f}"
                  f"   (plain its {its_p})")


if __name__ == "__main__":
    main()
