"""PFHub benchmark 1b (no-flux square): femdiff against the plain baseline, side by side.

femdiff: consistent law (``lumped=False``: the lumped law costs ~2 % in F(100)),
adaptive BDF2 (error-controlled, no Δt cap; tol 2e-3 as in the demo and cases) and the
Cahn–Hilliard solver default (:func:`femdiff.numerics.solvers.cahn_hilliard_options`:
Newton–FGMRES to rtol 3e-2 on a reused MUMPS LU, Newton started from the quadratic
extrapolation and stopped once its error is ≤ 0.05 × tol). ``--mesh`` lists the femdiff
runs as ELEMENT:CELLS; the default runs Q1 quadrilaterals on 130² cells (h ≈ 1.54, the
speed configuration, chosen by accuracy below) and P1 triangles on 200² (h = 1, the
demo's). ``--tol`` takes several values, each run beside the same plain run;
``--solver fresh`` runs a fresh LU at each Newton iteration; ``--lumped`` the lumped law.
Plain: ``bench_pfhub_plain.py`` (P1 on 200², backward Euler, fresh MUMPS LU, Δt × 1.5
after ≤ 3 Newton iterations).

Accuracy: against a reference, femdiff P1 at ``--ref-tol`` (default: the smallest tol /
4) on the plain script's mesh, computed once and cached in ``--ref-file`` (outside git;
``--recompute-ref`` redoes it). The spread of the PFHub 1b uploads (MOOSE, MEMPHIS;
``benchmarks/pfhub_uploads.py``) is printed beside F. Every figure is printed:

    mpirun -n 2 python benchmarks/bench_pfhub_speed.py                  # to 10⁴, both meshes
    mpirun -n 2 python benchmarks/bench_pfhub_speed.py --mesh Q1:130 --t-end 1e6 --no-plain --no-ref
    mpirun -n 2 python benchmarks/bench_pfhub_speed.py --mesh P1:150 Q1:120 --no-plain

Measured 2026-11-26 (session 6), nothing else running, 2 ranks, the default command
(reference F = 130.2753 / 74.3315 / 38.9493 at t = 100 / 10³ / 10⁴, P1 200², tol 5e-4):

    mesh     t    | femdiff s steps rej Newton LU  F         err    | plain s  err    | speed-up
    Q1 130²  100  |     5.5   108   0    139   6 130.56698 2.2e-03 |   41.0  1.8e-02 |   7.40
    Q1 130²  10³  |    16.9   303   5    416  30  74.52038 2.5e-03 |  146.1  2.1e-02 |   8.63
    Q1 130²  10⁴  |    40.0   677  30    987  93  39.11212 4.2e-03 |  355.9  4.8e-02 |   8.89
    P1 200²  100  |    11.6   107   0    138   6 130.29329 1.4e-04 |   41.0  1.8e-02 |   3.54
    P1 200²  10³  |    35.6   297   8    408  31  74.34617 2.0e-04 |  146.1  2.1e-02 |   4.11
    P1 200²  10⁴  |    92.0   683  32    995  94  38.95096 4.4e-05 |  355.9  4.8e-02 |   3.87

(plain F = 132.5634 / 72.8015 / 37.0970; every femdiff F lies inside the uploads'
spread [128.07, 131.59] / [72.77, 74.97] / [38.63, 42.84], the plain's F(10⁴) below it.)
To t = 10⁶ (Q1 130², ``--t-end 1e6 --no-plain --no-ref``): 104.3 s, 1532 steps, 2355
Newton, 282 LU, F(10⁶) = 9.686 (no converged reference exists there; the one upload
reaching 10⁶, MOOSE, has 12.09 — F(10⁶) depends on the coarsening path).
Wall times on this virtual machine drift by ±15 % over an hour with identical step,
Newton and LU counts (P1 150² to 10⁴: 47.0, 55.9, 63.6 s in three runs); compare the
ratios of one run.

Why Q1 on 130² (``--mesh``, same tol and solver, to 10⁴; errors against the reference
above, which itself lies ~0.3 % above the h → 0 limit, ~129.9 at t = 100):

    mesh     dofs    F(100)    F(10³)   F(10⁴)    errors (100 / 10³ / 10⁴)
    P1 200²  80.8k  130.2933   74.3462  38.9510   1.4e-4 / 2.0e-4 / 4.4e-5
    P1 150²  45.6k  130.5889   74.6041  39.0645   2.4e-3 / 3.7e-3 / 3.0e-3
    Q1 150²  45.6k  130.3869   74.3900  39.0352   8.6e-4 / 7.9e-4 / 2.2e-3
    Q1 130²  34.3k  130.5670   74.5204  39.1121   2.2e-3 / 2.5e-3 / 4.2e-3
    Q1 120²  29.3k  130.6993   74.6119  39.1641   3.3e-3 / 3.8e-3 / 5.5e-3

On this structured square Q1 is 2.8–4.7× more accurate than P1 at equal dofs (t = 100,
10³) for the same time per dof, so Q1 130² matches P1 150² at ~70 % of its time (45.4
vs 64.0 s in one period), and keeps
F(10³) 0.6 % inside the spread's upper end (F rises as h grows: Q1 120² is 0.5 % inside).
F(10⁴) sits just before a coarsening event: tol 1e-2 (and the plain run) let it happen
early, so F(10⁴) falls 4–5 % low, below the spread; tol ≤ 4e-3 keeps it (tol 5e-3 on P1
150² does not), and 2e-3 keeps a margin.

Where the time goes (``PETSC_OPTIONS=-log_view``, P1 150², 2 ranks): a MUMPS triangular
solve 7.9 ms (9.1 ms serial: the solve barely gains from the second rank), a
factorisation 70 ms, a Jacobian 12 ms, a residual 3.7 ms; the solves are about half of
the run. Tried and dropped (measured): MUMPS orderings, BLR, centralised or distributed
(ICNTL(20) = 10) right-hand sides, SuperLU_DIST, and PCREDUNDANT with a serial LU on
each rank (PETSc's 12.5 ms, MUMPS's 8.5 ms per solve against 6.4 ms distributed); a
rebuild threshold of 3 or 6 Krylov iterations instead of 4; simplified Newton (the
lagged Jacobian as operator, one solve per iteration: −10 % to t = 10³ but a 6× larger F
error at the same tol); holding Δt for small growths (RADAU5): more steps, slower.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

from mpi4py import MPI

from dolfinx.mesh import CellType

import femdiff  # noqa: F401
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import ChemicalPotential, DoubleWell, GradientEnergy, Mobility
from femdiff.numerics import solvers
from femdiff.numerics.timestepping import Adaptive, TimeControl
from femdiff.problems.diffusion import DiffusionProblem

sys.path.insert(0, str(Path(__file__).parent))
from bench_pfhub_plain import KAPPA, RHO, A, B, M, c0, run_plain  # noqa: E402

try:
    import pfhub_uploads
except ImportError:  # the upload data is another branch's file
    pfhub_uploads = None

REPORTS = (100.0, 1000.0, 1.0e4, 1.0e5, 1.0e6)


def say(*args):
    if MPI.COMM_WORLD.rank == 0:
        print(*args, flush=True)


def run_femdiff(size, reports, tol, *, solver="default", lumped=False, dt0=0.05, label="",
                cells=None, scheme="bdf2", max_growth=None, refactor=None, quads=False,
                extra=None, adaptive_kw=None):
    """{t: (wall, steps, newton, factorisations, F, krylov, rejected)} and the solver line.

    ``size``: the square's side; ``cells``: cells per side (default ``size``: h = 1).
    """
    cells = cells or size
    cell = CellType.quadrilateral if quads else CellType.triangle
    domain = mesh.rectangle(cells, cells, float(size), float(size), cell=cell)
    opts = solvers.newton_options() if solver == "fresh" else None
    if refactor is not None:
        opts = {**solvers.cahn_hilliard_options(), "femdiff_refactor_krylov": refactor}
    if extra:
        opts = {**(opts or solvers.cahn_hilliard_options()), **extra}
    adaptive_kw = dict(adaptive_kw or {})
    if max_growth is not None:
        adaptive_kw["max_growth"] = max_growth
    adaptive = Adaptive(tol=tol, **adaptive_kw)
    p = DiffusionProblem(
        domain, ChemicalPotential([DoubleWell(RHO, A, B), GradientEnergy(KAPPA)]),
        Mobility.constant(M), initial=c0, concentration_scale=1.0, lumped=lumped,
        time=TimeControl(dt=dt0, scheme=scheme), adaptive=adaptive,
        petsc_options=opts)
    p.initialise()
    out = {}
    steps = newton = krylov = rejected = 0
    start = time.perf_counter()
    for t in sorted(reports):
        hist = p.run(t)
        steps += len(hist)
        newton += sum(h.newton_iterations for h in hist)
        krylov += sum(h.krylov_iterations for h in hist)
        rejected += sum(h.retries for h in hist)
        out[t] = (time.perf_counter() - start, steps, newton, p.factorisations,
                  p.free_energy(), krylov, rejected)
        say(f"  {label} t={t:g}: {out[t][0]:.1f} s, {steps} steps ({rejected} rejected), "
            f"{newton} Newton, {krylov} Krylov, {p.factorisations} LU, F={out[t][4]:.6f}")
    return out, p.solver_description()


def mesh_spec(text):
    """``"Q1:130"`` → ``("Q1", 130)`` (an argparse type)."""
    element, _, cells = text.partition(":")
    if element not in ("P1", "Q1") or not cells.isdigit():
        raise argparse.ArgumentTypeError(f"expected P1:CELLS or Q1:CELLS, got {text!r}")
    return element, int(cells)


def reference(args, reports):
    """{t: F} of the tight-tolerance run, cached in a JSON file."""
    ref_tol = args.ref_tol or min(args.tol) / 4
    # on the plain script's mesh by default: femdiff's own mesh error (--cells) counts
    ref_cells = args.ref_cells or args.plain_cells or args.size
    path = Path(args.ref_file or Path.home() / ".cache" / "femdiff" /
                f"pfhub1b_ref_{args.size}_{ref_cells}_{ref_tol:g}_"
                f"{'lumped' if args.lumped else 'cons'}"
                ".json")
    cached = {}
    if path.exists() and not args.recompute_ref:
        cached = {float(k): v for k, v in json.loads(path.read_text()).items()}
    missing = [t for t in reports if t not in cached]
    if missing:
        say(f"reference: femdiff tol={ref_tol:g} (cached in {path})")
        out, _ = run_femdiff(args.size, missing, ref_tol, lumped=args.lumped, label="ref",
                             cells=ref_cells)
        cached.update({t: v[4] for t, v in out.items()})
        if MPI.COMM_WORLD.rank == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({str(k): v for k, v in sorted(cached.items())}))
    return cached, ref_tol


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=200, help="side of the square")
    parser.add_argument("--mesh", type=mesh_spec, nargs="+", default=[("Q1", 130), ("P1", 200)],
                        help="femdiff runs, each ELEMENT:CELLS (P1 triangles or Q1 "
                             "quadrilaterals, cells per side; default: Q1:130 P1:200)")
    parser.add_argument("--plain-cells", type=int, default=None,
                        help="plain cells per side (default: side, h = 1)")
    parser.add_argument("--ref-cells", type=int, default=None,
                        help="reference cells per side (default: the plain script's)")
    parser.add_argument("--scheme", choices=["bdf2", "backward_euler"], default="bdf2")
    parser.add_argument("--max-growth", type=float, default=None)
    parser.add_argument("--refactor", type=int, default=None,
                        help="femdiff_refactor_krylov (default: the solver default)")
    parser.add_argument("--ksp-rtol", type=float, default=None,
                        help="GMRES rtol on the reused LU (default: the solver default)")
    parser.add_argument("--guess-degree", type=int, default=None,
                        help="Adaptive.guess_degree (Newton's start; default: quadratic "
                             "with the Newton stop)")
    parser.add_argument("--t-end", type=float, default=1.0e4)
    parser.add_argument("--tol", type=float, nargs="+", default=[2e-3],
                        help="femdiff adaptive tol(s), each run beside the same plain run "
                             "(default: the demo's and cases' 2e-3)")
    parser.add_argument("--solver", choices=["default", "fresh"], default="default")
    parser.add_argument("--lumped", action="store_true")
    parser.add_argument("--ref-tol", type=float, default=None,
                        help="reference tol (default: the smallest --tol / 4)")
    parser.add_argument("--ref-t-end", type=float, default=None,
                        help="reference only up to here (default: --t-end)")
    parser.add_argument("--ref-file", type=Path, default=None)
    parser.add_argument("--recompute-ref", action="store_true")
    parser.add_argument("--no-ref", action="store_true")
    parser.add_argument("--no-plain", action="store_true")
    parser.add_argument("--plain-t-end", type=float, default=None,
                        help="run the plain script only up to here (default: --t-end)")
    args = parser.parse_args()
    reports = [t for t in REPORTS if t < args.t_end] + [args.t_end]
    say(f"PFHub 1b on the {args.size}x{args.size} square, ranks={MPI.COMM_WORLD.size}")
    runs = {}
    for element, cells in args.mesh:
        for tol in args.tol:
            runs[f"{element} {cells}²", tol], description = run_femdiff(
                args.size, reports, tol, solver=args.solver, lumped=args.lumped,
                label=f"femdiff {element} {cells}² tol={tol:g}", cells=cells,
                scheme=args.scheme,
                max_growth=args.max_growth, refactor=args.refactor, quads=element == "Q1",
                extra=None if args.ksp_rtol is None else {"ksp_rtol": args.ksp_rtol},
                adaptive_kw=None if args.guess_degree is None
                else {"guess_degree": args.guess_degree})
    say(f"femdiff solver: {description}")
    pl = {}
    if not args.no_plain:
        t_plain = args.plain_t_end or args.t_end
        pl = run_plain(args.size, [t for t in reports if t <= t_plain], say=say,
                       cells=args.plain_cells)
    ref, ref_tol = ({}, None) if args.no_ref else reference(
        args, [t for t in reports if t <= (args.ref_t_end or args.t_end)])

    say(f"\nfemdiff: adaptive BDF2, solver={args.solver}, "
        f"{'lumped' if args.lumped else 'consistent'} | plain: BE, ×1.5 growth, fresh LU, "
        f"{args.plain_cells or args.size}² cells | reference: femdiff tol={ref_tol}")
    say(f"{'mesh':>8} {'tol':>6} {'t':>8} | {'femdiff s':>9} {'steps':>5} {'rej':>4} "
        f"{'Newton':>6} {'LU':>5} {'F':>10} {'err':>8} | {'plain s':>8} {'steps':>5} {'Newton':>6} "
        f"{'LU':>5} {'F':>10} {'err':>8} | {'speed-up':>8} | uploads 1b")
    for (name, tol), fd in runs.items():
        for t in reports:
            a = fd[t]
            b = pl.get(t, (math.nan, 0, 0, 0, math.nan))
            r = ref.get(t, math.nan)
            band = ""
            if pfhub_uploads is not None and t in pfhub_uploads.TIMES:
                lo, hi = pfhub_uploads.spread("1b", t, exclude_codes=("PRISMS-PF",))
                band = f"[{lo:.2f}, {hi:.2f}] {'in' if lo <= a[4] <= hi else 'OUT'}"
            say(f"{name:>8} {tol:6.0e} {t:8.0f} | {a[0]:9.1f} {a[1]:5d} {a[6]:4d} "
                f"{a[2]:6d} {a[3]:5d} {a[4]:10.5f} {abs(a[4] - r) / r:8.1e} | {b[0]:8.1f} "
                f"{b[1]:5d} {b[2]:6d} {b[3]:5d} {b[4]:10.5f} {abs(b[4] - r) / r:8.1e} | "
                f"{b[0] / a[0]:8.2f} | {band}")
    say("err: |F − F_ref|/F_ref; LU: numerical factorisations; speed-up: plain / femdiff "
        "wall time; uploads: the PFHub 1b spread without PRISMS-PF (in/OUT: femdiff's F)")


if __name__ == "__main__":
    main()
