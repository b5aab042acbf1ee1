"""PFHub benchmark 1b in plain DOLFINx: the naive baseline of issue #15.

Mixed P1/P1 (c, μ) with consistent mass, backward Euler, Newton with a fresh MUMPS LU
at every iteration, Δt × 1.5 whenever Newton took ≤ 3 iterations, Δt / 2 and retry on a
Newton failure. No femdiff inside the solve: only the mesh comes from DOLFINx.

    mpirun -n 2 python benchmarks/bench_pfhub_plain.py --size 200 --t-end 1e4
"""

import argparse
import time

from mpi4py import MPI

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem, mesh
from dolfinx.fem.petsc import NonlinearProblem

A, B, RHO, KAPPA, M = 0.3, 0.7, 5.0, 2.0, 5.0


def c0(x):
    """The PFHub benchmark-1 initial condition (ε = 0.01)."""
    return 0.5 + 0.01 * (np.cos(0.105 * x[0]) * np.cos(0.11 * x[1])
                         + (np.cos(0.13 * x[0]) * np.cos(0.087 * x[1])) ** 2
                         + np.cos(0.025 * x[0] - 0.15 * x[1]) * np.cos(0.07 * x[0] - 0.02 * x[1]))


def run_plain(size, reports, dt0=0.05, comm=MPI.COMM_WORLD, say=print, cells=None):
    """Run to max(reports); returns {t: (wall, steps, newton, factorisations, F)}.

    ``size``: the square's side; ``cells``: cells per side (default: ``size``, h = 1).
    """
    cells = cells or size
    msh = mesh.create_rectangle(comm, [[0, 0], [size, size]], [cells, cells],
                                mesh.CellType.triangle)
    P1 = basix.ufl.element("Lagrange", msh.basix_cell(), 1)
    W = fem.functionspace(msh, basix.ufl.mixed_element([P1, P1]))
    u, u0 = fem.Function(W), fem.Function(W)
    c, mu = ufl.split(u)
    c_0, _ = ufl.split(u0)
    q, v = ufl.TestFunctions(W)
    cv = ufl.variable(c)
    f = RHO * (cv - A) ** 2 * (B - cv) ** 2
    k = fem.Constant(msh, dt0)
    F = ((c - c_0) * q + k * M * ufl.inner(ufl.grad(mu), ufl.grad(q))) * ufl.dx
    F += ((mu - ufl.diff(f, cv)) * v - KAPPA * ufl.inner(ufl.grad(c), ufl.grad(v))) * ufl.dx
    opts = {"snes_type": "newtonls", "snes_linesearch_type": "bt", "snes_rtol": 1e-9,
            "snes_atol": 1e-10, "snes_max_it": 25, "ksp_type": "preonly", "pc_type": "lu",
            "pc_factor_mat_solver_type": "mumps"}
    problem = NonlinearProblem(F, u, petsc_options_prefix="plain_", petsc_options=opts)
    energy = fem.form((RHO * (c - A) ** 2 * (B - c) ** 2
                       + KAPPA / 2 * ufl.inner(ufl.grad(c), ufl.grad(c))) * ufl.dx)
    u.sub(0).interpolate(c0)
    u.x.scatter_forward()
    u0.x.array[:] = u.x.array
    t, dt, steps, newton = 0.0, dt0, 0, 0
    out = {}
    start = time.perf_counter()
    for target in sorted(reports):
        while t < target * (1 - 1e-12):
            h = min(dt, target - t)
            k.value = h
            problem.solve()
            its = problem.solver.getIterationNumber()
            newton += its
            ok = comm.allreduce(problem.solver.getConvergedReason() > 0
                                and bool(np.isfinite(u.x.array).all()), op=MPI.LAND)
            if not ok:  # halve and retry from the last state
                u.x.array[:] = u0.x.array
                dt = h / 2
                continue
            u0.x.array[:] = u.x.array
            t, steps = t + h, steps + 1
            if its <= 3 and h == dt:
                dt *= 1.5
        energy_value = comm.allreduce(fem.assemble_scalar(energy), op=MPI.SUM)
        # every Newton iteration factorises afresh
        out[target] = (time.perf_counter() - start, steps, newton, newton, energy_value)
        say(f"  plain t={target:g}: {out[target][0]:.1f} s, {steps} steps, "
            f"{newton} Newton, F={energy_value:.6f}")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--cells", type=int, default=None, help="cells per side (default: size)")
    parser.add_argument("--t-end", type=float, default=1.0e4)
    args = parser.parse_args()
    reports = [t for t in (100.0, 1000.0, 1.0e4, 1.0e5, 1.0e6) if t < args.t_end]
    run_plain(args.size, [*reports, args.t_end], cells=args.cells,
              say=lambda *a: MPI.COMM_WORLD.rank == 0 and print(*a, flush=True))


if __name__ == "__main__":
    main()
