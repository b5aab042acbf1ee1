"""The case-file reference: every section and key of the schema, in one walkable list.

The validators keep their key specs (:class:`~femdiff.case.schema.Key` tables) beside the
code that checks them; this module gathers them into :data:`SECTIONS`, the one source of
``femdiff keys`` (text, like MOOSE's ``--dump``), ``femdiff schema`` (a JSON Schema for
editors) and the documentation's case-file reference page. A key's text is its
``Key.doc``, else the entry of :data:`KEY_DOCS`; its unit is the ``[...]`` in that text.
``tests/test_reference.py`` fails when a key has neither, or when a key table of
``femdiff.case`` is missing from :data:`SECTIONS`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from femdiff.case import (
    diffusion,
    geometry,
    loader,
    mechanics,
    multicomponent,
    outputs,
    thermal,
    traps,
)
from femdiff.case.schema import Key


@dataclass(frozen=True)
class Section:
    """One table of a case file.

    Attributes:
        path: its dotted path (``time.adaptive``, ``physics.terms``).
        keys: its key specs.
        doc: one line on what it is for.
        array: an array of tables (``[[path]]``).
        model: the ``[physics] model`` that reads it ("" for every model).
        variant: for a table with a ``type`` key, the type these keys belong to.
    """

    path: str
    keys: Mapping[str, Key]
    doc: str
    array: bool = False
    model: str = ""
    variant: str = ""

    @property
    def header(self) -> str:
        """The TOML header, e.g. ``[[traps]]``, with model and type when they matter."""
        head = f"[[{self.path}]]" if self.array else f"[{self.path}]"
        extra = [f"type = {self.variant!r}"] if self.variant else []
        extra += [f"model = {self.model!r}"] if self.model else []
        return head + (f" ({', '.join(extra)})" if extra else "")


_DIFF, _MECH, _MC = diffusion.DiffusionModel, mechanics.MechanicsModel, \
    multicomponent.MulticomponentModel

#: geometry.periodic is popped before the [geometry] table check (femdiff.case.geometry)
GEOMETRY_EXTRA = {"periodic": Key("table", doc='pairs of boundaries glued together, e.g. '
                                   '[["left", "right"], ["bottom", "top"]]')}

SECTIONS: list[Section] = [
    Section("case", loader.CASE, "a name and description for the run"),
    Section("geometry", {**geometry.GEOMETRY, **GEOMETRY_EXTRA},
            "the mesh: a built-in builder with params, or a .msh/.geo file"),
    Section("materials", loader.MATERIALS, "one material everywhere (the shorthand)"),
    Section("materials", loader.MATERIAL_ENTRY,
            "materials by named Gmsh volume (the multi-material form)", array=True),
    Section("materials.species", multicomponent.SPECIES_MATERIAL,
            "per-species data of a [[materials]] entry, as [materials.species.<name>]",
            model="multicomponent"),
    Section("physics", _DIFF.PHYSICS, "one species in the mixed μ–C form",
            model="diffusion"),
    *[Section("physics.terms", keys, "a term of the chemical potential μ", array=True,
              model="diffusion", variant=name) for name, keys in diffusion.TERM_KEYS.items()],
    *[Section("physics.mobility", keys, "the mobility M(C)", model="diffusion",
              variant=name) for name, keys in diffusion.MOBILITY_KEYS.items()],
    Section("species", _DIFF.SPECIES, "the diffusing species", array=True,
            model="diffusion"),
    Section("boundary", _DIFF.BOUNDARY, "a boundary condition of the diffusion problem",
            array=True, model="diffusion"),
    *[Section("traps", keys, "a trap population (hydrogen trapping)", array=True,
              model="diffusion", variant=name) for name, keys in traps.TRAP_KEYS.items()],
    Section("physics", _MECH.PHYSICS, "a stationary elasticity solve", model="mechanics"),
    Section("physics", _MC.PHYSICS, "several species, Onsager transport",
            model="multicomponent"),
    Section("physics.thermodynamics", multicomponent.THERMODYNAMICS,
            "the mixture's free energy", model="multicomponent"),
    Section("physics.transport", multicomponent.TRANSPORT, "the Onsager transport",
            model="multicomponent"),
    Section("species", _MC.SPECIES, "a species' initial mole fraction", array=True,
            model="multicomponent"),
    Section("boundary", _MC.BOUNDARY, "a boundary condition for one species", array=True,
            model="multicomponent"),
    Section("thermal", thermal.THERMAL, "a given or solved temperature field"),
    Section("thermal.boundary", thermal.THERMAL_BC, "a heat-conduction boundary condition",
            array=True),
    Section("mechanics", mechanics.MECHANICS, "linear elasticity: σ_h for the diffusion"),
    Section("mechanics.boundary", mechanics.MECH_BC, "a mechanical boundary condition",
            array=True),
    Section("time", loader.TIME, "time stepping"),
    Section("time.adaptive", loader.ADAPTIVE, "error-controlled time steps"),
    Section("solver", loader.SOLVER, "the solver of the diffusion problem"),
    Section("output", loader.OUTPUT, "what is written, where and when"),
    Section("output.profiles", loader.PROFILE, "a line profile written at the end",
            array=True),
    *[Section("output.quantities", keys, "a derived quantity: a CSV column with its unit "
              "(a profile: a file per output time)", array=True, variant=name)
      for name, keys in outputs.QUANTITY_KEYS.items()],
    Section("checkpoint", loader.CHECKPOINT, "restart files"),
]

#: docs for keys whose Key has none: ``"<path>.<key>"``, or ``"<path>:<variant>.<key>"``
#: for a typed table, or ``"<path>@<model>.<key>"`` for a model's own table
KEY_DOCS: dict[str, str] = {
    "case.name": "the run's name (default: the case file's name)",
    "case.description": "free text, shown by femdiff check",
    "materials.units": "molar: amounts in mol, energies in J/mol; atomic: atoms and J",
    "materials.elastic_model": "3d, or a 2D reduction: plane_strain, plane_stress",
    "materials.name": "the material's name (for messages and the CSV)",
    "physics@diffusion.model": "the model: diffusion (default), mechanics, multicomponent",
    "physics@diffusion.terms": "the μ terms, an array [[physics.terms]] with a type each",
    "physics@diffusion.degree": "polynomial degree of C and μ (P1 or P2)",
    "physics@diffusion.lumped": "lump the mass matrix (P1: no over- and undershoots)",
    "physics@diffusion.energy_stable": "convex splitting: F never increases (backward Euler)",
    "physics@diffusion.trap_initial": "trapped concentrations at t0: as given by each trap's "
                                      "initial, or in equilibrium with the lattice",
    "physics.terms:ideal.mu0": "reference chemical potential μ° [J/mol]",
    "physics.terms:ideal.c_ref": "reference concentration of ln(C/c_ref) [C units]",
    "physics.terms:lattice_saturation.mu0": "reference chemical potential μ° [J/mol]",
    "physics.terms:regular_solution.omega_mix": "interaction parameter Ω of the regular "
                                               "solution [J/mol]",
    "physics.terms:regular_solution.c_sites": "site concentration: X = C/c_sites [C units]",
    "physics.terms:double_well.rho": "barrier height ρ of f = ρ(c−c_α)²(c_β−c)² [J/mol]",
    "physics.terms:double_well.c_alpha": "composition of the first well c_α",
    "physics.terms:double_well.c_beta": "composition of the second well c_β",
    "physics.terms:gradient_energy.kappa": "gradient-energy coefficient κ [J m²/mol]",
    "physics.mobility:linear.M0": "M = M₀ C; M₀ [m² mol/(J s)] per unit C",
    "physics.mobility:constant.M0": "M = M₀ [m² mol/(J s)]",
    "physics.mobility:cahn_hilliard.M0": "M = M₀ c(1 − c) [m² mol/(J s)]",
    "physics.mobility:einstein.T": "temperature of D = M₀RT [K]; default materials.T",
    "physics.mobility:lattice.T": "temperature [K]; default materials.T",
    "species@diffusion.name": "the species' name (CSV columns, output fields)",
    "species@diffusion.concentration_scale": "the C scale of the scaled unknowns [C units] "
                                             "(default: from the initial and boundary data)",
    "boundary@diffusion.type": "no_flux, concentration (C), potential (a reservoir μ) or "
                               "flux (outward J·n)",
    "boundary@diffusion.value": "C [C units], μ [J/mol] or J·n [C units·m/s]; a formula "
                                "of x, y, z, t",
    "boundary@diffusion.species": "the species name (optional with one species)",
    "traps:mcnabb_foster.E_k": "trapping activation energy [J/mol or J]",
    "traps:mcnabb_foster.E_p": "detrapping activation energy [J/mol or J]",
    "traps:mcnabb_foster.k0": "trapping rate prefactor [m³/(mol s)] per_volume, "
                              "[1/s] per_site",
    "traps:mcnabb_foster.rate_units": "per_volume: k C (N_T − C_T); per_site: k (C/N_L) "
                                      "(N_T − C_T)",
    "physics@mechanics.model": "mechanics: solve elasticity only (σ_h, von Mises)",
    "physics@multicomponent.model": "multicomponent: Onsager diffusion of several species",
    "physics@multicomponent.lattice": "a lattice constraint Σ X_i = 1 (the last species is "
                                      "the dependent solvent)",
    "physics@multicomponent.degree": "polynomial degree of X and μ̃ (P1 or P2)",
    "physics@multicomponent.lumped": "lump the mass matrix",
    "physics.thermodynamics.type": "ideal, regular_solution or wagner",
    "physics.transport.type": "matrix (L_ij), mobilities (M_i), dilute (D_i) or "
                              "interdiffusion (D by pair)",
    "species@multicomponent.name": "a species declared in [physics] species",
    "boundary@multicomponent.type": "no_flux, concentration (X), potential (μ̃) or flux",
    "boundary@multicomponent.value": "X, μ̃ [J/mol] or J·n; a formula of x, y, z, t",
    "thermal.degree": "polynomial degree of T",
    "thermal.solver": "gamg (CG + algebraic multigrid) or lu",
    "thermal.boundary": "the heat boundary conditions, an array [[thermal.boundary]]",
    "thermal.boundary.type": "temperature, flux or convection",
    "mechanics.degree": "polynomial degree of the displacement (P2 for a smooth ∇σ_h)",
    "mechanics.solver": "gamg (CG + GAMG with the rigid-body near-nullspace) or lu",
    "mechanics.sigma_h": "σ_h as DG (cellwise) or CG (L2 projection) field",
    "mechanics.petsc_options": "PETSc options of the elasticity solve",
    "mechanics.boundary": "the mechanical boundary conditions, [[mechanics.boundary]]",
    "mechanics.two_way": "two-way chemo-mechanics: σ depends on C through ε* = (Ω/3)(C − "
                         "c_ref) I, solved monolithically",
    "mechanics.boundary.type": "fixed, displacement, traction, pressure, body_force or "
                               "k_field",
    "mechanics.boundary.value": "a number [Pa] (pressure), an array [Pa, or N/m³ for "
                                "body_force], or formulas",
    "time.t0": "start time [s]",
    "time.scheme": "backward_euler (order 1), bdf2 or crank_nicolson (order 2)",
    "time.dt_max": "largest time step [s]",
    "time.dt_min": "smallest time step [s] before a step failure ends the run",
    "time.shrink": "Δt factor after a failed step, < 1",
    "time.max_retries": "retries of a failed step before the run fails",
    "time.adaptive.tol": "target local error per step (scaled concentration, max norm)",
    "time.adaptive.safety": "safety factor of the step-size controller, < 1",
    "time.adaptive.max_growth": "largest Δt factor from one step to the next",
    "time.adaptive.min_shrink": "smallest Δt factor after a rejected step",
    "time.adaptive.reject": "reject a step whose error exceeds reject × tol",
    "time.adaptive.k_I": "integral gain of the PI step-size controller",
    "time.adaptive.k_P": "proportional gain of the PI step-size controller",
    "solver.petsc_options": "PETSc options of the diffusion solve; override femdiff's "
                            "choice; femdiff_* keys are femdiff's own",
    "output.fields": "format of the field files: vtx (ADIOS2 .bp), xdmf or none",
    "output.profiles": "line profiles, an array [[output.profiles]]",
    "output.png": "write PNG plots of the time series and profiles",
    "output.profiles.name": "the profile's name (its CSV and PNG file names)",
    "output.profiles.start": "first point [m]",
    "output.profiles.end": "last point [m]",
    "output.profiles.n": "number of points on the line",
    "checkpoint.keep": "how many checkpoints are kept",
}


#: what a key's Key.doc does not say (forms handled outside its Key)
_EXTRA_DOCS = {"species@diffusion.initial": "[C units]; with [[materials]] also a table "
                                            "{<material> = value}"}


def section_id(s: Section) -> str:
    """The :data:`KEY_DOCS` prefix of a section."""
    if s.variant:
        return f"{s.path}:{s.variant}"
    same = [t for t in SECTIONS if t.path == s.path and not t.variant]
    return f"{s.path}@{s.model}" if len(same) > 1 and s.model else s.path


def key_doc(s: Section, name: str) -> str:
    """The text of a key: its ``Key.doc``, else its :data:`KEY_DOCS` entry ("" if none)."""
    doc = s.keys[name].doc or KEY_DOCS.get(f"{section_id(s)}.{name}", "")
    extra = _EXTRA_DOCS.get(f"{section_id(s)}.{name}")
    return f"{doc}; {extra}" if extra else doc


_UNIT = re.compile(r"\[([^\]]+)\]")


def key_unit(s: Section, name: str) -> str:
    """The unit of a key: the first ``[...]`` of its text that is not a table header."""
    for m in _UNIT.finditer(key_doc(s, name)):
        text = m.group(1)
        if not text.startswith(("[", "physics", "materials")) and "=" not in text:
            return text
    return ""


def kind_text(k: Key) -> str:
    """The kind of a key, in words."""
    return {"number": "number", "positive": "number > 0", "nonnegative": "number ≥ 0",
            "integer": "integer", "posint": "integer ≥ 1", "string": "string",
            "choice": "string", "bool": "boolean", "expr": "number or formula (x, y, z)",
            "texpr": "number or formula (x, y, z, t)", "numbers": "array of numbers",
            "point": "point (1-3 numbers)", "strings": "array of strings",
            "table": "table", "options": "table of PETSc options"}[k.kind]


def default_text(k: Key) -> str:
    """The default of a key, as TOML would write it ("required" or "" for none)."""
    if k.required:
        return "required"
    d = k.default
    if d is None:
        return ""
    if isinstance(d, bool):
        return str(d).lower()
    if isinstance(d, float) and math.isinf(d):
        return "inf"
    if isinstance(d, str):
        return repr(d)
    return json.dumps(d, ensure_ascii=False) if isinstance(d, list | dict) else f"{d:g}" \
        if isinstance(d, float) else str(d)


def rows(s: Section) -> list[dict[str, str]]:
    """One row per key of ``s``: key, kind, default, allowed values, unit, doc."""
    out = []
    if s.variant:
        out.append({"key": "type", "kind": "string", "default": "required",
                    "allowed": repr(s.variant), "unit": "", "doc": "selects these keys"})
    for name, k in s.keys.items():
        out.append({"key": name, "kind": kind_text(k), "default": default_text(k),
                    "allowed": ", ".join(map(str, k.choices)), "unit": key_unit(s, name),
                    "doc": key_doc(s, name)})
    return out


def select(prefix: str | None) -> list[Section]:
    """The sections whose path is ``prefix`` or lies under it (all for None)."""
    if not prefix:
        return list(SECTIONS)
    prefix = prefix.strip("[]")
    found = [s for s in SECTIONS if s.path == prefix or s.path.startswith(prefix + ".")]
    if not found:
        paths = sorted({s.path.split(".")[0] for s in SECTIONS})
        raise ValueError(f"unknown section {prefix!r}; sections: {', '.join(paths)}")
    return found


def text(prefix: str | None = None) -> str:
    """The plain-text listing of ``femdiff keys``."""
    lines = []
    for s in select(prefix):
        lines.append(f"{s.header}  {s.doc}")
        for r in rows(s):
            bits = [r["kind"]]
            if r["default"]:
                bits.append(f"default {r['default']}" if r["default"] != "required"
                            else "required")
            if r["allowed"]:
                bits.append(f"one of {r['allowed']}")
            lines.append(f"  {r['key']:<20} {'; '.join(bits)}")
            if r["doc"]:
                lines.append(f"  {'':<20} {r['doc']}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The case-file reference page (MyST Markdown), one table per section."""
    out = ["# Case-file reference", "",
           "Generated from the schema (`femdiff/case/reference.py`); the same text is "
           "printed by `femdiff keys [SECTION]`, and `femdiff schema` exports it as a JSON "
           "Schema for editors. Units are SI; *C units* are those of the concentration "
           "(mol/m³ with `materials.units = 'molar'`).", ""]
    for s in SECTIONS:
        out += [f"## `{s.header}`", "", s.doc[0].upper() + s.doc[1:] + ".", "",
                "| key | type | default | allowed | unit | description |",
                "|---|---|---|---|---|---|"]
        for r in rows(s):
            out.append("| " + " | ".join(_md(r[c]) if c != "key" else f"`{r[c]}`"
                                         for c in ("key", "kind", "default", "allowed",
                                                   "unit", "doc")) + " |")
        out.append("")
    return "\n".join(out)


