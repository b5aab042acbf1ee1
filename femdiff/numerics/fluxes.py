"""Conservative boundary fluxes from the residual of the conservation equation.

The outward flux through a Dirichlet boundary Γ_D is *not* evaluated from the gradient of
the discrete solution (−M(C)∇μ·n on the facets: on a P1 cell with C fixed small there,
C·∇(RT ln C) is far from D∇C and the result converges only logarithmically). It is the
variationally consistent *reaction flux* (e.g. Hughes, Engel, Mazzei, Larson, "The
continuous Galerkin method is locally conservative", J. Comput. Phys. 163 (2000) 467;
Carey, Chow, Seager, "Approximate boundary-flux calculations", CMAME 50 (1985) 107):
integrating ∂C/∂t + ∇·J = s against a test function q gives

    ∫ ∂C/∂t q − J·∇q − s q dx + ∫_{Γ_N} j q ds = −∫_{Γ_D} J·n q ds,

so the discrete residual R_i of the conservation equation, assembled *without* the
Dirichlet rows applied, is −∫_{Γ_D} J·n φ_i ds at a node i held by the Dirichlet
condition, and the flux is −Σ_{i∈Γ_D} R_i. Since the φ_i sum to 1, the fluxes through
all boundaries (reaction fluxes on Γ_D, the prescribed ∫ j ds on Γ_N, exactly 0 on closed
boundaries) add up to −d(amount)/dt + ∫ s dx with the scheme's own discrete time
derivative (BDF1/BDF2 weights; for Crank–Nicolson it is the midpoint flux θJⁿ⁺¹ +
(1−θ)Jⁿ the scheme uses), to the solver tolerance.

The residual must be evaluated with the step's own history and weights, which the problem
overwrites when it accepts the step; :meth:`ReactionFlux.record` keeps a copy (three
array copies, no assembly) and the flux is assembled only when asked for. Before the
first step (or after a restart) the history is the current state: the time-derivative
term vanishes (the BDF weights sum to 0) and the flux is that of the current field.

A node held by two Dirichlet conditions (an edge where two fixed-C faces meet) is
counted once, for the first of them in the problem's list of conditions. Parallel: each
rank sums its owned rows, then one ``allreduce``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import fem, la

from femdiff.geometry.mesh import Domain
from femdiff.numerics.fem_utils import owned


@dataclass
class ConservedField:
    """One conserved field of a mixed problem, as the reaction flux needs it.

    Attributes:
        rows: local dof indices (mixed space, ghosts included) of the field's unknown,
            whose residual rows are its conservation equation.
        scale: physical flux per unit of the (scaled) residual row, divided by Δt, i.e.
            (unknown scale) · L^d for residuals divided by L^d.
        dirichlet: ``(boundary name, DirichletBC)`` in priority order (the first claims
            a node held by two).
        flux_bcs: ``(boundary name, prescribed outward flux J·n)``, a number or UFL.
    """

    rows: Any  # integer array-like (collapse maps are typed as lists)
    scale: float
    dirichlet: Sequence[tuple[str, fem.DirichletBC]] = ()
    flux_bcs: Sequence[tuple[str, Any]] = ()
    _claimed: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)


class ReactionFlux:
    """Variationally consistent boundary fluxes of a time-stepped mixed problem.

    Args:
        domain: the mesh with named boundaries.
        residual: the full residual form F(u; uⁿ, uⁿ⁻¹) whose rows at ``rows`` of a field
            are its conservation equation (scaled: Δt times the physical equation divided
            by the field's scale and by L^d).
        state: the Functions (u, uⁿ, uⁿ⁻¹) the residual is written in.
        constants: the step Constants the residual uses (Δt first, then e.g. the BDF
            weights and t); their values are recorded with the state.
        fields: the conserved fields by name.
        rest: fills the copies of ``state`` with "the history is the current state" (no
            recorded step); default: every copy gets ``state[0]``'s array (all the state
            Functions share one space).
    """

    def __init__(self, domain: Domain, residual: Any, state: Sequence[fem.Function],
                 constants: Sequence[fem.Constant], fields: Mapping[str, ConservedField],
                 rest: Callable[[Sequence[fem.Function]], None] | None = None) -> None:
        self.domain = domain
        self._rest = rest
        self.fields = dict(fields)
        self._state = tuple(state)
        self._constants = tuple(constants)
        self._copies = tuple(fem.Function(u.function_space) for u in state)
        mesh = domain.mesh
        self._const_copies = tuple(fem.Constant(mesh, PETSc.ScalarType(c.value))
                                   for c in constants)
        mapping: dict[Any, Any] = dict(zip(state, self._copies, strict=True))
        mapping.update(zip(constants, self._const_copies, strict=True))
        self._residual = fem.form(ufl.replace(residual, mapping))
        self._mapping = mapping
        self._prescribed: dict[tuple[str, int], fem.Form] = {}
        self._recorded = False
        self._vector: la.Vector | None = None
        W = state[0].function_space
        for f in self.fields.values():
            rows = np.asarray(f.rows)
            taken = np.empty(0, dtype=np.int32)
            for name, bc in f.dirichlet:
                dofs, _ = bc.dof_indices()
                dofs = np.intersect1d(owned(dofs, W), rows)
                mine = np.setdiff1d(dofs, taken)
                taken = np.union1d(taken, mine)
                previous = f._claimed.get(name, np.empty(0, dtype=np.int32))
                f._claimed[name] = np.union1d(previous, mine).astype(np.int32)

    # -- recording -------------------------------------------------------------------

    def record(self) -> None:
        """Keep the state, history and step constants of the step just solved.

        Call it after Newton converged and before the problem shifts its history.
        """
        for src, dst in zip(self._state, self._copies, strict=True):
            dst.x.array[:] = src.x.array
        for const, copy in zip(self._constants, self._const_copies, strict=True):
            copy.value = const.value
        self._recorded = True
        self._vector = None

    def _prepare(self) -> None:
        """Use the recorded step if it produced the current state, else the current state.

        Without a matching record (before the first step, after a restart) the history is
        the current state: the time-derivative term vanishes and the flux is that of the
        current field (with the last step's constants).
        """
        u = self._state[0].x.array
        same = self._recorded and np.array_equal(self._copies[0].x.array, u)
        # one decision for all ranks: a mix of recorded and current histories is no step
        if self.domain.comm.allreduce(same, op=MPI.LAND):
            return
        self._recorded = False
        self._vector = None
        if self._rest is not None:
            self._rest(self._copies)
        else:
            for dst in self._copies:
                dst.x.array[:] = u
        for const, copy in zip(self._constants, self._const_copies, strict=True):
            copy.value = const.value

    # -- evaluation ------------------------------------------------------------------

    def __call__(self, name: str, boundary: str) -> float:
        """Outward flux of field ``name`` through ``boundary`` for the last step.

        Dirichlet boundaries: the reaction −Σ R_i · scale / Δt over the nodes the
        boundary claims; Flux boundaries: the prescribed ∫ j ds (at the step's t); any
        other boundary: 0 (exactly).
        """
        f = self.fields[name]
        comm = self.domain.comm
        self._prepare()
        value = 0.0
        if any(b == boundary for b, _ in f.dirichlet):
            if self._vector is None:
                self._vector = fem.assemble_vector(self._residual)
                self._vector.scatter_reverse(la.InsertMode.add)
            dt = float(self._const_copies[0].value)
            local = float(np.sum(self._vector.array[f._claimed[boundary]]))
            value -= comm.allreduce(local, op=MPI.SUM) * f.scale / dt
        for j, (bname, jn) in enumerate(f.flux_bcs):
            if bname != boundary:
                continue
            key = (name, j)
            if key not in self._prescribed:
                expr = ufl.replace(ufl.as_ufl(jn), self._mapping)
                self._prescribed[key] = fem.form(expr * self.domain.ds(bname))
            value += comm.allreduce(fem.assemble_scalar(self._prescribed[key]), op=MPI.SUM)
        return value
