"""PFHub 1b: the speed levers of issue #15 one by one, side by side in one process.

Each line changes one setting against the femdiff default (consistent P1/P1, adaptive
BDF2, Newton–GMRES on a reused LU) and prints wall, steps, rejections, Newton, Krylov,
LU and F at the report times, with |F − F_ref|/F_ref against the first (tightest) run.

    python benchmarks/bench_pfhub_levers.py --cells 100 --t-end 1000

Measured 2026-11-26 (serial, 100² cells, to t = 1000; the load changed during the run,
so walls are rough, counts exact): steps/Newton/GMRES/LU, F(1000), err vs tol 2.5e-4:
ref 2.5e-4 580/1151/4041/236 75.2350; tol 2e-3 294/809/3295/147 2.3e-4; tol 5e-3
218/648/3024/112 5.1e-4; tol 1e-2 173/551/2873/92 1.3e-3; tol 2e-2 138/467/2579/84 7.8e-4;
tol 5e-3 with GMRES rtol 1e-3: 218/680/2342/69, F identical (now the default); refactor
threshold 2: 1961 GMRES/205 LU, 8: 4142/64, fresh LU: 648 LU (4 is kept); backward Euler
260 steps, err 7.6e-3; max_growth 3: no change; Q1 quads F(100) = 131.61 (err 2.2e-3).
Quadratic Newton guess (``Adaptive.guess_degree=2``, tol 1e-2): Newton 578 → 563, GMRES
2221 → 2043, LU 64 → 59, F identical (not made the default); no extrapolation (0): 715
Newton, 2968 GMRES, 79 LU. To t = 1e4 (tol 1e-2, 100² cells): 419 steps, 1576 Newton,
175 LU, F(1e4) = 39.373 (tol 5e-3: 522 steps, 39.368: F(1e4) is converged in tol).
"""

import argparse
import sys
from pathlib import Path

from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).parent))
from bench_pfhub_speed import run_femdiff, say  # noqa: E402

LEVERS = {
    "ref tol 2.5e-4": dict(tol=2.5e-4),
    "tol 2e-3": dict(tol=2e-3),
    "tol 5e-3": dict(tol=5e-3),
    "tol 1e-2": dict(tol=1e-2),
    "tol 2e-2": dict(tol=2e-2),
    "tol 5e-3 ksp_rtol 1e-3": dict(tol=5e-3, extra={"ksp_rtol": 1e-3}),
    "tol 5e-3 refactor 2": dict(tol=5e-3, refactor=2),
    "tol 5e-3 refactor 8": dict(tol=5e-3, refactor=8),
    "tol 5e-3 fresh LU": dict(tol=5e-3, solver="fresh"),
    "tol 5e-3 BE": dict(tol=5e-3, scheme="backward_euler"),
    "tol 5e-3 growth 3": dict(tol=5e-3, max_growth=3.0),
    "tol 5e-3 Q1": dict(tol=5e-3, quads=True),
    "tol 5e-3 quadratic guess": dict(tol=5e-3, adaptive_kw={"guess_degree": 2}),
    "tol 5e-3 no guess": dict(tol=5e-3, adaptive_kw={"guess_degree": 0}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--t-end", type=float, default=1000.0)
    parser.add_argument("--only", nargs="*", default=None, help="lever names to run")
    args = parser.parse_args()
    reports = [t for t in (100.0, 1000.0, 1.0e4, 1.0e5) if t < args.t_end] + [args.t_end]
    rows = {}
    for name, kw in LEVERS.items():
        if args.only and name not in args.only and not name.startswith("ref"):
            continue
        kw = dict(kw)
        tol = kw.pop("tol")
        rows[name], _ = run_femdiff(args.size, reports, tol, cells=args.cells, label=name,
                                    **kw)
    ref = next(iter(rows.values()))
    say(f"\nPFHub 1b {args.size}² with {args.cells}² cells, ranks={MPI.COMM_WORLD.size}; "
        "err vs the first row")
    for name, out in rows.items():
        cells = " | ".join(
            f"t={t:g}: {v[0]:6.1f} s {v[1]:4d} st {v[6]:3d} rej {v[2]:5d} N {v[5]:5d} K "
            f"{v[3]:4d} LU F={v[4]:.4f} err={abs(v[4] - ref[t][4]) / ref[t][4]:.1e}"
            for t, v in out.items())
        say(f"{name:26s} {cells}")


if __name__ == "__main__":
    main()