# --- JSON Schema -----------------------------------------------------------------------------


def _key_schema(k: Key, doc: str) -> dict[str, Any]:
    number = {"type": "number"}
    by_kind: dict[str, dict[str, Any]] = {
        "number": number, "positive": {"type": "number", "exclusiveMinimum": 0},
        "nonnegative": {"type": "number", "minimum": 0}, "integer": {"type": "integer"},
        "posint": {"type": "integer", "minimum": 1}, "string": {"type": "string"},
        "choice": {"type": "string"}, "bool": {"type": "boolean"},
        "expr": {"type": ["number", "string"]}, "texpr": {"type": ["number", "string"]},
        "numbers": {"type": "array", "items": number},
        "point": {"type": "array", "items": number, "minItems": 1, "maxItems": 3},
        "strings": {"type": "array", "items": {"type": "string"}},
        "table": {}, "options": {"type": "object"},
    }
    out = dict(by_kind[k.kind])
    if k.choices:
        out["enum"] = list(k.choices)
    if k.default is not None and not (isinstance(k.default, float) and math.isinf(k.default)):
        out["default"] = k.default
    if doc:
        out["description"] = doc
    return out


#: keys the validators accept in more forms than their Key kind says
_EXTRA_FORMS: dict[str, dict[str, Any]] = {
    # [[species]] initial = {<material> = value, ...} with [[materials]]
    "species@diffusion.initial": {"type": ["number", "string", "object"],
                                  "additionalProperties": {"type": ["number", "string"]}},
    # output.fields = ["C", "sigma_h", ...]: the fields chosen by name (format: output.format)
    "output.fields": {"type": ["string", "array"], "items": {"type": "string"},
                      "enum": None},
}


