"""The numerics of a problem in one object, apart from its physics.

A problem's constructor takes nouns (the domain, the model, the conditions, the time
control); how they are discretised and solved is a :class:`Settings`. Every field has a
default that works for physical magnitudes from 1 to 1e30, so most users never build one;
``femdiff info CASE`` prints the settings a case runs with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from femdiff.numerics.solvers import check_solver_choice

__all__ = ["FORMULATIONS", "Settings"]

#: how the μ–C system is posed: ``"auto"`` picks the activity formulation for dilute models
FORMULATIONS = ("auto", "mixed", "activity")


@dataclass(frozen=True)
class Settings:
    """Discretisation and solver settings of a diffusion problem.

    Attributes:
        degree: Lagrange degree of C and μ (1 or 2).
        lumped: vertex quadrature of the storage terms (P1 only): a discrete maximum
            principle, and local trap equations.
        energy_stable: convex–concave splitting of the free energy (Cahn–Hilliard with
            backward Euler): the discrete free energy never increases.
        fitted_mobility: the exponentially fitted (Scharfetter–Gummel) flux of dilute
            models: fluxes accurate on coarse meshes.
        formulation: one of :data:`FORMULATIONS`.
        broken: C in a discontinuous space (jumps at material interfaces); ``None``: broken
            when two or more materials are given.
        concentration_scale: the scale of the C unknowns [concentration unit]; ``None``:
            the mean of the initial concentration.
        solver: one of :data:`~femdiff.numerics.solvers.SOLVER_CHOICES`: ``"auto"`` (LU
            for small problems, the iterative split for large ones), ``"lu"``,
            ``"iterative"`` (see :meth:`~femdiff.problems.base.MixedProblem.linear_solver`).
            ``"auto"`` is MUMPS LU except for lumped P1 in 3D from
            :data:`femdiff.numerics.solvers.ITERATIVE_MIN_DOFS_3D` dofs on: a Schur
            fieldsplit with GAMG on the Schur complement (the activity formulation: CG +
            GAMG); a ``femdiff_split`` option chooses its blocks. The iterative split runs
            plain Newton: Newton's variable bounds (0 < C, 0 ≤ C_T ≤ N_T) are not
            enforced, a non-finite state is retried with a smaller Δt, and BDF2 may
            overshoot N_T slightly where LU's bounded Newton clips it.
        petsc_options: PETSc options over femdiff's defaults (``femdiff info`` shows both).
    """

    degree: int = 1
    lumped: bool = True
    energy_stable: bool = False
    fitted_mobility: bool = True
    formulation: str = "auto"
    broken: bool | None = None
    concentration_scale: float | None = None
    solver: str = "auto"
    petsc_options: Mapping[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {self.degree!r}")
        if self.formulation not in FORMULATIONS:
            raise ValueError(f"formulation must be one of {', '.join(map(repr, FORMULATIONS))}"
                             f", got {self.formulation!r}")
        check_solver_choice(self.solver)
        if self.concentration_scale is not None and not self.concentration_scale > 0:
            raise ValueError(f"concentration_scale must be positive, got "
                             f"{self.concentration_scale!r}")

    @classmethod
    def resolve(cls, settings: Settings | None, **given: Any) -> Settings:
        """The settings of a constructor that also takes them one by one (older API).

        Raises:
            ValueError: ``settings`` and a keyword that differs from its default.
        """
        if settings is None:
            return cls(**given)
        defaults = cls()
        clash = [k for k, v in given.items() if v != getattr(defaults, k)]
        if clash:
            raise ValueError(f"give the numerics once: {', '.join(clash)} beside settings=; "
                             "put them in the Settings")
        return settings

    def describe(self) -> list[str]:
        """``name = value`` lines (``femdiff info``)."""
        return [f"{f.name} = {getattr(self, f.name)!r}" for f in dataclasses.fields(self)]
