"""Dilute models in :class:`~femdiff.problems.diffusion.DiffusionProblem` (a mixin): issue #11.

For one Ideal term plus terms linear in C (stress, interactions), lumped P1:

* exponential fitting: the mobility at C(μ_h), the closed-form inverse of the lumped
  constitutive law, so each cell's flux is D ΔC/h in 1D;
* a linear Fick predictor for the first step (initial data far from the boundary values);
* the activity formulation: ρ = exp((μ − μ_ref)/kT) makes the problem linear, one LU
  factorisation reused while Δt and the potential are unchanged.

Dilute models (lumped P1, one Ideal term plus terms linear in C). The mobility is
evaluated at C(μ_h), the closed-form inverse of the constitutive law (exponential
fitting), so the cell flux is D ΔC/h in 1D however steeply ln C varies; the first step
starts from a linear Fick predictor, so data far from the boundary values (C = 1e-3
next to a face held at 1) cost a few Newton iterations, not hundreds (issue #11).

The activity formulation (``formulation="activity"``, chosen by the default ``"auto"``
for such models with a linear mobility M = M₀ C). With ρ = exp((μ − μ_ref)/kT) =
(C/C_ref) e^{(μ_ref − μ*(x))/kT} the flux J = −M₀ C ∇μ = −M₀ kT C_ref e^{−V/kT} ∇ρ is
linear in ρ: one linear solve per step, LU factorisation reused while Δt and V(x) are
unchanged (issue #11: 0.14-0.24× the plain concentration-form step at NX = 32, 48 of
``benchmarks/bench_permeation.py``, against 15-23× for the mixed Newton solve). The
storage term keeps the mixed form's consistent mass of the P1 C_h (a₀ M diag(w) in ρ),
and C, μ are recovered node by node, so results agree with the mixed form to O(h²)
(exit fluxes to 1e-6) and equilibria C ∝ e^{−V/kT} are nodally exact. The mixed
formulation of these models in 3D (issue #24) reuses its LU factorisation across Newton
iterations and steps (:func:`femdiff.numerics.solvers.dilute_mixed_options`) and integrates the
fitted flux at degree 2 on tetrahedra: 6.2× and 5.5× the plain concentration-form Newton
step at NX = 32, 48 (was 13.9×, 17.8×; CPU time).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, cast

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem import petsc as fem_petsc
from dolfinx.fem.petsc import LinearProblem

from femdiff.models.thermodynamics import Ideal
from femdiff.numerics import solvers
from femdiff.numerics.fem_utils import owned
from femdiff.numerics.fluxes import ConservedField, ReactionFlux
from femdiff.numerics.newton import ErrorControlledStop
from femdiff.physics.boundary import (
    FixedConcentration,
    FixedPotential,
    Flux,
)
from femdiff.problems.base import (
    global_min_max,
)

log = logging.getLogger(__name__)

#: quadrature degree of the flux term with the fitted (exponential) mobility
FITTED_QUADRATURE_DEGREE = 4


class DiluteMixin:
    """Fitting, predictor and activity formulation for DiffusionProblem's dilute models."""

    formulation: str
    prefix: str

    def _fitted_concentration(self) -> Callable[[Any], Any] | None:
        """C(μ) in closed form for a dilute model: one Ideal term plus terms linear in C.

        Then μ = kT ln(C/C_ref) + μ*(x) with μ*(x) = ∂f/∂C(C_ref), so
        C(μ) = C_ref exp((μ − μ*)/kT). ``None`` for any other model (or gradient energy).
        """
        if self.potential.dGdg(ufl.grad(self.C)) is not None:
            return None
        ideal = [t for t in self.potential.terms if isinstance(t, Ideal)]
        if len(ideal) != 1 or any(hasattr(t, "chemical_potential")
                                  for t in self.potential.terms):
            return None
        cv = ufl.variable(self.C)
        for t in self.potential.terms:
            if t is ideal[0]:
                continue
            curvature = ufl.algorithms.expand_derivatives(ufl.diff(ufl.diff(
                t.energy(cv), cv), cv))
            if not isinstance(curvature, ufl.constantvalue.Zero):
                return None
        c_ref = fem.Constant(self.domain.mesh, PETSc.ScalarType(ideal[0].c_ref))
        mu_star = self.potential.dfdc(c_ref)
        kT = ideal[0].kT
        self._dilute_parts = (float(ideal[0].c_ref), mu_star, float(kT))
        return lambda mu: c_ref * ufl.exp((mu - mu_star) / kT)

    # -- the activity formulation (dilute models) ----------------------------------------

    def _create_activity_formulation(self) -> None:
        """The linear problem in the scaled activity ρ̂ = C/(C_s w), w = e^{(μ_ref−μ*)/kT}.

        μ*(x) = ∂f/∂C(C_ref) (μ° plus the terms linear in C) is projected onto P1 with the
        lumped mass, as the lumped constitutive law of the mixed form sees it, so
        C_i = C_s w_i ρ̂_i and μ_i = μ_ref + kT ln(C_s ρ̂_i/C_ref) node by node (μ_ref: the
        smallest nodal μ*, so w ≤ 1). Residual (times Δt, divided by C_s and L^d):

            ∫_vertex (a₀ w ρ̂ + a₁ ĉⁿ + a₂ ĉⁿ⁻¹) q + Δt M₀ kT w ∇ρ̂·∇q dx + Flux, source terms

        (Crank–Nicolson: θ ∇ρ̂ + (1−θ) ∇ρ̂ⁿ). The history is the conserved ĉ of the mixed
        state, so a change of w between steps (σ_h updated by a coupled solve) conserves
        the amount.
        """
        mesh = self.domain.mesh
        V, Cs = self.V_c, self.c_scale
        c_ref, mu_star, kT = self._dilute_parts
        self._act_c_ref, self._act_kT = c_ref, kT
        self.rho = fem.Function(V, name="activity")
        self.rho_n = fem.Function(V)
        self.c_hist = (fem.Function(V), fem.Function(V))
        self.w = fem.Function(V, name="w")
        # μ*(x) lumped onto P1: Σ_K ∫_K μ* φ_i dx_vertex / ∫ φ_i dx_vertex
        v = ufl.TestFunction(V)
        self._mu_star_form = fem.form(mu_star * v * self.dx_mu)
        self._lumped = fem.assemble_vector(fem.form(v * self.dx_mu))
        self._lumped.scatter_reverse(la.InsertMode.add)
        self._lumped.scatter_forward()
        self._mu_star_coeffs = [c for c in ufl.algorithms.extract_coefficients(mu_star)
                                if isinstance(c, fem.Function)]
        self._mu_star_seen: list[np.ndarray] | None = None

        q = self.length ** -self.domain.tdim * v
        a0, a1, a2 = self.bdf
        cn = self.time.scheme == "crank_nicolson"
        θ = self.theta
        M0 = float(self.mobility.M0)
        c_n, c_nn = self.c_hist
        self.c_now = fem.Function(V)  # ĉ = w ρ̂ nodally (the storage term's C_h)

        def transport(r: Any) -> Any:
            grad = θ * ufl.grad(r) + (1 - θ) * ufl.grad(self.rho_n) if cn else ufl.grad(r)
            F = self.dt * M0 * kT * self.w * ufl.inner(grad, ufl.grad(q)) * self.dx
            for bc in self.bcs:
                if isinstance(bc, Flux):
                    F += self.dt / Cs * bc.value * q * self.domain.ds(bc.boundary)
            if self.source is not None:
                t_src = self.t - (1 - θ) * self.dt if cn else self.t
                F -= (self.dt / Cs * self.source(ufl.SpatialCoordinate(mesh), t_src)
                      * q * self.dx)
            return F

        history = a1 * c_n + a2 * c_nn if self.time.scheme == "bdf2" else a1 * c_n
        # the storage term as in the mixed form: consistent mass of the P1 C_h (whose
        # nodal values are C_s w_i ρ̂_i): as a matrix, a₀ M diag(w)
        self.activity_residual = (a0 * self.c_now + history) * q * self.dx + transport(
            self.rho)
        trial = ufl.TrialFunction(V)
        a_k, L_k = ufl.system(transport(trial))
        self._act_k = fem.form(a_k)
        self._act_m = fem.form(trial * q * self.dx)
        self._act_L = fem.form(L_k - history * q * self.dx)
        # one Dirichlet condition on ρ̂ per mixed one (same nodes, the reaction flux's
        # boundaries); values ĉ_bc/w, refreshed with w
        self._act_g = fem.Function(V)
        self._act_bcs = []
        for d in self.dirichlet:
            dofs = np.flatnonzero(np.isin(self.dofs_c, d.dof_indices()[0])).astype(np.int32)
            self._act_bcs.append(fem.dirichletbc(self._act_g, dofs))
        held = (np.unique(np.concatenate([b.dof_indices()[0] for b in self._act_bcs]))
                if self._act_bcs else np.empty(0, np.int32))
        self._act_held = owned(held, V).astype(PETSc.IntType)
        self._act_gvec = fem.Function(V)
        self._act_A = fem_petsc.create_matrix(self._act_k)
        self._act_M = fem_petsc.create_matrix(self._act_m)
        self._act_b = fem_petsc.create_vector(V)
        self._act_lift = self._act_b.duplicate()
        self._act_wvec = self.w.x.petsc_vec
        self._act_ksp = PETSc.KSP().create(self.domain.comm)
        self._act_ksp.setOptionsPrefix(self.prefix + "activity_")
        # the same choice as the mixed form's (solver=, size): LU or CG + GAMG
        kind, why = self.linear_solver()
        self.linear_solver_reason = (why.replace("exact Schur fieldsplit, GAMG on the "
                                                 "Schur complement",
                                                 "CG + GAMG (activity form)")
                                     if kind == "iterative" else why)
        solvers.set_options(self.prefix + "activity_",
                            solvers.activity_iterative_options() if kind == "iterative"
                            else {"ksp_type": "preonly", **solvers.lu_options()})
        self._act_ksp.setFromOptions()
        self._act_key: tuple[float, ...] | None = None
        self._update_weight()
        self._rho_from_state()

    def _create_solver(self) -> None:
        """The mixed form's Newton solver; none for the activity formulation.

        The activity formulation solves with its own KSP (set up by
        :meth:`_create_activity_formulation`) and never runs Newton, so no mixed
        ``NonlinearProblem`` is built (no compiled mixed residual and Jacobian, no mixed
        matrix, no SNES): the problem then has no ``problem`` attribute.
        """
        if self.formulation != "activity":
            super()._create_solver()  # type: ignore[misc]
            return
        log.info("%s: linear solver %s", self.prefix, self.linear_solver_reason)
        #: LU factorisations of the mixed Newton (none here), Newton's extra stopping test
        self.factorisations = 0
        self.newton_stop: ErrorControlledStop | None = None

    def _solve_failure(self) -> tuple[str, str]:
        """What failed in the last solve, and why (the activity KSP's reason)."""
        if self.formulation != "activity":
            return super()._solve_failure()  # type: ignore[misc]
        reason = cast(int, self._act_ksp.getConvergedReason())  # stubs: ConvergedReason
        return "the activity solve failed", (
            f"KSP reason {reason}" if reason <= 0 else "a non-finite or non-positive activity")

    def solver_description(self) -> str:
        """The activity formulation's linear solve (no Newton); else the mixed form's."""
        self.initialise()  # resolves formulation="auto"
        if self.formulation != "activity":
            return super().solver_description()  # type: ignore[misc]
        ksp = self._act_ksp
        pc = ksp.getPC()
        parts = ["activity formulation: one linear solve per step, no Newton",
                 f"KSP {ksp.getType()}", f"PC {pc.getType()}"]
        if pc.getType() in ("lu", "cholesky"):
            parts[-1] += f" ({pc.getFactorSolverType()})"
            parts.append("matrix and factorisation rebuilt only when Δt or the "
                         "coefficients change")
        return " | ".join(parts) + f" | why: {self.linear_solver_reason}"

    def _assemble_activity_matrix(self) -> None:
        """A = a₀ M diag(w) + K_w; the lifting A g of the held nodes; rows/columns zeroed."""
        A, M = self._act_A, self._act_M
        A.zeroEntries()
        fem_petsc.assemble_matrix(A, self._act_k)
        A.assemble()
        M.zeroEntries()
        fem_petsc.assemble_matrix(M, self._act_m)
        M.assemble()
        M.diagonalScale(None, self._act_wvec)
        A.axpy(float(self.bdf[0].value), M, PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
        g = self._act_gvec
        g.x.array[:] = 0.0
        for bc in self._act_bcs:
            bc.set(g.x.array)
        A.mult(g.x.petsc_vec, self._act_lift)
        A.zeroRowsColumnsLocal(self._act_held, diag=1.0)
        self._act_ksp.setOperators(A)

    def _update_weight(self) -> bool:
        """Recompute w (and the Dirichlet values on ρ̂) if μ* changed; True if it did."""
        seen = [f.x.array for f in self._mu_star_coeffs]
        if self._mu_star_seen is not None and all(
                np.array_equal(a, b) for a, b in zip(seen, self._mu_star_seen, strict=True)):
            return False
        self._mu_star_seen = [a.copy() for a in seen]
        b = fem.assemble_vector(self._mu_star_form)
        b.scatter_reverse(la.InsertMode.add)
        b.scatter_forward()
        mu_star = b.array / self._lumped.array
        n = self.V_c.dofmap.index_map.size_local
        lo, _ = global_min_max(self.domain.comm, mu_star[:n])
        self._act_mu_ref = lo
        self.w.x.array[:] = np.exp((lo - mu_star) / self._act_kT)
        tmp = np.zeros_like(self.u.x.array)
        for d in self.dirichlet:
            d.set(tmp)
        self._act_g.x.array[:] = tmp[self.dofs_c] / self.w.x.array
        self._act_key = None  # the matrix depends on w
        return True

    def dirichlet_changed(self) -> None:
        """Dirichlet values were changed in place (time-dependent data): recompute ρ̂'s."""
        self._mu_star_seen = None

    def _rho_from_state(self) -> None:
        """ρ̂ = ĉ/w of the current state (and ρ̂ⁿ of the last accepted one)."""
        self.rho.x.array[:] = self.u.x.array[self.dofs_c] / self.w.x.array
        self.rho_n.x.array[:] = self.u_n.x.array[self.dofs_c] / self.w.x.array
        self.c_now.x.array[:] = self.u.x.array[self.dofs_c]

    def _activity_rest(self, copies: Sequence[fem.Function]) -> None:
        """Reaction-flux copies when no step is recorded: the history is the current state."""
        rho, c_now, c_n, c_nn, rho_n = copies
        rho.x.array[:] = self.rho.x.array
        rho_n.x.array[:] = self.rho.x.array
        for c in (c_now, c_n, c_nn):
            c.x.array[:] = self.u.x.array[self.dofs_c]

    def _activity_solve(self) -> tuple[bool, int, int]:
        """One linear solve for ρ̂; the factorisation is kept while Δt, a₀, θ, w are."""
        self._update_weight()
        self.c_hist[0].x.array[:] = self.u_n.x.array[self.dofs_c]
        self.c_hist[1].x.array[:] = self.u_nn.x.array[self.dofs_c]
        self.rho_n.x.array[:] = self.c_hist[0].x.array / self.w.x.array
        key = (float(self.dt.value), float(self.bdf[0].value), float(self.theta.value))
        if key != self._act_key:
            self._assemble_activity_matrix()
            self._act_key = key
        b = self._act_b
        with b.localForm() as loc:
            loc.set(0)
        fem_petsc.assemble_vector(b, self._act_L)
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        b.axpy(-1.0, self._act_lift)
        b.array_w[self._act_held] = self._act_gvec.x.array[self._act_held]
        try:
            self._act_ksp.solve(b, self.rho.x.petsc_vec)
        except PETSc.Error:
            return False, 1, 0
        self.rho.x.scatter_forward()
        r = self.rho.x.array
        ok = bool(np.all(np.isfinite(r)) and np.all(r > 0)) and \
            self._act_ksp.getConvergedReason() > 0
        ok = self.domain.comm.allreduce(ok, op=MPI.LAND)
        if ok:
            self.c_now.x.array[:] = self.w.x.array * r
            self.u.x.array[self.dofs_c] = self.c_now.x.array
            self.u.x.array[self.dofs_mu] = (
                self._act_mu_ref + self._act_kT * np.log(self.c_scale * r / self._act_c_ref)
            ) / self.mu_scale
        return ok, 1, self._act_ksp.getIterationNumber()

    def _newton(self) -> tuple[bool, int, int]:
        if self.formulation == "activity":
            return self._activity_solve()
        return super()._newton()

    def _create_reaction_flux(self) -> None:
        if self.formulation != "activity":
            super()._create_reaction_flux()
            return
        # the reaction of the linear ρ̂ residual, on its own (ρ̂) rows
        f = self.conserved_fields()["C"]
        V = self.V_c
        n = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
        held = [bc for bc in self.bcs if isinstance(bc, FixedConcentration | FixedPotential)]
        field = ConservedField(
            rows=np.arange(n, dtype=np.int32), scale=f.scale,
            dirichlet=[(bc.boundary, d) for bc, d in zip(held, self._act_bcs, strict=True)],
            flux_bcs=f.flux_bcs)
        self._reaction = ReactionFlux(
            self.domain, self.activity_residual,
            (self.rho, self.c_now, *self.c_hist, self.rho_n), self.step_constants(),
            {"C": field},
            rest=self._activity_rest)

    # -- Newton's start ----------------------------------------------------------------

    def _initial_guess(self, dt: float) -> None:
        """Newton's start: a Fick predictor (first step, dilute models), else extrapolated.

        Fixed steps: the linear extrapolation of the last two states (an O(Δt²) guess, one
        Newton iteration less per step), not across the first step of a predictor start
        (its jump from far-off initial data extrapolates to C far outside its domain).
        Adaptive runs: the base's extrapolation of the accepted history. The extrapolated
        C is kept inside the Newton bounds.
        """
        if self._dt_prev is None and self._predict_first:
            self._fick_predictor(dt)
            return
        if (self.adaptive is None and self._dt_prev is not None and self._extrapolate_guess
                and self.current_time > self._extrapolate_after):
            w = dt / self._dt_prev
            guess = (1 + w) * self.u_n.x.array - w * self.u_nn.x.array
            self._clip_to_bounds(guess)
            self.u.x.array[:] = guess
            return
        super()._initial_guess(dt)

    def _fick_predictor(self, dt: float) -> None:
        """First-step guess: one linear (Fick) backward-Euler step, then μ = ∂f/∂C nodally.

        From initial data far from the boundary values (C = 1e-3 next to a face held at
        1) Newton on the mixed system creeps (the ln C row, linearised at the old C,
        caps each step): 100-200 iterations with retries (issue #11). The linearised
        problem ∂C/∂t = ∇·(D_eff ∇C), D_eff = M(Cⁿ) ∂²f/∂C²(Cⁿ) (= D for a dilute model),
        with a lumped mass (no undershoot below the data on an M-matrix mesh) and the
        same Dirichlet data, is the exact discrete step for the fitted dilute model in
        1D, and close to it otherwise; C is kept inside the Newton bounds and μ follows
        from the lumped constitutive law node by node.
        """
        if not hasattr(self, "_predictor"):
            V, Cs = self.V_c, self.c_scale
            c, w = ufl.TrialFunction(V), ufl.TestFunction(V)
            c_old = fem.Function(V)
            self._pred_old = c_old
            self._pred_rate = fem.Constant(self.domain.mesh, PETSc.ScalarType(1.0 / dt))
            cv = ufl.variable(Cs * c_old)
            d_eff = self.mobility(cv) * ufl.diff(self.potential.dfdc(cv), cv)
            a = (self._pred_rate * c * w * self.dx_mu
                 + d_eff * ufl.inner(ufl.grad(c), ufl.grad(w)) * self.dx)
            L = self._pred_rate * c_old * w * self.dx_mu
            held = np.concatenate([bc.dof_indices()[0] for bc in self.dirichlet]
                                  ) if self.dirichlet else np.empty(0, np.int32)
            g = fem.Function(V)
            self._pred_g = g
            dofs = np.flatnonzero(np.isin(self.dofs_c, held)).astype(np.int32)
            bcs = [fem.dirichletbc(g, dofs)] if self.domain.comm.allreduce(
                dofs.size, op=MPI.SUM) else []
            self._predictor = LinearProblem(
                a, L, bcs=bcs, petsc_options_prefix=self.prefix + "predictor_",
                petsc_options=solvers.lu_options())
        self._extrapolate_after = self.current_time + dt * (1 + 1e-9)
        self._pred_rate.value = 1.0 / dt
        self._pred_old.x.array[:] = self.u_n.x.array[self.dofs_c]
        self._pred_g.x.array[:] = self.u_n.x.array[self.dofs_c]
        c_hat = self._predictor.solve()
        lo, hi = self.potential.domain
        floor = 0.5 * min(global_min_max(self.domain.comm, self._pred_old.x.array)[0],
                          math.inf)
        lower = max(lo / self.c_scale, 0.0) if math.isfinite(lo) else -math.inf
        guess = np.clip(c_hat.x.array, max(floor, lower) if math.isfinite(lo) else -math.inf,
                        hi / self.c_scale if math.isfinite(hi) else math.inf)
        self.u.x.array[:] = self.u_n.x.array
        self.u.x.array[self.dofs_c] = guess
        self.C.x.array[:] = guess * self.c_scale
        mu = fem.Function(self.V_mu)
        mu.interpolate(fem.Expression(self.potential.dfdc(self.C) / self.mu_scale,
                                      self.V_mu.element.interpolation_points))
        self.u.x.array[self.dofs_mu] = mu.x.array
        self.u.x.scatter_forward()

    def _reuse_dilute_lu(self) -> None:
        """Dilute fitted models on LU: :func:`solvers.dilute_mixed_options` (issue #24).

        Only for DiffusionProblem's own (C, μ) system with the default options and an LU
        choice (not the iterative split, not a subclass's extra fields), and the mixed
        formulation with the fitted mobility: the factorisation is then reused across
        Newton iterations and steps as for Cahn–Hilliard, on plain Newton. In 3D only,
        where the factorisation's fill makes it the cost (in 1D and 2D assembly dominates,
        and a fresh LU keeps runs and restarts bitwise reproducible).
        """
        self._dilute_reuse = False
        if (self.fitted is None or not self._predict_first or self.formulation != "mixed"
                or self.domain.tdim != 3 or self.model_solver or self.user_petsc_options
                or self.linear_solver()[0] != "lu"):
            return
        self._dilute_reuse = True
        self.petsc_options = solvers.dilute_mixed_options()
        self.linear_solver_reason = (
            f"{self.linear_solver()[1]}; a dilute model with the fitted mobility: "
            "solvers.dilute_mixed_options, the LU factorisation reused across Newton "
            "iterations and steps (plain Newton)")
