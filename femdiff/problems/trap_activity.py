"""The activity formulation with traps: Newton in ρ, trap ODEs eliminated node by node.

A strategy held by :class:`~femdiff.problems.trapping.TrappingProblem` (``formulation="activity"``,
the default ``"auto"`` for dilute lattice models; issue #24). The lattice model is that
of the trap-free activity formulation (:mod:`femdiff.problems.activity`): one Ideal term plus terms
linear in C, M = M₀ C, lumped P1, so with the scaled activity ρ̂ (ĉ = C/C_s = w ρ̂,
w = e^{(μ_ref − μ*)/kT} node by node) the flux J = −M₀ kT C_s w ∇ρ̂ is linear in ρ̂. The
only nonlinearity left is the trap exchange, and with lumped storage it is local. Per
node, for a step with BDF weights a₀, a₁, a₂ (Ĉ = C/C_s throughout):

* McNabb–Foster, a₀ T̂ + h = Δt (κ ĉ (N̂ − T̂) − p T̂), κ = k C_s, h = a₁ T̂ⁿ + a₂ T̂ⁿ⁻¹:
  T̂(ĉ) = (Δt κ N̂ ĉ − h)/(a₀ + Δt κ ĉ + Δt p), increasing and concave in ĉ;
* Oriani: Ô(ĉ) = N̂ y/(1 + y), y = K θ/(1 − θ), θ = C_s ĉ/N_L.

(N̂ of a node on a trap region's border: N_T times the share of its lumped volume inside.)
The mobile balance, storage lumped, is then one equation per node in ρ̂ alone:

    R(ρ̂) = K ρ̂ + m ⊙ (a₀ (ĉ + Σ T̂(ĉ) + Σ Ô(ĉ)) + history) − b = 0,

K = Δt M₀ kT ∫ w ∇φ_j·∇φ_i dx / L^d, m the lumped mass / L^d, b the Flux boundaries and
sources. Its Jacobian K + diag(m w ∂storage/∂ĉ) has the sparsity and the M-matrix sign
pattern of the trap-free problem: Newton solves one scalar field (no trap unknowns, no
μ), and on an M-matrix mesh every state stays ρ̂ ≥ 0 (the updates are projected onto it),
so C = 0 is a legal state and boundary value (an empty body, a perfect sink). μ is only
an output, μ = μ_ref + kT ln(C_s ρ̂/C_ref) with ρ̂ floored at 1e-300 (−690 kT: "−∞").

Newton's tests are dimensionless, set from the problem's own scales, so no magnitude of
C (1 to 1e30 m⁻³) needs a user tolerance: converged when ‖R‖_∞ ≤ 1e-11 × (the largest
term of any row: m|storage| + m|history| + K_ii ρ̂_i), or when the update
‖δρ̂‖_∞ ≤ 1e-10 × max(‖ρ̂‖_∞, the boundary ρ̂) (the error after it is then O(δ²)).

Outputs are those of the mixed state: ĉ, μ̂ and the scaled McNabb–Foster C_T go into the
problem's mixed ``u`` (checkpoints, trapped fields, inventories unchanged). The boundary
fluxes are the reactions of this residual (:mod:`femdiff.numerics.fluxes`), in the stored total
ŝ = ĉ + Σ T̂ + Σ Ô of each time level.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, cast

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem import petsc as fem_petsc

from femdiff.models.trap_laws import McNabbFoster, Oriani, density_value
from femdiff.numerics.fem_utils import owned
from femdiff.numerics.fluxes import ConservedField, ReactionFlux
from femdiff.physics.boundary import FixedConcentration, FixedPotential, Flux
from femdiff.problems.base import interpolate_into

if TYPE_CHECKING:
    from femdiff.problems.trapping import TrappingProblem

log = logging.getLogger(__name__)

#: Newton's dimensionless tests (see the module docstring) and its iteration cap
RESIDUAL_RTOL = 1.0e-11
STEP_RTOL = 1.0e-10
MAX_ITERATIONS = 40
#: serial systems up to this many unknowns use PETSc's LU (see ActivityTraps.__init__)
SMALL_SERIAL_LU = 20_000
#: ρ̂ below which μ is reported at this floor (ln 0 = −∞)
RHO_FLOOR = 1.0e-300


class ActivityTraps:
    """Newton in the activity ρ̂ with the trap populations eliminated node by node.

    Built by :class:`~femdiff.problems.trapping.TrappingProblem` after the trap-free activity set-up
    of :class:`~femdiff.problems.activity.DiluteMixin` (w, ρ̂, its Dirichlet data and its KSP, whose
    LU or CG + GAMG choice it reuses).
    """

    def __init__(self, problem: TrappingProblem) -> None:
        p = self.p = problem
        V = p.V_c
        self.n = V.dofmap.index_map.size_local
        # W's dofs of ĉ, μ̂ and each scaled C_T (collapse() gives lists: flat arrays here)
        self.dofs_c = np.asarray(p.dofs_c).ravel()
        self.dofs_mu = np.asarray(p.dofs_mu).ravel()
        self.dofs_trap = [np.asarray(d).ravel() for d in p.dofs_trap]
        self.bdf2 = p.time.scheme == "bdf2"
        self.Cs = float(p.c_scale)
        v = ufl.TestFunction(V)
        q = p.length ** -p.domain.tdim * v
        m = fem.assemble_vector(fem.form(q * p.dx_t))
        m.scatter_reverse(la.InsertMode.add)
        m.scatter_forward()
        self.m = m.array.copy()
        # trap densities per node (scaled), with the region's share of the lumped volume
        self.N_kin = [p._N_nodal[k] * p._lumped_fraction(i) / self.Cs
                      for k, i in enumerate(p.kinetic)]
        self.N_eq = [p._nodal(density_value(p.traps[i].density, p.x)).x.array.copy()
                     * p._lumped_fraction(i) / self.Cs for i in p.equilibrium]
        self._T_fields: dict[int, np.ndarray] = {}
        # K = Δt M₀ kT ∫ w ∇ρ̂·∇q dx (the transport of femdiff.problems.activity, backward Euler/BDF)
        assert p.mobility is not None  # the activity formulation needs M = M₀ C
        M0, kT = float(p.mobility.M0), p._act_kT
        trial = ufl.TrialFunction(V)
        self._K_form = fem.form(p.dt * M0 * kT * p.w * ufl.inner(ufl.grad(trial),
                                                                  ufl.grad(q)) * p.dx)
        self.K = fem_petsc.create_matrix(self._K_form)
        self._K_diag = fem_petsc.create_vector(V)
        self._key: float | None = None
        b: Any = 0
        for bc in p.bcs:
            if isinstance(bc, Flux):
                b -= p.dt / self.Cs * bc.value * q * p.domain.ds(bc.boundary)
        if p.source is not None:
            b += p.dt / self.Cs * p.source(ufl.SpatialCoordinate(p.domain.mesh), p.t) * q * p.dx
        has_b = not isinstance(b, int)
        self._b_form = fem.form(b) if has_b else None
        self._b = fem_petsc.create_vector(V)
        self._r = fem_petsc.create_vector(V)
        self._kr = fem_petsc.create_vector(V)
        self._diag = fem_petsc.create_vector(V)
        self.delta = fem.Function(V)
        held = ([bc.dof_indices()[0] for bc in p._act_bcs])
        self.held = (np.unique(np.concatenate(held)) if held
                     else np.empty(0, np.int32)).astype(np.int32)
        self.held_owned = owned(self.held, V).astype(PETSc.IntType)
        self.ksp = p._act_ksp
        pc = self.ksp.getPC()
        size = V.dofmap.index_map.size_global
        if (pc.getType() == "lu" and p.domain.comm.size == 1 and size <= SMALL_SERIAL_LU
                and "pc_factor_mat_solver_type" not in p.user_petsc_options):
            # a small serial scalar system refactorised at every Newton iteration: PETSc's
            # own LU skips MUMPS's analysis overhead (1D ver-1d, 200 cells: 3.8 against
            # 5.9 ms per step)
            pc.setFactorSolverType("petsc")
            pc.setFactorOrdering("nd")
        self.reason = 0  # why the last solve failed (see failure())
        # the stored totals ŝ of the three time levels (the reaction flux's residual)
        self.s, self.s_n, self.s_nn = (fem.Function(V) for _ in range(3))
        a0, a1, a2 = p.bdf
        history = a1 * self.s_n + (a2 * self.s_nn if self.bdf2 else 0)
        self.residual = ((a0 * self.s + history) * q * p.dx_t
                         + p.dt * M0 * kT * p.w * ufl.inner(ufl.grad(p.rho), ufl.grad(q))
                         * p.dx)
        if has_b:
            self.residual -= b
        self.stored(p.u.x.array, p.T_n, self.s.x.array)

    # -- the local trap laws -------------------------------------------------------------

    def _temperature(self, T: Any) -> Any:
        """T of a time level: a float (Constant, number) or nodal values (a field)."""
        if isinstance(T, fem.Constant):
            return float(T.value)
        if isinstance(T, int | float):
            return float(T)
        key = id(T)
        if key not in self._T_fields:  # a field fixed in time: interpolated once
            f = fem.Function(self.p.V_c)
            interpolate_into(f, T)
            self._T_fields[key] = f.x.array.copy()
        return self._T_fields[key]

    def _oriani(self, c: np.ndarray, T: Any) -> tuple[np.ndarray, np.ndarray]:
        """Σ Ô(ĉ) over the Oriani traps and its derivative ∂/∂ĉ."""
        if not self.p.equilibrium:
            return np.zeros_like(c), np.zeros_like(c)
        total = np.zeros_like(c)
        slope = np.zeros_like(c)
        N_L = self.p.n_sites
        for j, i in enumerate(self.p.equilibrium):
            if N_L is None:  # checked by TrappingProblem
                raise AssertionError("Oriani traps need n_sites")
            trap = cast(Oriani, self.p.traps[i])
            K = trap.K(T)
            theta = np.minimum(self.Cs * c / N_L, 1 - 1e-12)
            y = K * theta / (1 - theta)
            total += self.N_eq[j] * y / (1 + y)
            slope += self.N_eq[j] * self.Cs * K / (N_L * (1 - theta) ** 2 * (1 + y) ** 2)
        return total, slope

    def stored(self, u: np.ndarray, T: Any, out: np.ndarray) -> None:
        """ŝ = ĉ + Σ T̂ + Σ Ô of a mixed state ``u`` (at the temperature T of its level)."""
        p = self.p
        c = u[self.dofs_c]
        out[:] = c + self._oriani(c, self._temperature(T))[0]
        for k in range(len(p.kinetic)):
            out += u[self.dofs_trap[k]] * p.trap_scale[k] / self.Cs

    # -- Newton ----------------------------------------------------------------------

    def _assemble_K(self) -> None:
        K = self.K
        K.zeroEntries()
        fem_petsc.assemble_matrix(K, self._K_form)
        K.assemble()
        K.getDiagonal(self._K_diag)
        self.J = K.duplicate(copy=True)  # the Jacobian: K plus a diagonal, same pattern

    def solve(self) -> tuple[bool, int, int]:
        """One step: Newton in ρ̂ (Jacobian K + diag), then ĉ, μ̂, T̂ into the mixed state.

        Returns (converged, Newton iterations = linear solves, Krylov iterations).
        """
        p, n, Cs = self.p, self.n, self.Cs
        comm = p.domain.comm
        if p._update_weight():
            self._key = None
        dt = float(p.dt.value)
        if self._key != dt:
            self._assemble_K()
            self._key = dt
        a0, a1, a2 = (float(c.value) for c in p.bdf)
        if not self.bdf2:
            a2 = 0.0
        w = p.w.x.array
        un, unn = p.u_n.x.array, p.u_nn.x.array
        T, T_n, T_nn = (self._temperature(x) for x in (p.T, p.T_n, p.T_nn))
        # the history of the stored total, and per McNabb–Foster trap h = a₁T̂ⁿ + a₂T̂ⁿ⁻¹
        hist = a1 * (un[self.dofs_c] + self._oriani(un[self.dofs_c], T_n)[0])
        if a2:
            hist += a2 * (unn[self.dofs_c] + self._oriani(unn[self.dofs_c], T_nn)[0])
        kin = []
        for k, i in enumerate(p.kinetic):
            trap = cast(McNabbFoster, p.traps[i])
            sk = p.trap_scale[k] / Cs
            h = a1 * un[self.dofs_trap[k]] * sk + (a2 * unn[self.dofs_trap[k]] * sk if a2 else 0.0)
            hist += h
            kin.append((dt * trap.k(T) * Cs, a0 + dt * trap.p(T), h, self.N_kin[k]))
        b = self._b
        with b.localForm() as loc:
            loc.set(0)
        if self._b_form is not None:
            fem_petsc.assemble_vector(b, self._b_form)
            b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)

        def storage(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
            """a₀ × (the stored total at ĉ), its derivative in ĉ, the T̂ of each trap."""
            total, slope = self._oriani(c, T)
            total, slope = total + c, slope + 1.0
            trapped = []
            for dk, den0, h, N in kin:
                den = den0 + dk * c
                Tk = (dk * N * c - h) / den
                trapped.append(Tk)
                total += Tk
                slope += dk * (N * den0 + h) / den**2
            return a0 * total, a0 * slope, trapped

        rho = np.maximum(p.u.x.array[self.dofs_c] / w, 0.0)
        g = p._act_g.x.array
        rho[self.held] = g[self.held]
        # every stopping decision below is taken on global values, the same on every rank
        # (a rank-local one leaves the others waiting in the next Allreduce)
        gmax = comm.allreduce(float(np.max(np.abs(g[self.held]), initial=0.0)), op=MPI.MAX)
        m, ksp = self.m[:n], self.ksp
        its = kits = 0
        ok = False
        self.reason = 0
        for _ in range(MAX_ITERATIONS + 1):
            if not comm.allreduce(bool(np.all(np.isfinite(rho))), op=MPI.LAND):
                self.reason = -4
                break
            S, dS, _ = storage(w * rho)
            p.rho.x.array[:] = rho
            self.K.mult(p.rho.x.petsc_vec, self._kr)
            R = self._r.array_w
            R[:] = self._kr.array_r + m * (S[:n] + hist[:n]) - b.array_r
            R[self.held_owned] = 0.0
            scale = (np.max(m * (np.abs(S[:n]) + np.abs(hist[:n])), initial=0.0)
                     + np.max(np.abs(self._K_diag.array_r * rho[:n]), initial=0.0))
            local = np.array([np.max(np.abs(R), initial=0.0), scale,
                              np.max(rho[:n], initial=0.0)])
            norms = np.empty(3)
            comm.Allreduce(local, norms, op=MPI.MAX)
            rnorm, scale, rmax = norms
            if not math.isfinite(rnorm):
                self.reason = -4
                break
            if rnorm <= RESIDUAL_RTOL * scale:
                ok = True
                break
            if its == MAX_ITERATIONS:
                self.reason = -5
                break
            self.K.copy(self.J, PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            self._diag.array_w[:] = m * w[:n] * dS[:n]
            self.J.setDiagonal(self._diag, addv=PETSc.InsertMode.ADD_VALUES)
            self.J.zeroRowsColumnsLocal(self.held_owned, diag=1.0)
            ksp.setOperators(self.J)
            R *= -1.0
            try:
                ksp.solve(self._r, self.delta.x.petsc_vec)
            except PETSc.Error:
                self.reason = -3
                break
            its += 1
            kits += ksp.getIterationNumber()
            if ksp.getConvergedReason() <= 0:
                self.reason = -3
                break
            self.delta.x.scatter_forward()
            d = self.delta.x.array
            if len(kin) == 1 and not p.equilibrium:
                rho = self._stored_update(rho, d, w, dS / a0, a0, storage, kin[0])
            else:
                rho = np.maximum(rho + d, 0.0)
            dmax = comm.allreduce(float(np.max(np.abs(d[:n]), initial=0.0)), op=MPI.MAX)
            if dmax <= STEP_RTOL * max(rmax, gmax, 1e-300):
                ok = bool(np.all(np.isfinite(rho)))
                break
        ok = comm.allreduce(ok, op=MPI.LAND)
        if ok:
            self._accept(rho, storage)
            # the reaction rows of the accepted state: the residual without the Dirichlet
            # rows cleared (what ReactionFlux would assemble from the UFL residual)
            S = storage(w * rho)[0]
            self.K.mult(p.rho.x.petsc_vec, self._kr)
            self.reaction_rows = np.zeros_like(rho)
            self.reaction_rows[:n] = (self._kr.array_r + m * (S[:n] + hist[:n])
                                      - b.array_r)
        return ok, its, kits

    @staticmethod
    def _stored_update(rho: np.ndarray, d: np.ndarray, w: np.ndarray, slope: np.ndarray,
                       a0: float, storage: Any, kin: tuple[Any, float, np.ndarray, np.ndarray]
                       ) -> np.ndarray:
        """Newton's update taken in the stored total ŝ = ĉ + T̂(ĉ) where a trap fills.

        The same linear solve (δŝ = ŝ'(ĉ) w δρ̂); at a node where the trap is less than
        half full the step is applied to ŝ and ĉ recovered locally (T̂ is steep and
        concave in ĉ there, so Newton in ĉ creeps up from below; ver-1d trap-limited,
        nx = 200, Δt = 1 s: mean 3.2 iterations per step against 3.3, the first steps
        (the front crosses several cells per step) 5-9 against 6-10). One McNabb–Foster trap:
        ŝ = ĉ + (dk N̂ ĉ − h)/(den₀ + dk ĉ), a quadratic dk ĉ² + B ĉ − (ŝ den₀ + h) = 0
        with B = den₀ + dk (N̂ − ŝ).
        """
        dk, den0, h, N = kin
        c = w * rho
        s_now = storage(c)[0] / a0
        s_new = s_now + slope * w * d
        q = np.maximum(s_new * den0 + h, 0.0)  # ŝ below T̂(0) = −h/den₀: ĉ = 0
        B = den0 + dk * (N - s_new)
        root = np.sqrt(B * B + 4 * dk * q)
        with np.errstate(divide="ignore", invalid="ignore"):
            c_new = np.where(B >= 0, 2 * q / (B + root), (root - B) / (2 * dk))
        filling = (s_now - c) < 0.5 * N
        c_new = np.where(filling & np.isfinite(c_new), c_new, c + w * d)
        return np.maximum(c_new / w, 0.0)

    def _accept(self, rho: np.ndarray, storage: Any) -> None:
        """Write ĉ, μ̂ and the scaled C_T of ρ̂ into the mixed state (and ŝ for the flux)."""
        p, Cs = self.p, self.Cs
        c = p.w.x.array * rho
        _, _, trapped = storage(c)
        p.rho.x.array[:] = rho
        p.u.x.array[self.dofs_c] = c
        p.c_now.x.array[:] = p.u.x.array[self.dofs_c]
        p.u.x.array[self.dofs_mu] = (p._act_mu_ref + p._act_kT * np.log(
            np.maximum(Cs * rho, RHO_FLOOR * Cs) / p._act_c_ref)) / p.mu_scale
        for k, Tk in enumerate(trapped):
            p.u.x.array[self.dofs_trap[k]] = np.clip(Tk, 0.0, self.N_kin[k]) * Cs / p.trap_scale[k]
        self.stored(p.u.x.array, p.T, self.s.x.array)
        self.stored(p.u_n.x.array, p.T_n, self.s_n.x.array)
        self.stored(p.u_nn.x.array, p.T_nn, self.s_nn.x.array)

    def failure(self) -> tuple[str, str]:
        """What failed in the last solve and why (for the step's retry message)."""
        why = {-3: "the linear solve failed", -4: "a non-finite activity",
               -5: f"no convergence in {MAX_ITERATIONS} iterations"}
        return "the activity Newton (traps eliminated) failed", why.get(self.reason,
                                                                         "unknown")

    # -- boundary fluxes ---------------------------------------------------------------

    def reaction_flux(self) -> ReactionFlux:
        """The reaction fluxes of R(ρ̂) on the ρ̂ rows (stored totals of each level)."""
        p = self.p
        V = p.V_c
        n = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
        held = [bc for bc in p.bcs if isinstance(bc, FixedConcentration | FixedPotential)]
        f = p.conserved_fields()["C"]
        field = ConservedField(
            rows=np.arange(n, dtype=np.int32), scale=f.scale,
            dirichlet=[(bc.boundary, d) for bc, d in zip(held, p._act_bcs, strict=True)],
            flux_bcs=f.flux_bcs)

        def rest(copies: Any) -> None:
            rho, s, s_n, s_nn = copies
            rho.x.array[:] = p.rho.x.array
            self.stored(p.u.x.array, p.T, s.x.array)
            s_n.x.array[:] = s.x.array
            s_nn.x.array[:] = s.x.array

        return _SolvedReaction(self, p.domain, self.residual,
                               (p.rho, self.s, self.s_n, self.s_nn), p.step_constants(),
                               {"C": field}, rest=rest)

    def describe(self) -> str:
        """The solver of this formulation, for ``solver_description``."""
        pc = self.ksp.getPC()
        kind = f"{self.ksp.getType()} + {pc.getType()}"
        if pc.getType() in ("lu", "cholesky"):
            kind += f" ({pc.getFactorSolverType()})"
        return ("activity formulation with traps: Newton in the activity ρ, the trap "
                f"ODEs eliminated node by node (one scalar field) | KSP {kind} | Newton "
                f"tests relative to the problem's scales (residual {RESIDUAL_RTOL:g}, step "
                f"{STEP_RTOL:g})")


class _Rows:
    """A residual vector's local values (what ReactionFlux reads of an assembled one)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


class _SolvedReaction(ReactionFlux):
    """ReactionFlux whose recorded step reuses the residual rows Newton left behind.

    Newton's last residual of the accepted state is the assembled UFL residual (the same
    transport matrix, lumped storage and Flux/source vector), so the flux needs no
    assembly for a recorded step; any other state (a restart) is assembled as usual.
    """

    def __init__(self, strategy: ActivityTraps, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._strategy = strategy

    def record(self) -> None:
        super().record()
        rows = getattr(self._strategy, "reaction_rows", None)
        if rows is not None:
            self._vector = cast(Any, _Rows(rows))
