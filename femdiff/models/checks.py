"""Checks of a model on the data it is given: warnings a user should read before a run."""

from __future__ import annotations

import logging
from typing import Any

import ufl
from dolfinx import fem

from femdiff.models.thermodynamics import ChemicalPotential
from femdiff.numerics.fem_utils import global_min_max, interpolate_into

log = logging.getLogger(__name__)

__all__ = ["warn_if_ill_posed"]


def warn_if_ill_posed(potential: ChemicalPotential, C: fem.Function, n_owned: int,
                      comm: Any) -> None:
    """Warn when κ = 0 and the initial data reach a spinodal region (∂²f/∂C² < 0).

    Without gradient energy the backward-diffusion problem there is ill-posed: every
    wavelength grows, fastest the shortest the mesh can hold. femdiff still solves it
    (the mesh acts as the regulariser), so such results are mesh-dependent.
    """
    regularised = False
    for t in potential.terms:
        if isinstance(getattr(t, "kappa", None), int | float):
            regularised |= t.kappa > 0
        elif hasattr(t, "gradient_energy"):
            regularised |= t.gradient_energy(ufl.grad(C)) is not None
    if regularised:
        return
    cv = ufl.variable(C)
    curvature = ufl.diff(potential.dfdc(cv), cv)
    if isinstance(curvature, ufl.constantvalue.Zero):
        return
    f2 = fem.Function(C.function_space)
    # interpolate_into: a quadratic f with plain-number coefficients has a constant
    # curvature without a mesh, which fem.Expression rejects
    interpolate_into(f2, curvature)
    lo, _ = global_min_max(comm, f2.x.array[:n_owned])
    if lo < 0:
        log.warning(
            "the initial concentration lies partly inside a spinodal region "
            "(d2f/dC2 = %.3g < 0) and there is no gradient energy (kappa = 0): the "
            "problem is ill-posed there and the results are mesh-dependent (the "
            "fastest-growing wavelength is the mesh size). Add GradientEnergy(kappa > 0) "
            "for phase separation.", lo)
