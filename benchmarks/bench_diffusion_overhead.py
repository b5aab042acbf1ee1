"""Time per step of femdiff's DiffusionProblem against a hand-written DOLFINx script.

Both solve the same stress-driven ideal-solution problem in the same mixed P1/P1 weak
form with the same SNES (vinewtonrsls with C > 0 bounds, backtracking, MUMPS LU) and
tolerances, side by side in one process. The ratio is femdiff's overhead (Python-side
bookkeeping: copies, finiteness checks, output sync).

    python benchmarks/bench_diffusion_overhead.py [--n 128] [--steps 20]
    mpirun -n 2 python benchmarks/bench_diffusion_overhead.py
"""

import argparse
import time

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem

import femdiff  # noqa: F401  (MPI before PETSc for the wheel stack)
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import R_GAS, ChemicalPotential, Ideal, Mobility, StressCoupling
from femdiff.numerics import solvers
from femdiff.numerics.timestepping import TimeControl
from femdiff.problems.diffusion import DiffusionProblem

T, D, L, C0, OMEGA, S0 = 300.0, 1e-9, 1e-3, 1000.0, 2e-6, 1e9
RT = R_GAS * T


def sigma_h(x):
    return S0 * x[0] / L * (1 + 0.5 * ufl.sin(3 * x[1] / L))


def femdiff_run(domain, steps, dt):
    x = ufl.SpatialCoordinate(domain.mesh)
    p = DiffusionProblem(
        domain, ChemicalPotential([Ideal(T), StressCoupling(OMEGA, sigma_h(x))]),
        Mobility.from_diffusivity(D, T), initial=C0, time=TimeControl(dt=dt),
        lumped=False)
    p.initialise()
    p.step()  # warm-up: first assembly and factorisation set-up
    t0 = time.perf_counter()
    newton = 0
    for _ in range(steps):
        newton += p.step().newton_iterations
    return (time.perf_counter() - t0) / steps, newton, p.amount()


def plain_run(domain, steps, dt):
    """The same weak form written directly against DOLFINx (no femdiff)."""
    msh = domain.mesh
    P1 = basix.ufl.element("Lagrange", msh.basix_cell(), 1)
    W = fem.functionspace(msh, basix.ufl.mixed_element([P1, P1]))
    u, u_n = fem.Function(W), fem.Function(W)
    c, mu = ufl.split(u)
    c_n, _ = ufl.split(u_n)
    q, v = ufl.TestFunctions(W)
    x = ufl.SpatialCoordinate(msh)
    M0 = D / RT
    Ldim = domain.characteristic_length() ** msh.topology.dim
    k = fem.Constant(msh, dt)
    F = ((c - c_n) * q + k * M0 * C0 * c * ufl.inner(ufl.grad(mu), ufl.grad(q))) / Ldim * ufl.dx
    F += (mu - ufl.ln(c) - ufl.ln(C0) + OMEGA * sigma_h(x) / RT) * v / Ldim * ufl.dx
    V0, dofs_c = W.sub(0).collapse()
    V1, dofs_mu = W.sub(1).collapse()
    u.x.array[dofs_c] = 1.0
    mu0 = fem.Function(V1)
    mu0.interpolate(fem.Expression(ufl.ln(C0) - OMEGA * sigma_h(x) / RT,
                                   V1.element.interpolation_points))
    u.x.array[dofs_mu] = mu0.x.array
    u_n.x.array[:] = u.x.array
    opts = solvers.newton_options()
    opts["snes_type"] = "vinewtonrsls"
    problem = NonlinearProblem(F, u, petsc_options_prefix="plain_", petsc_options=opts)
    lo, hi = fem.Function(W), fem.Function(W)
    lo.x.array[:] = -PETSc.INFINITY
    hi.x.array[:] = PETSc.INFINITY
    lo.x.array[dofs_c] = 1e-10
    problem.solver.setVariableBounds(lo.x.petsc_vec, hi.x.petsc_vec)

    def step():
        problem.solve()
        assert problem.solver.getConvergedReason() > 0
        u_n.x.array[:] = u.x.array
        return problem.solver.getIterationNumber()

    step()
    t0 = time.perf_counter()
    newton = sum(step() for _ in range(steps))
    elapsed = (time.perf_counter() - t0) / steps
    amount = msh.comm.allreduce(fem.assemble_scalar(fem.form(C0 * c * ufl.dx)), MPI.SUM)
    return elapsed, newton, amount


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=128, help="cells along the rod")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    domain = mesh.rectangle(args.n, args.n // 4, L, L / 4)
    dt = 0.05 * L**2 / D / args.n  # a few cell diffusion times
    best_f, best_p = np.inf, np.inf
    for _ in range(args.repeat):  # interleave so both see the same machine load
        tf, nf, mf = femdiff_run(domain, args.steps, dt)
        tp, np_, mp = plain_run(domain, args.steps, dt)
        best_f, best_p = min(best_f, tf), min(best_p, tp)
    if comm.rank == 0:
        ndofs = 2 * (args.n + 1) * (args.n // 4 + 1)
        print(f"ranks={comm.size} dofs={ndofs} steps={args.steps} dt={dt:.3g}s")
        print(f"femdiff: {best_f * 1e3:8.2f} ms/step  newton={nf}  amount={mf:.12e}")
        print(f"plain  : {best_p * 1e3:8.2f} ms/step  newton={np_}  amount={mp:.12e}")
        print(f"overhead ratio femdiff/plain = {best_f / best_p:.3f}")


if __name__ == "__main__":
    main()
