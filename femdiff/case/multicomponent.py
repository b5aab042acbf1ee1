"""The multicomponent plug-in, ``model = "multicomponent"``: Onsager diffusion (μ̃–X).

Validation (:class:`MulticomponentModel`) checks the species, thermodynamics, transport,
initial state and boundary conditions and builds the
:class:`~femdiff.problems.multicomponent.Mixture` and
:class:`~femdiff.problems.multicomponent.Onsager`
(:class:`MulticomponentSetup`); :class:`MulticomponentSimulation` binds them to σ_h and
drives the :class:`~femdiff.problems.multicomponent.MulticomponentProblem`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from femdiff.case.expression import Expression, as_numpy, as_ufl
from femdiff.case.mechanics import solve_mechanics, validate_mechanics
from femdiff.case.registry import ProblemSimulation
from femdiff.case.schema import (
    CaseError,
    Context,
    Key,
    array_of_tables,
    check_value,
    construct,
    table,
)

if TYPE_CHECKING:
    from femdiff.case.loader import Case

THERMO_TYPES = ("ideal", "regular_solution", "wagner")
TRANSPORT_TYPES = ("matrix", "mobilities", "dilute", "interdiffusion")
MC_BC_TYPES = ("no_flux", "concentration", "potential", "flux")
_SPECIES_NAME = re.compile(r"[A-Za-z0-9_]+")

THERMODYNAMICS = {
    "type": Key("choice", required=True, choices=THERMO_TYPES),
    "T": Key("positive", doc="temperature [K]; default materials.T"),
    "mu0": Key("table", default={}, doc="μ_i° by species [J/mol]"),
    "omega": Key("table", doc='Ω_ij by species pair "A-B" [J/mol] (regular_solution)'),
    "epsilon": Key("table", doc='Wagner ε_ij by species pair "A-B" (wagner)'),
    "ln_gamma0": Key("table", doc="ln γ_i° by species (wagner)"),
    "kappa": Key("table", doc='gradient energy κ_ij by pair "A-B" of independent species'),
    "volumes": Key("table", doc="partial molar volume by species [m³/mol]; needs [mechanics]"),
    "energy_scale": Key("positive", doc="μ scale [J/mol], default R T"),
}
#: keys of [physics.thermodynamics] that belong to one type only
_THERMO_ONLY = {"omega": "regular_solution", "epsilon": "wagner", "ln_gamma0": "wagner"}

TRANSPORT = {
    "type": Key("choice", required=True, choices=TRANSPORT_TYPES),
    "L": Key("table", doc='Onsager matrix by pair "A-B" of independent species (matrix)'),
    "M": Key("table", doc="species mobilities [m² mol/(J s)] (mobilities)"),
    "D": Key("table", doc="diffusivities by species (dilute) or by pair (interdiffusion)"),
    "T": Key("positive", doc="temperature [K] (dilute); default the thermodynamics' T"),
}
#: the data key of each transport type
_TRANSPORT_DATA = {"matrix": "L", "mobilities": "M", "dilute": "D", "interdiffusion": "D"}


def _pair(key: str, where: str, ctx: Context, allowed: list[str], why: str) -> tuple[str, str]:
    """``"A-B"`` -> ("A", "B"), both declared species and in ``allowed``."""
    a, sep, b = key.partition("-")
    if not sep or not a or not b:
        raise ctx.error(where, f'expected a species pair such as "A-B", got {key!r}')
    for s in (a, b):
        _species_in(s, where, ctx, allowed, why)
    return a, b


def _species_in(name: str, where: str, ctx: Context, allowed: list[str], why: str) -> None:
    ctx.check_species(name, where)
    if name not in allowed:
        raise ctx.error(where, f"species {name!r} is not allowed here: {why}; allowed "
                        f"species: {', '.join(allowed)}")


def _numbers_by_species(table: dict[str, Any], where: str, ctx: Context, allowed: list[str],
                        why: str, kind: str = "number") -> dict[str, float]:
    out = {}
    for s, v in table.items():
        _species_in(s, f"{where}.{s}", ctx, allowed, why)
        out[s] = check_value(v, Key(kind), f"{where}.{s}", ctx)
    return out


def _numbers_by_pair(table: dict[str, Any], where: str, ctx: Context, allowed: list[str],
                     why: str) -> dict[tuple[str, str], float]:
    out = {}
    for key, v in table.items():
        pair = _pair(key, f"{where}.{key}", ctx, allowed, why)
        out[pair] = check_value(v, Key("number"), f"{where}.{key}", ctx)
    return out


class _Entry:
    """A transport entry given as a formula of the fractions ``X_<species>``, R and T."""

    def __init__(self, expr: Expression, R: float, T: float) -> None:
        self.expr, self.R, self.T = expr, R, T

    def __call__(self, X: Mapping[str, Any]) -> Any:
        env = {f"X_{s}": x for s, x in X.items()}
        return self.expr.evaluate({**env, "R": self.R, "T": self.T})

    def __repr__(self) -> str:
        return f"_Entry({self.expr.text!r})"


def _entries_by_pair(table: dict[str, Any], where: str, ctx: Context, species: list[str],
                     allowed: list[str], why: str, R: float, T: float
                     ) -> dict[tuple[str, str], Any]:
    """Pair -> number or callable X -> UFL, from numbers and formulas of X_<species>."""
    names = (*(f"X_{s}" for s in species), "R", "T")
    out: dict[tuple[str, str], Any] = {}
    for key, v in table.items():
        path = f"{where}.{key}"
        pair = _pair(key, path, ctx, allowed, why)
        if isinstance(v, str):
            try:
                expr = Expression(v, names)
            except ValueError as exc:
                raise ctx.error(path, str(exc)) from None
            if expr.names_used <= {"R", "T"}:  # a constant: a number now
                value = float(expr.evaluate({"R": R, "T": T}, backend="numpy"))
                out[pair] = check_value(value, Key("number"), path, ctx)
            else:
                out[pair] = _Entry(expr, R, T)
        else:
            out[pair] = check_value(v, Key("number"), path, ctx)
    return out


def _mixture(thermo: dict[str, Any], units: str, sigma_h: Any, ctx: Context) -> Any:
    """The mixture of a validated [physics.thermodynamics].

    A :class:`~femdiff.problems.multicomponent.Mixture`.

    Its stress term (``volumes``) holds ``sigma_h`` until :meth:`MulticomponentSetup.on_mesh`.
    """
    from femdiff.problems import multicomponent as mc

    where = "physics.thermodynamics"
    common = {"T": thermo["T"], "mu0": thermo["mu0"], "units": units}
    kind = thermo["type"]
    if kind == "ideal":
        terms = [construct(where, ctx, mc.IdealMixing, **common)]
    elif kind == "regular_solution":
        terms = [construct(f"{where}.omega", ctx, mc.RegularSolution, **common,
                            omega=thermo["omega"] or {})]
    else:
        terms = [construct(where, ctx, mc.WagnerDilute, **common,
                            epsilon=thermo["epsilon"] or {},
                            ln_gamma0=thermo["ln_gamma0"] or {})]
    if thermo["kappa"]:
        terms.append(construct(f"{where}.kappa", ctx, mc.GradientEnergies, thermo["kappa"]))
    if thermo["volumes"]:
        terms.append(construct(f"{where}.volumes", ctx, mc.StressCoupling, thermo["volumes"],
                                sigma_h))
    return construct(where, ctx, mc.Mixture, terms, thermo["energy_scale"])


def _onsager(transport: dict[str, Any], units: str, ctx: Context,
             base: str = "physics.transport") -> Any:
    """The :class:`~femdiff.problems.multicomponent.Onsager` of a validated transport table."""
    from femdiff.problems import multicomponent as mc

    kind, data = transport["type"], transport["data"]
    where = f"{base}.{_TRANSPORT_DATA[kind]}"
    if kind == "dilute":
        return construct(where, ctx, mc.Onsager.dilute, data, transport["T"], units)
    return construct(where, ctx, getattr(mc.Onsager, kind), data)


def _transport(raw: Any, where: str, ctx: Context, species: list[str],
               independent: list[str], why: tuple[str, str], units: str, T: float
               ) -> tuple[dict[str, Any], Any]:
    """Check one transport table (``[physics.transport]`` or a material's) and build it."""
    from femdiff.models.thermodynamics import gas_constant
    from femdiff.problems import multicomponent as mc

    no_dependent, matrix_why = why
    tr = table(raw, TRANSPORT, where, ctx)
    kind = tr["type"]
    key = _TRANSPORT_DATA[kind]
    for other in ("L", "M", "D", "T"):
        if tr[other] is not None and other != key and not (other == "T" and
                                                          kind == "dilute"):
            raise ctx.error(f"{where}.{other}", f"type {kind!r} takes {key} = {{...}}"
                            f"{' and T' if kind == 'dilute' else ''}, not {other!r}")
    if tr[key] is None:
        raise ctx.error(f"{where}.{key}", f"missing required value ({TRANSPORT[key].doc})")
    if tr["T"] is None:
        tr["T"] = T
    R = gas_constant(units)  # type: ignore[arg-type]
    if kind == "matrix":
        L = _entries_by_pair(tr["L"], f"{where}.L", ctx, species, independent,
                             matrix_why, R, T)
        for (a, b), v in list(L.items()):  # reciprocity: "A-B" also gives L_BA
            L.setdefault((b, a), v)
        tr["data"] = L
    elif kind == "interdiffusion":
        if len(independent) > 4:
            raise ctx.error(f"{where}.type", "the interdiffusion form needs at most 4 "
                            "independent species (UFL inverts matrices up to 4×4); give "
                            "the Onsager matrix (type = \"matrix\") instead")
        tr["data"] = _entries_by_pair(tr["D"], f"{where}.D", ctx, species, independent,
                                      matrix_why, R, T)
    elif kind == "mobilities":
        tr["data"] = _numbers_by_species(tr["M"], f"{where}.M", ctx, species, "",
                                         "nonnegative")
        missing = [s for s in species if s not in tr["data"]]
        if missing:  # not 0: the vacancy mechanism needs every species' mobility
            raise ctx.error(f"{where}.M", f"missing the mobility of "
                            f"{', '.join(map(repr, missing))}: type 'mobilities' needs "
                            f"M of every species ({', '.join(species)}; 0 if immobile)")
    else:
        tr["data"] = _numbers_by_species(tr["D"], f"{where}.D", ctx, independent,
                                         no_dependent + " and has no flux of its own"
                                         if no_dependent else "", "nonnegative")
    onsager = _onsager(tr, units, ctx, where)
    if onsager.constant_entries():
        values = np.array([[tr["data"].get((a, b), 0.0) for b in independent]
                           for a in independent])
        construct(f"{where}.L", ctx, mc.check_onsager, values, independent)
    return tr, onsager


#: per-species keys of a [[materials]] entry's ``species.<name>`` table (multicomponent)
SPECIES_MATERIAL = {
    "D0": Key("positive", doc="diffusivity prefactor [m²/s] (dilute L_ii = D X_i/(R T))"),
    "E_D": Key("number", doc="diffusion activation energy [J/mol]"),
    "S0": Key("positive", doc="solubility prefactor (μ°_i = −R T ln S_i)"),
    "E_S": Key("number", doc="solution enthalpy [J/mol]"),
    "mu0": Key("number", doc="reference chemical potential μ°_i [J/mol]"),
}
#: the single-species keys a multicomponent [[materials]] entry must not use
_SINGLE_SPECIES = ("D0", "E_D", "S0", "E_S", "mu0")


def _materials(raw: dict[str, Any], data: dict[str, Any], ctx: Context, species: list[str],
               independent: list[str], why: tuple[str, str], units: str, T: float,
               R: float, global_transport: bool) -> list[Any]:
    """The :class:`~femdiff.models.mixture_law.MixtureMaterial` s of ``[[materials]]``.

    Each entry: ``name``, ``regions`` (checked by the loader), ``species.<name>`` tables
    of :data:`SPECIES_MATERIAL` keys, and an optional ``transport`` table (as
    [physics.transport]).
    """
    from femdiff.models.mixture_law import MixtureMaterial

    listed = data.get("material_list")
    if not listed:
        return []
    entries = raw["materials"]
    built = []
    for i, (m, entry) in enumerate(zip(listed, entries, strict=True)):
        where = f"materials[{i}]"
        for key in _SINGLE_SPECIES:
            if entry.get(key) is not None:
                raise ctx.error(f"{where}.{key}", f"a multicomponent material gives {key} "
                                f"per species: [materials.species.<name>] {key} = ...")
        per_species = entry.get("species") or {}
        if not isinstance(per_species, dict):
            raise ctx.error(f"{where}.species", "expected a table of species tables "
                            "([materials.species.<name>])")
        params = {}
        for s, t in per_species.items():
            ctx.check_species(s, f"{where}.species.{s}")
            checked = table(t, SPECIES_MATERIAL, f"{where}.species.{s}", ctx)
            params[s] = {k: v for k, v in checked.items() if v is not None}
        transport = None
        if entry.get("transport") is not None:
            if global_transport:
                raise ctx.error(f"{where}.transport", "give the transport either in "
                                "[physics.transport] or per material, not both")
            with_d0 = [s for s, p in params.items() if "D0" in p]
            if with_d0:
                raise ctx.error(f"{where}.transport", "give this material's transport "
                                f"either as a table or as species D0 ({', '.join(with_d0)}), "
                                "not both")
            _, transport = _transport(entry["transport"], f"{where}.transport", ctx,
                                      species, independent, why, units, T)
        elif global_transport and any("D0" in p for p in params.values()):
            s = next(s for s, p in params.items() if "D0" in p)
            raise ctx.error(f"{where}.species.{s}.D0", "give the transport either in "
                            "[physics.transport] or per material (D0), not both")
        built.append(construct(where, ctx, MixtureMaterial, m.name, m.regions,
                               species=params, transport=transport))
    if not global_transport:
        for i, mm in enumerate(built):
            if mm.transport is None:
                missing = [s for s in independent if "D0" not in mm.species.get(s, {})]
                if missing:
                    raise ctx.error(f"materials[{i}]", "without [physics.transport] every "
                                    "material needs a transport table or D0 for every "
                                    f"independent species; missing D0 of "
                                    f"{', '.join(map(repr, missing))}")
    return built


@dataclass(frozen=True)
class MulticomponentSetup:
    """What a multicomponent case validates into, before meshing.

    Attributes:
        mixture: the :class:`~femdiff.problems.multicomponent.Mixture`; its stress term, if any,
            holds σ_h = 0 until :meth:`on_mesh`.
        transport: the :class:`~femdiff.problems.multicomponent.Onsager` transport.
        material: the :class:`~femdiff.physics.mechanics.ElasticMaterial` of [mechanics], or None.
    """

    mixture: Any
    transport: Any
    material: Any

    def on_mesh(self, sigma_h: Any) -> Any:
        """The mixture with its stress term bound to the solved σ_h."""
        from femdiff.problems import multicomponent as mc

        if not any(isinstance(t, mc.StressCoupling) for t in self.mixture.terms):
            return self.mixture
        terms = [dataclasses.replace(t, sigma_h=sigma_h) if isinstance(t, mc.StressCoupling)
                 else t for t in self.mixture.terms]
        return dataclasses.replace(self.mixture, terms=terms)



class MulticomponentModel:
    """``model = "multicomponent"``: Onsager diffusion of several species (mixed μ̃–X)."""

    time_dependent = True
    sections = ("physics", "species", "boundary", "mechanics", "thermal", "solver",
                "checkpoint")
    refused = {"traps": "traps are not supported by the multicomponent model yet "
               "(McNabb–Foster and Oriani traps are for model = 'diffusion')"}
    thermal_keys = ("T",)  # one uniform temperature, as materials.T
    PHYSICS = {
        "model": Key("string"),
        "species": Key("strings", required=True,
                       doc="species names; on a lattice the last is the dependent solvent"),
        "lattice": Key("bool", default=True),
        "degree": Key("integer", default=1, choices=(1, 2)),
        "lumped": Key("bool", default=True),
        "thermodynamics": Key("table", required=True,
                              doc="type = " + " | ".join(THERMO_TYPES)),
        "transport": Key("table", doc="type = " + " | ".join(TRANSPORT_TYPES)
                         + "; omit it when every [[materials]] entry gives its transport"),
    }
    SPECIES = {
        "name": Key("string", required=True),
        "initial": Key("expr", required=True, doc="initial mole fraction"),
    }
    BOUNDARY = {
        "name": Key("string", required=True, doc="a boundary name"),
        "type": Key("choice", required=True, choices=MC_BC_TYPES),
        "value": Key("expr"),
        "species": Key("string", required=True, doc="the species the condition is for"),
    }

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context
                 ) -> MulticomponentSetup:
        """Check [physics] (species, thermodynamics, transport), [[species]], [[boundary]]."""
        from femdiff.models.thermodynamics import gas_constant

        phys = table(raw.get("physics", {}), self.PHYSICS, "physics", ctx)
        mat = data["materials"]
        units = mat["units"]
        species = phys["species"]
        lattice = phys["lattice"]
        for i, s in enumerate(species):
            if not _SPECIES_NAME.fullmatch(s):
                raise ctx.error(f"physics.species[{i}]", f"species name {s!r} must consist "
                                "of letters, digits and '_' (it names formula variables X_"
                                f"{s} and pairs \"A-B\")")
        if len(set(species)) != len(species):
            raise ctx.error("physics.species", f"species names must be unique, got {species}")
        if len(species) < (2 if lattice else 1):
            raise ctx.error("physics.species", "a lattice needs at least two species (the "
                            "last one is the dependent solvent)" if lattice else
                            "at least one species is needed")
        ctx.species, ctx.species_source = list(species), "physics.species"
        dependent = species[-1] if lattice else None
        independent = species[:-1] if lattice else list(species)
        no_dependent = (f"the dependent species {dependent!r} follows from the others "
                        "(X = 1 − Σ X_i)" if lattice else "")

        # thermodynamics
        where = "physics.thermodynamics"
        th = table(phys["thermodynamics"], THERMODYNAMICS, where, ctx)
        for key, only in _THERMO_ONLY.items():
            if th[key] is not None and th["type"] != only:
                raise ctx.error(f"{where}.{key}", f"{key!r} belongs to type {only!r}, not "
                                f"{th['type']!r}")
        self._check_thermal(raw, th, ctx)
        if th["T"] is None:
            if mat["T"] is None:
                raise ctx.error(f"{where}.T", "missing required value (temperature [K]); "
                                "give it here or as materials.T")
            th["T"] = mat["T"]  # a uniform [thermal] T is there too (validate_thermal)
        th["mu0"] = _numbers_by_species(th["mu0"], f"{where}.mu0", ctx, species, "")
        if th["omega"] is not None:
            th["omega"] = _numbers_by_pair(th["omega"], f"{where}.omega", ctx, species, "")
        if th["epsilon"] is not None:
            th["epsilon"] = _numbers_by_pair(th["epsilon"], f"{where}.epsilon", ctx, species,
                                             "")
        if th["ln_gamma0"] is not None:
            th["ln_gamma0"] = _numbers_by_species(th["ln_gamma0"], f"{where}.ln_gamma0", ctx,
                                                  species, "")
        if th["kappa"] is not None:
            th["kappa"] = _numbers_by_pair(th["kappa"], f"{where}.kappa", ctx, independent,
                                           no_dependent)
        if th["volumes"] is not None:
            th["volumes"] = _numbers_by_species(th["volumes"], f"{where}.volumes", ctx,
                                                species, "")
            if raw.get("mechanics") is None:
                raise ctx.error(f"{where}.volumes", "stress coupling needs a [mechanics] "
                                "section (σ_h comes from the elasticity solve)")
        mixture = _mixture(th, units, 0.0, ctx)
        phys["thermodynamics"] = th

        # transport: [physics.transport], or per material in [[materials]]
        R = gas_constant(units)  # type: ignore[arg-type]
        why = (no_dependent, f"{no_dependent}, so it has no row or column in the reduced "
               "matrix" if lattice else "")
        tr, onsager = None, None
        if phys["transport"] is not None:
            tr, onsager = _transport(phys["transport"], "physics.transport", ctx, species,
                                     independent, why, units, th["T"])
        phys["materials"] = _materials(raw, data, ctx, species, independent, why, units,
                                       th["T"], R, tr is not None)
        if tr is None and not phys["materials"]:
            raise ctx.error("physics.transport", "missing required value (type = "
                            + " | ".join(TRANSPORT_TYPES) + "); omit it only when every "
                            "[[materials]] entry gives transport or species D0")
        phys["transport"] = tr
        data["physics"] = phys

        # initial state
        sp = [table(s, self.SPECIES, f"species[{i}]", ctx)
              for i, s in enumerate(array_of_tables(raw.get("species"), "species", ctx))]
        seen: set[str] = set()
        for i, s in enumerate(sp):
            ctx.check_species(s["name"], f"species[{i}].name")
            if s["name"] in seen:
                raise ctx.error(f"species[{i}].name", f"species {s['name']!r} has two "
                                "[[species]] tables; give one")
            seen.add(s["name"])
            if isinstance(s["initial"], float):
                self._check_fraction(s["initial"], f"species[{i}].initial", ctx, lattice,
                                     mixture.positive)
        missing = [s for s in independent if s not in seen]
        if missing:
            optional = f"; the dependent {dependent!r} is optional" if lattice else ""
            raise ctx.error("species", f"missing [[species]] (name, initial) for "
                            f"{', '.join(map(repr, missing))}: every independent species "
                            f"needs an initial state{optional}")
        data["species"] = sp

        # boundary conditions
        bcs = []
        for i, entry in enumerate(array_of_tables(raw.get("boundary"), "boundary", ctx)):
            where = f"boundary[{i}]"
            bc = table(entry, self.BOUNDARY, where, ctx)
            ctx.check_boundary(bc["name"], f"{where}.name")
            ctx.check_species(bc["species"], f"{where}.species")
            if bc["species"] == dependent and bc["type"] != "no_flux":
                raise ctx.error(f"{where}.species", f"a {bc['type']!r} condition on the "
                                f"dependent species {dependent!r}: its fraction and flux "
                                "follow from the others; set the independent species "
                                f"({', '.join(independent)}) instead")
            if bc["type"] != "no_flux" and bc["value"] is None:
                raise ctx.error(f"{where}.value", f"missing required value for a "
                                f"{bc['type']!r} boundary condition (a number or formula)")
            if bc["type"] == "no_flux" and bc["value"] is not None:
                raise ctx.error(f"{where}.value", "a 'no_flux' boundary takes no value")
            if bc["type"] == "concentration" and isinstance(bc["value"], float):
                self._check_fraction(bc["value"], f"{where}.value", ctx, lattice,
                                     mixture.positive)
            bcs.append(bc)
        pairs = [(b["name"], b["species"]) for b in bcs]
        for p in set(pairs):
            if pairs.count(p) > 1:
                raise ctx.error("boundary", f"boundary {p[0]!r} has {pairs.count(p)} "
                                f"conditions for species {p[1]!r}; give one")
        data["boundary"] = bcs

        data["mechanics"], material = validate_mechanics(raw.get("mechanics"), mat, ctx)
        return MulticomponentSetup(mixture, onsager, material)

    @staticmethod
    def _check_thermal(raw: dict[str, Any], th: dict[str, Any], ctx: Context) -> None:
        """[thermal] here is one uniform T, read as materials.T is (and exclusive of it)."""
        thermal = raw.get("thermal")  # (its keys: thermal_keys, checked by the loader)
        if thermal is None:
            return
        if not isinstance(thermal.get("T"), int | float):
            raise ctx.error("thermal.T", "model 'multicomponent' takes one uniform "
                            "temperature: give T as a number [K], not a formula")
        mats = raw.get("materials")
        if isinstance(mats, dict) and "T" in mats:
            raise ctx.error("thermal.T", "the temperature is given twice (materials.T and "
                            "thermal.T): give one of them")
        if th["T"] is not None:
            raise ctx.error("thermal.T", "not used: physics.thermodynamics.T sets the "
                            "temperature; give one of them")

    def check_solver(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> None:
        """Refuse the [solver] keys the multicomponent problem does not read."""
        if "linear" in (raw.get("solver") or {}):
            raise ctx.error("solver.linear", "is read by model 'diffusion' only; the "
                            "multicomponent solver is chosen by solver.petsc_options")
        if "femdiff_schur" in data["solver"]["petsc_options"]:
            raise ctx.error("solver.petsc_options.femdiff_schur", "the BKSW Schur "
                            "preconditioner is for Cahn–Hilliard (model 'diffusion' with a "
                            "'gradient_energy' term), not model 'multicomponent'")

    @staticmethod
    def _check_fraction(value: float, where: str, ctx: Context, lattice: bool,
                        positive: bool) -> None:
        if positive and value <= 0:
            raise ctx.error(where, f"must be > 0 (the thermodynamics has ln X), got {value!r}")
        if value < 0 or (lattice and value > 1):
            raise ctx.error(where, f"a mole fraction must lie in [0, 1], got {value!r}"
                            if lattice else f"must be ≥ 0, got {value!r}")

    def build(self, case: Case, domain: Any) -> MulticomponentSimulation:
        """Solve the mechanics (if any) and set up the MulticomponentProblem."""
        return MulticomponentSimulation(case, domain)


class MulticomponentSimulation(ProblemSimulation):
    """A built multicomponent case: the MulticomponentProblem and what the runner records."""

    def __init__(self, case: Case, domain: Any) -> None:
        from femdiff.physics import boundary as d
        from femdiff.problems import multicomponent as mc

        data, setup, time = case.data, case.setup, case.time
        assert time is not None  # a time-dependent model: validation built it
        phys = data["physics"]
        self.case, self.domain = case, domain
        mesh = domain.mesh
        self.solid, self.sigma_h = solve_mechanics(data["mechanics"], setup.material, domain)
        bcs: dict[str, list[Any]] = {}
        for bc in data["boundary"]:
            kind, name, value = bc["type"], bc["name"], bc["value"]
            if kind == "no_flux":
                item: Any = d.NoFlux(name)
            elif kind == "concentration":  # Dirichlet data are interpolated: NumPy
                item = d.FixedConcentration(name, as_numpy(value))
            elif kind == "potential":
                item = d.FixedPotential(name, as_numpy(value))
            else:
                item = d.Flux(name, as_ufl(value, mesh))
            bcs.setdefault(bc["species"], []).append(item)
        self.species = list(phys["species"])
        self.problem = mc.MulticomponentProblem(
            domain, self.species, setup.on_mesh(self.sigma_h), setup.transport,
            initial={s["name"]: self._initial(s["initial"], domain) for s in data["species"]},
            time=time.control, bcs=bcs, lattice=phys["lattice"], degree=phys["degree"],
            petsc_options=data["solver"]["petsc_options"] or None, lumped=phys["lumped"],
            adaptive=time.adaptive, materials=phys["materials"] or None)
        try:
            self.problem.initialise()
        except ValueError as exc:  # the initial state, checked node by node
            raise CaseError(case.path, "", f"initial state: {exc}") from None
        self.flux_boundaries = self._flux_boundaries(data, domain)

    def columns(self) -> list[str]:
        """CSV columns: amounts and boundary fluxes of every species."""
        return (["t", "dt"] + [f"amount_{s}" for s in self.species]
                + [f"flux_{s}_{b}" for s in self.species for b in self.flux_boundaries]
                + ["newton", "krylov", "retries"])

    def row(self, info: Any) -> dict[str, float]:
        """The CSV row after a step (``info`` None: the initial state)."""
        p = self.problem
        row = {"t": p.current_time, "dt": 0.0 if info is None else info.dt}
        for s in self.species:
            row[f"amount_{s}"] = p.amount(s)
        for s in self.species:
            for b in self.flux_boundaries:
                row[f"flux_{s}_{b}"] = p.flux_through(s, b)
        row.update(self._iterations(info))
        return row

    def fields(self) -> list[Any]:
        """X of every species, μ̃ of the independent ones, the fluxes J (and σ_h)."""
        p = self.problem
        out = [*p.X.values(), *p.mu.values(), *(p.flux(s) for s in self.species)]
        if self.sigma_h is not None:
            out.append(self.sigma_h)
        return out

    def refresh(self) -> None:
        """Update the flux fields before writing them."""
        for s in self.species:
            self.problem.flux(s)

    def profile_fields(self) -> list[Any]:
        """X and μ̃ (and σ_h) along the profiles."""
        p = self.problem
        out = [*p.X.values(), *p.mu.values()]
        if self.sigma_h is not None:
            out.append(self.sigma_h)
        return out

    def plot_field(self) -> Any:
        """X of the first species."""
        return self.problem.X[self.species[0]]
