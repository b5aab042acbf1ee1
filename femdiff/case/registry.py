"""The model registry: ``[physics] model = name`` → a :class:`Model` plug-in.

A model validates its part of a case (input → typed objects, :meth:`Model.validate`) and
builds a :class:`Simulation` from a mesh (:meth:`Model.build`); the runner
(:mod:`femdiff.cli`) only drives the :class:`Simulation` protocol (step, series row,
fields, state for checkpoints). Whether the case needs a [time] section is the model's
own declaration (:attr:`Model.time_dependent`), not the generic validator's knowledge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from femdiff.case.schema import Context

if TYPE_CHECKING:
    from femdiff.case.loader import Case


class Simulation(Protocol):
    """What the runner drives (see :class:`ProblemSimulation`)."""

    time_dependent: bool

    def columns(self) -> list[str]: ...  # noqa: D102

    def row(self, info: Any) -> dict[str, float]: ...  # noqa: D102

    def fields(self) -> list[Any]: ...  # noqa: D102

    def refresh(self) -> None: ...  # noqa: D102

    def profile_fields(self) -> list[Any]: ...  # noqa: D102

    def plot_field(self) -> Any: ...  # noqa: D102


class Model(Protocol):
    """A registered model: validates its part of a case and builds a Simulation.

    Attributes:
        time_dependent: whether its cases need a [time] section (stationary models forbid
            one).
        sections: the sections of :data:`MODEL_SECTIONS` the model reads; the loader
            refuses the others (a section a model ignores is an error, never a no-op).
        refused: section -> why the model takes none (for the message), optional.

    Optional too: ``thermal_keys`` (the [thermal] keys it reads, when not all) and
    ``check_solver(raw, data, ctx)``, called after [time] and [solver] are checked (what
    the model's solver can run: e.g. femdiff_schur only for Cahn–Hilliard).
    """

    time_dependent: bool
    sections: tuple[str, ...]

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> Any:
        """Check the model's sections of ``raw`` into ``data``; return the objects built.

        What it returns is kept as :attr:`Case.setup` and handed back to :meth:`build`,
        so nothing validation built is built again.
        """
        ...

    def build(self, case: Case, domain: Any) -> Simulation: ...  # noqa: D102


#: the sections whose use depends on the model (the others are read by every model, or by
#: every time-dependent one: [time])
MODEL_SECTIONS = ("physics", "species", "boundary", "traps", "mechanics", "thermal",
                  "solver", "checkpoint")


#: model name -> Model
MODELS: dict[str, Model] = {}


def register_model(name: str, model: Model) -> None:
    """Make ``[physics] model = name`` available to case files."""
    MODELS[name] = model


class ProblemSimulation:
    """A time-dependent simulation around ``self.problem`` (a MixedProblem).

    The runner steps the problem itself (``problem.run(times=..., callback=...)``) and
    checkpoints it through ``state_dict``/``load_state``.
    """

    time_dependent = True
    problem: Any

    @staticmethod
    def _flux_boundaries(data: dict[str, Any], domain: Any) -> list[str]:
        """[output] boundaries, or every boundary of the domain when not given."""
        chosen = data["output"]["boundaries"]
        return domain.boundary_names if chosen is None else chosen

    @staticmethod
    def _iterations(info: Any) -> dict[str, float]:
        """The solver columns of a row (zeros for the initial state, ``info`` None)."""
        return {"newton": 0 if info is None else info.newton_iterations,
                "krylov": 0 if info is None else info.krylov_iterations,
                "retries": 0 if info is None else info.retries}

    @staticmethod
    def _initial(value: Any, domain: Any) -> Any:
        """Initial data as NumPy; on a periodic domain each seam node takes its low side.

        (A seam dof has the coordinates of either side, depending on the partition; the
        formula is evaluated at one representative, so 1 and n ranks agree.)
        """
        from femdiff.case.expression import as_numpy

        fn = as_numpy(value)
        if not callable(fn) or not hasattr(domain, "pairs"):
            return fn
        from femdiff.geometry.periodic import wrap_coordinates

        return lambda x: fn(wrap_coordinates(domain.mesh, x.T).T)

    @property
    def current_time(self) -> float:
        """Time of the last accepted state."""
        return self.problem.current_time
