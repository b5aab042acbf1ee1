"""Cahn–Hilliard linear solvers under mesh refinement: MUMPS LU vs FGMRES + Schur (BKSW).

PFHub-1 parameters on a 100×100 square (2D) or a 24³ cube (3D) meshed with n, 2n, 4n
cells per side; three steps from the PFHub initial data: BDF2 with Δt = 1 (default), or
backward Euler with convex splitting (``--energy-stable``, Δt = 20). Every (n, solver)
pair runs in a fresh ``mpirun`` process, so the peak memory is that solver's own.
Prints time per step, Newton iterations, Krylov iterations per Newton step and the summed
peak RSS of the ranks.

    python benchmarks/bench_ch_solvers.py --ranks 2 [--n 100] [--dim 3] [--energy-stable]
"""

import argparse
import subprocess
import sys
from pathlib import Path


def c0(x):
    import numpy as np

    z = np.cos(0.1 * x[2]) * np.cos(0.12 * x[1]) if x.shape[0] == 3 and x[2].any() else 0.0
    return 0.5 + 0.01 * (np.cos(0.105 * x[0]) * np.cos(0.11 * x[1])
                         + (np.cos(0.13 * x[0]) * np.cos(0.087 * x[1])) ** 2
                         + np.cos(0.025 * x[0] - 0.15 * x[1]) * np.cos(0.07 * x[0] - 0.02 * x[1])
                         + z)


def single(n, solver, dim, energy_stable, steps=3):
    """One run in this process; prints one result line on rank 0."""
    import resource
    import time

    from mpi4py import MPI

    import femdiff  # noqa: F401
    from femdiff.geometry import mesh
    from femdiff.models.thermodynamics import (
        ChemicalPotential,
        DoubleWell,
        GradientEnergy,
        Mobility,
    )
    from femdiff.numerics import solvers
    from femdiff.numerics.timestepping import TimeControl
    from femdiff.problems.diffusion import DiffusionProblem

    d = (mesh.rectangle(n, n, 100.0, 100.0) if dim == 2
         else mesh.box(n, n, n, 24.0, 24.0, 24.0))
    options = None if solver == "lu" else solvers.cahn_hilliard_iterative_options()
    p = DiffusionProblem(
        d, ChemicalPotential([DoubleWell(5.0, 0.3, 0.7), GradientEnergy(2.0)]),
        Mobility.constant(5.0), initial=c0, petsc_options=options, lumped=False,
        energy_stable=energy_stable, concentration_scale=1.0,
        time=TimeControl(dt=20.0 if energy_stable else 1.0,
                         scheme="backward_euler" if energy_stable else "bdf2"))
    p.initialise()
    dofs = p.W.dofmap.index_map.size_global * p.W.dofmap.index_map_bs
    t0 = time.perf_counter()
    newton = krylov = 0
    for _ in range(steps):
        info = p.step()
        newton += info.newton_iterations
        krylov += info.krylov_iterations
    elapsed = (time.perf_counter() - t0) / steps
    comm = MPI.COMM_WORLD
    rss = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, MPI.SUM) / 1024
    F = p.free_energy()
    if comm.rank == 0:
        print(f"{n:5d} {dofs:9d} {solver:>6} {elapsed:8.3f} {newton:6d} "
              f"{krylov / max(newton, 1):10.1f} {rss:11.0f} {F:14.8f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--dim", type=int, choices=[2, 3], default=2)
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--energy-stable", action="store_true")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--single", nargs=2, metavar=("N", "SOLVER"))
    args = parser.parse_args()
    if args.single:
        single(int(args.single[0]), args.single[1], args.dim, args.energy_stable)
        return
    print(f"ranks={args.ranks} dim={args.dim} energy_stable={args.energy_stable}")
    print(f"{'n':>5} {'dofs':>9} {'solver':>6} {'s/step':>8} {'newton':>6} "
          f"{'kry/newton':>10} {'peak RSS MB':>11} {'F':>14}", flush=True)
    mpirun = Path(sys.executable).parent / "mpirun"
    for k in args.levels:
        for solver in ("lu", "bksw"):
            cmd = [str(mpirun), "-n", str(args.ranks), sys.executable, __file__, "--single",
                   str(args.n * k), solver, "--dim", str(args.dim)]
            if args.energy_stable:
                cmd.append("--energy-stable")
            result = subprocess.run(cmd, capture_output=True, text=True)
            print(result.stdout.strip() or result.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()
