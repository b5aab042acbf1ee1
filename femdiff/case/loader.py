"""Reading a case file: the generic sections, :class:`Case`, :func:`load`, :func:`validate`.

The generic sections ([case], [materials], [time], [solver], [output], [checkpoint]) are
checked here; [geometry] by :mod:`femdiff.case.geometry`; [physics] and the model's own
sections by the registered model (:mod:`femdiff.case.registry`), which declares whether
the case has a [time] section.
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from femdiff.case.geometry import build_domain, validate_geometry
from femdiff.case.outputs import validate_quantities
from femdiff.case.registry import MODEL_SECTIONS, MODELS, Model
from femdiff.case.schema import (
    CaseError,
    Context,
    Key,
    array_of_tables,
    check_petsc_options,
    check_value,
    construct,
    table,
    type_name,
)
from femdiff.case.thermal import THERMAL, validate_thermal  # noqa: F401  ([thermal])

CASE = {"name": Key("string"), "description": Key("string")}

MATERIALS = {
    "T": Key("positive", doc="temperature [K]"),
    "units": Key("choice", default="molar", choices=("molar", "atomic")),
    "E": Key("positive", doc="Young's modulus [Pa]"),
    "nu": Key("number", doc="Poisson's ratio, in (-1, 0.5)"),
    "elastic_model": Key("choice", default="3d",
                         choices=("3d", "plane_strain", "plane_stress")),
    "omega": Key("number", doc="partial molar volume Ω [m³/mol] (atomic units: m³)"),
}

#: one entry of the multi-material form ``[[materials]]`` (units as femdiff.models.materials)
MATERIAL_ENTRY = {
    "name": Key("string", required=True),
    "regions": Key("strings", required=True, doc="the Gmsh volume names it fills"),
    "D0": Key("positive", doc="diffusivity prefactor [m²/s]"),
    "E_D": Key("number", doc="diffusion activation energy [J/mol]"),
    "S0": Key("positive", doc="solubility prefactor [C units]"),
    "E_S": Key("number", doc="solution enthalpy [J/mol]"),
    "mu0": Key("number", doc="reference chemical potential [J/mol]"),
    "E": Key("positive", doc="Young's modulus [Pa]"),
    "nu": Key("number", doc="Poisson's ratio"),
    "alpha": Key("number", doc="thermal expansion [1/K]"),
    "k": Key("positive", doc="thermal conductivity [W/(m K)]"),
    "rho_cp": Key("positive", doc="volumetric heat capacity [J/(m³ K)]"),
    "Omega": Key("number", doc="partial molar volume Ω [m³/mol] (a 'stress' term without "
                 "omega then uses each material's own)"),
    "species": Key("table", doc="model = 'multicomponent': per-species tables "
                   "[materials.species.<name>] (D0, E_D, S0, E_S, mu0)"),
    "transport": Key("table", doc="model = 'multicomponent': this material's transport "
                     "(as [physics.transport])"),
}
#: the [[materials]] keys read by the multicomponent model only
_MULTICOMPONENT_ONLY = ("species", "transport")

TIME = {
    "t_end": Key("positive", required=True, doc="end time [s]"),
    "dt": Key("positive", required=True, doc="(initial) time step [s]"),
    "t0": Key("number", default=0.0),
    "scheme": Key("choice", default="backward_euler",
                  choices=("backward_euler", "bdf2", "crank_nicolson")),
    "growth": Key("positive", default=1.0, doc="Δt factor per step without adaptivity, ≥ 1"),
    "dt_max": Key("positive", default=math.inf),
    "dt_min": Key("positive"),
    "shrink": Key("positive", default=0.5),
    "max_retries": Key("integer", default=8, doc="failed attempts allowed per step, ≥ 0"),
    "adaptive": Key("table", doc="error control: tol, safety, max_growth, min_shrink, "
                     "reject, k_I, k_P, guess_degree"),
}

ADAPTIVE = {k: Key("positive") for k in
            ("tol", "safety", "max_growth", "min_shrink", "reject", "k_I")}
ADAPTIVE["k_P"] = Key("nonnegative")
ADAPTIVE["guess_degree"] = Key("integer", doc="Newton's start: extrapolation degree 0-2 "
                               "(default 2 when Newton stops on the time error, else 1)")

SOLVER = {"petsc_options": Key("options", default={}),
          "linear": Key("choice", default="auto", choices=("auto", "lu", "iterative"),
                        doc="linear solver of single-species diffusion (and traps): auto "
                            "(LU, or iterative in 3D from femdiff.numerics.solvers."
                            "ITERATIVE_MIN_DOFS_3D dofs), lu or iterative")}

PROFILE = {
    "name": Key("string", required=True),
    "start": Key("point", required=True),
    "end": Key("point", required=True),
    "n": Key("posint", default=101),
}

OUTPUT = {
    "folder": Key("string", doc="output folder (default: <case name>_output)"),
    "fields": Key("choice", default="vtx", choices=("vtx", "xdmf", "none"),
                  doc="a format, or an array of field names (written in output.format)"),
    "format": Key("choice", default="vtx", choices=("vtx", "xdmf"),
                  doc="file format of the fields when output.fields names them"),
    "quantities": Key("table", doc="[[output.quantities]]: probes, surface and volume "
                      "quantities, fluxes and profiles (femdiff.case.outputs)"),
    "every": Key("integer", default=0, doc="write fields every N steps (0: only at times)"),
    "times": Key("numbers", default=[], doc="times the run lands on and writes fields"),
    "boundaries": Key("strings", doc="boundaries whose fluxes go to the CSV (default all)"),
    "profiles": Key("table"),  # replaced by the array check below
    "png": Key("bool", default=True),
}

CHECKPOINT = {
    "every_steps": Key("integer", default=0, doc="0: never"),
    "every_seconds": Key("nonnegative", default=0.0, doc="wall-clock seconds, 0: never"),
    "keep": Key("posint", default=2),
    "final": Key("bool", default=True, doc="write the final state"),
}


@dataclass(frozen=True)
class TimeSetup:
    """The objects of a [time] section.

    Attributes:
        control: the :class:`~femdiff.numerics.timestepping.TimeControl`.
        adaptive: the :class:`~femdiff.numerics.timestepping.Adaptive` error control, or None.
    """

    control: Any
    adaptive: Any


def validate_time(raw: Any, ctx: Context) -> tuple[dict[str, Any], TimeSetup]:
    """Check a [time] section: (the section, its TimeControl and Adaptive)."""
    from femdiff.numerics.timestepping import Adaptive, TimeControl

    tm = table(raw, TIME, "time", ctx)
    if tm["growth"] < 1:
        raise ctx.error("time.growth", f"must be ≥ 1, got {tm['growth']!r}")
    if tm["max_retries"] < 0:
        raise ctx.error("time.max_retries", f"must be an integer ≥ 0 (failed attempts "
                        f"allowed per step; 0: no retry), got {tm['max_retries']!r}")
    if tm["t_end"] <= tm["t0"]:
        raise ctx.error("time.t_end", f"must be after t0 = {tm['t0']!r}, got "
                        f"{tm['t_end']!r}")
    if tm["adaptive"] is not None:
        tm["adaptive"] = {k: v for k, v in table(tm["adaptive"], ADAPTIVE,
                                                 "time.adaptive", ctx).items()
                          if v is not None}
        if tm["growth"] != 1:
            raise ctx.error("time.growth", "growth is for fixed steps; adaptive steps "
                            "choose Δt themselves: remove one of them")
    control = construct("time", ctx, TimeControl, dt=tm["dt"], t0=tm["t0"],
                        scheme=tm["scheme"], dt_min=tm["dt_min"], dt_max=tm["dt_max"],
                        shrink=tm["shrink"], max_retries=tm["max_retries"],
                        growth=tm["growth"])
    adaptive = None
    if tm["adaptive"] is not None:
        adaptive = construct("time.adaptive", ctx, Adaptive, **tm["adaptive"])
    return tm, TimeSetup(control, adaptive)


TOP = ("case", "geometry", "materials", "thermal", "physics", "species", "boundary",
       "traps", "mechanics", "time", "solver", "output", "checkpoint")


# --- the case ------------------------------------------------------------------------------


#: what a restart may change: the run's length, its outputs, checkpoints and solver options
RESTART_FREE = ("case", "output", "checkpoint", "solver", "time.t_end")


@dataclass
class Case:
    """A validated case file.

    Attributes:
        path: the file.
        data: the validated sections, with defaults filled in.
        boundaries: the geometry's boundary names (known before meshing).
        gdim: the geometric dimension.
        setup: what the model's validation built (:meth:`Model.validate`).
        time: the [time] section's objects (``None`` for a stationary model).
    """

    path: Path
    data: dict[str, Any]
    boundaries: list[str] | None
    gdim: int | None
    setup: Any = None
    time: TimeSetup | None = None
    raw: dict[str, Any] | None = None

    def fingerprint(self) -> dict[str, Any]:
        """The case data that define the physics, as given (after ``--set``).

        Stored in checkpoints; a restart with a different fingerprint is refused. Left
        out, so a restart may change them: :data:`RESTART_FREE`.
        """
        fp = copy.deepcopy(self.raw or {})
        for key in RESTART_FREE:
            *head, last = key.split(".")
            node = fp
            for part in head:
                node = node.get(part, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node.pop(last, None)
        return fp

    @property
    def name(self) -> str:
        """The case name ([case] name, else the file stem)."""
        return self.data["case"]["name"] or self.path.stem

    @property
    def model(self) -> Model:
        """The registered model of [physics] model."""
        return MODELS[self.data["physics"]["model"]]

    def output_folder(self, override: str | Path | None = None) -> Path:
        """The output folder: ``override``, else [output] folder, else ``<name>_output``."""
        if override is not None:
            return Path(override)
        return Path(self.data["output"]["folder"] or f"{self.name}_output")

    def build(self, comm: Any) -> Any:
        """Mesh the geometry and build the model's Simulation."""
        domain = build_domain(self, comm)
        return self.model.build(self, domain)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"time.t_end=5"`` -> (["time", "t_end"], 5) (the value is parsed as TOML)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set {text!r} must be KEY.PATH=VALUE, e.g. time.t_end=10")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()  # a bare string
    return key.strip().split("."), parsed


