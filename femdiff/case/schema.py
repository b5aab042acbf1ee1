"""The generic schema checker of case files: typed keys, tables and one-line errors.

Nothing here knows a model: a model plug-in (:mod:`femdiff.case.registry`) describes its
tables with :class:`Key` specs and checks them with :func:`table`; every problem raises a
:class:`CaseError` ``<file>: <key path>: <message>`` naming the allowed values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from femdiff.case.expression import Expression


class CaseError(ValueError):
    """A problem in a case file: ``<file>: <key path>: <message>``."""

    def __init__(self, file: str | Path, key: str, message: str) -> None:
        self.file, self.key, self.message = str(file), key, message
        super().__init__(f"{self.file}: {key}: {message}" if key else
                         f"{self.file}: {message}")


def type_name(value: Any) -> str:
    """The TOML name of a value's type, for messages."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


# --- the schema ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One key of a table: its kind, whether it is required, its default and check.

    Kinds: ``number``, ``positive``, ``nonnegative``, ``integer``, ``posint``, ``string``,
    ``choice`` (one of ``choices``), ``bool``, ``expr`` (number or formula of x, y, z),
    ``texpr`` (also of t), ``numbers`` (array of numbers), ``point``, ``strings``,
    ``table`` (free-form), ``options`` (PETSc option table).
    """

    kind: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    doc: str = ""


def check_value(v: Any, k: Key, where: str, ctx: Context) -> Any:
    """``v`` checked against ``k`` at key path ``where``: a float, Expression, list, ..."""
    def bad(expected: str) -> CaseError:
        return ctx.error(where, f"expected {expected}, got {type_name(v)} {v!r}")

    number = isinstance(v, int | float) and not isinstance(v, bool)
    kind = k.kind
    if kind in ("number", "positive", "nonnegative"):
        if not number:
            raise bad("a number")
        if not math.isfinite(v):
            raise ctx.error(where, f"must be finite, got {v!r}")
        if kind == "positive" and not v > 0:
            raise ctx.error(where, f"must be a positive number{_doc(k)}, got {v!r}")
        if kind == "nonnegative" and not v >= 0:
            raise ctx.error(where, f"must be ≥ 0{_doc(k)}, got {v!r}")
        return float(v)
    if kind in ("integer", "posint"):
        if not isinstance(v, int) or isinstance(v, bool):
            raise bad("an integer")
        if kind == "posint" and v < 1:
            raise ctx.error(where, f"must be a positive integer{_doc(k)}, got {v!r}")
        if k.choices and v not in k.choices:
            raise ctx.error(where, f"must be one of {', '.join(map(str, k.choices))}, got {v!r}")
        return v
    if kind == "bool":
        if not isinstance(v, bool):
            raise bad("true or false")
        return v
    if kind in ("string", "choice"):
        if not isinstance(v, str):
            raise bad("a string")
        if kind == "choice" and v not in k.choices:
            raise ctx.error(where, f"unknown value {v!r}; allowed values: "
                            f"{', '.join(map(str, k.choices))}")
        return v
    if kind in ("expr", "texpr"):
        if number:
            if not math.isfinite(v):
                raise ctx.error(where, f"must be a finite number, got {v!r}")
            return float(v)
        if not isinstance(v, str):
            raise bad("a number or a formula string")
        names = ("x", "y", "z", "t") if kind == "texpr" else ("x", "y", "z")
        try:
            expr = Expression(v, names)
            expr.check_finite()
        except ValueError as exc:
            raise ctx.error(where, str(exc)) from None
        if ctx.gdim is not None and expr.dims and max(expr.dims) >= ctx.gdim:
            raise ctx.error(where, f"{v!r} uses coordinate {'xyz'[max(expr.dims)]} but the "
                            f"mesh is {ctx.gdim}D")
        return expr
    if kind in ("numbers", "point"):
        if not isinstance(v, list) or not all(
                isinstance(a, int | float) and not isinstance(a, bool) for a in v):
            raise bad("an array of numbers")
        if not all(math.isfinite(a) for a in v):
            raise ctx.error(where, f"must be finite numbers, got {v!r}")
        if kind == "point" and len(v) not in (1, 2, 3):
            raise ctx.error(where, f"expected 1 to 3 coordinates, got {v!r}")
        return [float(a) for a in v]
    if kind == "strings":
        if not isinstance(v, list) or not all(isinstance(a, str) for a in v):
            raise bad("an array of strings")
        return list(v)
    if kind == "table":
        if not isinstance(v, dict):
            raise bad("a table")
        return dict(v)
    if kind == "options":
        if not isinstance(v, dict):
            raise bad("a table of PETSc options")
        for name, value in v.items():
            if not isinstance(value, str | int | float | bool):
                raise ctx.error(f"{where}.{name}", f"a PETSc option value must be a string, "
                                f"number or boolean, got {type_name(value)}")
        return dict(v)
    raise AssertionError(kind)


def _doc(k: Key) -> str:
    return f" ({k.doc})" if k.doc else ""


def table(data: Any, spec: Mapping[str, Key], where: str, ctx: Context) -> dict[str, Any]:
    """Check a table against ``spec``: no unknown keys, right types, required present."""
    if not isinstance(data, dict):
        raise ctx.error(where, f"expected a table, got {type_name(data)} {data!r}")
    for name in data:
        if name not in spec:
            raise ctx.error(_join(where, name), f"unknown key {name!r}; allowed keys"
                            f"{' in [' + where + ']' if where else ''}: {', '.join(spec)}")
    out = {}
    for name, k in spec.items():
        path = _join(where, name)
        if name in data:
            out[name] = check_value(data[name], k, path, ctx)
        elif k.required:
            what = f" ({k.doc})" if k.doc else ""
            allowed = f"; allowed values: {', '.join(map(str, k.choices))}" if k.choices else ""
            raise ctx.error(path, f"missing required value{what}{allowed}")
        else:
            out[name] = k.default
    return out


def _join(a: str, b: str) -> str:
    return f"{a}.{b}" if a else b


def array_of_tables(data: Any, where: str, ctx: Context) -> list[dict]:
    """An array of tables (``[[where]]``); ``[]`` when absent."""
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ctx.error(where, f"expected an array of tables ([[{where}]]), got "
                        f"{type_name(data)}")
    return data


@dataclass
class Context:
    """What validation knows: the file, the mesh dimension and names once known."""

    file: str
    gdim: int | None = None
    boundaries: list[str] | None = None
    volumes: list[str] | None = None
    species: list[str] = field(default_factory=list)
    species_source: str = "[[species]] name"
    geometry_label: str = ""
    #: boundary name -> its partner, for boundaries glued by [geometry] periodic
    periodic: dict[str, str] = field(default_factory=dict)

    def error(self, key: str, message: str) -> CaseError:
        """A :class:`CaseError` for ``key``."""
        return CaseError(self.file, key, message)

    def warn(self, key: str, message: str) -> None:
        """Log a warning ``<file>: <key>: <message>`` (input that may be meant)."""
        import logging

        logging.getLogger("femdiff").warning("%s: %s: %s", self.file, key, message)

    def check_boundary(self, name: str, where: str) -> None:
        """Raise for a boundary name the geometry does not have."""
        if name in self.periodic:
            raise self.error(where, f"boundary {name!r} is periodic (glued to "
                             f"{self.periodic[name]!r} by geometry.periodic): it is no longer "
                             "a boundary and takes no condition")
        if self.boundaries is not None and name not in self.boundaries:
            raise self.error(where, f"unknown boundary {name!r}; {self.geometry_label} has "
                             f"boundaries: {', '.join(self.boundaries) or '(none)'}")

    def check_species(self, name: str, where: str) -> None:
        """Raise for an undeclared species name."""
        if name not in self.species:
            raise self.error(where, f"unknown species {name!r}; declared species "
                             f"({self.species_source}): {', '.join(self.species) or '(none)'}")


def typed(data: Any, keys: Mapping[str, Mapping[str, Key]], where: str, ctx: Context
           ) -> dict[str, Any]:
    """A table with a ``type`` key, checked against the keys of that type."""
    if not isinstance(data, dict):
        raise ctx.error(where, f"expected a table with a 'type', got {type_name(data)}")
    kind = data.get("type")
    if kind is None:
        raise ctx.error(f"{where}.type", f"missing required value; allowed values: "
                        f"{', '.join(keys)}")
    if kind not in keys:
        raise ctx.error(f"{where}.type", f"unknown type {kind!r}; allowed values: "
                        f"{', '.join(keys)}")
    out = table({k: v for k, v in data.items() if k != "type"}, keys[kind], where, ctx)
    out["type"] = kind
    return out


def construct(where: str, ctx: Context, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call a femdiff constructor; its ValueError becomes a CaseError at ``where``."""
    try:
        return fn(*args, **kw)
    except (ValueError, TypeError) as exc:
        raise ctx.error(where, str(exc)) from None


def check_petsc_options(options: Mapping[str, Any], where: str, ctx: Context, *,
                        femdiff_keys: bool = True) -> None:
    """Check a PETSc option table at ``where`` before anything is built.

    ``*_type`` values against this PETSc's types (:func:`femdiff.numerics.solvers.validate_options`)
    and femdiff's own ``femdiff_*`` keys against their rules
    (:func:`femdiff.numerics.solvers.validate_femdiff_options`, the check the solver makes), or,
    with ``femdiff_keys=False`` (a solve that reads none), refuse them.
    """
    from femdiff.numerics import solvers

    for key, value in options.items():
        path = f"{where}.{key}"
        if key.startswith("femdiff_"):
            if not femdiff_keys:
                raise ctx.error(path, "femdiff's own options are read by the diffusion "
                                "Newton solver only: put them in [solver] petsc_options")
            try:
                solvers.validate_femdiff_options({key: value})
            except solvers.OptionError as exc:
                raise ctx.error(path, exc.reason) from None
            continue
        try:
            solvers.validate_options({key: value})
        except ValueError as exc:
            raise ctx.error(path, str(exc)) from None
