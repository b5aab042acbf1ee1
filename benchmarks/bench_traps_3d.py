"""3D hydrogen transport with McNabb–Foster traps: time per step against none, iterative.

The box of ``benchmarks/bench_traps.py`` (x ∈ [0, L]³, n³ hexahedra split into
tetrahedra, C = C₀ on ``left``, C ≈ 0 on ``right``, ideal lattice hydrogen), stepped in
one process first without traps, then with ``--traps`` McNabb–Foster traps (2 + traps
fields: C_L, μ, C_T,i), both with the same linear solver (default ``iterative``:
:func:`femdiff.numerics.solvers.mixed_iterative_options`; μ and the C_T have diagonal lumped
blocks, eliminated exactly by Jacobi, so the Schur complement on C_L is exact and
GAMG solves it). Printed: dofs, seconds per step, Newton iterations per step, Krylov
iterations per Newton iteration, the time-per-step ratio (traps / none, to compare with
1 + number of fields) and the peak resident memory per rank (the maximum over ranks,
after the trap run: the larger of the two).

    mpirun -n 2 python benchmarks/bench_traps_3d.py --n 36            # ~200k dofs, 2 traps
    mpirun -n 2 python benchmarks/bench_traps_3d.py --n 60 --traps 3 --traps-only --steps 1
                                                    # FESTIM #1272's mesh and trap count

FESTIM issue #1272 reports 63 GB for LU on a 60³ mesh with three traps.

Measured 2026-11-26 on a shared 2-core machine (load average ~5–15; wall times
inflated, the two rows of one run side by side), 2 ranks, ``--n 36 --steps 2``, the
default split (μ and the C_T eliminated, GAMG on the Schur complement in C_L):

    no traps             101306 dofs  15.5 s/step  3.5 Newton/step   6.9 Krylov/Newton  709 MB/rank
    2 McNabb-Foster traps 202612 dofs  25.9 s/step  4.0 Newton/step   7.4 Krylov/Newton  757 MB/rank
    time per step, traps / none: 1.67 (1 + number of fields = 5; LU: 6.6, last session)

The former split (``--trap-split mu``, i.e. ``petsc_options={"femdiff_split": "local_mu"}``:
C_L and the C_T eliminated by point-block Jacobi, GAMG on the Schur complement in μ)
measured 28.5 Krylov/Newton, 1.91 time ratio and 859 MB/rank on the same run.

Krylov iterations per Newton iteration of the trap runs under refinement (two traps,
first two steps after the warm-up, 4 Newton/step throughout):

    cells            8³     16³     24³     32³     36³ (2 ranks)
    split "c"       3.6     4.1     6.0     7.1     7.4
    split "mu"      8.9    12.6    18.5*     –     28.5        (*: earlier measurement)

The "mu" split's Schur complement M_L + Δt G K_M (G_i = f″(C_i) over the node's
effective storage, f″ ∝ 1/C over three decades here) is a *row*-scaled Laplacian, which
spoils the Galerkin coarse operators of smoothed aggregation; the "c" split's is the
trap-free a₀M_L + Δt K_M diag(f″) (column-scaled) plus a positive diagonal, for which
GAMG's counts stay those of the trap-free problem.

FESTIM #1272's case, ``--n 60 --traps 3 --traps-only --steps 1`` (226981 nodes × 5
fields = 1.13M dofs), default split, 2 ranks: peak resident 3.1 GB per rank (VmHWM,
3.21 and 3.26 GB, 41 min into the run on the loaded machine, niced, still in its warm-up
or first step at the session's deadline; 2.5 GB current), about 6.5 GB in all against
the 63 GB of LU reported there. The earlier "mu" split: 3.4 GB per rank at 11 min.
"""

import argparse

from mpi4py import MPI

from bench_traps import run  # the same box and timing loop (benchmarks/ is on sys.path)

import femdiff  # noqa: F401  (MPI before PETSc for the wheel stack)
from femdiff.models.trap_laws import McNabbFoster

TRAPS = [McNabbFoster(10.0, k0=1.0, E_k=0.0, p0=1.0e2, E_p=10.0e3),
         McNabbFoster(1.0, k0=1.0, E_k=0.0, p0=1.0e3, E_p=30.0e3),
         McNabbFoster(5.0, k0=1.0, E_k=0.0, p0=1.0e4, E_p=40.0e3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--traps", type=int, default=2, choices=(1, 2, 3))
    parser.add_argument("--solver", default="iterative", choices=("auto", "lu", "iterative"))
    parser.add_argument("--trap-split", default="c", choices=("c", "mu"),
                        help="Schur block of the iterative split with traps (C_L: default; "
                        "mu: petsc_options={'femdiff_split': 'local_mu'})")
    parser.add_argument("--traps-only", action="store_true",
                        help="skip the run without traps (memory at a large size)")
    args = parser.parse_args()
    if args.trap_split != "c" and args.solver == "lu":
        parser.error("--trap-split chooses a split of the iterative solver: not with "
                     "--solver lu")
    comm = MPI.COMM_WORLD
    # the former split, for comparison, by its femdiff_split name (a user PETSc option:
    # solvers.mixed_iterative_options then builds that split's options)
    split = None if args.trap_split == "c" else {"femdiff_split": "local_mu"}
    rows = [] if args.traps_only else [
        ("no traps", run(args.n, args.steps, [], solver=args.solver))]
    rows.append((f"{args.traps} McNabb-Foster traps",
                 run(args.n, args.steps, TRAPS[:args.traps], solver=args.solver,
                     petsc_options=split)))
    if comm.rank == 0:
        print(f"{comm.size} rank(s), {args.n}^3 box, {args.steps} BDF2 steps after a warm-up, "
              f"trap split {args.trap_split!r}")
        for label, r in rows:
            print(f"{label:24s} {r['solver'][0]:9s} {r['dofs']:9d} dofs "
                  f"{r['seconds']:8.3f} s/step {r['newton']:5.1f} Newton/step "
                  f"{r['krylov_per_newton']:6.1f} Krylov/Newton  peak {r['rss']:7.0f} MB/rank "
                  f"({1024 * r['rss'] * comm.size / r['dofs']:.2f} kB/dof)")
        if len(rows) == 2:
            print(f"time per step, traps / none: "
                  f"{rows[1][1]['seconds'] / rows[0][1]['seconds']:.2f} "
                  f"(1 + number of fields = {1 + 2 + args.traps})")
        print(f"why: {rows[-1][1]['solver'][1]}")


if __name__ == "__main__":
    main()