def _apply(raw: dict[str, Any], keys: list[str], value: Any) -> None:
    node: Any = raw
    for k in keys[:-1]:
        if isinstance(node, list):
            node = node[int(k)]
        else:
            node = node.setdefault(k, {})
    if isinstance(node, list):
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Case:
    """Read and validate a case file; nothing is meshed or solved.

    Args:
        path: the TOML file.
        overrides: ``KEY.PATH=VALUE`` strings applied before validation (``--set``);
            array elements by index, e.g. ``boundary.0.value=2``.

    Raises:
        CaseError: the first problem found, naming the file and key path.
    """
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise CaseError(label, "", "case file does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(label, "", f"invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise CaseError(label, "", "not a text file") from None
    for text in overrides:
        keys, value = parse_override(text)
        try:
            _apply(raw, keys, value)
        except (IndexError, ValueError, TypeError, AttributeError):
            raise CaseError(label, ".".join(keys), f"--set cannot address this key "
                            f"({text!r})") from None
    return validate(raw, label, path.resolve().parent, path)


def validate(raw: dict[str, Any], label: str, base: Path, path: Path | None = None) -> Case:
    """Validate a parsed case (a dict as from ``tomllib``); see :func:`load`."""
    raw_copy = copy.deepcopy(raw)  # as given: the restart fingerprint
    ctx = Context(label)
    for key in raw:
        if key not in TOP:
            raise ctx.error(key, f"unknown section {key!r}; allowed sections: {', '.join(TOP)}")
    data: dict[str, Any] = {}
    data["case"] = table(raw.get("case", {}), CASE, "case", ctx)
    if "geometry" not in raw:
        raise ctx.error("geometry", "missing required section [geometry] (builder or file)")
    data["geometry"] = validate_geometry(raw["geometry"], ctx, base)
    # [materials] (a table) is the single-material shorthand; [[materials]] (an array of
    # tables with regions) assigns materials to named volumes
    mats_raw = raw.get("materials", {})
    data["material_list"] = None
    if isinstance(mats_raw, list):
        data["material_list"] = validate_material_list(mats_raw, ctx)
        mats_raw = {}
    data["materials"] = table(mats_raw, MATERIALS, "materials", ctx)
    early = raw.get("physics", {}).get("model", "diffusion") \
        if isinstance(raw.get("physics"), dict) else None
    if early in MODELS:  # before [thermal]: a model that reads none of it, or a part
        _check_sections(raw, early, ctx)
        _check_thermal_keys(raw.get("thermal"), early, ctx)
    data["thermal"] = validate_thermal(raw.get("thermal"), data, ctx)

    physics = raw.get("physics", {})
    if not isinstance(physics, dict):
        raise ctx.error("physics", f"expected a table, got {type_name(physics)}")
    model = physics.get("model", "diffusion")
    if model not in MODELS:
        raise ctx.error("physics.model", f"unknown model {model!r}; allowed values: "
                        f"{', '.join(MODELS)}")
    if model != "multicomponent" and data["material_list"]:
        for i, entry in enumerate(raw["materials"]):
            for key in _MULTICOMPONENT_ONLY:
                if key in entry:
                    raise ctx.error(f"materials[{i}].{key}", f"{key!r} belongs to model = "
                                    f"'multicomponent', not {model!r}")
    # [materials] keys are shared by the models: each must be read by this one
    data["materials"] = _Reads(data["materials"])
    setup = MODELS[model].validate(raw, data, ctx)
    data["physics"]["model"] = model
    _check_materials_read(raw.get("materials"), data, model, ctx)

    time = None
    if MODELS[model].time_dependent:
        if "time" not in raw:
            raise ctx.error("time", "missing required section [time] (t_end, dt)")
        data["time"], time = validate_time(raw["time"], ctx)
    elif "time" in raw:
        raise ctx.error("time", f"model {model!r} is stationary: remove [time]")

    data["solver"] = table(raw.get("solver", {}), SOLVER, "solver", ctx)
    # unknown SNES/KSP/PC/... types and bad femdiff_* options fail at ``femdiff check``
    check_petsc_options(data["solver"]["petsc_options"], "solver.petsc_options", ctx)
    check_solver = getattr(MODELS[model], "check_solver", None)
    if check_solver is not None:  # what the model's solver can run (femdiff_schur, ...)
        check_solver(raw, data, ctx)
    if time is not None:
        _check_run_length(data["time"], time, ctx)
        _check_ramp(data.get("thermal"), data["time"], ctx)
    data["output"] = _validate_output(raw.get("output", {}), data.get("time"), ctx)
    ck = table(raw.get("checkpoint", {}), CHECKPOINT, "checkpoint", ctx)
    if ck["every_steps"] < 0:
        raise ctx.error("checkpoint.every_steps", f"must be ≥ 0, got {ck['every_steps']}")
    data["checkpoint"] = ck
    return Case(path or Path(label), data, ctx.boundaries, ctx.gdim, setup, time, raw_copy)


class _Reads(dict):
    """A dict that records the keys read (the [materials] keys a model uses)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # noqa: D102
        self.read.add(key)
        return super().get(key, default)


def _check_sections(raw: dict[str, Any], model: str, ctx: Context) -> None:
    """Refuse a section the model does not read (:attr:`Model.sections`)."""
    m = MODELS[model]
    sections = getattr(m, "sections", MODEL_SECTIONS)  # undeclared: the model checks
    for key in MODEL_SECTIONS:
        if key in raw and key not in sections and key != "physics":
            why = getattr(m, "refused", {}).get(key)
            raise ctx.error(key, f"model {model!r} takes no [{key}]"
                            + (f": {why}" if why else " (it would be ignored)")
                            + "; its sections: "
                            + ", ".join(s for s in MODEL_SECTIONS if s in sections))


def _check_thermal_keys(raw: Any, model: str, ctx: Context) -> None:
    """Refuse [thermal] keys outside the model's :attr:`thermal_keys` (if it declares)."""
    allowed = getattr(MODELS[model], "thermal_keys", None)
    if allowed is None or not isinstance(raw, dict):
        return
    for key in raw:
        if key not in allowed:
            raise ctx.error(f"thermal.{key}", f"model {model!r} reads only "
                            f"{', '.join(allowed)} from [thermal] (a uniform temperature "
                            "[K]); allowed keys: " + ", ".join(allowed))


def _check_materials_read(raw: Any, data: dict[str, Any], model: str, ctx: Context) -> None:
    """Refuse a [materials] key the model's validation never read (it has no effect)."""
    mats = data["materials"]
    if isinstance(raw, dict):
        for key in raw:
            if key in MATERIALS and key not in mats.read:
                why = {"T": "no part of it takes materials.T: it needs no temperature, or "
                            "every part gives its own",
                       "E": "elastic constants are for [mechanics] with [materials]",
                       "nu": "elastic constants are for [mechanics] with [materials]",
                       "elastic_model": "elastic constants are for [mechanics] with "
                                        "[materials]",
                       "omega": "Ω is for a diffusion 'stress' term without its own omega",
                       "units": "it has no concentrations"}[key]
                raise ctx.error(f"materials.{key}", f"is not used by model {model!r} in "
                                f"this case ({why}): remove it")
    data["materials"] = dict(mats)


#: a run needing more fixed steps than this is refused (it cannot finish); above
#: :data:`WARN_STEPS`, warned of
MAX_STEPS = 10**8
WARN_STEPS = 10**6


def _estimated_steps(tm: dict[str, Any], control: Any) -> float:
    """Steps from t0 to t_end at Δt = dt growing by ``growth`` up to dt_max (no retries)."""
    span, dt, g, cap = tm["t_end"] - tm["t0"], tm["dt"], control.growth, control.dt_max
    if g == 1:
        return span / min(dt, cap)
    # the geometric phase up to dt_max, then steps of dt_max
    k = math.log(cap / dt) / math.log(g) if math.isfinite(cap) and cap > dt else math.inf
    covered = dt * (g ** min(k, 1e3) - 1) / (g - 1) if math.isfinite(k) else math.inf
    if span <= covered:
        return math.log(1 + span * (g - 1) / dt) / math.log(g)
    return k + (span - covered) / cap


def _check_run_length(tm: dict[str, Any], time: TimeSetup, ctx: Context) -> None:
    """Refuse a run of more than :data:`MAX_STEPS` fixed steps; warn above WARN_STEPS."""
    if time.adaptive is not None:  # the controller chooses Δt
        return
    steps = _estimated_steps(tm, time.control)
    if steps > MAX_STEPS:
        raise ctx.error("time.dt", f"dt = {tm['dt']:g} s over t_end − t0 = "
                        f"{tm['t_end'] - tm['t0']:g} s is about {steps:.2g} steps (growth = "
                        f"{time.control.growth:g}), more than {MAX_STEPS:.0e}: raise dt, set "
                        "growth > 1 (with dt_max) or adaptive = {tol = ...}")
    if steps > WARN_STEPS:
        ctx.warn("time.dt", f"about {steps:.2g} time steps (dt = {tm['dt']:g} s, growth = "
                 f"{time.control.growth:g}): a long run; growth > 1 or adaptive steps?")


#: the temperature a TDS ramp may reach: above every melting point, refused
MAX_RAMP_T = 1.0e4


def _check_ramp(th: dict[str, Any] | None, tm: dict[str, Any], ctx: Context) -> None:
    """A ramp T(t) = T₀ + β (t − t0) must stay in (0, :data:`MAX_RAMP_T`] until t_end."""
    if th is None or th.get("heating_rate") is None or not isinstance(th["T"], float):
        return
    T0, beta, span = th["T"], th["heating_rate"], tm["t_end"] - tm["t0"]
    T_end = T0 + beta * span
    if T_end <= 0:
        raise ctx.error("thermal.heating_rate", f"the ramp T = {T0:g} K {beta:+g} K/s · t "
                        f"reaches 0 K at t − t0 = {T0 / -beta:g} s, before t_end (after "
                        f"{span:g} s): the temperature must stay positive")
    if T_end > MAX_RAMP_T:
        raise ctx.error("thermal.heating_rate", f"the ramp T = {T0:g} K + {beta:g} K/s · t "
                        f"reaches {T_end:.3g} K at t_end, above {MAX_RAMP_T:g} K (every "
                        "solid has melted): a heating rate in K/s, or a shorter t_end?")


def validate_material_list(raw: list[Any], ctx: Context) -> list[Any]:
    """Check ``[[materials]]`` and build its :class:`~femdiff.models.materials.Material` s."""
    from femdiff.models.materials import Material

    built = []
    for i, entry in enumerate(array_of_tables(raw, "materials", ctx)):
        where = f"materials[{i}]"
        m = table(entry, MATERIAL_ENTRY, where, ctx)
        for j, r in enumerate(m["regions"]):
            if ctx.volumes is not None and r not in ctx.volumes:
                raise ctx.error(f"{where}.regions[{j}]", f"unknown volume {r!r}; the "
                                f"geometry has: {', '.join(ctx.volumes)}")
        kw = {k: v for k, v in m.items()
              if k not in ("name", "regions", *_MULTICOMPONENT_ONLY) and v is not None}
        built.append(construct(where, ctx, Material, m["name"], tuple(m["regions"]), **kw))
    names = [m.name for m in built]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ctx.error("materials", f"two materials are named {', '.join(twice)}")
    if ctx.volumes is not None:
        owners: dict[str, list[str]] = {v: [] for v in ctx.volumes}
        for m in built:
            for r in m.regions:
                owners[r].append(m.name)
        double = [v for v, o in owners.items() if len(o) > 1]
        orphans = [v for v, o in owners.items() if not o]
        if double:
            raise ctx.error("materials", f"volume(s) in two materials: {', '.join(double)}")
        if orphans:
            raise ctx.error("materials", f"volume(s) without a material: "
                            f"{', '.join(orphans)}")
    return built


def _validate_output(raw: Any, tm: dict[str, Any] | None, ctx: Context) -> dict[str, Any]:
    """Check [output] (its times against the [time] section ``tm``, if any)."""
    out_raw = dict(raw) if isinstance(raw, dict) else raw
    profiles_raw = array_of_tables(out_raw.pop("profiles", None), "output.profiles", ctx) \
        if isinstance(out_raw, dict) else []
    quantities_raw = out_raw.pop("quantities", None) if isinstance(out_raw, dict) else None
    field_names = None  # output.fields = [names]: choose the fields (format: output.format)
    if isinstance(out_raw, dict) and isinstance(out_raw.get("fields"), list):
        field_names = check_value(out_raw.pop("fields"), Key("strings"), "output.fields", ctx)
    out = table(out_raw, OUTPUT, "output", ctx)
    if field_names is not None:
        out["fields"] = out["format"] if field_names else "none"
    out["field_names"] = field_names
    out["quantities"] = validate_quantities(quantities_raw, ctx)
    if out["every"] < 0:
        raise ctx.error("output.every", f"must be ≥ 0, got {out['every']}")
    if tm is not None:
        for i, t in enumerate(out["times"]):
            if not tm["t0"] < t <= tm["t_end"]:
                raise ctx.error(f"output.times[{i}]", f"must lie in (t0, t_end] = "
                                f"({tm['t0']:g}, {tm['t_end']:g}], got {t!r}")
    for i, b in enumerate(out["boundaries"] or []):
        ctx.check_boundary(b, f"output.boundaries[{i}]")
    profiles = []
    for i, p in enumerate(profiles_raw):
        prof = table(p, PROFILE, f"output.profiles[{i}]", ctx)
        for end in ("start", "end"):
            if ctx.gdim is not None and len(prof[end]) > max(ctx.gdim, 1):
                raise ctx.error(f"output.profiles[{i}].{end}", f"has {len(prof[end])} "
                                f"coordinates but the mesh is {ctx.gdim}D")
        if prof["n"] < 2:
            raise ctx.error(f"output.profiles[{i}].n", "must be ≥ 2")
        profiles.append(prof)
    names = [p["name"] for p in profiles]
    if len(set(names)) != len(names):
        raise ctx.error("output.profiles", "profile names must be unique")
    out["profiles"] = profiles
    return out
