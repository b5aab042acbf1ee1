"""The composition matrix: small case files that combine two features each.

Each feature is a change to a base case (a closed 2D square of hydrogen, ideal, no
boundary condition on the species: nothing enters or leaves). Every pair of features is
either posed and run, and then conserves the total amount, or refused by ``femdiff
check`` with one line. ``tests/test_composition.py`` runs the matrix; ``python
tests/composition.py`` prints it as the Markdown table of the documentation.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from typing import Any

L = 1.0e-3  # m
T0 = 300.0  # K

BASE: dict[str, Any] = {
    "case": {"name": "compose", "description": "two composed features, closed square"},
    "geometry": {"builder": "rectangle", "params": {"nx": 6, "ny": 6, "lx": L, "ly": L}},
    "materials": {"T": T0},
    "physics": {"model": "diffusion", "terms": [{"type": "ideal"}],
                "mobility": {"type": "einstein", "D": 1.0e-9}},
    "species": [{"name": "H", "initial": "1 + 0.5*cos(pi*x/1e-3)*cos(pi*y/2e-3)"}],
    "time": {"t_end": 100.0, "dt": 10.0, "scheme": "bdf2"},  # L²/D = 1000 s
    "output": {"fields": "none"},
}


def _materials_form(case: dict[str, Any],
                    solubilities: tuple[float, float] | None) -> None:
    """[[materials]] on a diffusion couple (regions A | B at L/2): one or two materials."""
    if "materials_list" in case:  # (the two-material feature is applied first)
        return
    mat = case.pop("materials")
    case["geometry"] = {"builder": "diffusion_couple", "h": L / 6,
                        "params": {"length": L, "height": L, "interface": L / 2}}
    case["physics"]["terms"][0]["T"] = mat.pop("T")
    omega = mat.pop("omega", None)
    mat.pop("elastic_model", None)
    for term in case["physics"]["terms"]:
        if term["type"] == "stress":
            term["omega"] = omega
    # one material over both halves: C continuous; two: C broken at the interface
    groups = [("AB", ["A", "B"], 1.0)] if solubilities is None else [
        (name, [name], S) for name, S in zip(("A", "B"), solubilities, strict=True)]
    case["materials_list"] = [
        {"name": name, "regions": regions, "D0": 1.0e-9, "E_D": 0.0, "S0": S, "E_S": 0.0,
         **mat} for name, regions, S in groups]
    del case["physics"]["mobility"]


def _mcnabb_foster(case: dict[str, Any]) -> None:
    case.setdefault("traps", []).append(
        {"type": "mcnabb_foster", "density": 0.5, "k0": 1.0e-2, "E_k": 0.0, "p0": 1.0e-3,
         "E_p": 0.0, "initial": 0.1})


def _oriani(case: dict[str, Any]) -> None:
    case.setdefault("traps", []).append(
        {"type": "oriani", "density": 0.5, "binding_energy": 2.0e4})
    case["physics"]["n_sites"] = 1.0e4


def _two_way(case: dict[str, Any]) -> None:
    mech = {"E": 1.0e11, "nu": 0.3}
    mechanics: dict[str, Any] = {"two_way": True, "c_ref": 1.0}
    if "materials_list" in case:
        for m in case["materials_list"]:
            m.update(mech)
        case["physics"]["terms"].append({"type": "stress", "omega": 2.0e-6})
        mechanics["elastic_model"] = "plane_strain"
    else:
        case["materials"].update({**mech, "omega": 2.0e-6, "elastic_model": "plane_strain"})
        case["physics"]["terms"].append({"type": "stress"})
    case["mechanics"] = {**mechanics, "boundary": [
        {"name": "left", "type": "displacement", "components": {"x": 0.0, "y": 0.0}}]}


def _temperature(case: dict[str, Any]) -> None:
    _materials_form(case, None)  # a temperature field needs D0, E_D per material
    case.setdefault("thermal", {})["T"] = f"{T0} + 30*x/{L}"


def _soret(case: dict[str, Any]) -> None:
    _temperature(case)
    case["thermal"]["heat_of_transport"] = 5.0e3


def _periodic(case: dict[str, Any]) -> None:
    case["geometry"]["periodic"] = [["bottom", "top"]]


def _materials(case: dict[str, Any]) -> None:
    _materials_form(case, (1.0, 2.0))  # C jumps at x = L/2 (S_B = 2 S_A), μ continuous


#: feature name -> change to the base case
FEATURES: dict[str, Callable[[dict[str, Any]], None]] = {
    "mcnabb_foster": _mcnabb_foster, "oriani": _oriani, "two_way": _two_way,
    "temperature": _temperature, "soret": _soret, "periodic": _periodic,
    "materials": _materials,
}


def case_of(*features: str) -> dict[str, Any]:
    """The base case with the given features applied (materials-form changes first)."""
    case = copy.deepcopy(BASE)
    first = ("materials", "temperature", "soret")  # they change the form of the case
    order = sorted(features, key=lambda f: first.index(f) if f in first else len(first))
    for name in order:
        FEATURES[name](case)
    return case


#: pairs refused by ``femdiff check`` today, with the key its one line names
REFUSED = {
    ("mcnabb_foster", "materials"): "traps",
    ("oriani", "materials"): "traps",
    ("two_way", "materials"): "mechanics.two_way",
}

#: what each feature is, for the table
DESCRIPTIONS = {
    "mcnabb_foster": "a McNabb–Foster trap (kinetic)",
    "oriani": "an Oriani trap (equilibrium)",
    "two_way": "two-way mechanics (σ_h(u, C) in μ, ε*(C) in the mechanics, one Newton)",
    "temperature": "a temperature field T(x) ([thermal] T formula, per-material laws)",
    "soret": "Soret drift (heat of transport Q*) in the temperature field",
    "periodic": "a periodic pair of boundaries",
    "materials": "two materials, C jumps at the interface (S_B = 2 S_A)",
}


def matrix_markdown() -> str:
    """The composition matrix as a Markdown table (the documentation's page)."""
    names = list(FEATURES)
    head = "| | " + " | ".join(f"`{n}`" for n in names) + " |"
    rows = [head, "|---" * (len(names) + 1) + "|"]
    for a in names:
        cells = []
        for b in names:
            pair = (a, b) if (a, b) in pairs() else (b, a)
            if a == b or pair not in pairs():
                cells.append("")
            elif pair in REFUSED:
                cells.append(f"refused (`{REFUSED[pair]}`)")
            else:
                cells.append("runs, conserves")
        rows.append(f"| `{a}` | " + " | ".join(cells) + " |")
    legend = "\n".join(f"- `{n}`: {d}" for n, d in DESCRIPTIONS.items())
    return "\n".join(rows) + "\n\n" + legend + "\n"


def pairs() -> list[tuple[str, str]]:
    """Every unordered pair of distinct features (Soret includes a temperature field)."""
    return [p for p in itertools.combinations(FEATURES, 2) if p != ("temperature", "soret")]


# --- a small TOML writer (tomllib reads; nothing in the standard library writes) ---------


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(float(v)) if isinstance(v, float) and math.isfinite(v) else repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def _table(name: str, table: dict[str, Any], out: list[str], array: bool = False) -> None:
    out.append(f"[[{name}]]" if array else f"[{name}]")
    subs = []
    for key, v in table.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v) \
                and key in ("boundary",):
            subs.append((f"{name}.{key}", v))
        else:
            out.append(f"{key} = {_value(v)}")
    for sub, items in subs:
        for item in items:
            _table(sub, item, out, array=True)


def to_toml(case: dict[str, Any]) -> str:
    """The case as TOML text (``materials_list`` is written as ``[[materials]]``)."""
    out: list[str] = []
    for key, v in case.items():
        if key == "materials_list":
            for item in v:
                _table("materials", item, out, array=True)
        elif isinstance(v, list):
            for item in v:
                _table(key, item, out, array=True)
        else:
            _table(key, v, out)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(matrix_markdown())
