"""Monolithic against staggered two-way chemo-mechanics on the electrode particle.

The LiMn₂O₄ octant of ``demos/demo_electrode_particle.py`` (E = 10 GPa, Ω = 3.497
cm³/mol, D = 7.08e-15 m²/s, R = 5 µm, 2 A/m² insertion), strengthened to E = 50 GPa so
that θC ≈ 1 and the coupling matters. For each mesh size h = R/n and each scheme it runs
``--steps`` BDF2 steps of Δt = 25 s and prints the dofs, the wall time per step, and
per step the Newton iterations and the Krylov iterations per Newton iteration
(monolithic: FGMRES on the whole Jacobian with the fieldsplit GAMG | LU preconditioner;
staggered: the diffusion's Newton (LU) summed over the fixed-point iterations, its
Krylov count includes the mechanics' CG-GAMG iterations). Forms are compiled and the
first step taken before the clock starts.

    python benchmarks/bench_coupled.py [--n 4 8] [--steps 4]
    mpirun -n 2 python benchmarks/bench_coupled.py --n 8 16

Measured 2026-11-26 on a shared 2-core machine under heavy load from other jobs (wall
times are indicative only; iteration counts are not affected):

    ranks R/h  scheme       dofs  s/step  newton/step  krylov/newton  fixed-point its
    1      4   monolithic   1935   0.66     3.0          19.9           1
    1      4   staggered    1935   0.85    24.0           6.6           8.0
    1      8   monolithic   8889   3.45     3.0          22.6           1
    1      8   staggered    8889   4.53    25.0           7.1           8.3
    2      4   monolithic   1935   1.99     3.0          18.9           1
    2      8   monolithic   8889  10.2      3.0          23.9           1
    2     12   monolithic  24545  15.5      3.0          23.9           1
    2     12   staggered   24545  19.7     25.0           7.0           8.3
    2     20   monolithic 100253  51.5      3.0          28.8           1
    2     20   staggered  100253  46.1     25.5           8.0           8.5

The monolithic FGMRES count grows slowly (19 → 29 over a 50× refinement in dofs, ≤ 30);
the staggered scheme needs ~8 Aitken-relaxed fixed-point iterations per step (θC ≈ 1).
"""

import argparse
import time

from mpi4py import MPI

from dolfinx import fem

import femdiff  # noqa: F401
from femdiff import geometry
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Mobility, StressCoupling
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics import mechanics
from femdiff.problems.coupled import Coupled
from femdiff.problems.diffusion import DiffusionProblem, Flux

R, E, NU, OMEGA, D, T = 5e-6, 50e9, 0.3, 3.497e-6, 7.08e-15, 300.0
J = 2.0 / 96485.33212
C0 = 0.1 * 2.29e4


def particle(n: int, scheme: str) -> Coupled:
    d = geometry.build("sphere_octant", MPI.COMM_WORLD, radius=R, h=R / n)
    solid = mechanics.Elasticity(
        d, mechanics.ElasticMaterial(E=E, nu=NU),
        [mechanics.Displacement(b, {i: 0.0}) for i, b in enumerate(("x0", "y0", "z0"))],
        degree=2)
    s = fem.Function(fem.functionspace(d.mesh, ("Discontinuous Lagrange", 1)))
    diff = DiffusionProblem(d, ChemicalPotential([Ideal(T), StressCoupling(OMEGA, s)]),
                            Mobility.from_diffusivity(D, T), initial=C0,
                            time=TimeControl(dt=25.0, scheme="bdf2"),
                            bcs=[Flux("surface", -J)])
    return Coupled(solid, diff, scheme=scheme, tol=1e-8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        print(f"{comm.size} rank(s); {args.steps} steps of 25 s after a warm-up step")
        print(f"{'R/h':>4} {'scheme':>11} {'dofs':>8} {'s/step':>8} {'newton':>7} "
              f"{'krylov/newton':>14} {'fixed-pt':>9}")
    for n in args.n:
        for scheme in ("monolithic", "staggered"):
            cp = particle(n, scheme)
            cp.initialise()
            dofs = (cp.problem.W.dofmap.index_map.size_global if scheme == "monolithic"
                    else cp.diffusion.W.dofmap.index_map.size_global
                    + cp.mechanics.V.dofmap.index_map.size_global
                    * cp.mechanics.V.dofmap.index_map_bs)
            cp.step()  # warm-up: the first factorisation and GAMG set-up
            newton = krylov = fixed = 0
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                info = cp.step()
                newton += info.newton_iterations
                krylov += info.krylov_iterations
                fixed += cp.iterations
            wall = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX) / args.steps
            if comm.rank == 0:
                print(f"{n:>4} {scheme:>11} {dofs:>8} {wall:>8.2f} "
                      f"{newton / args.steps:>7.1f} {krylov / max(newton, 1):>14.1f} "
                      f"{fixed / args.steps:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
