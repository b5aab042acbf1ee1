"""PFHub benchmark 1b (no-flux square): femdiff against the plain baseline, side by side.

femdiff: consistent P1/P1 (``lumped=False``: the lumped law costs ~2 % in F(100)),
adaptive BDF2 (error-controlled, tol 1e-2 as in the demo and cases, no Δt cap) and the
Cahn–Hilliard solver default (:func:`femdiff.solvers.cahn_hilliard_options`:
Newton–GMRES to rtol 1e-3 on a reused MUMPS LU). The mesh is h = 1 (``--cells`` = side):
h = 2 P1 (100² cells) gives F(1000) = 75.23 with a tight tol, above the uploads' 75.0,
and Q1 at h = 2 is no better (F(100) = 131.61); see ``bench_pfhub_levers.py``.
``--solver fresh`` runs the former default (a fresh LU at each Newton iteration) to
measure that lever alone; ``--lumped`` the lumped law.
Plain: ``bench_pfhub_plain.py`` (backward Euler, fresh MUMPS LU, Δt × 1.5 after ≤ 3
Newton iterations).

Accuracy: against a reference, femdiff at ``--ref-tol`` (default tol/20), computed once
and cached in ``--ref-file`` (outside git; ``--recompute-ref`` redoes it). If
``benchmarks/pfhub_uploads.py`` exists, the spread of the PFHub 1b uploads is printed
beside F. Every figure is printed, so the table can be redone on a quiet machine:

    mpirun -n 2 python benchmarks/bench_pfhub_speed.py --size 200 --t-end 1e4
    mpirun -n 2 python benchmarks/bench_pfhub_speed.py --size 100 --t-end 1000 --no-plain
    mpirun -n 2 python benchmarks/bench_pfhub_speed.py --t-end 1e6 --no-plain --no-ref

Measured 2026-11-26, 2 ranks, 200² cells, a loaded machine (load ~5 on 2 cores; ratios
only), ``--t-end 1e4 --plain-t-end 1000 --ref-t-end 1000 --ref-tol 1e-3``:

    t     | femdiff s steps rej Newton LU  F        err    | plain s steps Newton=LU F        err
    100   |   102.1    62   0    181   20 130.3235 3.1e-4 |  134.5    60    235    132.5634 1.8e-2
    1000  |   321.3   178   9    589   69  74.2961 5.6e-4 |  380.9   203    835     72.8015 2.1e-2
    10000 |   845.2   397  33   1497  173  37.3312   —    |     —

speed-up 1.32 (t = 100), 1.19 (t = 1000) at 60× (100) and 37× (1000) smaller error;
femdiff F(100), F(1000) inside the 1b spread (no PRISMS-PF), F(1e4) = 37.33 below it
([38.63, 42.84]). The targets (≤ 60 s to 1e4, ≥ 3× plain) are not met.

Quiet machine (load 0.15), 2 ranks, 200² P1, ``--t-end 1000 --plain-t-end 1000
--ref-t-end 1000 --ref-tol 1e-3``: femdiff (tol 1e-2) 19.4 s to t = 100 (62 steps, 181
Newton, 20 LU, F = 130.3235, error 3.1e-4) and 62.9 s to 10³ (178 steps, 589 Newton, 69 LU,
F = 74.2961, error 5.6e-4); plain 41.3 s and 145.0 s (F = 132.5634 / 72.8015, errors 1.8e-2
/ 2.1e-2): speed-up 2.13 / 2.31 at 37–58× smaller error; femdiff in the 1b spread at both.
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
from femdiff import mesh, solvers
from femdiff.diffusion import DiffusionProblem
from femdiff.thermodynamics import ChemicalPotential, DoubleWell, GradientEnergy, Mobility
from femdiff.timestepping import Adaptive, TimeControl

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


def reference(args, reports):
    """{t: F} of the tight-tolerance run, cached in a JSON file."""
    ref_tol = args.ref_tol or args.tol / 20
    ref_cells = args.ref_cells or args.cells or args.size
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
    parser.add_argument("--cells", type=int, default=None,
                        help="femdiff cells per side (default: side, h = 1)")
    parser.add_argument("--plain-cells", type=int, default=None,
                        help="plain cells per side (default: side, h = 1)")
    parser.add_argument("--ref-cells", type=int, default=None,
                        help="reference cells per side (default: --cells)")
    parser.add_argument("--scheme", choices=["bdf2", "backward_euler"], default="bdf2")
    parser.add_argument("--max-growth", type=float, default=None)
    parser.add_argument("--refactor", type=int, default=None,
                        help="femdiff_refactor_krylov (default: the solver default)")
    parser.add_argument("--ksp-rtol", type=float, default=None,
                        help="GMRES rtol on the reused LU (default: the solver default)")
    parser.add_argument("--guess-degree", type=int, default=None,
                        help="Adaptive.guess_degree (Newton's start; default linear)")
    parser.add_argument("--quads", action="store_true", help="femdiff on Q1 quadrilaterals")
    parser.add_argument("--t-end", type=float, default=1.0e4)
    parser.add_argument("--tol", type=float, default=1e-2,
                        help="femdiff adaptive tol (the demo's and cases' default)")
    parser.add_argument("--solver", choices=["default", "fresh"], default="default")
    parser.add_argument("--lumped", action="store_true")
    parser.add_argument("--ref-tol", type=float, default=None)
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
    say(f"PFHub 1b {args.size}x{args.size} P1/P1, ranks={MPI.COMM_WORLD.size}")
    fd, description = run_femdiff(
        args.size, reports, args.tol, solver=args.solver, lumped=args.lumped,
        label=f"femdiff tol={args.tol:g}", cells=args.cells, scheme=args.scheme,
        max_growth=args.max_growth, refactor=args.refactor, quads=args.quads,
        extra=None if args.ksp_rtol is None else {"ksp_rtol": args.ksp_rtol},
        adaptive_kw=None if args.guess_degree is None else {"guess_degree": args.guess_degree})
    say(f"femdiff solver: {description}")
    pl = {}
    if not args.no_plain:
        t_plain = args.plain_t_end or args.t_end
        pl = run_plain(args.size, [t for t in reports if t <= t_plain], say=say,
                       cells=args.plain_cells)
    ref, ref_tol = ({}, None) if args.no_ref else reference(
        args, [t for t in reports if t <= (args.ref_t_end or args.t_end)])

    say(f"\nfemdiff: adaptive BDF2 tol={args.tol:g}, solver={args.solver}, "
        f"{'lumped' if args.lumped else 'consistent'} | plain: BE, ×1.5 growth, fresh LU "
        f"| reference: femdiff tol={ref_tol}")
    say(f"{'t':>8} | {'femdiff s':>9} {'steps':>5} {'rej':>4} {'Newton':>6} {'LU':>5} "
        f"{'F':>10} {'err':>8} | {'plain s':>8} {'steps':>5} {'Newton':>6} {'LU':>5} "
        f"{'F':>10} {'err':>8} | {'speed-up':>8} | uploads 1b")
    for t in reports:
        a = fd[t]
        b = pl.get(t, (math.nan, 0, 0, 0, math.nan))
        r = ref.get(t, math.nan)
        band = ""
        if pfhub_uploads is not None and t in pfhub_uploads.TIMES:
            lo, hi = pfhub_uploads.spread("1b", t, exclude_codes=("PRISMS-PF",))
            band = f"[{lo:.2f}, {hi:.2f}] {'in' if lo <= a[4] <= hi else 'OUT'}"
        say(f"{t:8.0f} | {a[0]:9.1f} {a[1]:5d} {a[6]:4d} {a[2]:6d} {a[3]:5d} {a[4]:10.5f} "
            f"{abs(a[4] - r) / r:8.1e} | {b[0]:8.1f} {b[1]:5d} {b[2]:6d} {b[3]:5d} "
            f"{b[4]:10.5f} {abs(b[4] - r) / r:8.1e} | {b[0] / a[0]:8.2f} | {band}")
    say("err: |F − F_ref|/F_ref; LU: numerical factorisations; speed-up: plain / femdiff "
        "wall time; uploads: the PFHub 1b spread without PRISMS-PF (in/OUT: femdiff's F)")


if __name__ == "__main__":
    main()
