"""A scalable, hypre-free preconditioner for the mixed Cahn–Hilliard (μ–C) system.

Bosch, Kay, Stoll & Wathen (SIAM J. Sci. Comput. 2014): for the Newton system of the
mixed form with rows (C, μ), the Schur complement of the μ block is, apart from the f″
term, S ≈ M + α K M⁻¹ K with α = κ Δt M₀ / a₀ (a₀: the BDF coefficient), which the
product H M⁻¹ H with H = M + √α K approximates uniformly in h and Δt. So

    S⁻¹ ≈ H⁻¹ M H⁻¹,

applied with one GAMG V-cycle (or a few CG iterations) per H solve: H is a scaled
positive-definite Laplacian-plus-mass matrix, which GAMG handles well. The outer solver
is FGMRES with a Schur fieldsplit (see
:func:`femdiff.numerics.solvers.cahn_hilliard_iterative_options`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import assemble_matrix

if TYPE_CHECKING:  # typing only: the problems use this module
    from femdiff.problems.base import MixedProblem


class SchurBKSW:
    """``PCPYTHON`` context applying H⁻¹ M H⁻¹ on the μ block of a mixed problem.

    It uses the problem's public hooks only: ``schur_space()`` (the μ space and its dofs
    in W), ``schur_alpha()`` (α for the current Δt), ``split_index_sets()`` (the
    fieldsplit blocks, μ second) and the measures ``dx``, ``dx_mu``.
    """

    def __init__(self, problem: MixedProblem, h_solves: int = 1) -> None:
        self.p = problem
        V, dofs_mu = problem.schur_space()
        scale = problem.length ** -problem.domain.tdim  # the residual's 1/L^d
        s, w = ufl.TrialFunction(V), ufl.TestFunction(V)
        self.sqrt_alpha = fem.Constant(V.mesh, 0.0)
        self.m_form = fem.form(scale * s * w * problem.dx_mu)
        self.h_form = fem.form(scale * (s * w * problem.dx_mu + self.sqrt_alpha
                                        * ufl.inner(ufl.grad(s), ufl.grad(w)) * problem.dx))
        self.M = assemble_matrix(self.m_form)
        self.M.assemble()
        self.H = assemble_matrix(self.h_form)
        self.H.assemble()
        comm = problem.domain.comm
        self.ksp = PETSc.KSP().create(comm)
        self.ksp.setOptionsPrefix(problem.prefix + "schur_H_")
        self.ksp.setOperators(self.H)
        opts = PETSc.Options(problem.prefix + "schur_H_")
        defaults = {"ksp_type": "richardson" if h_solves == 1 else "cg",
                    "ksp_max_it": h_solves, "ksp_norm_type": "none",
                    "ksp_convergence_test": "skip",
                    "pc_type": "gamg", "mg_levels_ksp_type": "chebyshev",
                    "mg_levels_pc_type": "jacobi"}
        for k, v in defaults.items():
            if not opts.hasName(k):
                opts[k] = v
        self.ksp.setFromOptions()
        # The Schur block's rows are W's owned μ dofs, which need not be the collapsed
        # space's owned dofs in parallel: map through a W function (local dofs of both
        # numberings coincide, ghosts included).
        self.is_mu = problem.split_index_sets()[1][1]
        self.w = fem.Function(problem.W)
        self.v = [fem.Function(V) for _ in range(3)]
        self.dofs_mu = np.asarray(dofs_mu)

    def _to_v(self, x: PETSc.Vec, v: fem.Function) -> None:
        wvec = self.w.x.petsc_vec
        sub = wvec.getSubVector(self.is_mu)
        sub.array[:] = x.array_r
        wvec.restoreSubVector(self.is_mu, sub)
        self.w.x.scatter_forward()
        v.x.array[:] = self.w.x.array[self.dofs_mu]

    def _from_v(self, v: fem.Function, y: PETSc.Vec) -> None:
        v.x.scatter_forward()
        self.w.x.array[self.dofs_mu] = v.x.array
        wvec = self.w.x.petsc_vec
        sub = wvec.getSubVector(self.is_mu)
        y.array[:] = sub.array_r
        wvec.restoreSubVector(self.is_mu, sub)

    def setUp(self, pc: PETSc.PC) -> None:  # noqa: N802 - petsc4py protocol
        """Refresh √α from the current Δt and BDF coefficient, reassemble H."""
        alpha = self.p.schur_alpha()
        self.sqrt_alpha.value = math.sqrt(max(alpha, 0.0))
        self.H.zeroEntries()
        assemble_matrix(self.H, self.h_form)
        self.H.assemble()
        self.ksp.setOperators(self.H)

    def apply(self, pc: PETSc.PC, x: PETSc.Vec, y: PETSc.Vec) -> None:
        """Y = H⁻¹ M H⁻¹ x."""
        a, b, c = self.v
        self._to_v(x, a)
        self.ksp.solve(a.x.petsc_vec, b.x.petsc_vec)
        self.M.mult(b.x.petsc_vec, c.x.petsc_vec)
        self.ksp.solve(c.x.petsc_vec, a.x.petsc_vec)
        self._from_v(a, y)


def attach(problem: MixedProblem) -> None:
    """Install :class:`SchurBKSW` on the μ block once the fieldsplit is set up."""
    ksp = problem.problem.solver.getKSP()
    ctx = SchurBKSW(problem)
    problem.set_schur_context(ctx)

    def presolve(ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec) -> None:
        ksp.getPC().setUp()  # the sub-solvers exist only after the fieldsplit set-up
        sub = ksp.getPC().getFieldSplitSubKSP()[1]
        pc = sub.getPC()
        if pc.getType() != PETSc.PC.Type.PYTHON:
            pc.setType(PETSc.PC.Type.PYTHON)
            pc.setPythonContext(ctx)
        ctx.setUp(pc)

    ksp.setPreSolve(presolve)
