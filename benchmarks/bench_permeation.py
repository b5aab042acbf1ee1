"""Permeation (Devanathan–Stachurski) experiment: femdiff against a plain DOLFINx solve.

Issue #11. A plate x ∈ [0, 1] × 0.25 × 0.25 (structured ``mesh.box``, NX × NX/4 × NX/4
cubes, 6 tetrahedra each), C = 1 at x = 0 and C = 1e-3 at x = 1, C = 1e-3 initially,
ideal solution, D = 1, Δt = 0.005 to t = 0.3. The exit flux (outward, at x = 1) is
compared with the analytic series (Crank, *The Mathematics of Diffusion*, 2nd ed.,
eq. 4.24a differentiated; per unit area)

    J(t) = D ΔC/L [1 + 2 Σ_{n≥1} (−1)ⁿ exp(−D n²π² t/L²)].

Side by side, in one process, on the same mesh:

* femdiff's :class:`~femdiff.problems.diffusion.DiffusionProblem` (mixed μ–C form, lumped P1,
  fitted mobility, Newton, MUMPS), exit flux from :meth:`flux_through` (the reaction
  flux of the discrete conservation law);
* the plain concentration form FESTIM solves (linear, P1, consistent mass, matrix and
  vector assembled and MUMPS-factorised every step, i.e. one Newton iteration per step
  as FESTIM does), exit flux ∫ −D∇C·n ds as FESTIM reports it;
* the same concentration form as a Newton solve (DOLFINx ``NonlinearProblem``, SNES
  ``newtonls`` with femdiff's tolerances, MUMPS LU): the baseline of issue #24 for
  femdiff's mixed Newton ("plain Newton").

Printed: ms/step for each (steps after the first; the first step separately), the
ratios, femdiff's ms per Newton iteration, femdiff's first-step Newton count, the
maximum relative error of the exit flux for t > 0.05 (and the same error relative to the
steady flux D ΔC/L) and J(0.3)/J_exact.
A stressed rod (StressCoupling with a linear σ_h, fixed C = 1 face, C = 1e-3 initially)
checks that the first step behaves the same with σ_h coupling on.

    python benchmarks/bench_permeation.py [--nx 32 48] [--schemes backward_euler bdf2]
    python benchmarks/bench_permeation.py --nx 16 --csv flux.csv   # J(t) series
    python benchmarks/bench_permeation.py --solvers default fresh_lu --clock cpu

Issue #24 (serial, CPU time per step on a loaded 2-core machine, backward Euler to
t = 0.3; ratios against the plain Newton step): NX = 32 (5,346 dofs) 186.5 -> 94.1
ms/step, 13.9x -> 6.2x (77.0 -> 29.8 ms per Newton iteration), NX = 48 (16,562 dofs)
980.6 -> 353.4 ms/step, 17.8x -> 5.5x (402 -> 113 ms per iteration): the factorisation
reused across Newton iterations and steps (3.1 instead of 2.4 Newton iterations per
step) and the fitted flux at quadrature degree 2 on tetrahedra. ``fresh_lu`` is the
former solver (with the new quadrature).

Serial benchmark (timings on one rank); it runs under mpirun too.
"""

import argparse
import csv
import math
import time

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import LinearProblem

from femdiff.geometry import mesh
from femdiff.models.thermodynamics import R_GAS, ChemicalPotential, Ideal, Mobility, StressCoupling
from femdiff.numerics import solvers
from femdiff.numerics.timestepping import TimeControl, bdf_coefficients
from femdiff.problems.diffusion import DiffusionProblem, FixedConcentration

L, W = 1.0, 0.25
C_IN, C_OUT, C0, D = 1.0, 1e-3, 1e-3, 1.0
T = 1.0 / R_GAS  # R T = 1: μ in units of R T
#: the step timer: wall clock, or this process's CPU time (``--clock cpu``: on a shared,
#: loaded machine the wall clock measures the other processes too)
CLOCK = time.perf_counter


def analytic_flux(t: float, terms: int = 400) -> float:
    """Exit flux per unit area (Crank eq. 4.24a, differentiated)."""
    s = sum((-1) ** n * math.exp(-D * n * n * math.pi**2 * t / L**2) for n in range(1, terms))
    return D * (C_IN - C_OUT) / L * (1 + 2 * s)


