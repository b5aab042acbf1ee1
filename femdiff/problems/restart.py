"""The restart state of a mixed problem: what a checkpoint stores and puts back.

Arrays: u, uⁿ, uⁿ⁻¹ (scaled unknowns) and, for adaptive runs, the extrapolation history;
scalars: t, the next requested and the previous Δt, the previous error (−1 stands for
"none"), the scale of every block of u (the problem's and its components'), and what a
subclass adds (``_state_scalars``, checked back by ``_check_state``). Used by
:mod:`femdiff.io.checkpoint` through ``problem.state_dict()`` and ``problem.load_state()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the problem imports this module; the functions only receive it
    from femdiff.problems.base import MixedProblem

__all__ = ["load_state", "state_dict"]


def state_dict(problem: MixedProblem) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(local dof arrays of the mixed space, scalars); the arrays are copies."""
    problem.initialise()
    arrays = {"u": problem.u.x.array.copy(), "u_n": problem.u_n.x.array.copy(),
              "u_nn": problem.u_nn.x.array.copy()}
    dt_prev, error_prev = problem._dt_prev, problem._error_prev
    scalars = {"t": float(problem.current_time), "dt_request": float(problem._dt_request),
               "dt_prev": -1.0 if dt_prev is None else float(dt_prev),
               "error_prev": -1.0 if error_prev is None else float(error_prev),
               "history": float(len(problem._history)), **problem._state_scalars()}
    for key, scale, _ in problem.all_scaled_blocks():
        scalars[key] = float(scale)
    for i, (t, u) in enumerate(problem._history):
        arrays[f"history_{i}"] = u.copy()
        scalars[f"history_t_{i}"] = float(t)
    return arrays, scalars


def load_state(problem: MixedProblem, arrays: dict[str, np.ndarray],
               scalars: dict[str, float]) -> None:
    """Put back a state from :func:`state_dict` (same mesh and fields).

    The arrays are rescaled if the problem's scales differ from the stored ones (they are
    means over the initial state, so they can differ in the last digits on another number
    of ranks).

    Raises:
        ValueError: the state does not fit the problem (e.g. other species).
    """
    problem.initialise()
    problem._check_state(scalars)

    def rescaled(a: np.ndarray) -> np.ndarray:
        a = np.array(a, dtype=float)
        for key, scale, dofs in problem.all_scaled_blocks():
            stored = float(scalars.get(key, scale))
            if stored != scale:
                a[dofs] *= stored / scale
        return a

    for name in ("u", "u_n", "u_nn"):
        getattr(problem, name).x.array[:] = rescaled(arrays[name])
    problem._t_accepted = float(scalars["t"])
    problem.t.value = problem._t_accepted
    problem._dt_request = float(scalars["dt_request"])
    problem._dt_prev = None if scalars["dt_prev"] < 0 else float(scalars["dt_prev"])
    error_prev = scalars.get("error_prev", -1.0)
    problem._error_prev = None if error_prev < 0 else float(error_prev)
    if problem._dt_prev is not None:
        problem.dt.value = problem._dt_prev
    problem._history = [(float(scalars[f"history_t_{i}"]), rescaled(arrays[f"history_{i}"]))
                        for i in range(int(scalars.get("history", 0)))]
    problem._sync()
