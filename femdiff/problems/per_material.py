"""Materials and temperature in :class:`~femdiff.problems.diffusion.DiffusionProblem` (a mixin).

The per-material laws (μ°_m(T), D_m(T)), the temperature field of the potential's terms,
the Soret drive and the fixed-C conditions of a broken (discontinuous) C space; the
representation is explained in :mod:`femdiff.models.material_law`.

Materials and temperature. ``materials=`` assigns :class:`~femdiff.models.materials.Material`
parameters to named volumes (solubility S(T) or μ°, diffusivity D(T)), ``temperature=``
makes T a number, a Constant or a field (R T(x) ln C, Arrhenius laws of T(x)), and
``heat_of_transport=`` adds the Soret flux. With two or more materials μ stays the one
continuous unknown and C moves to a broken (discontinuous) space, so that C jumps at an
interface by the partition ratio; see :mod:`femdiff.models.material_law` for the
representation, the swapped test spaces and the thermodynamically consistent
non-isothermal flux J = −M(∇μ − (∂μ/∂T)|_C ∇T + Q* ∇T/T).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import ufl
from dolfinx import fem

from femdiff.models.material_law import (
    boundary_cells,
    broken_boundary_potential,
    is_field,
    start_broken_at,
)
from femdiff.models.thermodynamics import (
    ChemicalPotential,
    Interaction,
    StressCoupling,
    gas_constant,
    is_number,
)
from femdiff.physics.boundary import (
    FixedConcentration,
)
from femdiff.problems.base import (
    global_min_max,
    interpolate_into,
)

log = logging.getLogger(__name__)


class MaterialsMixin:
    """Materials and temperature for DiffusionProblem (which holds the state they use)."""

    # -- temperature and materials -------------------------------------------------------

    @staticmethod
    def _resolve_temperature(potential: ChemicalPotential, temperature: Any) -> Any:
        """The problem's T: ``temperature``, else the T of the potential's terms (or None)."""
        if temperature is not None:
            return temperature
        for t in potential.terms:
            if getattr(t, "T", None) is not None:
                return t.T
        return None

    @staticmethod
    def _with_temperature(potential: ChemicalPotential, T: Any) -> ChemicalPotential:
        """The potential with every term's T replaced by ``T`` (unchanged for None)."""
        if T is None:
            return potential
        terms = [dataclasses.replace(t, T=T) if dataclasses.is_dataclass(t)
                 and not isinstance(t, type) and hasattr(t, "T") else t
                 for t in potential.terms]
        return dataclasses.replace(potential, terms=terms)

    def _with_material_stress(self, potential: ChemicalPotential, sigma_h: Any
                              ) -> ChemicalPotential:
        """The potential plus V_int = −Ω_m σ_h per material (``sigma_h=``), if given.

        It enters as an :class:`~femdiff.models.thermodynamics.Interaction` term, so the free
        energy, μ and every formulation see it like a StressCoupling term.
        """
        if sigma_h is None:
            return potential
        if self.law is None:
            raise ValueError("sigma_h= applies the materials' Omega: it needs materials= "
                             "(one Omega for the whole mesh: a StressCoupling term)")
        if any(isinstance(t, StressCoupling) for t in potential.terms):
            raise ValueError("Omega is given twice: a StressCoupling term and sigma_h= with "
                             "the materials' Omega; give one of them")
        V = self.law.stress_potential(sigma_h)
        return dataclasses.replace(potential, terms=[*potential.terms, Interaction(V)])

    def chemical_potential_law(self, C: Any, T: Any = None) -> Any:
        """μ(C, x, T) [J/mol]: ∂f/∂C of the terms plus the materials' μ°_m(T).

        ``T`` (default: the problem's temperature) may be a ``ufl.variable`` to
        differentiate with respect to it.
        """
        T = self.temperature_field if T is None else T
        potential = self.potential
        if T is not self.temperature_field:
            potential = self._with_temperature(potential, T)
        mu = potential.dfdc(C)
        if self.law is not None and self.law.has_reference:
            mu = mu + self.law.reference_potential(T)
        return mu

    def mobility_of(self, C: Any) -> Any:
        """M(C) (the given Mobility, or the materials' D_m(T) C/(R T))."""
        if self.mobility is not None:
            return self.mobility(C)
        assert self.law is not None
        return self.law.mobility(C, self.temperature_field)

    def _thermal_drive(self, C: Any) -> Any:
        """(Q* − T ∂μ/∂T|_C) ∇T / T, the non-isothermal part of the driving force, or None.

        None when T is uniform (a number or Constant): ∇T = 0.
        """
        T = self.temperature_field
        if not is_field(T):
            return None
        Tv = ufl.variable(T)
        dmudT = ufl.diff(self.chemical_potential_law(C, Tv), Tv)
        Q = None if self.law is None else self.law.heat_of_transport()
        coef = -T * dmudT if Q is None else Q - T * dmudT
        return coef * ufl.grad(T) / T

    def _check_temperature_field(self) -> None:
        """Reject a temperature field that is not positive at some node."""
        T = self.temperature_field
        if not is_field(T):
            return
        V = self.V_mu
        f = fem.Function(V)
        interpolate_into(f, T)
        n = V.dofmap.index_map.size_local
        lo, _ = global_min_max(self.domain.comm, f.x.array[:n])
        if not lo > 0:
            raise ValueError(f"temperature must be positive [K] everywhere; its minimum on "
                             f"the mesh is {lo:g}")
        self._T_mean = self.integrate(T * ufl.dx(domain=self.domain.mesh)) \
            / self.domain.volume()

    def _energy_scale(self) -> float:
        """μ_s: the potential's energy scale, or R T̄ with the problem's temperature."""
        if self.potential.energy_scale is not None:
            return float(self.potential.energy_scale)
        T = self.temperature_field
        if T is None or (not self._temperature_given and is_number(T)):
            return float(self.potential.scale)
        units = next((t.units for t in self.potential.terms if hasattr(t, "units")), "molar")
        if is_number(T):
            Tbar = float(T)
        elif isinstance(T, fem.Constant):
            Tbar = float(T.value)
        else:
            Tbar = self._T_mean
        return gas_constant(units) * Tbar  # type: ignore[arg-type]

    def _broken_dirichlet(self, bc: FixedConcentration) -> fem.DirichletBC:
        """μ = μ_m(C_b) on a fixed-C boundary (broken C): the law gives C = C_b there.

        See :func:`femdiff.models.material_law.broken_boundary_potential`.
        """
        gC = fem.Function(self.V_mu)
        interpolate_into(gC, bc.value)
        n = self.V_mu.dofmap.index_map.size_local
        lo, _ = global_min_max(self.domain.comm, gC.x.array[:n])
        dom_lo, _ = self.potential.domain
        if not lo > dom_lo:
            raise ValueError(f"FixedConcentration on {bc.boundary!r}: C must lie above "
                             f"{dom_lo:g} for this chemical potential, got min {lo:g}")
        cells = boundary_cells(self.domain, bc.boundary)
        g = broken_boundary_potential(self.V_mu, self.chemical_potential_law(gC), cells)
        value = fem.Function(self.V_c)
        interpolate_into(value, bc.value)
        start_broken_at(self.domain, self.V_mu, self.V_c, bc.boundary, cells, value,
                        self.u, self.dofs_c, self.c_scale)
        return self._dirichlet_on(1, self.V_mu, g, bc.boundary, self.mu_scale)

    def _material_fitted_flux(self, C: Any, drive: Any) -> Any:
        """M(C)∇μ exponentially fitted with materials (lumped P1): M₀_m kT ∇C_h, or None.

        For a dilute model (:meth:`_fitted_concentration`: one Ideal term plus terms
        linear in C) whose reference μ*(x) = μ°_m(T) + the linear terms is constant in
        each cell (uniform T, parameters not functions of x, no σ_h field), the law
        C = C_ref e^{(μ − μ*_m)/kT} makes M(C(μ))∇μ = M₀_m kT ∇C(μ) in every cell, with
        M = M₀_m C. The single-material fitting evaluates C(μ_h) at quadrature points;
        here each cell takes the gradient of its P1 interpolant instead, whose nodal values
        are the broken C_h (the lumped law holds node by node per cell), so the cell flux
        is exactly M₀_m kT ΔC/h in 1D however far C(μ) is from linear across the cell (a
        coating's downstream cells, C → 0), and the Jacobian's flux block is constant
        (edge-averaged finite elements with a cell-wise constant potential: Xu &
        Zikatanov, Math. Comp. 68 (1999) 1429). Partition equilibria stay nodally exact
        (μ uniform: C_h uniform per material, zero flux). Without a mesh-dependent T,
        Soret, σ_h or non-dilute terms: None (the general M(C_h)∇μ_h).
        """
        if (self.law is None or not self.fitted_mobility or not self.lumped
                or self.degree != 1 or drive is not None or self.mobility is not None
                or is_field(self.temperature_field) or self._fitted_concentration() is None):
            return None
        _, mu_star, kT = self._dilute_parts
        reference = self.law.reference_potential(self.temperature_field)
        M0 = self.mobility_of(1.0)
        for expr in (mu_star, reference, M0, kT):
            if not isinstance(expr, ufl.core.expr.Expr):
                continue
            if ufl.algorithms.extract_type(expr, ufl.classes.SpatialCoordinate) or any(
                    isinstance(c, fem.Function) and c.ufl_element().embedded_superdegree > 0
                    for c in ufl.algorithms.extract_coefficients(expr)):
                return None  # μ* varies inside a cell: a drift the fitting omits
        return M0 * kT * ufl.grad(C)
