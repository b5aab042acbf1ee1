"""Default PETSc option sets, merged with the user's options.

All problems take a ``petsc_options`` dict; the user's keys win over the defaults here.
Direct solves pick MUMPS, else SuperLU_DIST, else PETSc's own LU (serial only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from petsc4py import PETSc


def direct_solver_package() -> str:
    """Return the best available parallel LU package."""
    for pkg in ("mumps", "superlu_dist"):
        if PETSc.Sys.hasExternalPackage(pkg):
            return pkg
    return "petsc"


def lu_options() -> dict[str, Any]:
    """KSP options for a direct LU solve."""
    return {"ksp_type": "preonly", "pc_type": "lu",
            "pc_factor_mat_solver_type": direct_solver_package()}


def elasticity_options() -> dict[str, Any]:
    """CG + GAMG; the caller attaches the rigid-body near-nullspace."""
    return {
        "ksp_type": "cg",
        "ksp_rtol": 1.0e-10,
        "ksp_atol": 1.0e-14,
        "ksp_max_it": 1000,
        "pc_type": "gamg",
        "pc_gamg_type": "agg",
        "pc_gamg_coarse_eq_limit": 1000,
        "mg_levels_ksp_type": "chebyshev",
        "mg_levels_pc_type": "jacobi",
        "ksp_error_if_not_converged": True,
    }


def newton_options() -> dict[str, Any]:
    """Newton with a direct inner solve: the robust default for small/medium problems."""
    return {
        "snes_type": "newtonls",
        "snes_linesearch_type": "bt",
        "snes_rtol": 1.0e-10,
        "snes_atol": 1.0e-12,
        "snes_stol": 0.0,
        "snes_max_it": 25,
        **lu_options(),
    }


def merge(defaults: Mapping[str, Any], user: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``defaults`` updated with ``user`` (user keys win)."""
    opts = dict(defaults)
    if user:
        opts.update(user)
    return opts


def set_options(prefix: str, options: Mapping[str, Any]) -> None:
    """Write ``options`` into the global PETSc database under ``prefix``."""
    db = PETSc.Options()
    for key, value in options.items():
        if value is None:
            db[f"{prefix}{key}"] = ""
        elif isinstance(value, bool):
            db[f"{prefix}{key}"] = "true" if value else "false"
        else:
            db[f"{prefix}{key}"] = value


_counter: dict[str, int] = {}


def unique_prefix(stem: str) -> str:
    """Return ``stem_N_``: every problem gets its own options prefix."""
    n = _counter.get(stem, 0)
    _counter[stem] = n + 1
    return f"{stem}_{n}_"
