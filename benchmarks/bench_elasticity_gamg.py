"""CG + GAMG (rigid-body near-nullspace) for 3D elasticity under 2× and 4× refinement.

Prints CG iterations and solve time per mesh, for femdiff's Elasticity and for a plain
DOLFINx LinearProblem with the same options and near-nullspace, side by side. The
iteration counts should stay roughly flat as the mesh refines.

A solve is assembly + GAMG set-up + CG (``solve()`` of both problems; forms are compiled
and the problems built before the clock starts). Each is repeated ``--repeat`` times,
alternating femdiff and plain, and the fastest is kept, so that load from other processes
on a shared machine biases neither side.

    python benchmarks/bench_elasticity_gamg.py [--n 6] [--repeat 3]
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
from femdiff.geometry import mesh
from femdiff.numerics import solvers
from femdiff.physics.mechanics import Elasticity, ElasticMaterial, Fixed, Pressure, rigid_body_modes

E, NU = 210e9, 0.3


def timed(solve):
    t0 = time.perf_counter()
    solve()
    return time.perf_counter() - t0


def femdiff_problem(d):
    x = ufl.SpatialCoordinate(d.mesh)
    solid = Elasticity(d, ElasticMaterial(E, NU), [Fixed("left"),
                                                   Pressure("top", 1e8 * (1 + x[0]))])
    solid.initialise()
    return solid


def plain_problem(d):
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
    return problem


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=6, help="cells across the bar (coarsest)")
    parser.add_argument("--repeat", type=int, default=3, help="solves per problem (min kept)")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        print(f"ranks={comm.size}, box 4n×n×n P1 tetrahedra, CG + GAMG + rigid-body modes, "
              f"min of {args.repeat} solves")
        print(f"{'n':>3} {'cells':>8} {'dofs':>8} {'its':>4} {'plain its':>9} "
              f"{'femdiff s':>9} {'plain s':>8} {'ratio':>6}")
    for k in (1, 2, 4):
        n = args.n * k
        d = mesh.box(4 * n, n, n, 4.0, 1.0, 1.0)
        solid, plain = femdiff_problem(d), plain_problem(d)
        tf, tp = [], []
        for _ in range(args.repeat):
            comm.Barrier()
            tf.append(comm.allreduce(timed(solid.solve), MPI.MAX))
            comm.Barrier()
            tp.append(comm.allreduce(timed(plain.solve), MPI.MAX))
        its, its_p = solid.iterations, plain.solver.getIterationNumber()
        cells = d.mesh.topology.index_map(3).size_global
        dofs = solid.V.dofmap.index_map.size_global * solid.V.dofmap.index_map_bs
        if comm.rank == 0:
            print(f"{n:3d} {cells:8d} {dofs:8d} {its:4d} {its_p:9d} "
                  f"{min(tf):9.3f} {min(tp):8.3f} {min(tf) / min(tp):6.2f}", flush=True)
        del solid, plain


if __name__ == "__main__":
    main()
