"""The Newton solver of a mixed problem: choice, options, fieldsplit, reuse and stopping.

:class:`SolverMixin` is the solver half of :class:`femdiff.problems.base.MixedProblem`: which
linear solver runs and why (:meth:`~SolverMixin.linear_solver`,
:meth:`~SolverMixin.solver_description`), the PETSc objects and their options, the
fieldsplit blocks, Newton on a reused factorisation, and Newton's stopping test tied to
the time-error tolerance (:class:`ErrorControlledStop`). It lives apart from the time
stepping and the diagnostics so that each module reads on its own; it uses only the
attributes the problem sets up (``W``, ``u``, ``residual``, ``dirichlet``, ``prefix``,
``petsc_options``, ``adaptive``, ``solver_blocks()``, ``concentration_dofs``).
"""

from __future__ import annotations

import logging
from typing import Any

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem

from femdiff.numerics import preconditioners, solvers
from femdiff.numerics.fem_utils import newton_solve, owned

log = logging.getLogger(__name__)

__all__ = ["BlockUpdateStop", "ErrorControlledStop", "SolverMixin"]

_Reason = PETSc.SNES.ConvergedReason


def petsc_default_test(snes: PETSc.SNES, it: int, norms: tuple[float, float, float],
                       fnorm0: float) -> int | None:
    """PETSc's default convergence test (NaN, atol, rtol, stol, divtol), or None to go on.

    The custom stops below add their own test after it; at ``it == 0`` only NaN and atol
    can end Newton (``fnorm0`` is the first residual norm).
    """
    xnorm, ynorm, fnorm = norms
    rtol, atol, stol, _ = snes.getTolerances()
    if not np.isfinite(fnorm):
        return _Reason.DIVERGED_FNORM_NAN
    if it == 0:
        return _Reason.CONVERGED_FNORM_ABS if fnorm < atol else _Reason.ITERATING
    if fnorm < atol:
        return _Reason.CONVERGED_FNORM_ABS
    if fnorm <= rtol * fnorm0:
        return _Reason.CONVERGED_FNORM_RELATIVE
    if ynorm < stol * xnorm:
        return _Reason.CONVERGED_SNORM_RELATIVE
    divtol = snes.getDivergenceTolerance()
    if divtol > 0 and fnorm > divtol * fnorm0:
        return _Reason.DIVERGED_DTOL
    return None


