"""Cahn–Hilliard linear solvers under mesh refinement: MUMPS LU vs FGMRES + Schur (BKSW).

PFHub-1 parameters on a 100×100 square meshed with n, 2n, 4n cells per side; three
BDF2 steps of Δt = 1 (and, with --energy-stable, backward Euler with convex splitting).
Prints time per step, Newton iterations and Krylov iterations per Newton step.

    python benchmarks/bench_ch_solvers.py [--n 50] [--energy-stable]
    mpirun -n 2 python benchmarks/bench_ch_solvers.py
"""

import argparse
import resource
import time

from mpi4py import MPI

import numpy as np

import femdiff  # noqa: F401
from femdiff import mesh, solvers
from femdiff.diffusion import DiffusionProblem
from femdiff.thermodynamics import ChemicalPotential, DoubleWell, GradientEnergy, Mobility
from femdiff.timestepping import TimeControl


def c0(x):
    return 0.5 + 0.01 * (np.cos(0.105 * x[0]) * np.cos(0.11 * x[1])
                         + (np.cos(0.13 * x[0]) * np.cos(0.087 * x[1])) ** 2
                         + np.cos(0.025 * x[0] - 0.15 * x[1]) * np.cos(0.07 * x[0] - 0.02 * x[1]))


def run(n, options, energy_stable, steps=3):
    d = mesh.rectangle(n, n, 100.0, 100.0)
    p = DiffusionProblem(
        d, ChemicalPotential([DoubleWell(5.0, 0.3, 0.7), GradientEnergy(2.0)]),
        Mobility.constant(5.0), initial=c0, petsc_options=options, lumped=False,
        energy_stable=energy_stable,
        time=TimeControl(dt=1.0, scheme="backward_euler" if energy_stable else "bdf2"))
    p.initialise()
    t0 = time.perf_counter()
    newton = krylov = 0
    for _ in range(steps):
        info = p.step()
        newton += info.newton_iterations
        krylov += info.krylov_iterations
    elapsed = (time.perf_counter() - t0) / steps
    rss = MPI.COMM_WORLD.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, MPI.SUM)
    return elapsed, newton, krylov / max(newton, 1), rss / 1024, p.free_energy()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--energy-stable", action="store_true")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        print(f"ranks={comm.size} energy_stable={args.energy_stable}")
        print(f"{'n':>5} {'solver':>9} {'s/step':>8} {'newton':>6} {'kry/newton':>10} "
              f"{'peak RSS MB':>11} {'F':>12}")
    for k in (1, 2, 4):
        n = args.n * k
        for name, opts in (("lu", None), ("bksw", solvers.cahn_hilliard_iterative_options())):
            t, nn, kk, rss, F = run(n, opts, args.energy_stable)
            if comm.rank == 0:
                print(f"{n:5d} {name:>9} {t:8.3f} {nn:6d} {kk:10.1f} {rss:11.0f} {F:12.6f}",
                      flush=True)


if __name__ == "__main__":
    main()
