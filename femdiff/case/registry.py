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

    @property
    def units(self) -> str | None:
        """The unit system of the case ([materials] units; femdiff.io.quantities)."""
        return (self.case.data.get("materials") or {}).get("units", "molar")  # type: ignore

    def quantity_fields(self) -> dict[str, Any]:
        """Named fields beyond the problem's own (σ_h, T, per-species C) for quantities."""
        from femdiff.io.quantities import FieldRef, unit_system

        out: dict[str, Any] = {}
        sigma_h = getattr(self, "sigma_h", None)
        if sigma_h is not None:
            out["sigma_h"] = FieldRef(sigma_h, "Pa", "hydrostatic stress σ_h = tr σ / 3")
        T = getattr(self, "T", None)
        if T is not None and hasattr(T, "function_space"):
            out["T"] = FieldRef(T, "K", "temperature")
        solid = getattr(self, "solid", None)
        if solid is not None:  # stresses of the current displacement
            coupled = getattr(self, "coupled", None)

            def fresh(make: Any) -> Any:
                def get() -> Any:
                    if coupled is not None:  # two-way: the displacement of this step
                        coupled._ensure_mechanics()
                    return make()
                return get

            out["von_mises"] = FieldRef(fresh(solid.von_mises), "Pa", "von Mises stress")
            out["sigma_rr"] = FieldRef(fresh(lambda: solid.polar_stress()[0]), "Pa",
                                       "radial stress about the z axis through the origin")
            out["sigma_tt"] = FieldRef(fresh(lambda: solid.polar_stress()[1]), "Pa",
                                       "hoop stress about the z axis through the origin")
        problem = getattr(self, "problem", None)
        for s in getattr(self, "species", None) or []:
            if isinstance(s, str) and problem is not None \
                    and hasattr(problem, "concentration_ufl"):
                try:
                    out.setdefault(f"C_{s}", FieldRef(problem.concentration_ufl(s),
                                                      unit_system(self.units)["C"],
                                                      f"concentration of {s}"))
                except (KeyError, ValueError, TypeError):
                    pass
        return out
