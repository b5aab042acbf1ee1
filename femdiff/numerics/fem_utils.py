"""Small DOLFINx/PETSc helpers shared by the problems.

Set a field from any value, global bounds, a Newton solve that reports failure instead
of raising, the concentration in equilibrium with a reservoir.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable
from typing import Any, TypeGuard

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
import ufl.algorithms
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem

#: a boundary or initial value: a number, a callable x -> values, a Function or UFL
Value = float | Callable[[np.ndarray], np.ndarray] | Any

log = logging.getLogger("femdiff.problems.base")


def is_real(value: Any) -> TypeGuard[float]:
    """A real number (numpy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.floating | np.integer)


def interpolate_into(target: fem.Function, value: Value) -> None:
    """Set ``target`` from a number, a callable ``x -> values``, a Function or UFL expr."""
    if _is_number(value):
        target.x.array[:] = float(value)
    elif isinstance(value, fem.Function):
        target.interpolate(value)
    elif isinstance(value, ufl.core.expr.Expr):
        # Checked before ``callable``: UFL expressions define __call__ (evaluation at a
        # point), so they would otherwise be sent down the numpy-callable branch.
        # Derivatives are expanded first: d(g)/dX of a quadratic g may hold no Function.
        value = ufl.algorithms.expand_derivatives(value)
        if ufl.domain.extract_unique_domain(value) is None:  # no mesh: a constant
            target.x.array[:] = float(value)
        else:
            V = target.function_space
            target.interpolate(fem.Expression(value, V.element.interpolation_points))
    elif callable(value):
        target.interpolate(value)
    else:
        raise TypeError(
            f"cannot set a field from {type(value).__name__}: expected a number, a "
            "callable x -> values, a dolfinx Function or a UFL expression"
        )
    target.x.scatter_forward()


def global_min_max(comm: MPI.Comm, values: np.ndarray) -> tuple[float, float]:
    """Global min and max of the process-owned ``values``."""
    lo = float(values.min()) if values.size else math.inf
    hi = float(values.max()) if values.size else -math.inf
    return comm.allreduce(lo, op=MPI.MIN), comm.allreduce(hi, op=MPI.MAX)


def owned(dofs: Any, V: fem.FunctionSpace) -> np.ndarray:
    """The entries of ``dofs`` this process owns, in their order (ghosts dropped).

    ``dofs`` are local dof indices of ``V``, unrolled (as ``DirichletBC.dof_indices`` and
    ``W.sub(i).collapse()[1]`` give them; a 2D array is flattened row by row). DOLFINx
    numbers the owned dofs first, so an index is owned when it is below
    ``index_map.size_local * index_map_bs`` (the block size is 1 for a mixed space).
    Use it before ``local_to_global`` or a per-rank count that must not count ghosts twice.
    """
    dofs = np.asarray(dofs)
    return dofs[dofs < V.dofmap.index_map.size_local * V.dofmap.index_map_bs]


def newton_solve(problem: NonlinearProblem, u: fem.Function, comm: MPI.Comm
                 ) -> tuple[bool, int, int]:
    """Run a SNES solve: (converged with a finite state on every rank, Newton, Krylov its).

    A PETSc error inside the solve (e.g. a zero pivot from a NaN in the Jacobian) counts
    as a failure, so the caller can retry with a smaller step.
    """
    snes = problem.solver
    try:
        problem.solve()
    except PETSc.Error as exc:
        log.debug("Newton raised %s", exc)
        return False, snes.getIterationNumber(), snes.getLinearSolveIterations()
    ok = snes.getConvergedReason() > 0 and bool(np.isfinite(u.x.array).all())
    ok = comm.allreduce(ok, op=MPI.LAND)
    return ok, snes.getIterationNumber(), snes.getLinearSolveIterations()



def invert_potential(value: Any, boundary: str, V: fem.FunctionSpace, dofs: np.ndarray,
                     dfdc: Callable[[Any], Any], start: fem.Function,
                     domain: tuple[float, float]) -> fem.Function:
    """The concentration in equilibrium with a reservoir at μ = ``value``.

    A reservoir fixes μ, but a Dirichlet condition on μ would remove the constitutive
    equation at the boundary nodes and leave C there undetermined. Instead C_res with
    ``dfdc(C_res) = μ_res`` is found node by node (Newton on nodal values, from
    ``start``, kept inside ``domain``) and imposed on C, which keeps the constitutive
    law and drops the conservation equation there: the reservoir supplies whatever
    flux is needed. Needs a local model (no gradient energy).
    """
    target = fem.Function(V)
    interpolate_into(target, value)
    g = fem.Function(V)
    g.x.array[:] = start.x.array
    cv = ufl.variable(g)
    mu = dfdc(cv)
    points = V.element.interpolation_points
    residual = fem.Expression(mu - target, points)
    # a quadratic f (plain-number coefficients) has a constant slope without a mesh
    slope = ufl.algorithms.expand_derivatives(ufl.diff(mu, cv))
    lo, hi = domain
    r, s = fem.Function(V), fem.Function(V)
    for _ in range(100):
        r.interpolate(residual)
        interpolate_into(s, slope)
        step = r.x.array[dofs] / s.x.array[dofs]
        new = g.x.array[dofs] - step
        # stay inside the model's domain (e.g. C > 0 for ln C)
        new = np.where(new <= lo, 0.5 * (g.x.array[dofs] + lo), new)
        new = np.where(new >= hi, 0.5 * (g.x.array[dofs] + hi), new)
        g.x.array[dofs] = new
        done = bool(np.all(np.abs(step) <= 1e-13 * np.abs(new)))
        if V.mesh.comm.allreduce(done, op=MPI.LAND):
            return g
    raise ValueError(f"FixedPotential on {boundary!r}: no concentration found with "
                     "that chemical potential")