def _section_schema(s: Section) -> dict[str, Any]:
    props = {name: _key_schema(k, key_doc(s, name)) for name, k in s.keys.items()}
    for name in props:
        props[name].update(_EXTRA_FORMS.get(f"{section_id(s)}.{name}", {}))
        if props[name].get("enum", "") is None:  # a list form too: no enum of the string
            del props[name]["enum"]
    if s.variant:
        props["type"] = {"const": s.variant}
    required = (["type"] if s.variant else []) + [n for n, k in s.keys.items() if k.required]
    out: dict[str, Any] = {"type": "object", "description": s.doc, "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of case files, for editors (Taplo, VS Code)."""
    schemas = {id(s): _section_schema(s) for s in SECTIONS}

    def variants(path: str) -> list[Section]:
        return [s for s in SECTIONS if s.path == path]

    def combined(path: str) -> dict[str, Any]:
        tables = [schemas[id(s)] for s in variants(path)]
        arrays = [schemas[id(s)] for s in variants(path) if s.array]
        plain = [schemas[id(s)] for s in variants(path) if not s.array]

        def one(xs: list[dict[str, Any]]) -> dict[str, Any]:
            return xs[0] if len(xs) == 1 else {"anyOf": xs}

        if arrays and plain:
            return {"anyOf": [one(plain), {"type": "array", "items": one(arrays)}]}
        if arrays:
            return {"type": "array", "items": one(arrays)}
        return one(tables)

    # nest each child path in every parent table that has that key
    for s in SECTIONS:
        if "." not in s.path:
            continue
        parent, child = s.path.rsplit(".", 1)
        for p in variants(parent):
            props = schemas[id(p)]["properties"]
            if child in props:
                sub = combined(s.path)
                if parent == "materials" and child == "species":
                    sub = {"type": "object", "additionalProperties": sub}
                props[child] = {**sub, "description": props[child].get("description", "")}
    top = sorted({s.path for s in SECTIONS if "." not in s.path},
                 key=[s.path for s in SECTIONS].index)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "femdiff case file", "type": "object",
            "properties": {p: combined(p) for p in top}, "additionalProperties": False,
            "required": ["geometry"]}