class ErrorControlledStop:
    """Newton's stopping test tied to the adaptive time-error tolerance.

    PETSc's default test is kept (``snes_rtol``/``snes_atol`` on the residual norm,
    ``snes_stol``, ``snes_divtol``). In addition Newton stops when the error it leaves in
    the concentrations is a small fraction κ of the step's error tolerance, estimated
    from the observed contraction (Hairer & Wanner, *Solving Ordinary Differential
    Equations II*, 2nd ed., §IV.8, eqs. (8.10)–(8.11); the same test as CVODE's,
    Hindmarsh et al., ACM TOMS 31 (2005) 363): with dₖ = max|ĉₖ − ĉₖ₋₁| the k-th
    update of the scaled concentrations and θ = dₖ/dₖ₋₁ (k ≥ 2),

        θ/(1 − θ) · dₖ ≤ κ · tol.

    While Newton contracts (θ < 1), θ/(1 − θ)·dₖ bounds the distance of the iterate to
    the converged state, so the state kept differs from the fully converged one by at
    most κ·tol in the norm the error control measures: the time error, not Newton's,
    sets the accuracy. At k = 1 the rate of the previous solves is used, as CVODE does,
    if it was measured within the last :attr:`CARRY` solves (otherwise Newton goes on
    and measures it). Why it pays: on PFHub 1b Newton contracts by θ ≈ 0.05 from a
    predictor that is off by ~2 tol, so most steps need one or two iterations instead
    of the three that drive the residual to 1e-10 relative
    (``benchmarks/bench_pfhub_speed.py``).
    Mass is still conserved to round-off: the conservation rows are linear, and each
    Newton update solves them up to the Krylov tolerance.
    """

    #: solves that may reuse a contraction rate before it must be measured again
    CARRY = 4

    def __init__(self, comm: MPI.Comm, dofs: np.ndarray, kappa: float, tol: float) -> None:
        self.comm = comm
        self.dofs = dofs
        self.limit = kappa * tol
        #: steps ended by this test (not by the residual test), for reports
        self.stops = 0
        self._previous: np.ndarray | None = None
        self._update = np.inf
        self._fnorm0 = 0.0
        self._rate: float | None = None
        self._unmeasured = 0

    def __call__(self, snes: PETSc.SNES, it: int, norms: tuple[float, float, float]) -> int:
        """SNES's convergence test: a ``SNES.ConvergedReason`` (0: keep iterating)."""
        xnorm, ynorm, fnorm = norms
        rtol, atol, stol, _ = snes.getTolerances()
        current = snes.getSolution().getArray(readonly=True)[self.dofs]  # a copy
        previous, self._previous = self._previous, current
        if it == 0:
            self._fnorm0, self._update = fnorm, np.inf
        reason = petsc_default_test(snes, it, norms, self._fnorm0)
        if reason is not None:
            return reason
        assert previous is not None
        local = float(np.max(np.abs(current - previous))) if current.size else 0.0
        update = self.comm.allreduce(local, op=MPI.MAX)
        last, self._update = self._update, update
        if it >= 2:
            if not update < last:  # no contraction
                self._rate = None
                return _Reason.ITERATING
            theta = self._rate = update / last
            self._unmeasured = 0
        else:
            # CVODE: the first iteration uses the rate of earlier solves, if recent
            theta = self._rate if self._unmeasured < self.CARRY else None
            self._unmeasured += 1
            if theta is None:
                return _Reason.ITERATING
        if theta / (1.0 - theta) * update <= self.limit:
            self.stops += 1
            return _Reason.CONVERGED_SNORM_RELATIVE
        return _Reason.ITERATING


class BlockUpdateStop:
    """PETSc's residual tests plus a scale-free one: a tiny full Newton step per block.

    The unknowns are scaled (ĉ = C/C_s, μ̂ = μ/μ_s, Ĉ_T = C_T/N_T), but the residual rows
    are not equally so: a McNabb–Foster row holds k C N_T terms that at TMAP magnitudes
    (1e22 m⁻³) leave a round-off floor far above ``snes_atol`` = 1e-12, and its size
    depends on the physical magnitudes, so no fixed absolute residual tolerance fits all.
    Newton's own update does not have that problem: when a *full* step (line search
    ``basic``) changes every field block by at most :attr:`TOL` of the block's size
    (max |û_b|, at least 1) the iterate is converged far beyond it (quadratic
    convergence), whatever the residual's floor. With backtracking a small step may only
    mean a small λ, so the test is off then. User ``snes_atol``/``snes_rtol``/``snes_stol``
    replace it (PETSc's tests only).
    """

    TOL = 1.0e-10

    def __init__(self, comm: MPI.Comm, blocks: list[np.ndarray]) -> None:
        self.comm = comm
        self.blocks = blocks
        self._previous: np.ndarray | None = None
        self._fnorm0 = 0.0
        #: solves ended by the update test (not by a residual test), for reports
        self.stops = 0

    def __call__(self, snes: PETSc.SNES, it: int, norms: tuple[float, float, float]) -> int:
        """SNES's convergence test: a ``SNES.ConvergedReason`` (0: keep iterating)."""
        xnorm, ynorm, fnorm = norms
        rtol, atol, stol, _ = snes.getTolerances()
        x = snes.getSolution().getArray(readonly=True)
        previous, self._previous = self._previous, x.copy()
        if it == 0:
            self._fnorm0 = fnorm
        reason = petsc_default_test(snes, it, norms, self._fnorm0)
        if reason is not None:
            return reason
        if previous is None or snes.getLineSearch().getType() != "basic":
            return _Reason.ITERATING
        local = np.array([max(float(np.max(np.abs(x[b] - previous[b]), initial=0.0))
                              - self.TOL * max(float(np.max(np.abs(x[b]), initial=0.0)), 1.0),
                              0.0) for b in self.blocks])
        worst = np.empty_like(local)
        self.comm.Allreduce(local, worst, op=MPI.MAX)
        if np.all(worst <= 0.0):
            self.stops += 1
            return _Reason.CONVERGED_SNORM_RELATIVE
        return _Reason.ITERATING


