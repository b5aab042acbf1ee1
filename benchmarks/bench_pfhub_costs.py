"""PFHub 1b: the cost of one LU factorisation, one triangular solve, one Jacobian and one
residual assembly of femdiff's Cahn–Hilliard system (the units of a Newton iteration).

    mpirun -n 2 python benchmarks/bench_pfhub_costs.py --cells 200

Measured 2026-11-26, 2 ranks, 80 802 dofs, a loaded machine (another 2-rank job and a
serial one on the 2 cores): Jacobian + LU 724 ms (LU ≈ 625 ms), Jacobian 99 ms,
triangular solve 214 ms (≈ 1/3 of a factorisation, not the ~1/8 seen serially at 120²),
residual 21 ms. At that ratio GMRES on the reused LU (~4 iterations per Newton iteration)
costs about as much as a fresh LU per iteration: rerun on a quiet machine before tuning
``femdiff_refactor_krylov``.

Rerun on the quiet machine (load 0.15), 2 ranks: Jacobian + LU 149 ms (LU ≈ 127 ms),
Jacobian 22 ms, triangular solve 16 ms (≈ 1/8 of a factorisation, as serially),
residual 5 ms; serial: LU ≈ 231 ms, solve 30 ms. The loaded figures above were inflated
4–13×, unevenly; the threshold 4 stands.
"""

import argparse
import sys
import time
from pathlib import Path

from mpi4py import MPI
from petsc4py import PETSc

from dolfinx.fem.petsc import assemble_matrix, assemble_vector

from femdiff.geometry import mesh
from femdiff.models.thermodynamics import ChemicalPotential, DoubleWell, GradientEnergy, Mobility
from femdiff.numerics.timestepping import Adaptive, TimeControl
from femdiff.problems.diffusion import DiffusionProblem

sys.path.insert(0, str(Path(__file__).parent))
from bench_pfhub_plain import KAPPA, RHO, A, B, M, c0  # noqa: E402
from bench_pfhub_speed import say  # noqa: E402


def timed(fn, repeat):
    MPI.COMM_WORLD.barrier()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    MPI.COMM_WORLD.barrier()
    return (time.perf_counter() - start) / repeat


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    domain = mesh.rectangle(args.cells, args.cells, float(args.size), float(args.size))
    p = DiffusionProblem(
        domain, ChemicalPotential([DoubleWell(RHO, A, B), GradientEnergy(KAPPA)]),
        Mobility.constant(M), initial=c0, concentration_scale=1.0, lumped=False,
        time=TimeControl(dt=1.0, scheme="bdf2"), adaptive=Adaptive(tol=1e-2))
    p.run(10.0)  # a developed state
    prob = p.problem
    J, b = prob.A, prob.b
    jac, res = prob.J, prob.F

    def jacobian():
        J.zeroEntries()
        assemble_matrix(J, jac, bcs=p.dirichlet)
        J.assemble()

    def residual():
        with b.localForm() as loc:
            loc.set(0.0)
        assemble_vector(b, res)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)

    jacobian()
    ksp = PETSc.KSP().create(domain.comm)
    ksp.setOperators(J)
    ksp.setType("preonly")
    ksp.getPC().setType("lu")
    ksp.getPC().setFactorSolverType("mumps")
    x = J.createVecRight()

    ksp.setUp()
    t_lu = timed(lambda: (jacobian(), ksp.setOperators(J), ksp.setUp()), args.repeat)
    t_jac = timed(jacobian, args.repeat)
    t_solve = timed(lambda: ksp.solve(b, x), 4 * args.repeat)
    t_res = timed(residual, 4 * args.repeat)
    n = J.getSize()[0]
    say(f"PFHub 1b {args.size}² domain, {args.cells}² P1 cells, {n} dofs, "
        f"ranks={domain.comm.size}")
    say(f"  Jacobian + LU factorisation {t_lu * 1e3:8.1f} ms  (LU alone ≈ "
        f"{(t_lu - t_jac) * 1e3:.1f} ms)")
    say(f"  Jacobian assembly           {t_jac * 1e3:8.1f} ms")
    say(f"  triangular solve            {t_solve * 1e3:8.1f} ms")
    say(f"  residual assembly           {t_res * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
