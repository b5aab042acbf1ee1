"""Multicomponent Onsager diffusion in the mixed μ–X weak form.

N species. Two settings:

* **Lattice** (``lattice=True``, the default): n components share the sites, Σ X_i = 1.
  The *last* species is the dependent (solvent) one, X_n = 1 − Σ_{i<n} X_i. The
  unknowns are the n−1 independent mole fractions and their *diffusion potentials*
  μ̃_i = μ_i − μ_n.
* **Solutes in a matrix** (``lattice=False``): n solutes in an implicit matrix, no sum
  constraint; the unknowns are the n fractions (or concentrations) and their μ_i.

Strong form, with m independent species (m = n−1 or n) and constant molar volume:

    ∂X_i/∂t + ∇·J_i = 0,   J_i = −Σ_j L_ij ∇μ̃_j,
    μ̃_i = ∂g/∂X_i − ∇·(∂G/∂∇X_i)

g(X) is the molar Gibbs energy [J/mol] of a :class:`~femdiff.models.mixtures.Mixture`; the
thermodynamic terms and the Onsager transport forms live in :mod:`femdiff.models.mixtures` (and
are re-exported here).

Units. X is a mole fraction (lattice) or any concentration unit (matrix); μ in J/mol; J_i
in [X-units · m/s] (the molar flux times the molar volume V_m); L_ij in
[X-units · m² mol/(J s)]. Weak form, with test functions (q_i, v_i):

    ∫ ∂X_i/∂t q_i + Σ_j L_ij ∇μ̃_j·∇q_i dx + ∫_Γ j_i q_i ds = 0
    ∫ μ̃_i v_i − ∂g/∂X_i v_i − ∂G/∂∇X_i·∇v_i dx = 0

Scaling, positivity and step control (failure retries, optional :class:`Adaptive` error
control) are those of :class:`femdiff.problems.base.MixedProblem`:
the unknowns are stored as X̂_i = X_i / X_s,i (X_s,i: mean initial X_i) and μ̂ = μ̃/μ_s
(μ_s = R T); logarithmic models run as a bound-constrained SNES (``vinewtonrsls``) keeping
every independent X_i in (0, 1); a step whose Newton fails, or which drives the dependent
fraction to X_n ≤ 0 (a linear constraint that box bounds cannot hold), is rejected and
retried with a smaller Δt.

Several materials (``materials=``, by named volume; see :mod:`femdiff.models.mixture_law`
for their per-species μ°_i,m or solubility S_i,m, diffusivity or Onsager transport) add
Σ_i μ°_i(x) X_i to g and give L(x, X) = Σ_m χ_m L_m(X). The representation is that of
one species (:mod:`femdiff.models.material_law`, whose functions this module reuses): each
μ̃_i is a continuous unknown and each X_i lives in the broken space DG_k, the conservation
law is tested with the continuous space and the constitutive law with the broken one, so
at an interface node the law holds per cell with one μ̃_i: X_i jumps by the partition
ratio (S_i,A/S_i,B for an ideal solution), with no interface term. A lattice partitions
the diffusion potentials μ̃_i = μ_i − μ_n, so there the ratio involves the solvent's μ°.
Gradient energy is rejected on a broken space (it needs X ∈ H¹); with one material the
fractions stay in P_k and the single-material forms are unchanged.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from mpi4py import MPI

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import LinearProblem

from femdiff.geometry.mesh import Domain
from femdiff.models.material_law import (
    boundary_cells,
    broken_boundary_potential,
    set_per_material,
    start_broken_at,
)
from femdiff.models.mixture_law import MixtureLaw, MixtureMaterial
from femdiff.models.mixtures import (
    Entry,
    FreeEnergy,
    GradientEnergies,
    IdealMixing,
    Mixture,
    Onsager,
    Pair,
    RegularSolution,
    StressCoupling,
    WagnerDilute,
    check_onsager,
)
from femdiff.models.thermodynamics import gas_constant
from femdiff.numerics import solvers
from femdiff.numerics.fluxes import ConservedField
from femdiff.numerics.timestepping import Adaptive, TimeControl
from femdiff.physics.boundary import (
    BoundaryCondition,
    FixedConcentration,
    FixedPotential,
    Flux,
    NoFlux,
    Value,
    check_boundary_types,
)
from femdiff.problems.base import MixedProblem, global_min_max, interpolate_into

log = logging.getLogger(__name__)

# re-exported: the thermodynamics and transport forms moved to femdiff.models.mixtures, the
# boundary conditions to femdiff.physics.boundary, the materials to femdiff.models.mixture_law
__all__ = ["BoundaryCondition", "Entry", "FixedConcentration", "FixedPotential", "Flux",
           "FreeEnergy", "GradientEnergies", "IdealMixing", "Mixture", "MixtureMaterial",
           "MulticomponentProblem", "NoFlux", "Onsager", "Pair", "RegularSolution",
           "StressCoupling", "WagnerDilute", "check_onsager"]

_set = interpolate_into  # kept: the name is used throughout this module


class MulticomponentProblem(MixedProblem):
    """Onsager diffusion of several species in the mixed μ̃–X form.

    Args:
        domain: the mesh with named boundaries.
        species: species names; on a lattice the *last* one is the dependent (solvent)
            species.
        model: the thermodynamics (a :class:`Mixture`).
        transport: the Onsager matrix or a form converted to it (:class:`Onsager`).
        initial: initial fraction by independent species: a number, a callable
            ``x -> values``, a Function or UFL expression. On a lattice the dependent
            species may be given too; then the fractions must sum to 1.
        time: time-step settings.
        bcs: boundary conditions by species name: ``{"A": [FixedConcentration("left",
            0.2)]}``; unlisted boundaries are no-flux. Flux values are J_i·n.
            ``FixedPotential`` is a reservoir at the diffusion potential μ̃_i [J/mol]: the
            fraction X_i in equilibrium with it is found node by node (the other
            fractions held at their initial values) and imposed; it needs a model
            without gradient energy.
        lattice: Σ X_i = 1 with a dependent species (``True``), or solutes in a matrix.
        degree: polynomial degree of every field (1 or 2).
        petsc_options: SNES/KSP options over :func:`femdiff.numerics.solvers.newton_options`.
        lumped: vertex quadrature for the constitutive equations (P1 only), as in
            :class:`~femdiff.problems.diffusion.DiffusionProblem`.
        adaptive: error-controlled time steps (:class:`~femdiff.numerics.timestepping.Adaptive`;
            the error is the max over the independent species' scaled fractions).
        name: options-prefix stem.
        materials: :class:`~femdiff.models.mixture_law.MixtureMaterial` s filling the named
            volumes: per species a solubility S0 (μ°_i = −R T ln S_i) or μ°, and a
            diffusivity D0 or an Onsager ``transport`` per material (then pass
            ``transport=None``); T is the model's (its first term with a temperature); μ°
            enters g as Σ_i μ°_i(x) X_i. With two or more materials each X_i is broken (DG)
            and each μ̃_i continuous, as for one species (:mod:`femdiff.models.material_law`):
            X_i jumps at an interface, μ̃_i does not. An initial value may then be a mapping
            material name → value.
        broken: the fractions in the discontinuous space (True) or in P_k (False);
            default: broken for two or more materials.

    The lifecycle, stepping, restart and diagnostics are :class:`MixedProblem`'s (the
    model check is the transport check); this class adds the spaces, the initial
    potentials, its boundary conditions and the weak form.
    """

    def __init__(
        self,
        domain: Domain,
        species: Sequence[str],
        model: Mixture,
        transport: Onsager | None,
        *,
        initial: Mapping[str, Value],
        time: TimeControl,
        bcs: Mapping[str, Sequence[BoundaryCondition]] | None = None,
        lattice: bool = True,
        degree: int = 1,
        petsc_options: dict[str, Any] | None = None,
        lumped: bool = True,
        adaptive: Adaptive | None = None,
        name: str = "multicomponent",
        materials: Sequence[MixtureMaterial] | None = None,
        broken: bool | None = None,
    ) -> None:
        species = list(species)
        if not species or not all(isinstance(s, str) and s for s in species):
            raise ValueError(f"species must be non-empty names, got {species!r}")
        if len(set(species)) != len(species):
            raise ValueError(f"species names must be unique, got {species!r}")
        if lattice and len(species) < 2:
            raise ValueError("a lattice needs at least two species (one is dependent)")
        if not isinstance(model, Mixture):
            raise TypeError("model must be a femdiff.problems.multicomponent.Mixture")
        self.species = species
        self.lattice = bool(lattice)
        self.dependent = species[-1] if lattice else None
        self.independent = species[:-1] if lattice else species
        self.law = None if materials is None else MixtureLaw(domain, materials, species)
        kind = "none" if self.law is None else self.law.transport_kind(self.independent)
        if transport is None and kind == "none":
            raise TypeError("transport must be a femdiff.problems.multicomponent.Onsager (or None "
                            "with materials that set D0 or transport)")
        if transport is not None and kind != "none":
            raise ValueError("give either transport= or materials with D0/transport, "
                             "not both")
        if transport is not None and not isinstance(transport, Onsager):
            raise TypeError("transport must be a femdiff.problems.multicomponent.Onsager")
        known = ", ".join(repr(s) for s in species)
        for s in sorted(model.species_used()):
            if s not in species:
                raise ValueError(f"unknown species {s!r} in the thermodynamic model; "
                                 f"species: {known}")
        for where, tr in ([("", transport)] if transport is not None else
                          [(f" of material {m.name!r}", m.transport) for m in materials or ()
                           if m.transport is not None]):
            self._check_transport(tr, where)
        self.temperature = next((t.T for t in model.terms if getattr(t, "T", None)
                                 is not None), None)
        if self.law is not None:
            self.law.check_model(kind, self.temperature, next(
                (t.units for t in model.terms if hasattr(t, "units")), "molar"))
        self.broken = (self.law is not None and self.law.distinct()) if broken is None \
            else bool(broken)
        if self.broken and model.gradient_energy(
                {s: ufl.grad(ufl.SpatialCoordinate(domain.mesh)[0])
                 for s in self.independent}) is not None:
            raise ValueError(
                "gradient energy across a material interface is not supported: it needs "
                "X in H1, but X jumps there; use one material or drop the gradient terms")
        initial = dict(initial)
        if self.law is None:
            for s, value in initial.items():
                if isinstance(value, Mapping):
                    raise ValueError(f"initial state of {s!r} given per material needs "
                                     "materials=")
        for s in initial:
            if s not in species:
                raise ValueError(f"unknown species {s!r} in the initial state; species: "
                                 f"{known}")
        missing = [s for s in self.independent if s not in initial]
        if missing:
            raise ValueError(f"no initial state for species {', '.join(map(repr, missing))}")
        bcs = dict(bcs or {})
        for s, lst in bcs.items():
            if s not in species:
                raise ValueError(f"unknown species {s!r} in a boundary condition; species: "
                                 f"{known}")
            check_boundary_types(lst, f" for species {s!r}")
            for bc in lst:
                if s == self.dependent and not isinstance(bc, NoFlux):
                    raise ValueError(
                        f"{type(bc).__name__} on {bc.boundary!r} for the dependent species "
                        f"{s!r}: its fraction and flux follow from the others "
                        f"(X = 1 − Σ, J = −Σ J); set the independent species instead")
            domain.check_boundaries([bc.boundary for bc in lst])
        if not isinstance(time, TimeControl):
            raise TypeError("time must be a femdiff.numerics.timestepping.TimeControl")
        super().__init__(domain, time=time, adaptive=adaptive, degree=degree,
                         petsc_options=petsc_options, lumped=lumped, name=name)
        self.model = model
        self.transport = transport
        self.initial = initial
        self.bcs = bcs

    def _check_transport(self, transport: Onsager, where: str) -> None:
        """Species, reduced-matrix indexing and (constant) reciprocity of one transport."""
        known = ", ".join(repr(s) for s in self.species)
        for s in sorted(transport.species_used()):
            if s not in self.species:
                raise ValueError(f"unknown species {s!r} in the transport data{where}; "
                                 f"species: {known}")
        if transport.kind in ("matrix", "interdiffusion"):
            for a, b in transport.data:
                for s in (a, b):
                    if s == self.dependent:
                        raise ValueError(
                            f"L[{a},{b}]{where}: the dependent species {s!r} has no row or "
                            f"column in the reduced matrix; index L by {self.independent}")
        if transport.constant_entries():
            m = len(self.independent)
            L = np.array([[transport.data.get((a, b), 0.0) for b in self.independent]
                          for a in self.independent], dtype=float).reshape(1, m, m)
            check_onsager(L, self.independent)

    # -- the hooks of MixedProblem -------------------------------------------------------

    @property
    def m(self) -> int:
        """Number of independent species."""
        return len(self.independent)

    def _create_function_spaces(self) -> None:
        mesh = self.domain.mesh
        self._create_measures()
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree)
        # broken: the fractions discontinuous (jump at interfaces), the μ̃ continuous
        Px = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree,
                               discontinuous=True) if self.broken else P
        m = self.m
        self._create_mixed_space([Px] * m + [P] * m)
        subs = [self.W.sub(k).collapse() for k in range(2 * m)]
        self.V = subs[0][0]
        self.V_mu = subs[m][0]
        self.dofs_x = [subs[k][1] for k in range(m)]
        self.dofs_mu = [subs[m + k][1] for k in range(m)]
        #: fractions of every species (the dependent one included) and potentials
        self.X = {s: fem.Function(self.V, name=s) for s in self.species}
        self.mu = {s: fem.Function(self.V_mu, name=f"mu_{s}") for s in self.independent}

    @property
    def _n_owned(self) -> int:
        return self.V.dofmap.index_map.size_local * self.V.dofmap.index_map_bs

    def _raise_where(self, bad: np.ndarray, values: np.ndarray, message: str) -> None:
        """Raise ``message`` on every rank if an owned dof is bad, with the first one's x."""
        comm, idx = self.domain.comm, np.flatnonzero(bad)
        if not comm.allreduce(bool(bad.any()), op=MPI.LOR):
            return
        here = ""  # ' (e.g. value at x = (...))' for the first bad dof on this rank
        if idx.size:
            x = self.V.tabulate_dof_coordinates()[idx[0], : self.domain.gdim]
            here = f" (e.g. {values[idx[0]]:.6g} at x = {np.round(x, 6).tolist()})"
        raise ValueError(message + next((w for w in comm.allgather(here) if w), ""))

    def _create_initial_state(self) -> None:
        comm, n = self.domain.comm, self._n_owned
        for s in self.independent:
            self._set_initial(self.X[s], s)
        total = sum(self.X[s].x.array for s in self.independent)
        for s in self.independent:
            lo, hi = global_min_max(comm, self.X[s].x.array[:n])
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError(f"initial fraction of species {s!r} has NaN or Inf values")
        positive = self.model.positive
        for s in self.independent:
            vals = self.X[s].x.array[:n]
            if positive:
                self._raise_where(vals <= 0, vals, (
                    f"initial fraction of species {s!r} must be > 0: the thermodynamic "
                    "model has a logarithm (ln X)"))
            if self.lattice:
                self._raise_where(vals > 1, vals, (
                    f"initial fraction of species {s!r} exceeds 1"))
        if self.lattice:
            dep = self.dependent
            assert dep is not None
            if dep in self.initial:
                given = fem.Function(self.V)
                self._set_initial(given, dep)
                s_all = total[:n] + given.x.array[:n]
                self._raise_where(np.abs(s_all - 1) > 1e-8, s_all, (
                    "initial fractions do not sum to 1 (Σ over "
                    f"{', '.join(self.species)})"))
            rest = 1.0 - total[:n]
            bad = rest <= 0 if positive else rest < 0
            self._raise_where(bad, 1.0 - rest, (
                f"initial fractions of {', '.join(map(repr, self.independent))} sum to "
                f"{'1 or more' if positive else 'more than 1'}, leaving the dependent "
                f"species {dep!r} {'non-positive' if positive else 'negative'}"))
            self.X[dep].x.array[:] = 1.0 - total
        self.mu_scale = self.model.scale
        volume = self.domain.volume()
        self.x_scale = {}
        for s in self.independent:
            mean = self.integrate(abs(self.X[s]) * self.dx) / volume
            self.x_scale[s] = mean if mean > 0 else 1.0
        self.length = self.domain.characteristic_length()
        for k, s in enumerate(self.independent):
            self.u.x.array[self.dofs_x[k]] = self.X[s].x.array / self.x_scale[s]
        self._project_initial_potentials()
        self._start_from_current()

    def _set_initial(self, f: fem.Function, species: str) -> None:
        """The initial value of a species into ``f`` (per material for a mapping)."""
        value = self.initial[species]
        if isinstance(value, Mapping):
            assert self.law is not None
            set_per_material(f, self.law.fields, value, f"initial state of {species!r}")
        else:
            _set(f, value)

    def energy(self, X: Mapping[str, Any]) -> Any:
        """g(X) [J/mol]: the model's, plus the materials' Σ_i μ°_i(x) X_i."""
        g = self.model.energy(X, self.lattice)
        if self.law is not None and self.law.has_reference:
            g = g + self.law.reference_energy(X, self.temperature)
        return g

    def _fractions(self, Xind: Sequence[Any]) -> dict[str, Any]:
        """All n fractions from the m independent ones (as given, plain UFL)."""
        X = dict(zip(self.independent, Xind, strict=True))
        if self.lattice:
            assert self.dependent is not None
            X[self.dependent] = 1.0 - sum(Xind)
        return X

    def _local_potentials(self, Xind: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """(variables, μ̃_i = ∂g/∂X_i) for the independent species (no gradient part)."""
        Xv = [ufl.variable(x) for x in Xind]
        g = self.energy(self._fractions(Xv))
        return Xv, [ufl.diff(g, x) for x in Xv]

    def _gradient_parts(self, Xind: Sequence[Any]) -> list[Any] | None:
        """∂G/∂∇X_i for the independent species, or ``None``."""
        gv = [ufl.variable(ufl.grad(x)) for x in Xind]
        G = self.model.gradient_energy(dict(zip(self.independent, gv, strict=True)))
        return None if G is None else [ufl.diff(G, g) for g in gv]

    def _project_initial_potentials(self) -> None:
        """μ̃(t₀) from the constitutive law by (lumped) L2 projection."""
        Xind = [self.X[s] for s in self.independent]
        _, mus = self._local_potentials(Xind)
        dG = self._gradient_parts(Xind)
        mu, v = ufl.TrialFunction(self.V_mu), ufl.TestFunction(self.V_mu)
        for k in range(self.m):
            rhs = mus[k] / self.mu_scale * v * self.dx_mu
            if dG is not None:
                rhs += ufl.inner(dG[k], ufl.grad(v)) / self.mu_scale * self.dx
            problem = LinearProblem(mu * v * self.dx_mu, rhs,
                                    petsc_options_prefix=f"{self.prefix}mu0_{k}_",
                                    petsc_options=solvers.lu_options())
            self.u.x.array[self.dofs_mu[k]] = problem.solve().x.array

    def _onsager_ufl(self, Xind: Sequence[Any]) -> list[list[Any]]:
        Xv, mus = self._local_potentials(Xind)

        def hessian() -> list[list[Any]]:
            return [[ufl.diff(mu, x) for x in Xv] for mu in mus]

        if self.law is not None and self.transport is None:
            kT = gas_constant(next((t.units for t in self.model.terms if hasattr(t, "units")),
                                   "molar")) * (self.temperature or 0.0)
            return self.law.onsager(self._fractions(Xv), self.independent, self.lattice,
                                    hessian, kT, self.temperature)
        assert self.transport is not None
        return self.transport.build(self._fractions(Xv), self.independent, self.lattice,
                                    hessian)

    def _check_model(self) -> None:
        """Symmetry and positive semi-definiteness of L at every node of the initial state."""
        L = self._onsager_ufl([self.X[s] for s in self.independent])
        m, n = self.m, self._n_owned
        values = np.empty((n, m, m))
        f = fem.Function(self.V)
        for i in range(m):
            for j in range(m):
                _set(f, L[i][j])
                values[:, i, j] = f.x.array[:n]
        where = self.V.tabulate_dof_coordinates()[:n, : self.domain.gdim]
        error = None
        try:
            check_onsager(values, self.independent, where)
        except ValueError as exc:
            error = str(exc)
        errors = [e for e in self.domain.comm.allgather(error) if e]
        if errors:
            raise ValueError(errors[0])

    def _create_dirichlet_bcs(self) -> None:
        self.dirichlet: list[fem.DirichletBC] = []
        for s, lst in self.bcs.items():
            for bc in lst:
                if self.broken and isinstance(bc, FixedConcentration | FixedPotential):
                    self.dirichlet.append(self._broken_dirichlet(s, bc))
                    continue
                if isinstance(bc, FixedConcentration):
                    value = bc.value
                elif isinstance(bc, FixedPotential):
                    value = self._reservoir(s, bc)
                else:
                    continue
                k = self.independent.index(s)
                self.dirichlet.append(self._dirichlet_on(k, self.V, value, bc.boundary,
                                                         self.x_scale[s]))

    def _broken_dirichlet(self, species: str, bc: FixedConcentration | FixedPotential
                          ) -> fem.DirichletBC:
        """μ̃_i on a fixed boundary of a broken space (μ̃_i is the continuous unknown).

        FixedPotential: μ̃_i = the value. FixedConcentration: μ̃_i = ∂g_m/∂X_i at X_i = the
        value (the other fractions as at t₀) in the boundary cells, and the initial X_i
        there set to the value (see :func:`femdiff.models.material_law.start_broken_at`).
        """
        k = self.independent.index(species)
        if isinstance(bc, FixedPotential):
            return self._dirichlet_on(self.m + k, self.V_mu, bc.value, bc.boundary,
                                      self.mu_scale)
        gX = fem.Function(self.V)
        _set(gX, bc.value)
        n = self._n_owned
        lo, hi = global_min_max(self.domain.comm, gX.x.array[:n])
        if self.model.positive and not (lo > 0 and (hi < 1 or not self.lattice)):
            raise ValueError(f"FixedConcentration on {bc.boundary!r} for species "
                             f"{species!r}: the fraction must lie in (0, "
                             f"{1 if self.lattice else 'inf'}) for a model with ln X, got "
                             f"[{lo:g}, {hi:g}]")
        Xind = [gX if s == species else self.X[s] for s in self.independent]
        _, mus = self._local_potentials(Xind)
        cells = boundary_cells(self.domain, bc.boundary)
        g = broken_boundary_potential(self.V_mu, mus[k], cells)
        start_broken_at(self.domain, self.V_mu, self.V, bc.boundary, cells, gX, self.u,
                        self.dofs_x[k], self.x_scale[species])
        return self._dirichlet_on(self.m + k, self.V_mu, g, bc.boundary, self.mu_scale)

    def _reservoir(self, species: str, bc: FixedPotential) -> fem.Function:
        """X_i in equilibrium with the reservoir's μ̃_i (the other fractions as at t₀)."""
        if self._gradient_parts([self.X[s] for s in self.independent]) is not None:
            raise ValueError(
                f"FixedPotential on {bc.boundary!r} for species {species!r}: a reservoir "
                "potential needs a local free energy; with gradient energy fix X instead")

        def potential(x: Any) -> Any:
            Xind = [x if s == species else self.X[s] for s in self.independent]
            return ufl.diff(self.energy(self._fractions(Xind)), x)

        lo = 0.0 if self.model.positive else -math.inf
        hi = 1.0 if self.lattice and self.model.positive else math.inf
        return self.invert_potential(bc.value, bc.boundary, self.V, potential,
                                     self.X[species], (lo, hi))

    def _create_formulation(self) -> None:
        m = self.m
        self._create_time_constants()
        cn = self.time.scheme == "crank_nicolson"
        theta = 0.5 if cn else 1.0

        def physical(u: fem.Function) -> tuple[list[Any], list[Any]]:
            parts = ufl.split(u)
            Xs = [self.x_scale[s] * parts[k] for k, s in enumerate(self.independent)]
            return Xs, [self.mu_scale * parts[m + k] for k in range(m)]

        X, mu = physical(self.u)
        X_n, mu_n = physical(self.u_n)
        X_nn, _ = physical(self.u_nn)
        tests = [self.length ** -self.domain.tdim * w for w in ufl.TestFunctions(self.W)]
        q, v = tests[:m], tests[m:]
        if self.broken:
            # X broken: conservation tested with the continuous test functions, the
            # constitutive law with the broken ones (see femdiff.models.material_law)
            q, v = v, q
        a0, a1, a2 = self.bdf
        L = self._onsager_ufl(X)
        fluxes = [-sum(L[i][j] * ufl.grad(mu[j]) for j in range(m)) for i in range(m)]
        if cn:
            L_n = self._onsager_ufl(X_n)
            old = [-sum(L_n[i][j] * ufl.grad(mu_n[j]) for j in range(m)) for i in range(m)]
            fluxes_t = [theta * J + (1 - theta) * Jo for J, Jo in zip(fluxes, old, strict=True)]
        else:
            fluxes_t = fluxes
        _, mus = self._local_potentials(X)
        dG = self._gradient_parts(X)
        F = 0
        for i, s in enumerate(self.independent):
            Xs = self.x_scale[s]
            hist = a1 * X_n[i] + (a2 * X_nn[i] if self.time.scheme == "bdf2" else 0)
            F += (a0 * X[i] + hist) / Xs * q[i] * self.dx
            F -= self.dt / Xs * ufl.inner(fluxes_t[i], ufl.grad(q[i])) * self.dx
            for bc in self.bcs.get(s, ()):
                if isinstance(bc, Flux):
                    F += self.dt / Xs * bc.value * q[i] * self.domain.ds(bc.boundary)
            F += (mu[i] - mus[i]) / self.mu_scale * v[i] * self.dx_mu
            if dG is not None:
                F -= ufl.inner(dG[i], ufl.grad(v[i])) / self.mu_scale * self.dx
        self.residual = F
        self.flux_ufl = dict(zip(self.independent, fluxes, strict=True))
        if self.lattice:
            assert self.dependent is not None
            self.flux_ufl[self.dependent] = -sum(fluxes)
        self.onsager_ufl = L

    @property
    def bounded(self) -> bool:  # type: ignore[override]
        """Whether the model has a logarithm: Newton keeps every X_i in (0, 1).

        Not on a broken space (as :attr:`femdiff.problems.diffusion.DiffusionProblem.bounded`):
        the backtracking line search rejects steps that leave the domain of ln X.
        """
        return self.model.positive and not self.broken

    def _bounds(self, lower: np.ndarray, upper: np.ndarray) -> None:
        span = 1e-10
        for k, s in enumerate(self.independent):
            lower[self.dofs_x[k]] = span
            if self.lattice:
                upper[self.dofs_x[k]] = 1.0 / self.x_scale[s] - span

    def _admissible(self) -> bool:
        """The dependent fraction stays positive (a constraint box bounds cannot hold)."""
        if not (self.lattice and self.model.positive):
            return True
        total = sum(self.u.x.array[d] * self.x_scale[s]
                    for d, s in zip(self.dofs_x, self.independent, strict=True))
        return bool((total < 1.0).all())

    @property
    def concentration_dofs(self) -> Any:
        """Dofs of W holding the scaled independent fractions."""
        return np.concatenate([np.asarray(d) for d in self.dofs_x])

    def field_blocks(self) -> list[tuple[str, Any]]:
        """The fractions and the potentials: ``fieldsplit_x_*``, ``fieldsplit_mu_*``."""
        return [("x", np.concatenate([np.asarray(d) for d in self.dofs_x])),
                ("mu", np.concatenate([np.asarray(d) for d in self.dofs_mu]))]

    def scaled_blocks(self) -> list[tuple[str, float, Any]]:
        """X̂_i = X_i / X_s,i and μ̂_i = μ̃_i / μ_s."""
        blocks = [(f"x_scale_{k}", self.x_scale[s], self.dofs_x[k])
                  for k, s in enumerate(self.independent)]
        return blocks + [("mu_scale", self.mu_scale, np.concatenate(
            [np.asarray(d) for d in self.dofs_mu]))]

    def _state_scalars(self) -> dict[str, float]:
        return {"independent_species": float(self.m)}

    def _check_state(self, scalars: dict[str, float]) -> None:
        stored = int(scalars.get("independent_species", -1))
        if stored != self.m:
            raise ValueError(f"the stored state has {stored} independent species, this "
                             f"problem has {self.m} ({', '.join(self.independent)})")

    def concentration_ufl(self, species: str | None = None) -> fem.Function:
        """X of a species (the output Function)."""
        return self.X[self._species(species)]

    def flux_ufl_of(self, species: str | None = None) -> Any:
        """J_i of a species (UFL)."""
        return self.flux_ufl[self._species(species)]

    # -- outputs and diagnostics -------------------------------------------------------

    def _sync_outputs(self) -> None:
        total = 0.0
        for k, s in enumerate(self.independent):
            self.X[s].x.array[:] = self.u.x.array[self.dofs_x[k]] * self.x_scale[s]
            self.mu[s].x.array[:] = self.u.x.array[self.dofs_mu[k]] * self.mu_scale
            total = total + self.X[s].x.array
        if self.lattice:
            self.X[self.dependent].x.array[:] = 1.0 - total  # type: ignore[index]

    def _species(self, name: str | None) -> str:
        if name not in self.species:
            raise ValueError(f"unknown species {name!r}; species: "
                             f"{', '.join(map(repr, self.species))}")
        return name

    def free_energy(self) -> float:
        """F = ∫ g(X) + G(∇X) dx, with the materials' Σ_i μ°_i(x) X_i in g.

        [J/mol · m³]; divide by the molar volume for joules (X a mole fraction), or read
        it in J when X is a concentration in mol/m³ (solutes in a matrix).
        """
        self.initialise()
        X = self._fractions([self.X[s] for s in self.independent])
        density = self.energy(X)
        G = self._gradient_parts([self.X[s] for s in self.independent])
        if G is not None:
            density = density + self.model.gradient_energy(
                {s: ufl.grad(self.X[s]) for s in self.independent})
        return self.integrate(density * self.dx)

    def amount(self, species: str, volume: str | None = None) -> float:  # type: ignore[override]
        """∫ X_i dx of one species (over a named volume, or everywhere)."""
        return super().amount(volume, species=species)

    def conserved_fields(self) -> dict[str, ConservedField]:
        """One conserved field per independent species (its fixed-X and Flux boundaries)."""
        held_all = [(s, bc) for s, lst in self.bcs.items() for bc in lst
                    if isinstance(bc, FixedConcentration | FixedPotential)]
        fields = {}
        for k, s in enumerate(self.independent):
            held = [(bc.boundary, d) for (sp, bc), d in zip(held_all, self.dirichlet,
                                                            strict=True) if sp == s]
            fluxes = [(bc.boundary, bc.value) for bc in self.bcs.get(s, ())
                      if isinstance(bc, Flux)]
            fields[s] = ConservedField(
                # broken: the conservation law is tested with the continuous (μ̃) space
                rows=self.dofs_mu[k] if self.broken else self.dofs_x[k],
                scale=self.x_scale[s] * self.length ** self.domain.tdim,
                dirichlet=held, flux_bcs=fluxes)
        return fields

    def flux_components(self, species: str | None = None) -> list[tuple[float, str]]:
        """An independent species' own field; the dependent one: minus all the others."""
        species = self._species(species)
        if species == self.dependent:
            return [(-1.0, s) for s in self.independent]
        return [(1.0, species)]

    def flux_through(self, species: str, boundary: str) -> float:  # type: ignore[override]
        """Outward flux ∫ J_i·n ds of one species through a named boundary, last step.

        Conservative (see :meth:`femdiff.problems.base.MixedProblem.flux_through`); the
        dependent species' flux is minus the sum of the others.
        """
        return super().flux_through(boundary, species=species)

    def gradient_flux_through(self, species: str, boundary: str  # type: ignore[override]
                              ) -> float:
        """∫ J_i·n ds from the discrete fields (not conservative; for comparison)."""
        return super().gradient_flux_through(boundary, species=species)

    def flux(self, species: str, degree: int | None = None  # type: ignore[override]
             ) -> fem.Function:
        """J_i interpolated into a discontinuous vector space (degree k−1 by default).

        The same Function is returned, refreshed, on every call for a species.
        """
        return super().flux(degree, species=species)
