"""PFHub benchmark 1 (square): femdiff's adaptive BDF2 against fixed-step Newton + LU.

The baseline is written in plain DOLFINx in the style of the DOLFINx Cahn–Hilliard demo
(mixed P1/P1, Crank–Nicolson θ = ½ on μ, fixed Δt, Newton with MUMPS). Both use the
same mesh, elements and consistent mass, so they differ only in time stepping and F(t)
differences are time-discretisation errors.

Accuracy is matched against a reference: femdiff at a 10× tighter tolerance (to
``--t-ref``). The table gives each run's relative error in F at the report times; a
baseline Δt is "matched" when its errors are no smaller than femdiff's.

Cost to t = 10⁴. Running the fixed-step baseline there takes hours (10⁴ Newton solves
at Δt = 1), so by default it runs to ``--baseline-t-end`` (measured) and its cost
beyond is extrapolated from a measured *late-time window*: ``--window`` baseline steps
started from femdiff's state at t = 5000, where Newton needs fewer iterations than early
on (so the estimate is not inflated by the early, harder steps). ``--full-baseline``
runs it all the way instead.

    mpirun -n 2 python benchmarks/bench_pfhub_adaptive.py                # 200², ~40 min
    mpirun -n 2 python benchmarks/bench_pfhub_adaptive.py --size 64 --t-end 1000 --t-ref 1000
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
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import ChemicalPotential, DoubleWell, GradientEnergy, Mobility
from femdiff.numerics import solvers
from femdiff.numerics.timestepping import Adaptive, TimeControl
from femdiff.problems.diffusion import DiffusionProblem

A, B, RHO, KAPPA, M = 0.3, 0.7, 5.0, 2.0, 5.0
T_LATE = 5000.0


def c0(x):
    return 0.5 + 0.01 * (np.cos(0.105 * x[0]) * np.cos(0.11 * x[1])
                         + (np.cos(0.13 * x[0]) * np.cos(0.087 * x[1])) ** 2
                         + np.cos(0.025 * x[0] - 0.15 * x[1]) * np.cos(0.07 * x[0] - 0.02 * x[1]))


def say(*args):
    if MPI.COMM_WORLD.rank == 0:
        print(*args, flush=True)


def run_femdiff(domain, reports, tol, label):
    """Adaptive BDF2; returns {t: (wall, steps, newton, krylov, rejected, F)}, C(T_LATE)."""
    p = DiffusionProblem(
        domain, ChemicalPotential([DoubleWell(RHO, A, B), GradientEnergy(KAPPA)]),
        Mobility.constant(M), initial=c0, concentration_scale=1.0, lumped=False,
        time=TimeControl(dt=0.05, scheme="bdf2", dt_max=200.0), adaptive=Adaptive(tol=tol))
    p.initialise()
    t0 = time.perf_counter()
    out, late = {}, None
    steps = newton = krylov = rejected = 0
    for t in sorted({*reports, *([T_LATE] if reports[-1] > T_LATE else [])}):
        hist = p.run(t)
        steps += len(hist)
        newton += sum(h.newton_iterations for h in hist)
        krylov += sum(h.krylov_iterations for h in hist)
        rejected += sum(h.retries for h in hist)
        if t == T_LATE:
            late = p.C.x.array.copy()
        if t in reports:
            out[t] = (time.perf_counter() - t0, steps, newton, krylov, rejected, p.free_energy())
            say(f"  {label} t={t:g}: {out[t][0]:.1f} s, {steps} steps, F={out[t][5]:.6f}")
    return out, late, p.V_c


class Plain:
    """The baseline: the DOLFINx Cahn–Hilliard demo's scheme, fixed Δt, Newton + LU."""

    def __init__(self, domain, dt):
        msh = domain.mesh
        P1 = basix.ufl.element("Lagrange", msh.basix_cell(), 1)
        self.W = fem.functionspace(msh, basix.ufl.mixed_element([P1, P1]))
        self.u, self.u0 = fem.Function(self.W), fem.Function(self.W)
        c, mu = ufl.split(self.u)
        c_0, mu_0 = ufl.split(self.u0)
        q, v = ufl.TestFunctions(self.W)
        cv = ufl.variable(c)
        dfdc = ufl.diff(RHO * (cv - A) ** 2 * (B - cv) ** 2, cv)
        mu_mid = 0.5 * mu + 0.5 * mu_0
        k = fem.Constant(msh, dt)
        F = (c - c_0) * q * ufl.dx + k * M * ufl.inner(ufl.grad(mu_mid), ufl.grad(q)) * ufl.dx
        F += (mu - dfdc) * v * ufl.dx - KAPPA * ufl.inner(ufl.grad(c), ufl.grad(v)) * ufl.dx
        self.problem = NonlinearProblem(F, self.u, petsc_options_prefix="plain_ch_",
                                        petsc_options=solvers.newton_options())
        self.energy = fem.form((RHO * (c - A) ** 2 * (B - c) ** 2
                                + KAPPA / 2 * ufl.inner(ufl.grad(c), ufl.grad(c))) * ufl.dx)
        self.dt, self.comm = dt, msh.comm

    def set_c(self, c):
        """Start from C (callable or a Function on the same mesh); μ comes with step 1."""
        self.u.sub(0).interpolate(c)
        self.u.x.scatter_forward()
        self.u0.x.array[:] = self.u.x.array

    def steps(self, n):
        """n fixed steps; returns (Newton, Krylov) iterations."""
        newton = krylov = 0
        for _ in range(n):
            self.u0.x.array[:] = self.u.x.array
            self.problem.solve()
            if self.problem.solver.getConvergedReason() <= 0:
                raise RuntimeError("baseline Newton diverged")
            newton += self.problem.solver.getIterationNumber()
            krylov += self.problem.solver.getLinearSolveIterations()
        return newton, krylov

    def free_energy(self):
        return self.comm.allreduce(fem.assemble_scalar(self.energy), MPI.SUM)


