"""Boundary conditions shared by every mixed μ–C problem.

Each condition names a boundary (a physical-group name of the mesh); unlisted boundaries
are no-flux. In a multicomponent problem the conditions are given per species, and the
values are that species' fraction, potential or flux.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from femdiff.numerics.fem_utils import Value


@dataclass(frozen=True)
class NoFlux:
    """J·n = 0 on ``boundary`` (the default on every boundary; listing it is optional)."""

    boundary: str


@dataclass(frozen=True)
class FixedConcentration:
    """C = value on ``boundary`` (a number, or a callable ``x -> values``)."""

    boundary: str
    value: Value


@dataclass(frozen=True)
class FixedPotential:
    """μ = value on ``boundary``: a reservoir at a given chemical potential [J/mol or J].

    The concentration in equilibrium with μ is found node by node and imposed on C, so
    the constitutive law still holds at the boundary nodes (see
    :meth:`femdiff.problems.base.MixedProblem.invert_potential`).
    """

    boundary: str
    value: Value


@dataclass(frozen=True)
class Flux:
    """Prescribed outward normal flux J·n = value on ``boundary`` [C-units · m/s].

    ``value`` is a number or a UFL expression (may depend on x and on the problem's ``t``).
    """

    boundary: str
    value: Any


BoundaryCondition = NoFlux | FixedConcentration | FixedPotential | Flux
BOUNDARY_CONDITIONS = (NoFlux, FixedConcentration, FixedPotential, Flux)


def check_boundary_types(bcs: Sequence[Any], where: str = "") -> None:
    """Raise TypeError for a boundary condition of an unknown type."""
    for bc in bcs:
        if not isinstance(bc, BOUNDARY_CONDITIONS):
            raise TypeError(f"unknown boundary condition {bc!r}{where}")
