"""Diffusion in several materials and in a temperature field: the per-material law.

:class:`DiffusionLaw` turns :class:`~femdiff.models.materials.Material` parameters and a
temperature T (number, ``fem.Constant`` or field) into the pieces that
:class:`~femdiff.problems.diffusion.DiffusionProblem` puts into its mixed μ–C form:

- the reference potential of each material, μ°_m(T) = −R T ln S_m(T) from a solubility
  S_m = S₀ exp(−E_S/RT) (so μ°_m = −R T ln S₀ + E_S), or a given μ°_m; with an ideal
  term the law is μ = R T ln(C/S_m(T)), so C/S_m is continuous wherever μ is;
- the mobility M = D_m(T) C / (R T) (Einstein relation with D_m = D₀ exp(−E_D/RT)), or
  M = M₀_m C from a material's ``M``;
- the heat of transport Q*_m of the Soret flux (one number, or one per material);
- the stress interaction −Ω_m σ_h with each material's partial molar volume Ω_m
  (:meth:`DiffusionLaw.stress_potential`, the ``sigma_h=`` of the problem): μ gains
  −Ω(x) σ_h, so at an interface under a hydrostatic stress σ_h the partition is
  C_A/C_B = (S_A/S_B) exp((Ω_A − Ω_B) σ_h/(R T)) (μ continuous).

Interfaces: μ continuous, C discontinuous
-----------------------------------------
μ is the one continuous (P_k Lagrange) unknown. Where two materials meet, C is allowed
to jump: it lives in the *broken* space DG_k (discontinuous Lagrange, the same nodes as
P_k, but a separate value per cell). The equations swap their test spaces:

    conservation, tested with v ∈ P_k:   ∫ ∂C/∂t v + M(C) (∇μ + …)·∇v dx + ∫_Γ j_n v ds = 0
    constitutive law, tested with w ∈ DG_k:   ∫ (μ − μ_m(C, T)) w dx_vertex = 0

With the vertex quadrature (P1, ``lumped=True``) the constitutive law holds node by node
*per cell*: C_{K,i} = μ_m⁻¹(μ_i) with m the material of cell K. At an interface node the
two cells carry the two materials' concentrations of one μ_i: the partition condition
C_A/C_B = S_A/S_B (ideal law) holds nodally, with no interface term, no Nitsche penalty,
no extra unknown. Mass: v = 1 is in P_k, so ∫ C dx changes only by boundary fluxes
(exactly, to round-off).

Within one material the DG_k values of neighbouring cells at a node coincide (one μ_i,
one law), so the broken C equals the P_k C of the single-material problem: the rows
"μ_i = f′(C_i)" are the same equations. ``DiffusionProblem`` therefore keeps the P_k
C space unless the materials differ (``broken=None``: broken for two or more materials),
and the single-material forms are unchanged.

The same representation serves :class:`~femdiff.problems.multicomponent.MulticomponentProblem`
(one broken X_i and one continuous μ̃_i per independent species): the per-material
initial data, the fixed-C conditions through μ and the initial boundary values are the
functions at the end of this module (:func:`set_per_material`,
:func:`broken_boundary_potential`, :func:`start_broken_at`), and the per-species laws are
:class:`DiffusionLaw` s on single-species views of the materials.

Practicalities of the broken space: an initial C given as a callable of x gives an
interface node one side's value in both cells (an O(h) mass error); give the initial C
per material instead (``initial={"coating": ..., "steel": ...}``). Newton is the plain
line-search Newton, not the bound-constrained one: the C dofs carry the constitutive
rows, and a C projected onto the bound C = 0 would make the cell's mobility M ∝ C vanish
(a spurious, blocking solution of the variational inequality); the backtracking line
search rejects steps that leave the domain of ln C instead (the residual is NaN there).

A gradient-energy term needs C ∈ H¹; a broken C has no such gradient across an
interface, so gradient energy on a broken space is rejected (it is allowed on a
single-material mesh, where C stays P_k). Fixed-C boundaries on a broken space are
imposed as μ = μ_m(C_b) (μ is the continuous unknown; the law then gives C = C_b at the
boundary nodes); at a node where a fixed-C boundary meets an interface the value is that
of one of the adjacent materials.

Soret flux and the isothermal gradient
--------------------------------------
With T a field the flux is

    J = −M (∇_T μ + Q* ∇T / T),   ∇_T μ = ∇μ − (∂μ/∂T)|_C ∇T,

where ∇_T μ is the *isothermal* gradient of μ (de Groot & Mazur, Non-equilibrium
thermodynamics, ch. XI; Shewmon, Diffusion in Solids, §7). This is the form whose
entropy production is σ = −J′_q·∇T/T² − J·∇_T μ/T with the reduced heat flux J′_q and
the Onsager coefficients (L, L Q*): the heat of transport Q* multiplies ∇T, and the part
of ∇μ that comes only from T changing (−s̄ ∇T, the partial molar entropy) is not a
driving force. (∂μ/∂T)|_C is obtained by UFL differentiation of the same μ(C, T) used in
the constitutive law, so the pair stays consistent for any term. For the ideal law with
M = D C/(R T):

    J = −D ∇C − D C Q* ∇T / (R T²),

Fick plus the thermomigration drift of Shewmon, Oriani and FESTIM (``soret=True``), and
zero flux means C ∝ exp(Q*/(R T)). Without Q* a temperature gradient alone moves no
solute within one material (J = −D∇C); across an interface μ is still continuous at the
local T (local equilibrium), with C_A/C_B = S_A(T)/S_B(T).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import ufl
from dolfinx import fem

from femdiff.geometry.mesh import Domain
from femdiff.models.materials import Material, MaterialFields, assign, check_activation_energy
from femdiff.models.thermodynamics import R_GAS, is_number
from femdiff.numerics.fem_utils import interpolate_into


def is_field(T: Any) -> bool:
    """Whether T varies in space (a Function or a UFL expression of x; not a Constant)."""
    if T is None or is_number(T) or isinstance(T, fem.Constant):
        return False
    return isinstance(T, ufl.core.expr.Expr)


def check_temperature_value(T: Any) -> None:
    """Raise ValueError for a temperature that is neither a positive number nor a field."""
    if T is None:
        return
    if is_number(T):
        if not math.isfinite(T) or T <= 0:
            raise ValueError(f"temperature must be positive [K], got {T!r}")
        return
    if isinstance(T, fem.Constant):
        value = float(T.value)
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"temperature must be positive [K], got Constant {value!r}")
        return
    if not isinstance(T, ufl.core.expr.Expr):
        raise TypeError(f"temperature must be a number, a fem.Constant, a fem.Function or a "
                        f"UFL expression [K], got {type(T).__name__}")


class DiffusionLaw:
    """The per-material constitutive pieces of one diffusing species.

    Args:
        domain: the mesh with named volumes.
        materials: the materials (assigned here) or an assignment from
            :func:`femdiff.models.materials.assign`.
        heat_of_transport: Q* [J/mol]: a number (every material) or a mapping material
            name → number (missing names: 0); None for no Soret term.

    Raises:
        ValueError: for a bad assignment (see :func:`~femdiff.models.materials.assign`), a
            material setting only one of S0/mu0 where others set it, an implausible Q*
            (100 ≤ |Q*| ≤ 10⁶ J/mol or 0, as activation energies), or a Q* of an unknown
            material.
    """

    def __init__(self, domain: Domain, materials: Sequence[Material] | MaterialFields,
                 heat_of_transport: float | Mapping[str, float] | None = None) -> None:
        if isinstance(materials, MaterialFields):
            self.fields = materials
        else:
            self.fields = assign(domain, list(materials))
        self.materials = self.fields.materials
        names = [m.name for m in self.materials]
        with_ref = [m.name for m in self.materials if m.S0 is not None or m.mu0 is not None]
        if with_ref and len(with_ref) != len(names):
            without = [n for n in names if n not in with_ref]
            raise ValueError(f"material(s) {', '.join(repr(n) for n in without)} set no "
                             "solubility S0 (or mu0) while others do; give every material "
                             "one, or none")
        self.has_reference = bool(with_ref)
        with_mob = [m.name for m in self.materials if m.D0 is not None or m.M is not None]
        self.has_mobility = len(with_mob) == len(names)
        if with_mob and not self.has_mobility:
            without = [n for n in names if n not in with_mob]
            raise ValueError(f"material(s) {', '.join(repr(n) for n in without)} set no "
                             "diffusivity D0 (or mobility M) while others do")
        self.heat: dict[str, float] = {}
        if heat_of_transport is not None:
            if isinstance(heat_of_transport, Mapping):
                unknown = sorted(set(heat_of_transport) - set(names))
                if unknown:
                    raise ValueError(f"heat_of_transport for unknown material(s) "
                                     f"{', '.join(repr(n) for n in unknown)}; materials: "
                                     f"{', '.join(repr(n) for n in names)}")
                self.heat = {n: heat_of_transport.get(n, 0.0) for n in names}
            else:
                self.heat = dict.fromkeys(names, heat_of_transport)
            for n, q in self.heat.items():
                check_activation_energy(f"heat of transport Q* of {n!r}", q)

    @property
    def needs_temperature(self) -> bool:
        """Whether any law here depends on T (solubility, D(T), Q*)."""
        return self.has_reference or self.has_mobility or bool(self.heat)

    def distinct(self) -> bool:
        """Whether C can jump between materials (more than one material)."""
        return len(self.materials) > 1

    def _sum(self, values: Mapping[str, Any]) -> Any:
        chi = self.fields.indicators
        return sum(chi[m.name] * values[m.name] for m in self.materials)

    def reference_potential(self, T: Any) -> Any:
        """μ°(x, T) = Σ_m χ_m μ°_m(T) [J/mol]; 0 when no material sets S0 or mu0."""
        if not self.has_reference:
            return 0.0
        x = ufl.SpatialCoordinate(self.fields.domain.mesh)
        values = {}
        for m in self.materials:
            if m.mu0 is not None:
                values[m.name] = m.parameter("mu0", T, x)
                continue
            S0 = m.parameter("S0", T, x)
            lnS0 = math.log(S0) if is_number(S0) else ufl.ln(S0)
            values[m.name] = -R_GAS * T * lnS0 + (m.E_S or 0.0)
        return self._sum(values)

    def solubility(self, T: Any) -> Any:
        """S(x, T) = Σ_m χ_m S_m(T) (for materials with S0)."""
        x = ufl.SpatialCoordinate(self.fields.domain.mesh)
        return self._sum({m.name: m.parameter("S", T, x) for m in self.materials})

    def mobility(self, C: Any, T: Any) -> Any:
        """M(C, x, T) = Σ_m χ_m D_m(T) C/(R T) (or M₀_m C)."""
        x = ufl.SpatialCoordinate(self.fields.domain.mesh)
        values = {}
        for m in self.materials:
            if m.D0 is not None:
                values[m.name] = m.parameter("D", T, x) / (R_GAS * T)
            else:
                values[m.name] = m.parameter("M", T, x)
        return self._sum(values) * C

    def diffusivity(self, T: Any) -> Any:
        """D(x, T) = Σ_m χ_m D_m(T) (materials with D0)."""
        x = ufl.SpatialCoordinate(self.fields.domain.mesh)
        return self._sum({m.name: m.parameter("D", T, x) for m in self.materials})

    def stress_potential(self, sigma_h: Any) -> Any:
        """V_int(x) = −Ω(x) σ_h [J/mol] with Ω(x) = Σ_m χ_m Ω_m the materials' Ω.

        Raises:
            ValueError: naming the materials that set no Omega.
        """
        missing = self.fields.missing("Omega")
        if missing:
            raise ValueError(f"sigma_h needs the partial molar volume Omega of every "
                             f"material; not set by {', '.join(repr(n) for n in missing)}")
        return -self.fields.get("Omega") * sigma_h

    def heat_of_transport(self) -> Any:
        """Q*(x) = Σ_m χ_m Q*_m [J/mol], or None without a Soret term."""
        if not self.heat or not any(self.heat.values()):
            return None
        return self._sum(self.heat)


# -- the broken-C machinery shared by DiffusionProblem and MulticomponentProblem --------


def set_per_material(f: fem.Function, fields: MaterialFields, values: Mapping[str, Any],
                     what: str = "initial") -> None:
    """Fill ``f`` material by material: ``values[name]`` on that material's cells.

    On a broken (DG) space an interface node then carries each side's own value (a
    callable of x alone cannot tell the two sides apart there).

    Raises:
        ValueError: unless ``values`` names exactly the materials.
    """
    names = [m.name for m in fields.materials]
    if set(values) != set(names):
        raise ValueError(f"{what} per material must name exactly the materials "
                         f"{', '.join(repr(n) for n in names)}; got "
                         f"{', '.join(repr(n) for n in values)}")
    V = f.function_space
    for m in fields.materials:
        cells = np.concatenate([fields.domain.cells(r) for r in m.regions]).astype(np.int32)
        tmp = fem.Function(V)
        interpolate_into(tmp, values[m.name])
        dofs = np.unique(V.dofmap.list[cells].ravel())
        f.x.array[dofs] = tmp.x.array[dofs]
    f.x.scatter_forward()


def boundary_cells(domain: Domain, boundary: str) -> np.ndarray:
    """The cells (local indices) with a facet on the named boundary."""
    from dolfinx import mesh as dmesh

    msh, tdim = domain.mesh, domain.tdim
    msh.topology.create_connectivity(tdim - 1, tdim)
    cells = dmesh.compute_incident_entities(msh.topology, domain.facets(boundary),
                                            tdim - 1, tdim)
    return np.asarray(cells, dtype=np.int32)


def broken_boundary_potential(V_mu: fem.FunctionSpace, mu_expr: Any, cells: np.ndarray
                              ) -> fem.Function:
    """μ = μ_m(C_b) in the continuous μ space, evaluated in the given boundary cells.

    On a broken C space a fixed-C boundary is imposed through μ (the continuous unknown):
    the constitutive law then gives C = C_b at the boundary nodes. At a node shared with
    an interface the value is that of one of the adjacent materials.
    """
    g = fem.Function(V_mu)
    g.interpolate(fem.Expression(mu_expr, V_mu.element.interpolation_points), cells0=cells)
    g.x.scatter_forward()
    return g


def start_broken_at(domain: Domain, V_mu: fem.FunctionSpace, V_c: fem.FunctionSpace,
                    boundary: str, cells: np.ndarray, value: fem.Function,
                    u: fem.Function, dofs_c: Any, scale: float) -> None:
    """Set the initial broken C (dofs ``dofs_c`` of ``u``) to ``value``/scale on a boundary.

    The P_k problem imposes C_b on the initial state too (the Dirichlet set); here C
    follows from μ only after the first step, and the old value C_n at those nodes would
    enter the consistent mass of the neighbouring rows as an O(h) spurious source. DG_k
    and P_k share their nodes cell by cell, so the broken dofs at the boundary nodes are
    found through the P_k dofs of the same local index. ``value`` lives in V_c.
    """
    imap = V_mu.dofmap.index_map
    on = np.zeros(imap.size_local + imap.num_ghosts, dtype=bool)
    on[fem.locate_dofs_topological(V_mu, domain.tdim - 1, domain.facets(boundary))] = True
    rows = np.asarray(dofs_c).ravel()
    for cell in cells:
        local = on[V_mu.dofmap.cell_dofs(cell)]
        dofs = V_c.dofmap.cell_dofs(cell)[local]
        u.x.array[rows[dofs]] = value.x.array[dofs] / scale
    u.x.scatter_forward()