class SolverMixin:
    """The solver half of :class:`femdiff.problems.base.MixedProblem` (see the module)."""

    W: fem.FunctionSpace
    u: fem.Function
    residual: Any
    dirichlet: list[fem.DirichletBC]
    problem: NonlinearProblem
    adaptive: Any
    domain: Any
    #: Newton's extra stopping test, set by ``_create_solver`` (None: residual tests only)
    newton_stop: ErrorControlledStop | None

    def linear_solver(self) -> tuple[str, str]:
        """The linear solver this problem runs and why: ``("lu" | "iterative" | "custom", why)``.

        :func:`femdiff.numerics.solvers.choose_linear_solver` from ``solver=`` (``"auto"``,
        ``"lu"``, ``"iterative"``), the dimension, the global dofs of W and whether the
        problem is lumped P1; user ``ksp_type``/``pc_type`` options and a problem's own
        fieldsplit (coupled, condensed traps, Cahn–Hilliard) are kept ("custom").
        Needs the function spaces (after :meth:`initialise` or inside it).
        """
        if self.model_solver:
            return "custom", self._solver_why()
        user = [k for k in ("ksp_type", "pc_type") if k in self.user_petsc_options]
        custom = None
        if user:
            custom = f"user PETSc options ({', '.join(user)})"
        elif self.petsc_options.get("pc_type") != "lu":
            custom = f"{type(self).__name__}'s own {self.petsc_options.get('pc_type')} options"
        has_mu = any(name == "mu" for name, _ in self.solver_blocks())
        return solvers.choose_linear_solver(
            self.solver_choice, tdim=self.domain.tdim,
            n_dofs=self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs,
            lumped=self.lumped and self.degree == 1, has_potential_block=has_mu,
            custom=custom)

    def _create_solver(self) -> None:
        opts = dict(self.petsc_options)
        solvers.validate_femdiff_options(opts)  # femdiff's own keys, read below
        kind, why = self.linear_solver()
        # (the activity formulation has set its own: its KSP is not this one)
        self.linear_solver_reason = self.linear_solver_reason or why
        log.info("%s: linear solver %s", self.prefix, self.linear_solver_reason)
        if kind == "iterative":
            kept = {k: v for k, v in opts.items() if not k.startswith(("ksp_", "pc_"))}
            n_local = sum(1 for name, _ in self.solver_blocks() if name != "mu")
            split = opts.get("femdiff_split")  # blocks chosen in petsc_options
            opts = solvers.merge({**solvers.mixed_iterative_options(n_local, split=split),
                                  **kept}, self.user_petsc_options)
        # an index-set fieldsplit (the iterative split, a component's split) runs plain
        # Newton: the reduced-space VI solver cannot restrict the split's index sets to
        # the inactive rows (PETSc error 77 once a bound is active), so a step whose
        # state leaves the domain of ln C is retried smaller instead
        if self.bounded and "snes_type" not in self.user_petsc_options \
                and kind != "iterative" and opts.get("pc_type") != "fieldsplit":
            opts["snes_type"] = "vinewtonrsls"
        # options go to the database under this problem's prefix and stay there: the
        # fieldsplit sub-solvers read theirs only at the first PC set-up
        if opts.get("pc_type") != "lu":
            opts.pop("pc_factor_mat_solver_type", None)
        if (opts.get("pc_type") != "lu" or opts.get("ksp_type") == "preonly"
                or opts.get("snes_type", "").startswith("vi")):
            # the reuse needs a factorisation, and a fixed system (the active-set
            # sub-solves of the bound-constrained Newton change it)
            opts.pop("femdiff_refactor_krylov", None)
        schur = opts.pop("femdiff_schur", None)
        if schur is not None and (opts.get("pc_type") != "fieldsplit"
                                  or not getattr(self, "cahn_hilliard", False)):
            # the Schur block it replaces exists only in the Cahn–Hilliard fieldsplit
            raise solvers.OptionError("femdiff_schur", "is the BKSW preconditioner of the "
                                      "Cahn–Hilliard fieldsplit: it needs a gradient-energy "
                                      "model and solver='iterative' (pc_type fieldsplit), "
                                      f"got {type(self).__name__} with pc_type "
                                      f"{opts.get('pc_type')!r}")
        refactor = opts.pop("femdiff_refactor_krylov", None)
        self._refactor_krylov: int | None = refactor
        self._refactor_next = True
        #: LU factorisations done so far (one per Newton iteration without reuse)
        self.factorisations = 0
        kappa = opts.pop("femdiff_newton_kappa", None)
        self._split = opts.pop("femdiff_split", None)
        solvers.set_options(self.prefix, opts)
        self.problem = NonlinearProblem(
            self.residual, self.u, bcs=self.dirichlet, petsc_options_prefix=self.prefix)
        snes = self.problem.solver
        if opts.get("pc_type") == "fieldsplit":
            self._attach_fieldsplit(snes)
        snes.setFromOptions()
        #: Newton's extra stopping test (adaptive runs with femdiff_newton_kappa > 0)
        self.newton_stop: ErrorControlledStop | None = None
        if kappa and self.adaptive is not None:
            dofs = owned(np.asarray(self.concentration_dofs).ravel(), self.W)
            self.newton_stop = ErrorControlledStop(self.domain.comm, dofs, float(kappa),
                                                   self.adaptive.tol)
            snes.setConvergenceTest(self.newton_stop)
        elif not {"snes_atol", "snes_rtol", "snes_stol"} & set(self.user_petsc_options):
            blocks = [owned(np.asarray(d).ravel(), self.W) for _, d in self.field_blocks()]
            #: the scale-free stop of full Newton steps (None: PETSc's tests only)
            self.block_stop: BlockUpdateStop | None = BlockUpdateStop(self.domain.comm,
                                                                      blocks)
            snes.setConvergenceTest(self.block_stop)
        if refactor is not None:
            # the factorisation is reused across iterations and steps (femdiff decides
            # when to rebuild it: _newton_reused); -2: build it at the next Jacobian
            solvers.lag_preconditioner(snes, -2)
        if schur == "bksw":
            preconditioners.attach(self)
        if snes.getType().startswith("vi"):
            self._lower = fem.Function(self.W)
            self._upper = fem.Function(self.W)
            self._lower.x.array[:] = -PETSc.INFINITY
            self._upper.x.array[:] = PETSc.INFINITY
            self._bounds(self._lower.x.array, self._upper.x.array)
            snes.setVariableBounds(self._lower.x.petsc_vec, self._upper.x.petsc_vec)

    def _attach_fieldsplit(self, snes: PETSc.SNES) -> None:
        """Name the blocks of :meth:`field_blocks` for a fieldsplit preconditioner.

        Their options are ``fieldsplit_<name>_*`` (``c`` and ``mu`` for one species).
        """
        index_map = self.W.dofmap.index_map
        n_owned = index_map.size_local
        sets = []
        blocks = self.solver_blocks()
        split = getattr(self, "_split", None)
        if split == "mutraps_c":
            # μ and every trap field eliminated first (their lumped blocks are diagonal
            # and not coupled to each other), the conserved field (the first block) kept
            first, rest = blocks[0], blocks[1:]
            elim = np.concatenate([np.asarray(d).ravel() for _, d in rest])
            elim = np.sort(owned(elim, self.W)).astype(np.int32)
            glob = index_map.local_to_global(elim).astype(PETSc.IntType)
            sets.append(("mutraps", PETSc.IS().createGeneral(glob, comm=self.domain.comm)))
            blocks = [first]
        elif split in ("local_mu", "mu_local"):
            # every field but μ is local (no gradient): one block, node by node (C, C_T…
            # of a node next to each other, block size = their number, so point-block
            # Jacobi inverts the lumped local block exactly), μ the Schur block
            local = np.stack([np.asarray(d).ravel() for n, d in blocks if n != "mu"], axis=1)
            local = local[local[:, 0] < n_owned]
            glob = index_map.local_to_global(local.ravel().astype(np.int32))
            is_local = PETSc.IS().createGeneral(glob.astype(PETSc.IntType),
                                                comm=self.domain.comm)
            is_local.setBlockSize(local.shape[1])
            sets.append(("local", is_local))
            blocks = [(n, d) for n, d in blocks if n == "mu"]
        for name, dofs in blocks:
            mine = np.sort(owned(dofs, self.W)).astype(np.int32)
            glob = index_map.local_to_global(mine).astype(PETSc.IntType)
            sets.append((name, PETSc.IS().createGeneral(glob, comm=self.domain.comm)))
        if split == "mu_local":  # μ eliminated first (its lumped block is diagonal)
            sets.reverse()
        snes.getKSP().getPC().setType("fieldsplit")
        snes.getKSP().getPC().setFieldSplitIS(*sets)
        self._split_sets = sets

    def solver_description(self) -> str:
        """Which solver runs and why: SNES, KSP and PC types, LU package, reuse, the rule.

        Read from the PETSc objects after :meth:`initialise` (so it reports what runs,
        user options included), e.g. ``SNES newtonls (line search bt, rtol 1e-10) | KSP
        gmres | PC lu (mumps) | factorisation reused across Newton iterations and steps,
        rebuilt when GMRES needs > 4 iterations per Newton iteration or fails | why:
        ...``.
        """
        self.initialise()
        snes = self.problem.solver
        ksp = snes.getKSP()
        pc = ksp.getPC()
        parts = [f"SNES {snes.getType()} (line search {snes.getLineSearch().getType()}, "
                 f"rtol {snes.getTolerances()[0]:g}, atol {snes.getTolerances()[1]:g})",
                 f"KSP {ksp.getType()}", f"PC {pc.getType()}"]
        if pc.getType() in ("lu", "cholesky"):
            parts[-1] += f" ({pc.getFactorSolverType()})"
        if pc.getType() == "fieldsplit":
            parts[-1] += " (" + ", ".join(name for name, _ in self._split_sets) + ")"
        if self._refactor_krylov is not None:
            parts.append("factorisation reused across Newton iterations and steps, rebuilt "
                         f"when {ksp.getType()} needs > {self._refactor_krylov} iterations "
                         "per Newton iteration or a solve fails on it")
        elif pc.getType() in ("lu", "cholesky"):
            parts.append("factorisation rebuilt at every Newton iteration")
        if self.newton_stop is not None:
            parts.append(f"Newton also stops when its estimated error left in C is ≤ "
                         f"{self.newton_stop.limit / self.adaptive.tol:g} × the adaptive tol")
        return " | ".join(parts) + f" | why: {self._solver_why()}"

    def _solver_why(self) -> str:
        """The rule behind the solver: the model's own, else the linear-solver choice."""
        why = (self.solver_reason if self.model_solver or not self.linear_solver_reason
               else self.linear_solver_reason)
        if self.user_petsc_options:
            why += f"; user options override {sorted(self.user_petsc_options)}"
        return why

    def solver_state(self) -> dict[str, float]:
        """What Newton carries from one solve to the next that changes results (restarts).

        The contraction rate of the error-controlled stop (−1: none) and how many solves
        have used it since it was measured; :func:`femdiff.io.checkpoint.problem_state`
        stores them beside :meth:`state_dict`.
        """
        stop = getattr(self, "newton_stop", None)
        if stop is None:
            return {}
        return {"newton_rate": -1.0 if stop._rate is None else float(stop._rate),
                "newton_unmeasured": float(stop._unmeasured)}

    def load_solver_state(self, scalars: dict[str, float]) -> None:
        """Put back :meth:`solver_state` (keys absent from older checkpoints: no change)."""
        stop = getattr(self, "newton_stop", None)
        if stop is not None and "newton_rate" in scalars:
            rate = scalars["newton_rate"]
            stop._rate = None if rate < 0 else float(rate)
            stop._unmeasured = int(scalars.get("newton_unmeasured", 0))

    def refactor_at_next_solve(self) -> None:
        """Build a fresh factorisation at the next Newton solve (a reused one only).

        Called after a checkpoint is written: a reused factorisation cannot be stored, and
        a run restarted from the checkpoint starts with a fresh one, so the run that goes
        on does too, and both take the same steps (FGMRES solves to 3e-2 only, so the
        preconditioner's age shows in the results).
        """
        if getattr(self, "_refactor_krylov", None) is not None and not self._refactor_next:
            self._refactor_next = True
            solvers.lag_preconditioner(self.problem.solver, -2)

    def split_index_sets(self) -> list[tuple[str, PETSc.IS]]:
        """The fieldsplit blocks ``[(name, IS of W's owned global dofs)]`` (after set-up)."""
        return list(self._split_sets)

    def set_schur_context(self, context: Any) -> None:
        """Keep a preconditioner context alive as long as the problem."""
        self.schur_context = context

    def _newton(self) -> tuple[bool, int, int]:
        if self._refactor_krylov is None:
            ok, its, kits = newton_solve(self.problem, self.u, self.domain.comm)
            self.factorisations += its
        else:
            ok, its, kits = self._newton_reused()
        if ok:
            ok = self.domain.comm.allreduce(self._admissible(), op=MPI.LAND)
        return ok, its, kits

    def _newton_reused(self) -> tuple[bool, int, int]:
        """Newton–Krylov on a reused factorisation (``femdiff_refactor_krylov``).

        The Jacobian is assembled at every Newton iteration and solved by the Krylov
        method preconditioned by the LU factorisation of an *older* Jacobian (PETSc's
        preconditioner lag, persisting across steps). The factorisation is rebuilt
        (lag −2: at the next Jacobian) when it degrades: when a solve fails on a stale
        factorisation (the Krylov method hit ``ksp_max_it``, or Newton failed), the same
        step is retried once from the same start with a fresh one, and when a converged
        solve needed more than ``femdiff_refactor_krylov`` Krylov iterations per Newton
        iteration, the next solve starts with a fresh one. Newton's own convergence test
        (``snes_rtol``/``snes_atol`` on the true residual) is unchanged.
        """
        snes = self.problem.solver
        start = self.u.x.array.copy()
        fresh = self._refactor_next
        ok, its, kits = newton_solve(self.problem, self.u, self.domain.comm)
        self.factorisations += int(fresh and its > 0)
        self._refactor_next = False
        if not ok and not fresh:
            log.debug("Newton failed on a reused factorisation (SNES reason %d): "
                      "refactorising", snes.getConvergedReason())
            self.u.x.array[:] = start
            solvers.lag_preconditioner(snes, -2)
            ok, its2, kits2 = newton_solve(self.problem, self.u, self.domain.comm)
            self.factorisations += 1
            its, kits = its + its2, kits + kits2
        refactor = not ok or kits > self._refactor_krylov * max(its, 1)
        if refactor:  # a failure: the retry with a smaller Δt starts afresh
            solvers.lag_preconditioner(snes, -2)
        self._refactor_next = refactor
        return ok, its, kits

