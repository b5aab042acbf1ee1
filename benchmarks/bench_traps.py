"""Time per step of hydrogen transport with two McNabb–Foster traps against none.

The same 3D box (x ∈ [0, L]³, C = C₀ on the left face, C ≈ 0 on the right one, ideal
lattice hydrogen) is stepped with :class:`~femdiff.problems.trapping.TrappingProblem` with no traps
and with two McNabb–Foster traps (four fields instead of two: C_L, μ, C_T1, C_T2).
With lumped P1 the trap block of the Jacobian is diagonal, so the cost per step should
grow well below the (1 + number of fields) of a dense coupling. Reports dofs, seconds
per step, Newton iterations per step, and the peak resident memory per rank.

    python benchmarks/bench_traps.py [--n 16] [--steps 10]
    mpirun -n 2 python benchmarks/bench_traps.py --n 40       # ~275k dofs with traps

Solver: LU (femdiff.numerics.solvers.newton_options: MUMPS or SuperLU_DIST), so the cost of a
step grows with the fill of the factorisation, faster than the dof count. The iterative
solver (an exact Schur fieldsplit: point-block Jacobi on the node-wise local fields C_L,
C_T, GAMG on μ; ``solver="iterative"``, and ``"auto"`` in 3D from
femdiff.numerics.solvers.ITERATIVE_MIN_DOFS_3D dofs) is benchmarked in bench_traps_3d.py.
"""

import argparse
import resource
import time

from mpi4py import MPI

import femdiff  # noqa: F401  (MPI before PETSc for the wheel stack)
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Mobility
from femdiff.models.trap_laws import McNabbFoster
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics.boundary import FixedConcentration
from femdiff.problems.trapping import TrappingProblem

T, D, L, C0 = 300.0, 1.0e-9, 1.0e-3, 1.0


def run(n, steps, traps, condense=False, solver="lu", petsc_options=None):
    """Time ``steps`` BDF2 steps (after a warm-up) of the n³ box with ``traps``.

    ``solver`` and ``petsc_options`` are the problem's (``bench_traps_3d.py`` chooses
    its trap split with ``petsc_options={"femdiff_split": ...}``).

    Returns a dict: dofs, seconds per step, Newton per step, Krylov per step and per
    Newton iteration, peak RSS per rank [MB] (max over ranks) and the linear-solver choice
    (``problem.linear_solver()``). Shared with ``bench_traps_3d.py``.
    """
    domain = mesh.box(n, n, n, L, L, L)
    tau = L**2 / D
    problem = TrappingProblem(
        domain, ChemicalPotential([Ideal(T)]), Mobility.from_diffusivity(D, T),
        traps=traps, temperature=T, initial=1e-3 * C0,
        bcs=[FixedConcentration("left", C0), FixedConcentration("right", 1e-3 * C0)],
        time=TimeControl(dt=tau / 200, scheme="bdf2"), concentration_scale=C0,
        condense_traps=condense, solver=solver, petsc_options=petsc_options)
    problem.initialise()
    problem.step()  # warm-up: JIT, first assembly, GAMG set-up or factorisation
    domain.comm.Barrier()
    t0 = time.perf_counter()
    newton = krylov = 0
    for _ in range(steps):
        info = problem.step()
        newton += info.newton_iterations
        krylov += info.krylov_iterations
    elapsed = domain.comm.allreduce(time.perf_counter() - t0, op=MPI.MAX) / steps
    rss = domain.comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                op=MPI.MAX) / 1024
    return {"dofs": problem.W.dofmap.index_map.size_global * problem.W.dofmap.index_map_bs,
            "seconds": elapsed, "newton": newton / steps, "krylov": krylov / steps,
            "krylov_per_newton": krylov / max(newton, 1), "rss": rss,
            "solver": problem.linear_solver()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    traps = [McNabbFoster(10.0, k0=1.0, E_k=0.0, p0=1.0e2, E_p=10.0e3),
             McNabbFoster(1.0, k0=1.0, E_k=0.0, p0=1.0e3, E_p=30.0e3)]
    rows = []
    for label, tr, condense in (("no traps", [], False),
                                ("two McNabb-Foster traps", traps, False),
                                ("two traps, condensed", traps, True)):
        rows.append((label, run(args.n, args.steps, tr, condense)))
    if MPI.COMM_WORLD.rank == 0:
        print(f"{MPI.COMM_WORLD.size} rank(s), {args.n}^3 box, LU")
        for label, r in rows:
            print(f"{label:26s} {r['dofs']:9d} dofs  {r['seconds']:8.3f} s/step  "
                  f"{r['newton']:5.1f} Newton/step {r['krylov']:7.1f} Krylov/step  "
                  f"peak RSS {r['rss']:7.0f} MB/rank")
        sec = [r["seconds"] for _, r in rows]
        print(f"ratio (traps / none): monolithic LU {sec[1] / sec[0]:.2f}, "
              f"condensed {sec[2] / sec[0]:.2f} (fields: 4 against 2)")


if __name__ == "__main__":
    main()
