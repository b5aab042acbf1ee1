"""PFHub benchmark 1 (square): femdiff's adaptive BDF2 against fixed-step Newton + LU.

The baseline is written in plain DOLFINx in the style of the DOLFINx Cahn–Hilliard demo
(mixed P1/P1, Crank–Nicolson θ = 1/2 on μ, fixed Δt, Newton with MUMPS). Both runs are
timed side by side; F(t) is compared at the report times to show matched accuracy.

    mpirun -n 2 python benchmarks/bench_pfhub_adaptive.py --size 200 --t-end 10000
    python benchmarks/bench_pfhub_adaptive.py --size 64 --t-end 1000   # reduced
"""

import argparse
import math
import time

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem

import femdiff  # noqa: F401
from femdiff import mesh, solvers
from femdiff.diffusion import DiffusionProblem
from femdiff.thermodynamics import ChemicalPotential, DoubleWell, GradientEnergy, Mobility
from femdiff.timestepping import Adaptive, TimeControl

A, B, RHO, KAPPA, M = 0.3, 0.7, 5.0, 2.0, 5.0


def c0(x):
    return 0.5 + 0.01 * (np.cos(0.105 * x[0]) * np.cos(0.11 * x[1])
                         + (np.cos(0.13 * x[0]) * np.cos(0.087 * x[1])) ** 2
                         + np.cos(0.025 * x[0] - 0.15 * x[1]) * np.cos(0.07 * x[0] - 0.02 * x[1]))


def run_femdiff(size, reports, tol, lumped=True):
    d = mesh.rectangle(size, size, float(size), float(size))
    p = DiffusionProblem(
        d, ChemicalPotential([DoubleWell(RHO, A, B), GradientEnergy(KAPPA)]),
        Mobility.constant(M), initial=c0, concentration_scale=1.0, lumped=lumped,
        time=TimeControl(dt=0.05, scheme="bdf2", dt_max=200.0), adaptive=Adaptive(tol=tol))
    p.initialise()
    t0 = time.perf_counter()
    out, steps, newton, krylov, rejected = {}, 0, 0, 0, 0
    for t in reports:
        hist = p.run(t)
        steps += len(hist)
        newton += sum(h.newton_iterations for h in hist)
        krylov += sum(h.krylov_iterations for h in hist)
        rejected += sum(h.retries for h in hist)
        out[t] = (time.perf_counter() - t0, steps, newton, p.free_energy(), krylov, rejected)
    return out


def run_plain(size, reports, dt, t_stop=math.inf):
    msh = mesh.rectangle(size, size, float(size), float(size)).mesh
    P1 = basix.ufl.element("Lagrange", msh.basix_cell(), 1)
    W = fem.functionspace(msh, basix.ufl.mixed_element([P1, P1]))
    u, u0 = fem.Function(W), fem.Function(W)
    c, mu = ufl.split(u)
    c_0, mu_0 = ufl.split(u0)
    q, v = ufl.TestFunctions(W)
    cv = ufl.variable(c)
    dfdc = ufl.diff(RHO * (cv - A) ** 2 * (B - cv) ** 2, cv)
    mu_mid = 0.5 * mu + 0.5 * mu_0
    k = fem.Constant(msh, dt)
    F = (c - c_0) * q * ufl.dx + k * M * ufl.inner(ufl.grad(mu_mid), ufl.grad(q)) * ufl.dx
    F += (mu - dfdc) * v * ufl.dx - KAPPA * ufl.inner(ufl.grad(c), ufl.grad(v)) * ufl.dx
    u.sub(0).interpolate(c0)
    u.x.scatter_forward()
    u0.x.array[:] = u.x.array
    problem = NonlinearProblem(F, u, petsc_options_prefix="plain_ch_",
                               petsc_options=solvers.newton_options())
    energy = fem.form((RHO * (c - A) ** 2 * (B - c) ** 2
                       + KAPPA / 2 * ufl.inner(ufl.grad(c), ufl.grad(c))) * ufl.dx)
    t, steps, newton, krylov, out = 0.0, 0, 0, 0, {}
    t0 = time.perf_counter()
    for target in reports:
        if target > t_stop:
            # fixed steps cost about the same throughout: extrapolate the time per step
            wall = (time.perf_counter() - t0) * target / t
            per = newton / steps
            n = round(target / dt)
            out[target] = (wall, n, round(per * n), math.nan, round(krylov / steps * n), 0)
            continue
        while t < target - 1e-9:
            u0.x.array[:] = u.x.array
            problem.solve()
            assert problem.solver.getConvergedReason() > 0
            newton += problem.solver.getIterationNumber()
            krylov += problem.solver.getLinearSolveIterations()
            t += dt
            steps += 1
        F_t = msh.comm.allreduce(fem.assemble_scalar(energy), MPI.SUM)
        out[target] = (time.perf_counter() - t0, steps, newton, F_t, krylov, 0)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--t-end", type=float, default=1.0e4)
    parser.add_argument("--dt", type=float, default=1.0, help="baseline fixed step")
    parser.add_argument("--tol", type=float, default=1e-3, help="femdiff adaptive tol")
    parser.add_argument("--baseline-t-end", type=float, default=math.inf,
                        help="stop the baseline here and extrapolate its cost (marked *)")
    parser.add_argument("--consistent", action="store_true",
                        help="femdiff with the consistent μ mass, as the baseline (same "
                             "spatial discretisation); default: lumped")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    reports = [t for t in (10.0, 100.0, 1000.0, 1.0e4, 1.0e5) if t <= args.t_end]
    fd = run_femdiff(args.size, reports, args.tol, lumped=not args.consistent)
    if args.no_baseline:
        if MPI.COMM_WORLD.rank == 0:
            for t, a in fd.items():
                print(f"t={t:g} femdiff s={a[0]:.1f} steps={a[1]} rejected={a[5]} "
                      f"newton={a[2]} krylov={a[4]} F={a[3]:.4f}", flush=True)
        return
    pl = run_plain(args.size, reports, args.dt, args.baseline_t_end)
    if MPI.COMM_WORLD.rank == 0:
        print(f"PFHub 1 square {args.size}x{args.size}, ranks={MPI.COMM_WORLD.size}, "
              f"baseline dt={args.dt}, femdiff tol={args.tol}")
        print(f"{'t':>8} | {'femdiff s':>9} {'steps':>6} {'rej':>4} {'newton':>6} "
              f"{'krylov':>6} {'F':>10} | {'plain s':>8} {'steps':>6} {'newton':>6} "
              f"{'krylov':>6} {'F':>10} | {'speed-up':>8} {'ΔF/F':>8}")
        for t in reports:
            a, b = fd[t], pl[t]
            mark = "*" if t > args.baseline_t_end else " "
            print(f"{t:8.0f} | {a[0]:9.1f} {a[1]:6d} {a[5]:4d} {a[2]:6d} {a[4]:6d} "
                  f"{a[3]:10.4f} | {b[0]:7.1f}{mark} {b[1]:6d} {b[2]:6d} {b[4]:6d} "
                  f"{b[3]:10.4f} | {b[0] / a[0]:8.1f} {abs(a[3] - b[3]) / b[3]:8.1e}")
        print("* baseline extrapolated from its cost per step up to --baseline-t-end")
    PETSc.garbage_cleanup()


if __name__ == "__main__":
    main()
