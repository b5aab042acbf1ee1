"""Components: fields with their own terms, composed into any mixed problem.

A problem (:class:`~femdiff.problems.base.MixedProblem` and its species problems) owns the
species' fields and terms. A component adds one more field and the terms that belong to
it, e.g. the displacement and the equilibrium of :class:`femdiff.problems.coupled.MechanicsField`,
so that any problem can carry it: a trapping problem gains two-way mechanics without a
new class. ``problem.attach(component)`` composes it before the problem is initialised;
the problem then calls the hooks below at the matching steps of its pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the problem imports this module; the hooks only receive it
    from femdiff.problems.base import MixedProblem

__all__ = ["Component", "composed_blocks", "composed_elements"]


class Component:
    """A field and its terms, composed into a mixed problem by ``problem.attach``.

    Hooks, in the order the problem calls them (each gets the problem):

    * :meth:`check`: refuse a combination this component cannot pose (one line naming
      both parts), when attached;
    * :meth:`elements`: the sub-elements it adds to the mixed space; :meth:`bind`: their
      index in W once W exists;
    * :meth:`initial_state`: after the problem's initial state (may change it);
    * :meth:`dirichlet_bcs`, :meth:`residual`: its Dirichlet conditions and the terms it
      adds to the residual;
    * :meth:`solver_created`: after the solver exists (e.g. a near-nullspace);
    * :meth:`blocks`, :meth:`scaled_blocks`: its fieldsplit blocks and unknown scales;
    * :meth:`sync`: refresh its output Functions from the state;
    * :meth:`free_energy`: its energy [J] and the problem's potential without the terms
      whose energy it owns.
    """

    def check(self, problem: MixedProblem) -> None:
        """Raise ValueError if this component cannot be composed with ``problem``."""

    def elements(self, problem: MixedProblem) -> list[Any]:
        """Basix elements appended to the problem's mixed element."""
        return []

    def bind(self, problem: MixedProblem, index: int) -> None:
        """W exists: the first of this component's sub-spaces is ``W.sub(index)``."""

    def initial_state(self, problem: MixedProblem) -> None:
        """Set this component's part of the initial state."""

    def dirichlet_bcs(self, problem: MixedProblem) -> list[Any]:
        """Dirichlet conditions on this component's sub-spaces."""
        return []

    def residual(self, problem: MixedProblem) -> Any:
        """Terms added to the problem's residual (a UFL form)."""
        raise NotImplementedError

    def solver_created(self, problem: MixedProblem) -> None:
        """The problem's SNES exists."""

    def blocks(self, problem: MixedProblem) -> list[tuple[str, Any]]:
        """``[(name, dofs of W)]`` of this component's fieldsplit blocks."""
        return []

    def scaled_blocks(self, problem: MixedProblem) -> list[tuple[str, float, Any]]:
        """``[(key, scale, dofs of W)]``: the scales of this component's unknowns."""
        return []

    def sync(self, problem: MixedProblem) -> None:
        """Refresh this component's output Functions from the problem's state."""

    def free_energy(self, problem: MixedProblem, potential: Any) -> tuple[Any, float]:
        """(the potential without the terms whose energy this component owns, its energy)."""
        return potential, 0.0


def composed_elements(problem: MixedProblem, elements: list[Any]
                      ) -> tuple[list[Any], list[int]]:
    """(the problem's own sub-elements then its components', each component's first index)."""
    out = list(elements)
    offsets = []
    for c in problem.components:
        offsets.append(len(out))
        out += c.elements(problem)
    return out, offsets


def composed_blocks(problem: MixedProblem, blocks: list[tuple[str, Any]]
                    ) -> list[tuple[str, Any]]:
    """The fieldsplit blocks of W.

    Without components: the problem's own. With them: theirs first, then the problem's own
    fields as one block named ``diffusion``.
    """
    if not problem.components:
        return blocks
    own = np.concatenate([np.asarray(d).ravel() for _, d in blocks])
    return [b for c in problem.components for b in c.blocks(problem)] + [("diffusion", own)]