def run_plain(domain, reports, dt, t_stop, late=None, window=0):
    """{t: (wall, steps, newton, krylov, 0, F, extrapolated)} of the fixed-step baseline."""
    plain = Plain(domain, dt)
    plain.set_c(c0)
    t = 0.0
    out = {}
    steps = newton = krylov = 0
    t0 = time.perf_counter()
    for target in [r for r in reports if r <= t_stop]:
        n = round((target - t) / dt)
        its = plain.steps(n)
        steps, newton, krylov, t = steps + n, newton + its[0], krylov + its[1], t + n * dt
        out[target] = (time.perf_counter() - t0, steps, newton, krylov, 0,
                       plain.free_energy(), False)
        say(f"  baseline Δt={dt:g} t={target:g}: {out[target][0]:.1f} s, F={out[target][5]:.6f}")
    rest = [r for r in reports if r > t_stop]
    if rest:
        # late-time cost per step: a window of steps from femdiff's state at T_LATE
        wall0 = time.perf_counter() - t0
        plain.set_c(late)
        plain.steps(2)  # warm-up, not timed: the first steps also build μ from C
        w0 = time.perf_counter()
        its = plain.steps(window)
        per_step = (time.perf_counter() - w0) / window
        say(f"  baseline late window: {window} steps from t={T_LATE:g}, "
            f"{per_step:.3f} s/step, {its[0] / window:.2f} Newton/step")
        for target in rest:
            n = round((target - t) / dt)
            out[target] = (wall0 + n * per_step, steps + n, newton + round(its[0] / window * n),
                           krylov + round(its[1] / window * n), 0, math.nan, True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200, help="domain side = cells per side")
    parser.add_argument("--t-end", type=float, default=1.0e4)
    parser.add_argument("--dt", type=float, default=1.0, help="baseline fixed step")
    parser.add_argument("--tol", type=float, default=1e-3, help="femdiff adaptive tol")
    parser.add_argument("--t-ref", type=float, default=1000.0,
                        help="reference (tol/10) run up to here")
    parser.add_argument("--baseline-t-end", type=float, default=1000.0)
    parser.add_argument("--window", type=int, default=100,
                        help="late-time baseline steps measured for the extrapolation")
    parser.add_argument("--full-baseline", action="store_true")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    reports = [t for t in (10.0, 100.0, 1000.0, 1.0e4, 1.0e5) if t <= args.t_end]
    domain = mesh.rectangle(args.size, args.size, float(args.size), float(args.size))
    say(f"PFHub 1 square {args.size}x{args.size} (P1/P1), ranks={comm.size}")

    fd, late, V_c = run_femdiff(domain, reports, args.tol, f"femdiff tol={args.tol:g}")
    late_c = None
    if late is not None:
        late_c = fem.Function(V_c)
        late_c.x.array[:] = late
    ref, _, _ = run_femdiff(domain, [t for t in reports if t <= args.t_ref], args.tol / 10,
                            f"reference tol={args.tol / 10:g}")
    stop = math.inf if args.full_baseline else args.baseline_t_end
    pl = run_plain(domain, reports, args.dt, stop, late_c, args.window)

    say(f"\nfemdiff: adaptive BDF2, tol={args.tol:g} | baseline: CN, fixed Δt={args.dt:g} | "
        f"reference: femdiff tol={args.tol / 10:g}")
    say(f"{'t':>7} | {'femdiff s':>9} {'steps':>6} {'rej':>4} {'newton':>6} {'krylov':>6} "
        f"{'F':>11} {'err':>8} | {'plain s':>9} {'steps':>6} {'newton':>6} {'krylov':>6} "
        f"{'F':>11} {'err':>8} | {'speed-up':>8}")
    for t in reports:
        a, b = fd[t], pl[t]
        r = ref.get(t, (0, 0, 0, 0, 0, math.nan))[5]
        mark = "*" if b[6] else " "
        say(f"{t:7.0f} | {a[0]:9.1f} {a[1]:6d} {a[4]:4d} {a[2]:6d} {a[3]:6d} {a[5]:11.5f} "
            f"{abs(a[5] - r) / r:8.1e} | {b[0]:8.1f}{mark} {b[1]:6d} {b[2]:6d} {b[3]:6d} "
            f"{b[5]:11.5f} {abs(b[5] - r) / r:8.1e} | {b[0] / a[0]:7.1f}{mark}")
    say("err: |F − F_ref|/F_ref (nan: beyond --t-ref); * baseline cost extrapolated from "
        "its late-time window")
    PETSc.garbage_cleanup()


if __name__ == "__main__":
    main()