def plate(nx: int) -> mesh.Domain:
    return mesh.box(nx, max(nx // 4, 1), max(nx // 4, 1), L, W, W)


def femdiff_run(nx: int, scheme: str, dt: float, t_end: float, options=None,
                formulation: str = "mixed"):
    domain = plate(nx)
    p = DiffusionProblem(
        domain, ChemicalPotential([Ideal(T)]), Mobility.from_diffusivity(D, T),
        initial=C0, time=TimeControl(dt=dt, scheme=scheme),
        bcs=[FixedConcentration("left", C_IN), FixedConcentration("right", C_OUT)],
        petsc_options=options, formulation=formulation)
    p.initialise()
    times, fluxes, step_times, newton = [], [], [], []
    n_steps = round(t_end / dt)
    for _ in range(n_steps):
        t0 = CLOCK()
        info = p.step(dt)
        step_times.append(CLOCK() - t0)
        newton.append(info.newton_iterations + 1000 * info.retries)
        times.append(p.current_time)
        fluxes.append(p.flux_through("right") / W**2)
    ndof = (p.V_c if formulation == "activity" else p.W).dofmap.index_map.size_global
    return ndof, step_times, newton, times, fluxes


def plain_run(nx: int, scheme: str, dt: float, t_end: float):
    """FESTIM's formulation written directly in DOLFINx: linear P1 in C."""
    domain = plate(nx)
    msh = domain.mesh
    V = fem.functionspace(msh, ("Lagrange", 1))
    c, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    c_n, c_nn = fem.Function(V), fem.Function(V)
    c_n.x.array[:] = C0
    c_nn.x.array[:] = C0
    a0, a1, a2 = (fem.Constant(msh, PETSc.ScalarType(x)) for x in (1.0, -1.0, 0.0))
    k = fem.Constant(msh, PETSc.ScalarType(dt))
    a = a0 / k * c * v * ufl.dx + D * ufl.inner(ufl.grad(c), ufl.grad(v)) * ufl.dx
    rhs = -(a1 * c_n + a2 * c_nn) / k * v * ufl.dx
    fdim = domain.tdim - 1
    bcs = [fem.dirichletbc(PETSc.ScalarType(val), fem.locate_dofs_topological(
        V, fdim, domain.facets(name)), V) for name, val in (("left", C_IN), ("right", C_OUT))]
    problem = LinearProblem(a, rhs, bcs=bcs, petsc_options_prefix="plain_perm_",
                            petsc_options=solvers.lu_options())
    n = ufl.FacetNormal(msh)
    c_sol = problem.u
    exit_flux = fem.form(-D * ufl.inner(ufl.grad(c_sol), n) * domain.ds("right"))
    times, fluxes, step_times = [], [], []
    dt_prev = None
    for i in range(round(t_end / dt)):
        t0 = CLOCK()
        order = 2 if scheme == "bdf2" and dt_prev is not None else 1
        for const, val in zip((a0, a1, a2), bdf_coefficients(order, dt, dt_prev),
                              strict=True):
            const.value = val
        problem.solve()
        c_nn.x.array[:] = c_n.x.array
        c_n.x.array[:] = c_sol.x.array
        dt_prev = dt
        step_times.append(CLOCK() - t0)
        times.append((i + 1) * dt)
        fluxes.append(msh.comm.allreduce(fem.assemble_scalar(exit_flux), op=MPI.SUM)
                      / W**2)
    return V.dofmap.index_map.size_global, step_times, times, fluxes


def plain_newton_run(nx: int, scheme: str, dt: float, t_end: float):
    """The same concentration form as a Newton solve (DOLFINx NonlinearProblem, SNES
    ``newtonls`` with femdiff's tolerances, MUMPS LU): one Jacobian, one factorisation
    and two residuals per step, the baseline of issue #24 for femdiff's mixed Newton."""
    from dolfinx.fem.petsc import NonlinearProblem

    domain = plate(nx)
    msh = domain.mesh
    V = fem.functionspace(msh, ("Lagrange", 1))
    c, v = fem.Function(V), ufl.TestFunction(V)
    c_n, c_nn = fem.Function(V), fem.Function(V)
    for f in (c, c_n, c_nn):
        f.x.array[:] = C0
    a0, a1, a2 = (fem.Constant(msh, PETSc.ScalarType(x)) for x in (1.0, -1.0, 0.0))
    k = fem.Constant(msh, PETSc.ScalarType(dt))
    F = ((a0 * c + a1 * c_n + a2 * c_nn) / k * v
         + D * ufl.inner(ufl.grad(c), ufl.grad(v))) * ufl.dx
    fdim = domain.tdim - 1
    bcs = [fem.dirichletbc(PETSc.ScalarType(val), fem.locate_dofs_topological(
        V, fdim, domain.facets(name)), V) for name, val in (("left", C_IN), ("right", C_OUT))]
    problem = NonlinearProblem(F, c, bcs=bcs, petsc_options_prefix="plain_newton_perm_",
                               petsc_options=solvers.newton_options())
    step_times, its = [], []
    dt_prev = None
    for _ in range(round(t_end / dt)):
        t0 = CLOCK()
        order = 2 if scheme == "bdf2" and dt_prev is not None else 1
        for const, val in zip((a0, a1, a2), bdf_coefficients(order, dt, dt_prev),
                              strict=True):
            const.value = val
        problem.solve()
        assert problem.solver.getConvergedReason() > 0
        its.append(problem.solver.getIterationNumber())
        c_nn.x.array[:] = c_n.x.array
        c_n.x.array[:] = c.x.array
        dt_prev = dt
        step_times.append(CLOCK() - t0)
    return step_times, its


def errors(times, fluxes):
    ex = np.array([analytic_flux(t) for t in times])
    f = np.array(fluxes)
    late = np.array(times) > 0.05 + 1e-12
    rel = np.abs(f[late] / ex[late] - 1)
    to_steady = np.abs(f[late] - ex[late]) / (D * (C_IN - C_OUT) / L)
    return float(rel.max()), float(to_steady.max()), float(f[-1] / ex[-1])


def stressed_rod_first_step(nx: int, dt: float) -> int:
    """First-step Newton count of a stressed rod (σ_h coupling on) with a fixed-C face."""
    domain = mesh.box(nx, max(nx // 4, 1), max(nx // 4, 1), L, W, W)
    x = ufl.SpatialCoordinate(domain.mesh)
    omega = 2e-6  # m³/mol
    sigma = x[0] / L / omega  # Ω σ_h = x/L in units of R T (= 1): C_eq ∝ exp(x/L)
    p = DiffusionProblem(
        domain, ChemicalPotential([Ideal(T), StressCoupling(omega, sigma)]),
        Mobility.from_diffusivity(D, T), initial=C0, time=TimeControl(dt=dt),
        bcs=[FixedConcentration("left", C_IN)], formulation="mixed")
    info = p.step()
    return info.newton_iterations + 1000 * info.retries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nx", type=int, nargs="+", default=[32, 48])
    parser.add_argument("--schemes", nargs="+", default=["backward_euler", "bdf2"])
    parser.add_argument("--dt", type=float, default=0.005)
    parser.add_argument("--t-end", type=float, default=0.3)
    parser.add_argument("--csv", help="write t, J_exact, J_femdiff, J_plain per run")
    parser.add_argument("--solvers", nargs="+", default=["default", "lagged"],
                        help="femdiff option sets: default (the model's choice: "
                             "solvers.dilute_mixed_options here), fresh_lu (newton_options + "
                             "VI bounds, the default before issue #24), lagged "
                             "(solvers.lagged_newton_options), activity "
                             "(formulation='activity': one linear solve per step)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time steps by the wall clock or by this process's CPU time")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    comm = MPI.COMM_WORLD
    rows = []
    header = ("NX", "scheme", "solver", "dofs fd/plain", "fd ms/step", "plain ms/step", "ratio",
              "plain Newton ms/step", "ratio Newton", "fd ms/Newton it",
              "fd 1st step ms", "1st Newton", "Newton/step", "fd maxrel>0.05",
              "fd max/Jss", "fd J(.3)/ex", "plain maxrel", "plain J(.3)/ex")
    series = []
    sets = {"default": None, "lagged": solvers.lagged_newton_options(), "activity": None,
            # the mixed solver before issue #24: a fresh LU per iteration, bounded Newton
            "fresh_lu": {**solvers.newton_options(), "snes_type": "vinewtonrsls"}}
    for nx, scheme, solver in ((a, b, c) for a in args.nx for b in args.schemes
                               for c in args.solvers):
        ndof, st, newton, times, fl = femdiff_run(
            nx, scheme, args.dt, args.t_end, sets[solver],
            "activity" if solver == "activity" else "mixed")
        pdof, pst, ptimes, pfl = plain_run(nx, scheme, args.dt, args.t_end)
        nst, _ = plain_newton_run(nx, scheme, args.dt, args.t_end)
        fd_ms, pl_ms = 1e3 * np.mean(st[1:]), 1e3 * np.mean(pst[1:])
        pn_ms = 1e3 * np.mean(nst[1:])
        per_it = fd_ms / max(np.mean([n % 1000 for n in newton[1:]]), 1)
        e_rel, e_ss, e_end = errors(times, fl)
        p_rel, _, p_end = errors(ptimes, pfl)
        rows.append((nx, scheme, solver, f"{ndof}/{pdof}", f"{fd_ms:.1f}", f"{pl_ms:.1f}",
                     f"{fd_ms / pl_ms:.2f}", f"{pn_ms:.1f}", f"{fd_ms / pn_ms:.2f}",
                     f"{per_it:.1f}", f"{1e3 * st[0]:.0f}", newton[0],
                     f"{np.mean(newton[1:]):.2f}", f"{e_rel:.4f}", f"{e_ss:.4f}",
                     f"{e_end:.4f}", f"{p_rel:.4f}", f"{p_end:.4f}"))
        series += [(nx, scheme, solver, t, analytic_flux(t), a, b)
                   for t, a, b in zip(times, fl, pfl, strict=True)]
        if comm.rank == 0:
            print(" | ".join(str(x) for x in rows[-1]), flush=True)
    rod = {nx: stressed_rod_first_step(nx, args.dt) for nx in args.nx}
    if comm.rank == 0:
        print("\n| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(str(x) for x in r) + " |")
        print("\nstressed rod, fixed-C face, mixed form, first-step Newton iterations (1000 "
              "per retry):",
              rod)
        if args.csv:
            with open(args.csv, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(("NX", "scheme", "solver", "t", "J_exact", "J_femdiff", "J_plain"))
                w.writerows(series)


if __name__ == "__main__":
    main()
