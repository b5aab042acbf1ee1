"""TOML case files: schema, validation and the model registry.

A case file describes a whole simulation (see ``docs/cli.md`` and ``cases/*.toml``)::

    [case]        name, description
    [geometry]    builder + params + h  |  file (.msh/.geo);  transform = {x = ...}
    [materials]   T, units, E, nu, elastic_model, omega
    [physics]     model, terms (the μ terms), mobility, degree, lumped, energy_stable
                  (multicomponent: species, lattice, degree, lumped, thermodynamics =
                  {type, T, mu0, omega, epsilon, ln_gamma0, kappa, volumes},
                  transport = {type, L | M | D, T})
    [[species]]   name, initial, concentration_scale
    [[boundary]]  name, type, value, species           (diffusion boundary conditions)
    [mechanics]   degree, solver, sigma_h, petsc_options, [[mechanics.boundary]]
    [time]        t_end, dt, t0, scheme, growth, dt_max, dt_min, shrink, max_retries,
                  adaptive = {tol, ...}
    [solver]      petsc_options
    [output]      folder, fields, every, times, boundaries, profiles, png
    [checkpoint]  every_steps, every_seconds, keep, final

:func:`load` parses and validates a file without building anything: every unknown key,
wrong type, missing or non-physical value, and unknown boundary or species name raises a
:class:`CaseError` whose message names the file, the key path and the allowed values.
Boundary names are known before meshing: from the builder's table below, the
``$PhysicalNames`` of a ``.msh`` file, or the ``Physical`` statements of a ``.geo`` file.

Models plug in through :data:`MODELS` (:func:`register_model`): a model validates its
part of the case (:meth:`Model.validate`) and builds a :class:`Simulation` from a mesh
(:meth:`Model.build`); the runner (:mod:`femdiff.cli`) only drives the
:class:`Simulation` protocol (step, series row, fields, state for checkpoints).
"""

from __future__ import annotations

import ast
import inspect
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# --- errors ----------------------------------------------------------------------------


class CaseError(ValueError):
    """A problem in a case file: ``<file>: <key path>: <message>``."""

    def __init__(self, file: str | Path, key: str, message: str) -> None:
        self.file, self.key, self.message = str(file), key, message
        super().__init__(f"{self.file}: {key}: {message}" if key else
                         f"{self.file}: {message}")


def _type_name(value: Any) -> str:
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


# --- expressions -------------------------------------------------------------------------

#: functions allowed in expression strings
FUNCTIONS = ("sin", "cos", "tan", "exp", "ln", "log", "sqrt", "tanh", "sinh", "cosh",
             "atan", "abs")
_CONSTANTS = {"pi": math.pi, "e": math.e}


class Expression:
    """A formula of the coordinates, e.g. ``"1 + 0.1*sin(pi*x)*cos(2*pi*y)"``.

    Names: ``x``, ``y``, ``z`` (or ``x[0]``, ``x[1]``, ``x[2]``), ``pi``, ``e`` and the
    functions in :data:`FUNCTIONS`; ``t`` where a time is allowed. Operators
    ``+ - * / **``. Parsed (never ``eval``-ed) into a tree that evaluates to UFL or NumPy.
    """

    def __init__(self, text: str, names: tuple[str, ...] = ("x", "y", "z")) -> None:
        self.text = text
        self.names = names
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ValueError(f"cannot parse expression {text!r}: {exc.msg}") from None
        self._check(tree.body)
        self.tree = tree
        self.dims = self._dims(tree)

    def _check(self, node: ast.AST) -> None:
        allowed_ops = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, allowed_ops):
                raise ValueError(f"operator not allowed in {self.text!r}; use + - * / **")
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, allowed_ops):
                raise ValueError(f"operator not allowed in {self.text!r}")
            self._check(node.operand)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise ValueError(f"only numbers are allowed as constants in {self.text!r}")
        elif isinstance(node, ast.Name):
            if node.id not in (*self.names, *_CONSTANTS):
                raise ValueError(
                    f"unknown name {node.id!r} in {self.text!r}; allowed names: "
                    f"{', '.join((*self.names, *_CONSTANTS))} and functions "
                    f"{', '.join(FUNCTIONS)}")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS \
                    or node.keywords or len(node.args) != 1:
                name = getattr(node.func, "id", "?")
                raise ValueError(f"unknown function {name!r} in {self.text!r}; allowed "
                                 f"functions (one argument): {', '.join(FUNCTIONS)}")
            self._check(node.args[0])
        elif isinstance(node, ast.Subscript):
            if not (isinstance(node.value, ast.Name) and node.value.id == "x"
                    and "x" in self.names and isinstance(node.slice, ast.Constant)
                    and node.slice.value in (0, 1, 2)):
                raise ValueError(f"only x[0], x[1], x[2] may be indexed in {self.text!r}")
        else:
            raise ValueError(f"{type(node).__name__} is not allowed in expression "
                             f"{self.text!r}")

    @staticmethod
    def _dims(tree: ast.AST) -> set[int]:
        used = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in ("y", "z"):
                used.add("xyz".index(node.id))
            elif isinstance(node, ast.Subscript):
                used.add(node.slice.value)  # type: ignore[attr-defined]
        return used

    @property
    def uses_time(self) -> bool:
        """Whether the formula contains ``t``."""
        return any(isinstance(n, ast.Name) and n.id == "t" for n in ast.walk(self.tree))

    def _eval(self, node: ast.AST, env: Mapping[str, Any], lib: Mapping[str, Callable]) -> Any:
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left, env, lib), self._eval(node.right, env, lib)
            op = node.op
            if isinstance(op, ast.Add):
                return a + b
            if isinstance(op, ast.Sub):
                return a - b
            if isinstance(op, ast.Mult):
                return a * b
            if isinstance(op, ast.Div):
                return a / b
            return a ** b
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, env, lib)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Constant):
            return float(node.value)  # type: ignore[arg-type]
        if isinstance(node, ast.Name):
            return _CONSTANTS[node.id] if node.id in _CONSTANTS else env[node.id]
        if isinstance(node, ast.Call):
            return lib[node.func.id](self._eval(node.args[0], env, lib))  # type: ignore
        assert isinstance(node, ast.Subscript)
        return env["xyz"[node.slice.value]]  # type: ignore[attr-defined]

    @property
    def names_used(self) -> set[str]:
        """The variable names the formula refers to (constants such as pi excluded)."""
        return {n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name)
                and n.id in self.names}

    def evaluate(self, env: Mapping[str, Any], backend: str = "ufl") -> Any:
        """The formula with its names bound by ``env``, built from UFL or NumPy functions.

        E.g. a transport entry ``"1e-3*X_A"`` with ``env = {"X_A": <UFL>}``.
        """
        return self._eval(self.tree.body, env, _library(backend))

    def ufl(self, mesh: Any, t: Any = None) -> Any:
        """The formula as a UFL expression on ``mesh`` (``t``: a Constant or number)."""
        import ufl

        X = ufl.SpatialCoordinate(mesh)
        env = {n: X[i] for i, n in enumerate("xyz"[: mesh.geometry.dim])}
        env["t"] = t
        return self._eval(self.tree.body, env, _library("ufl"))

    def numpy(self, x: np.ndarray, t: float = 0.0) -> np.ndarray:
        """Evaluate at points ``x`` (shape (3, n)), e.g. for interpolation."""
        env = {"x": x[0], "y": x[1], "z": x[2], "t": t}
        value = self._eval(self.tree.body, env, _library("numpy"))
        return np.broadcast_to(np.asarray(value, dtype=float), x[0].shape).copy()

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _library(backend: str) -> dict[str, Callable]:
    """The functions of :data:`FUNCTIONS` from UFL or NumPy."""
    if backend == "ufl":
        import ufl

        lib = {f: getattr(ufl, f) for f in FUNCTIONS if hasattr(ufl, f)}
        lib.update(log=ufl.ln, ln=ufl.ln, abs=abs)
        return lib
    lib = {f: getattr(np, f) for f in FUNCTIONS if hasattr(np, f)}
    lib.update(ln=np.log, atan=np.arctan, abs=np.abs)
    return lib


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


def _check_value(v: Any, k: Key, where: str, ctx: Context) -> Any:
    def bad(expected: str) -> CaseError:
        return ctx.error(where, f"expected {expected}, got {_type_name(v)} {v!r}")

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
            return float(v)
        if not isinstance(v, str):
            raise bad("a number or a formula string")
        names = ("x", "y", "z", "t") if kind == "texpr" else ("x", "y", "z")
        try:
            expr = Expression(v, names)
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
                                f"number or boolean, got {_type_name(value)}")
        return dict(v)
    raise AssertionError(kind)


def _doc(k: Key) -> str:
    return f" ({k.doc})" if k.doc else ""


def _table(data: Any, spec: Mapping[str, Key], where: str, ctx: Context) -> dict[str, Any]:
    """Check a table against ``spec``: no unknown keys, right types, required present."""
    if not isinstance(data, dict):
        raise ctx.error(where, f"expected a table, got {_type_name(data)} {data!r}")
    for name in data:
        if name not in spec:
            raise ctx.error(_join(where, name), f"unknown key {name!r}; allowed keys"
                            f"{' in [' + where + ']' if where else ''}: {', '.join(spec)}")
    out = {}
    for name, k in spec.items():
        path = _join(where, name)
        if name in data:
            out[name] = _check_value(data[name], k, path, ctx)
        elif k.required:
            what = f" ({k.doc})" if k.doc else ""
            allowed = f"; allowed values: {', '.join(map(str, k.choices))}" if k.choices else ""
            raise ctx.error(path, f"missing required value{what}{allowed}")
        else:
            out[name] = k.default
    return out


def _join(a: str, b: str) -> str:
    return f"{a}.{b}" if a else b


def _array_of_tables(data: Any, where: str, ctx: Context) -> list[dict]:
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
        raise ctx.error(where, f"expected an array of tables ([[{where}]]), got "
                        f"{_type_name(data)}")
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

    def error(self, key: str, message: str) -> CaseError:
        """A :class:`CaseError` for ``key``."""
        return CaseError(self.file, key, message)

    def check_boundary(self, name: str, where: str) -> None:
        """Raise for a boundary name the geometry does not have."""
        if self.boundaries is not None and name not in self.boundaries:
            raise self.error(where, f"unknown boundary {name!r}; {self.geometry_label} has "
                             f"boundaries: {', '.join(self.boundaries) or '(none)'}")

    def check_species(self, name: str, where: str) -> None:
        """Raise for an undeclared species name."""
        if name not in self.species:
            raise self.error(where, f"unknown species {name!r}; declared species "
                             f"({self.species_source}): {', '.join(self.species) or '(none)'}")


# --- geometry ------------------------------------------------------------------------------

#: Structured DOLFINx meshes (femdiff.mesh), usable as ``builder`` next to the Gmsh ones.
STRUCTURED = {
    "interval": ("n", "length", "x0"),
    "rectangle": ("nx", "ny", "lx", "ly"),
    "structured_box": ("nx", "ny", "nz", "lx", "ly", "lz"),
}

_FACES = {2: ["left", "right", "bottom", "top"],
          3: ["left", "right", "front", "back", "bottom", "top"]}


def builder_names(builder: str, params: Mapping[str, Any]) -> tuple[int, list[str], list[str]]:
    """(dimension, boundary names, volume names) of a builder, without meshing.

    Mirrors the table in :mod:`femdiff.geometry` (checked by ``tests/test_cli.py``).
    """
    if builder == "interval":
        return 1, ["left", "right"], []
    if builder == "rectangle":
        return 2, _FACES[2], []
    if builder == "structured_box":
        return 3, _FACES[3], []
    from femdiff import geometry

    fn = geometry.BUILDERS[builder]
    sig = inspect.signature(fn)
    dim_default = sig.parameters["dim"].default if "dim" in sig.parameters else 2
    dim = int(params.get("dim", dim_default))
    table: dict[str, tuple[list[str], list[str]]] = {
        "rod": (["left", "right", "surface"], ["rod"]),
        "box": (_FACES[dim], ["domain"]),
        "beam": (_FACES[dim], ["beam"]),
        "plate_with_hole": (["left", "right", "top", "bottom", "hole"], ["plate"]),
        "notched_bar": (["left", "right", "top", "bottom", "notch"], ["bar"]),
        "sphere": (["surface"], ["particle"]),
        "diffusion_couple": (_FACES[dim] + ["interface"], ["A", "B"]),
        "t_shape": (["boundary"], ["domain"]),
        "crack_tip": (["outer", "crack_faces"]
                      + (["symmetry"] if params.get("symmetric", True) else []), ["disc"]),
    }
    if builder not in table:  # a builder added to geometry.BUILDERS but not here
        return dim, None, None  # type: ignore[return-value]
    b, v = table[builder]
    return dim, sorted(b), sorted(v)


def file_names(path: Path) -> tuple[int, list[str], list[str]]:
    """(dimension, boundary names, volume names) read from a .msh or .geo file."""
    groups: list[tuple[int, str]] = []
    if path.suffix == ".msh":
        raw = path.read_bytes()
        start = raw.find(b"$PhysicalNames")
        if start >= 0:
            end = raw.find(b"$EndPhysicalNames", start)
            lines = raw[start:end].decode(errors="replace").splitlines()[2:]
            for line in lines:
                parts = line.split(maxsplit=2)
                if len(parts) == 3:
                    groups.append((int(parts[0]), parts[2].strip().strip('"')))
    else:
        dims = {"Point": 0, "Curve": 1, "Line": 1, "Surface": 2, "Volume": 3}
        text = path.read_text(errors="replace")
        for kind, name in re.findall(
                r'Physical\s+(Point|Curve|Line|Surface|Volume)\s*\(\s*"([^"]+)"', text):
            groups.append((dims[kind], name))
    if not groups:
        return 0, [], []
    dim = max(d for d, _ in groups)
    return (dim, sorted(n for d, n in groups if d == dim - 1),
            sorted(n for d, n in groups if d == dim))


GEOMETRY = {
    "builder": Key("string", doc="a built-in geometry"),
    "file": Key("string", doc="a .msh or .geo file, relative to the case file"),
    "params": Key("table", default={}, doc="the builder's parameters"),
    "h": Key("positive", doc="mesh size [length]"),
    "gdim": Key("integer", choices=(1, 2, 3), doc="geometric dimension of a mesh file"),
    "transform": Key("table", doc="coordinate map {x = formula, ...} applied after meshing"),
}

_SIZE_PARAMS = {"length", "radius", "width", "height", "lx", "ly", "lz", "notch_depth",
                "notch_radius", "h"}


def _validate_geometry(data: Any, ctx: Context, base: Path) -> dict[str, Any]:
    g = _validate_mesh_source(data, ctx, base)
    transform = g["transform"] or {}
    axes = "xyz"[: ctx.gdim or 3]
    checked = {}
    for axis, value in transform.items():
        where = f"geometry.transform.{axis}"
        if axis not in axes:
            raise ctx.error(where, f"unknown coordinate {axis!r}; allowed keys: "
                            f"{', '.join(axes)}")
        if not isinstance(value, str):
            raise ctx.error(where, f"expected a formula of the coordinates (a string), got "
                            f"{_type_name(value)} {value!r}")
        checked[axes.index(axis)] = _check_value(value, Key("expr"), where, ctx)
    g["transform"] = checked
    return g


def _validate_mesh_source(data: Any, ctx: Context, base: Path) -> dict[str, Any]:
    from femdiff import geometry

    g = _table(data, GEOMETRY, "geometry", ctx)
    builders = [*geometry.BUILDERS, *STRUCTURED]
    if (g["builder"] is None) == (g["file"] is None):
        raise ctx.error("geometry", "give exactly one of 'builder' (one of "
                        f"{', '.join(builders)}) or 'file' (a .msh or .geo path)")
    if g["file"] is not None:
        path = Path(g["file"])
        path = path if path.is_absolute() else (base / path)
        if path.suffix not in (".msh", ".geo"):
            raise ctx.error("geometry.file", f"expected a .msh or .geo file, got {g['file']!r}")
        if not path.is_file():
            raise ctx.error("geometry.file", f"mesh file {str(path)!r} does not exist")
        if g["params"]:
            raise ctx.error("geometry.params", "params are for builders, not mesh files")
        if g["h"] is not None and path.suffix == ".msh":
            raise ctx.error("geometry.h", "a .msh file is already meshed: remove h")
        g["path"] = path
        dim, bnames, vnames = file_names(path)
        ctx.gdim = g["gdim"] or dim
        ctx.boundaries, ctx.volumes = bnames, vnames
        ctx.geometry_label = f"the mesh file {path.name!r}"
        return g
    name = g["builder"]
    if name not in builders:
        raise ctx.error("geometry.builder", f"unknown builder {name!r}; allowed values: "
                        f"{', '.join(builders)}")
    params = g["params"]
    if name in STRUCTURED:
        allowed = STRUCTURED[name]
    else:
        sig = inspect.signature(geometry.BUILDERS[name])
        allowed = tuple(p for p in sig.parameters if p not in ("name", "refine"))
    for key, value in params.items():
        where = f"geometry.params.{key}"
        if key not in allowed:
            raise ctx.error(where, f"unknown parameter {key!r} of builder {name!r}; allowed "
                            f"keys: {', '.join(allowed)}")
        if key == "h":
            raise ctx.error(where, "give the mesh size as geometry.h")
        if key in _SIZE_PARAMS or key in ("n", "nx", "ny", "nz"):
            _check_value(value, Key("posint" if key.startswith("n") and len(key) <= 2
                                    else "positive", doc="a size"), where, ctx)
        if key == "dim":
            _check_value(value, Key("integer", choices=(2, 3)), where, ctx)
    if name in STRUCTURED:
        for key in allowed[: {"interval": 1, "rectangle": 2, "structured_box": 3}[name]]:
            if key not in params:
                raise ctx.error(f"geometry.params.{key}", "missing required value (number "
                                f"of cells) of builder {name!r}")
        if g["h"] is not None:
            raise ctx.error("geometry.h", f"builder {name!r} is structured: give the "
                            "numbers of cells in params instead of h")
    dim, bnames, vnames = builder_names(name, params)
    ctx.gdim = dim
    ctx.boundaries, ctx.volumes = bnames, vnames
    ctx.geometry_label = f"the geometry {name!r}"
    return g


class GeometryError(RuntimeError):
    """Gmsh could not build or mesh a case's geometry (``<file>: geometry: <message>``)."""


def build_domain(case: Case, comm: Any) -> Any:
    """Mesh the case's geometry (Gmsh on rank 0) and return the distributed Domain.

    Raises:
        CaseError: a mesh file that cannot be read, or parameters a builder rejects.
        GeometryError: Gmsh failed to build or mesh the geometry.
    """
    from femdiff import mesh

    g = case.data["geometry"]
    if g["file"] is not None:
        try:
            domain = mesh.read(g["path"], comm, gdim=g["gdim"])
        except mesh.MeshError as exc:
            raise CaseError(case.path, "geometry.file", str(exc)) from None
        except RuntimeError as exc:
            raise GeometryError(f"{case.path}: geometry.file: {exc}") from None
    else:
        domain = _build_builder(case, g, comm)
    if g["transform"]:
        x = domain.mesh.geometry.x
        points = x.T.copy()  # the original coordinates, shape (3, n)
        for axis, expr in g["transform"].items():
            x[:, axis] = expr.numpy(points)
    return domain


def _build_builder(case: Case, g: dict[str, Any], comm: Any) -> Any:
    from femdiff import geometry, mesh

    name, params = g["builder"], dict(g["params"])
    if name == "interval":
        return mesh.interval(params["n"], params.get("length", 1.0), params.get("x0", 0.0),
                             comm=comm)
    if name == "rectangle":
        return mesh.rectangle(params["nx"], params["ny"], params.get("lx", 1.0),
                              params.get("ly", 1.0), comm=comm)
    if name == "structured_box":
        return mesh.box(params["nx"], params["ny"], params["nz"], params.get("lx", 1.0),
                        params.get("ly", 1.0), params.get("lz", 1.0), comm=comm)
    if g["h"] is not None:
        params["h"] = g["h"]
    try:
        return geometry.build(name, comm, **params)
    except ValueError as exc:  # MeshError included: the model Gmsh made is unusable
        raise CaseError(case.path, "geometry.params", str(exc)) from None
    except RuntimeError as exc:  # Gmsh (OpenCASCADE, the mesher) failed
        raise GeometryError(f"{case.path}: geometry: Gmsh failed: {exc}") from None


# --- the other sections ---------------------------------------------------------------------

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
    "max_retries": Key("integer", default=8),
    "adaptive": Key("table", doc="error control: tol, safety, max_growth, ..."),
}

ADAPTIVE = {k: Key("positive") for k in
            ("tol", "safety", "max_growth", "min_shrink", "reject", "k_I")}
ADAPTIVE["k_P"] = Key("nonnegative")

SOLVER = {"petsc_options": Key("options", default={})}

PROFILE = {
    "name": Key("string", required=True),
    "start": Key("point", required=True),
    "end": Key("point", required=True),
    "n": Key("posint", default=101),
}

OUTPUT = {
    "folder": Key("string", doc="output folder (default: <case name>_output)"),
    "fields": Key("choice", default="vtx", choices=("vtx", "xdmf", "none")),
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


# --- models -----------------------------------------------------------------------------------


class Simulation(Protocol):
    """What the runner drives (see :class:`DiffusionSimulation`)."""

    time_dependent: bool

    def columns(self) -> list[str]: ...  # noqa: D102

    def row(self, info: Any) -> dict[str, float]: ...  # noqa: D102

    def fields(self) -> list[Any]: ...  # noqa: D102

    def profile_fields(self) -> list[Any]: ...  # noqa: D102

    def plot_field(self) -> Any: ...  # noqa: D102


class Model(Protocol):
    """A registered model: validates its part of a case and builds a Simulation."""

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> None: ...  # noqa: D102,E501

    def build(self, case: Case, domain: Any) -> Any: ...  # noqa: D102


#: model name -> Model
MODELS: dict[str, Model] = {}


def register_model(name: str, model: Model) -> None:
    """Make ``[physics] model = name`` available to case files."""
    MODELS[name] = model


# μ terms: type -> (keys, constructor(params, materials, sigma_h) -> term)
TERM_KEYS: dict[str, dict[str, Key]] = {
    "ideal": {"T": Key("positive", doc="temperature [K]; default materials.T"),
              "mu0": Key("number", default=0.0), "c_ref": Key("positive", default=1.0)},
    "stress": {"omega": Key("number", doc="Ω; default materials.omega")},
    "regular_solution": {"T": Key("positive", doc="temperature [K]; default materials.T"),
                         "omega_mix": Key("number", required=True),
                         "c_sites": Key("positive", default=1.0)},
    "double_well": {"rho": Key("positive", required=True),
                    "c_alpha": Key("number", required=True),
                    "c_beta": Key("number", required=True)},
    "gradient_energy": {"kappa": Key("nonnegative", required=True)},
    "interaction": {"potential": Key("expr", required=True, doc="V_int(x) [J/mol]")},
}

MOBILITY_KEYS: dict[str, dict[str, Key]] = {
    "einstein": {"D": Key("positive", required=True, doc="diffusivity [m²/s]"),
                 "T": Key("positive", doc="default materials.T")},
    "linear": {"M0": Key("positive", required=True)},
    "constant": {"M0": Key("positive", required=True)},
    "cahn_hilliard": {"M0": Key("positive", required=True)},
}

BC_TYPES = ("no_flux", "concentration", "potential", "flux")
MECH_BC_TYPES = ("fixed", "displacement", "traction", "pressure", "body_force")


def _typed(data: Any, keys: Mapping[str, Mapping[str, Key]], where: str, ctx: Context
           ) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ctx.error(where, f"expected a table with a 'type', got {_type_name(data)}")
    kind = data.get("type")
    if kind is None:
        raise ctx.error(f"{where}.type", f"missing required value; allowed values: "
                        f"{', '.join(keys)}")
    if kind not in keys:
        raise ctx.error(f"{where}.type", f"unknown type {kind!r}; allowed values: "
                        f"{', '.join(keys)}")
    out = _table({k: v for k, v in data.items() if k != "type"}, keys[kind], where, ctx)
    out["type"] = kind
    return out


def _construct(where: str, ctx: Context, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """Call a femdiff constructor; its ValueError becomes a CaseError at ``where``."""
    try:
        return fn(*args, **kw)
    except (ValueError, TypeError) as exc:
        raise ctx.error(where, str(exc)) from None


class DiffusionModel:
    """``model = "diffusion"``: one species, mixed μ–C, optional mechanics (σ_h)."""

    PHYSICS = {
        "model": Key("string"),
        "terms": Key("table"),  # array, checked below
        "mobility": Key("table", required=True, doc="type = " + " | ".join(MOBILITY_KEYS)),
        "degree": Key("integer", default=1, choices=(1, 2)),
        "lumped": Key("bool", default=True),
        "energy_stable": Key("bool", default=False),
    }
    SPECIES = {
        "name": Key("string", required=True),
        "initial": Key("expr", required=True, doc="initial concentration"),
        "concentration_scale": Key("positive"),
    }
    BOUNDARY = {
        "name": Key("string", required=True, doc="a boundary name"),
        "type": Key("choice", required=True, choices=BC_TYPES),
        "value": Key("expr"),
        "species": Key("string"),
    }

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> None:
        """Check [physics], [[species]], [[boundary]], [mechanics] of a diffusion case."""
        from femdiff import mechanics
        from femdiff import thermodynamics as th

        phys_raw = dict(raw.get("physics", {}))
        terms_raw = _array_of_tables(phys_raw.pop("terms", None), "physics.terms", ctx)
        phys = _table(phys_raw, self.PHYSICS, "physics", ctx)
        mat = data["materials"]
        units = mat["units"]
        if not terms_raw:
            raise ctx.error("physics.terms", "missing required value: at least one μ term; "
                            f"allowed types: {', '.join(TERM_KEYS)}")
        terms = []
        for i, t in enumerate(terms_raw):
            where = f"physics.terms[{i}]"
            term = _typed(t, TERM_KEYS, where, ctx)
            if "T" in TERM_KEYS[term["type"]] and term["T"] is None:
                if mat["T"] is None:
                    raise ctx.error(f"{where}.T", "missing required value (temperature [K]); "
                                    "give it here or as materials.T")
                term["T"] = mat["T"]
            if term["type"] == "ideal":
                _construct(where, ctx, th.Ideal, term["T"], term["mu0"], term["c_ref"], units)
            elif term["type"] == "regular_solution":
                _construct(where, ctx, th.RegularSolution, term["T"], term["omega_mix"], units,
                           term["c_sites"])
            elif term["type"] == "double_well":
                _construct(where, ctx, th.DoubleWell, term["rho"], term["c_alpha"],
                           term["c_beta"])
            elif term["type"] == "stress":
                if term["omega"] is None:
                    term["omega"] = mat["omega"]
                if term["omega"] is None:
                    raise ctx.error(f"{where}.omega", "missing required value (partial molar "
                                    "volume Ω); give it here or as materials.omega")
                if raw.get("mechanics") is None:
                    raise ctx.error(where, "the 'stress' term needs a [mechanics] section "
                                    "(σ_h comes from the elasticity solve)")
                _construct(f"{where}.omega", ctx, th.StressCoupling, term["omega"], 0.0, units)
            terms.append(term)
        phys["terms"] = terms
        mob = _typed(phys["mobility"], MOBILITY_KEYS, "physics.mobility", ctx)
        if mob["type"] == "einstein" and mob["T"] is None:
            if mat["T"] is None:
                raise ctx.error("physics.mobility.T", "missing required value (temperature "
                                "[K]); give it here or as materials.T")
            mob["T"] = mat["T"]
        phys["mobility"] = mob
        data["physics"] = phys

        species = [_table(s, self.SPECIES, f"species[{i}]", ctx)
                   for i, s in enumerate(_array_of_tables(raw.get("species"), "species", ctx))]
        if len(species) != 1:
            raise ctx.error("species", f"model 'diffusion' needs exactly one [[species]], got "
                            f"{len(species)} (several species: a multicomponent model)")
        ctx.species = [s["name"] for s in species]
        data["species"] = species

        bcs = []
        for i, b in enumerate(_array_of_tables(raw.get("boundary"), "boundary", ctx)):
            where = f"boundary[{i}]"
            bc = _table(b, self.BOUNDARY, where, ctx)
            ctx.check_boundary(bc["name"], f"{where}.name")
            if bc["species"] is not None:
                ctx.check_species(bc["species"], f"{where}.species")
            if bc["type"] != "no_flux" and bc["value"] is None:
                raise ctx.error(f"{where}.value", f"missing required value for a "
                                f"{bc['type']!r} boundary condition (a number or formula)")
            if bc["type"] == "no_flux" and bc["value"] is not None:
                raise ctx.error(f"{where}.value", "a 'no_flux' boundary takes no value")
            bcs.append(bc)
        names = [b["name"] for b in bcs]
        for n in set(names):
            if names.count(n) > 1:
                raise ctx.error("boundary", f"boundary {n!r} has {names.count(n)} conditions; "
                                "give one per boundary")
        data["boundary"] = bcs
        data["mechanics"] = _validate_mechanics(raw.get("mechanics"), mat, ctx, mechanics)

    def build(self, case: Case, domain: Any) -> DiffusionSimulation:
        """Solve the mechanics (if any) and set up the DiffusionProblem."""
        return DiffusionSimulation(case, domain)


MECHANICS = {
    "degree": Key("integer", default=1, choices=(1, 2)),
    "solver": Key("choice", default="gamg", choices=("gamg", "lu")),
    "sigma_h": Key("choice", default="DG", choices=("DG", "CG")),
    "petsc_options": Key("options", default={}),
    "boundary": Key("table"),  # array, checked below
}
MECH_BC = {
    "name": Key("string", doc="a boundary name"),
    "type": Key("choice", required=True, choices=MECH_BC_TYPES),
    "value": Key("table"),  # number / formula / array, checked below
    "components": Key("table", doc="{x = ..., y = ..., z = ...} for 'displacement'"),
}


def _validate_mechanics(raw: Any, mat: dict[str, Any], ctx: Context, mechanics: Any
                        ) -> dict[str, Any] | None:
    if raw is None:
        return None
    raw = dict(raw) if isinstance(raw, dict) else raw
    if not isinstance(raw, dict):
        raise ctx.error("mechanics", f"expected a table, got {_type_name(raw)}")
    bcs_raw = _array_of_tables(raw.pop("boundary", None), "mechanics.boundary", ctx)
    mech = _table(raw, MECHANICS, "mechanics", ctx)
    for key in ("E", "nu"):
        if mat[key] is None:
            raise ctx.error(f"materials.{key}", "missing required value (elastic constants "
                            "are needed by [mechanics])")
    _construct("materials.nu" if not -1 < mat["nu"] < 0.5 else "materials", ctx,
               mechanics.ElasticMaterial, mat["E"], mat["nu"], mat["elastic_model"])
    if ctx.gdim == 1:
        raise ctx.error("mechanics", "mechanics needs a 2D or 3D geometry")
    bcs = []
    for i, b in enumerate(bcs_raw):
        where = f"mechanics.boundary[{i}]"
        value = b.get("value")
        bc = _table({k: v for k, v in b.items() if k != "value"}, MECH_BC, where, ctx)
        kind = bc["type"]
        if kind != "body_force":
            if bc["name"] is None:
                raise ctx.error(f"{where}.name", "missing required value (a boundary name)")
            ctx.check_boundary(bc["name"], f"{where}.name")
        if kind in ("pressure",):
            if value is None:
                raise ctx.error(f"{where}.value", "missing required value (pressure [Pa])")
            bc["value"] = _check_value(value, Key("expr"), f"{where}.value", ctx)
        elif kind in ("traction", "body_force"):
            if not isinstance(value, list) or len(value) != (ctx.gdim or len(value)):
                raise ctx.error(f"{where}.value", f"expected an array of {ctx.gdim} numbers "
                                "or formulas (one per component)")
            bc["value"] = [_check_value(v, Key("expr"), f"{where}.value[{j}]", ctx)
                           for j, v in enumerate(value)]
        elif value is not None:
            raise ctx.error(f"{where}.value", f"a {kind!r} condition takes no value"
                            + ("; use components = {x = ..., y = ...}"
                               if kind == "displacement" else ""))
        if kind == "displacement":
            comps = bc["components"] or {}
            if not comps:
                raise ctx.error(f"{where}.components", "missing required value, e.g. "
                                "components = {x = 0.0}")
            allowed = "xyz"[: ctx.gdim or 3]
            checked = {}
            for axis, v in comps.items():
                if axis not in allowed:
                    raise ctx.error(f"{where}.components.{axis}", f"unknown component "
                                    f"{axis!r}; allowed keys: {', '.join(allowed)}")
                checked[allowed.index(axis)] = _check_value(
                    v, Key("expr"), f"{where}.components.{axis}", ctx)
            bc["components"] = checked
        elif bc["components"] is not None:
            raise ctx.error(f"{where}.components", "only 'displacement' takes components")
        bcs.append(bc)
    mech["boundary"] = bcs
    return mech


def build_mechanics(case: Case, domain: Any) -> Any:
    """The Elasticity problem of the case's [mechanics] section (not yet solved)."""
    from femdiff import mechanics as m

    mech, mat = case.data["mechanics"], case.data["materials"]
    mesh = domain.mesh
    bcs: list[Any] = []
    for bc in mech["boundary"]:
        kind = bc["type"]
        if kind == "fixed":
            bcs.append(m.Fixed(bc["name"]))
        elif kind == "pressure":
            bcs.append(m.Pressure(bc["name"], _ufl(bc["value"], mesh)))
        elif kind == "traction":
            import ufl

            bcs.append(m.Traction(bc["name"], ufl.as_vector([_ufl(v, mesh)
                                                             for v in bc["value"]])))
        elif kind == "body_force":
            import ufl

            bcs.append(m.BodyForce(ufl.as_vector([_ufl(v, mesh) for v in bc["value"]])))
        else:
            bcs.append(m.Displacement(bc["name"], {
                i: (v if isinstance(v, float) else v.numpy)
                for i, v in bc["components"].items()}))
    material = m.ElasticMaterial(mat["E"], mat["nu"], mat["elastic_model"])
    return m.Elasticity(domain, material, bcs, degree=mech["degree"], solver=mech["solver"],
                        petsc_options=mech["petsc_options"] or None)


def _ufl(value: float | Expression, mesh: Any, t: Any = None) -> Any:
    return value if isinstance(value, float) else value.ufl(mesh, t)


def _numpy(value: float | Expression) -> Any:
    """A number, or a callable ``x -> values`` for interpolation."""
    return value if isinstance(value, float) else value.numpy


class _Stepping:
    """Time stepping delegated to ``self.problem`` (a Diffusion/MulticomponentProblem)."""

    problem: Any

    def _solve_mechanics(self, case: Case, domain: Any) -> None:
        """σ_h from the case's [mechanics] section (``None`` without one)."""
        self.sigma_h = None
        self.solid = None
        if case.data["mechanics"] is not None:
            self.solid = build_mechanics(case, domain)
            self.solid.solve()
            self.sigma_h = self.solid.sigma_h(case.data["mechanics"]["sigma_h"])

    @staticmethod
    def _flux_boundaries(data: dict[str, Any], domain: Any) -> list[str]:
        """[output] boundaries, or every boundary of the domain when not given."""
        chosen = data["output"]["boundaries"]
        return domain.boundary_names if chosen is None else chosen

    @property
    def current_time(self) -> float:
        """Time of the last accepted state."""
        return self.problem.current_time

    def step(self, dt: float) -> Any:
        """One accepted step (StepInfo)."""
        return self.problem.step(dt)


class DiffusionSimulation(_Stepping):
    """A built diffusion case: the DiffusionProblem and what the runner records."""

    time_dependent = True

    def __init__(self, case: Case, domain: Any) -> None:
        from femdiff import diffusion as d
        from femdiff import thermodynamics as th
        from femdiff.timestepping import Adaptive, TimeControl

        data = case.data
        self.case, self.domain = case, domain
        mesh = domain.mesh
        self._solve_mechanics(case, domain)
        units = data["materials"]["units"]
        terms: list[Any] = []
        for t in data["physics"]["terms"]:
            kind = t["type"]
            if kind == "ideal":
                terms.append(th.Ideal(t["T"], t["mu0"], t["c_ref"], units))
            elif kind == "stress":
                terms.append(th.StressCoupling(t["omega"], self.sigma_h, units))
            elif kind == "regular_solution":
                terms.append(th.RegularSolution(t["T"], t["omega_mix"], units, t["c_sites"]))
            elif kind == "double_well":
                terms.append(th.DoubleWell(t["rho"], t["c_alpha"], t["c_beta"]))
            elif kind == "gradient_energy":
                terms.append(th.GradientEnergy(t["kappa"]))
            elif kind == "interaction":
                terms.append(th.Interaction(_ufl(t["potential"], mesh)))
        mob = data["physics"]["mobility"]
        if mob["type"] == "einstein":
            mobility = th.Mobility.from_diffusivity(mob["D"], mob["T"], units)
        else:
            mobility = getattr(th.Mobility, mob["type"])(mob["M0"])
        bcs: list[Any] = []
        for bc in data["boundary"]:
            kind, name = bc["type"], bc["name"]
            value = bc["value"]
            if kind == "no_flux":
                bcs.append(d.NoFlux(name))
            elif kind == "concentration":  # Dirichlet data are interpolated: NumPy
                bcs.append(d.FixedConcentration(name, _numpy(value)))
            elif kind == "potential":
                bcs.append(d.FixedPotential(name, _numpy(value)))
            else:
                bcs.append(d.Flux(name, _ufl(value, mesh)))
        tm = data["time"]
        time = TimeControl(dt=tm["dt"], t0=tm["t0"], scheme=tm["scheme"], dt_min=tm["dt_min"],
                           dt_max=tm["dt_max"], shrink=tm["shrink"],
                           max_retries=tm["max_retries"])
        adaptive = Adaptive(**tm["adaptive"]) if tm["adaptive"] is not None else None
        sp = data["species"][0]
        self.species = sp["name"]
        initial = sp["initial"]
        self.problem = d.DiffusionProblem(
            domain, th.ChemicalPotential(terms), mobility,
            initial=_numpy(initial),
            time=time, bcs=bcs, degree=data["physics"]["degree"],
            petsc_options=data["solver"]["petsc_options"] or None,
            concentration_scale=sp["concentration_scale"], lumped=data["physics"]["lumped"],
            energy_stable=data["physics"]["energy_stable"], adaptive=adaptive)
        self.problem.initialise()
        self.flux_boundaries = self._flux_boundaries(data, domain)

    def columns(self) -> list[str]:
        """CSV columns."""
        return (["t", "dt", f"amount_{self.species}", "free_energy"]
                + [f"flux_{b}" for b in self.flux_boundaries]
                + ["newton", "krylov", "retries"])

    def row(self, info: Any) -> dict[str, float]:
        """The CSV row after a step (``info`` None: the initial state)."""
        p = self.problem
        row = {"t": p.current_time, "dt": 0.0 if info is None else info.dt,
               f"amount_{self.species}": p.amount(), "free_energy": p.free_energy()}
        for b in self.flux_boundaries:
            row[f"flux_{b}"] = p.flux_through(b)
        row.update(newton=0 if info is None else info.newton_iterations,
                   krylov=0 if info is None else info.krylov_iterations,
                   retries=0 if info is None else info.retries)
        return row

    def fields(self) -> list[Any]:
        """Functions for the field files (refreshed by :meth:`refresh`)."""
        out = [self.problem.C, self.problem.mu, self.problem.flux()]
        if self.sigma_h is not None:
            out.append(self.sigma_h)
        return out

    def refresh(self) -> None:
        """Update derived fields before writing them."""
        self.problem.flux()

    def profile_fields(self) -> list[Any]:
        """Scalar Functions sampled along the profiles."""
        out = [self.problem.C, self.problem.mu]
        if self.sigma_h is not None:
            out.append(self.sigma_h)
        return out

    def plot_field(self) -> Any:
        """The field of the final 2D plot."""
        return self.problem.C


class MechanicsModel:
    """``model = "mechanics"``: a stationary elasticity solve (σ_h, von Mises)."""

    PHYSICS = {"model": Key("string")}

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> None:
        """Check [physics] and [mechanics]; no [time], species or diffusion BCs."""
        from femdiff import mechanics

        data["physics"] = _table(raw.get("physics", {}), self.PHYSICS, "physics", ctx)
        for key in ("species", "boundary"):
            if key in raw:
                raise ctx.error(key, f"model 'mechanics' takes no [{key}] (diffusion input)")
        if raw.get("mechanics") is None:
            raise ctx.error("mechanics", "missing required section [mechanics]")
        data["mechanics"] = _validate_mechanics(raw["mechanics"], data["materials"], ctx,
                                                mechanics)

    def build(self, case: Case, domain: Any) -> MechanicsSimulation:
        """Set up and solve the elasticity problem."""
        return MechanicsSimulation(case, domain)


class MechanicsSimulation:
    """A solved elasticity case."""

    time_dependent = False
    current_time = 0.0

    def __init__(self, case: Case, domain: Any) -> None:
        self.domain = domain
        self.solid = build_mechanics(case, domain)
        self.solid.solve()
        self.sigma_h = self.solid.sigma_h(case.data["mechanics"]["sigma_h"])
        self.von_mises = self.solid.von_mises()
        self.flux_boundaries: list[str] = []

    def columns(self) -> list[str]:
        """CSV columns: the solve's iterations."""
        return ["t", "krylov"]

    def row(self, info: Any) -> dict[str, float]:
        """The single row."""
        return {"t": 0.0, "krylov": float(self.solid.iterations)}

    def fields(self) -> list[Any]:
        """The displacement (P_k), σ_h and von Mises (DG)."""
        u = self.solid.u
        u.name = "u"
        return [u, self.sigma_h, self.von_mises]

    def refresh(self) -> None:
        """Nothing to update."""

    def profile_fields(self) -> list[Any]:
        """σ_h and von Mises."""
        return [self.sigma_h, self.von_mises]

    def plot_field(self) -> Any:
        """σ_h."""
        return self.sigma_h


# --- multicomponent ---------------------------------------------------------------------------

THERMO_TYPES = ("ideal", "regular_solution", "wagner")
TRANSPORT_TYPES = ("matrix", "mobilities", "dilute", "interdiffusion")
MC_BC_TYPES = ("no_flux", "concentration", "flux")
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
        out[s] = _check_value(v, Key(kind), f"{where}.{s}", ctx)
    return out


def _numbers_by_pair(table: dict[str, Any], where: str, ctx: Context, allowed: list[str],
                     why: str) -> dict[tuple[str, str], float]:
    out = {}
    for key, v in table.items():
        pair = _pair(key, f"{where}.{key}", ctx, allowed, why)
        out[pair] = _check_value(v, Key("number"), f"{where}.{key}", ctx)
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
                out[pair] = _check_value(value, Key("number"), path, ctx)
            else:
                out[pair] = _Entry(expr, R, T)
        else:
            out[pair] = _check_value(v, Key("number"), path, ctx)
    return out


def _mixture(thermo: dict[str, Any], units: str, sigma_h: Any, ctx: Context) -> Any:
    """The :class:`~femdiff.multicomponent.Mixture` of a validated [physics.thermodynamics]."""
    from femdiff import multicomponent as mc

    where = "physics.thermodynamics"
    common = {"T": thermo["T"], "mu0": thermo["mu0"], "units": units}
    kind = thermo["type"]
    if kind == "ideal":
        terms = [_construct(where, ctx, mc.IdealMixing, **common)]
    elif kind == "regular_solution":
        terms = [_construct(f"{where}.omega", ctx, mc.RegularSolution, **common,
                            omega=thermo["omega"] or {})]
    else:
        terms = [_construct(where, ctx, mc.WagnerDilute, **common,
                            epsilon=thermo["epsilon"] or {},
                            ln_gamma0=thermo["ln_gamma0"] or {})]
    if thermo["kappa"]:
        terms.append(_construct(f"{where}.kappa", ctx, mc.GradientEnergies, thermo["kappa"]))
    if thermo["volumes"]:
        terms.append(_construct(f"{where}.volumes", ctx, mc.StressCoupling, thermo["volumes"],
                                sigma_h))
    return _construct(where, ctx, mc.Mixture, terms, thermo["energy_scale"])


def _onsager(transport: dict[str, Any], units: str, ctx: Context) -> Any:
    """The :class:`~femdiff.multicomponent.Onsager` of a validated [physics.transport]."""
    from femdiff import multicomponent as mc

    kind, data = transport["type"], transport["data"]
    where = f"physics.transport.{_TRANSPORT_DATA[kind]}"
    if kind == "dilute":
        return _construct(where, ctx, mc.Onsager.dilute, data, transport["T"], units)
    return _construct(where, ctx, getattr(mc.Onsager, kind), data)


class MulticomponentModel:
    """``model = "multicomponent"``: Onsager diffusion of several species (mixed μ̃–X)."""

    PHYSICS = {
        "model": Key("string"),
        "species": Key("strings", required=True,
                       doc="species names; on a lattice the last is the dependent solvent"),
        "lattice": Key("bool", default=True),
        "degree": Key("integer", default=1, choices=(1, 2)),
        "lumped": Key("bool", default=True),
        "thermodynamics": Key("table", required=True,
                              doc="type = " + " | ".join(THERMO_TYPES)),
        "transport": Key("table", required=True, doc="type = " + " | ".join(TRANSPORT_TYPES)),
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

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> None:
        """Check [physics] (species, thermodynamics, transport), [[species]], [[boundary]]."""
        from femdiff import mechanics
        from femdiff import multicomponent as mc
        from femdiff.thermodynamics import gas_constant

        phys = _table(raw.get("physics", {}), self.PHYSICS, "physics", ctx)
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
        th = _table(phys["thermodynamics"], THERMODYNAMICS, where, ctx)
        for key, only in _THERMO_ONLY.items():
            if th[key] is not None and th["type"] != only:
                raise ctx.error(f"{where}.{key}", f"{key!r} belongs to type {only!r}, not "
                                f"{th['type']!r}")
        if th["T"] is None:
            if mat["T"] is None:
                raise ctx.error(f"{where}.T", "missing required value (temperature [K]); "
                                "give it here or as materials.T")
            th["T"] = mat["T"]
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

        # transport
        where = "physics.transport"
        tr = _table(phys["transport"], TRANSPORT, where, ctx)
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
            tr["T"] = th["T"]
        R = gas_constant(units)  # type: ignore[arg-type]
        matrix_why = (f"{no_dependent}, so it has no row or column in the reduced "
                      "matrix" if lattice else "")
        if kind == "matrix":
            L = _entries_by_pair(tr["L"], f"{where}.L", ctx, species, independent,
                                 matrix_why, R, th["T"])
            for (a, b), v in list(L.items()):  # reciprocity: "A-B" also gives L_BA
                L.setdefault((b, a), v)
            tr["data"] = L
        elif kind == "interdiffusion":
            if len(independent) > 4:
                raise ctx.error(f"{where}.type", "the interdiffusion form needs at most 4 "
                                "independent species (UFL inverts matrices up to 4×4); give "
                                "the Onsager matrix (type = \"matrix\") instead")
            tr["data"] = _entries_by_pair(tr["D"], f"{where}.D", ctx, species, independent,
                                          matrix_why, R, th["T"])
        elif kind == "mobilities":
            tr["data"] = _numbers_by_species(tr["M"], f"{where}.M", ctx, species, "",
                                             "nonnegative")
        else:
            tr["data"] = _numbers_by_species(tr["D"], f"{where}.D", ctx, independent,
                                             no_dependent + " and has no flux of its own"
                                             if lattice else "", "nonnegative")
        onsager = _onsager(tr, units, ctx)
        if onsager.constant_entries():
            values = np.array([[tr["data"].get((a, b), 0.0) for b in independent]
                               for a in independent])
            _construct(f"{where}.L", ctx, mc.check_onsager, values, independent)
        phys["transport"] = tr
        data["physics"] = phys

        # initial state
        sp = [_table(s, self.SPECIES, f"species[{i}]", ctx)
              for i, s in enumerate(_array_of_tables(raw.get("species"), "species", ctx))]
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
        for i, entry in enumerate(_array_of_tables(raw.get("boundary"), "boundary", ctx)):
            where = f"boundary[{i}]"
            if entry.get("type") == "potential":
                raise ctx.error(f"{where}.type", "model 'multicomponent' does not support "
                                "reservoir potentials ('potential') yet; fix the "
                                "compositions ('concentration') instead; allowed values: "
                                f"{', '.join(MC_BC_TYPES)}")
            bc = _table(entry, self.BOUNDARY, where, ctx)
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

        tm = raw.get("time")
        if isinstance(tm, dict) and tm.get("adaptive") is not None:
            raise ctx.error("time.adaptive", "model 'multicomponent' has no adaptive time "
                            "steps yet; use fixed steps (dt, with growth and dt_max)")
        data["mechanics"] = _validate_mechanics(raw.get("mechanics"), mat, ctx, mechanics)

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


class MulticomponentSimulation(_Stepping):
    """A built multicomponent case: the MulticomponentProblem and what the runner records."""

    time_dependent = True

    def __init__(self, case: Case, domain: Any) -> None:
        from femdiff import diffusion as d
        from femdiff import multicomponent as mc
        from femdiff.timestepping import TimeControl

        data = case.data
        phys = data["physics"]
        self.case, self.domain = case, domain
        mesh = domain.mesh
        ctx = Context(str(case.path))
        self._solve_mechanics(case, domain)
        units = data["materials"]["units"]
        mixture = _mixture(phys["thermodynamics"], units,
                           0.0 if self.sigma_h is None else self.sigma_h, ctx)
        transport = _onsager(phys["transport"], units, ctx)
        bcs: dict[str, list[Any]] = {}
        for bc in data["boundary"]:
            kind, name, value = bc["type"], bc["name"], bc["value"]
            if kind == "no_flux":
                item: Any = d.NoFlux(name)
            elif kind == "concentration":  # Dirichlet data are interpolated: NumPy
                item = d.FixedConcentration(name, _numpy(value))
            else:
                item = d.Flux(name, _ufl(value, mesh))
            bcs.setdefault(bc["species"], []).append(item)
        tm = data["time"]
        time = TimeControl(dt=tm["dt"], t0=tm["t0"], scheme=tm["scheme"], dt_min=tm["dt_min"],
                           dt_max=tm["dt_max"], shrink=tm["shrink"],
                           max_retries=tm["max_retries"])
        self.species = list(phys["species"])
        self.problem = mc.MulticomponentProblem(
            domain, self.species, mixture, transport,
            initial={s["name"]: _numpy(s["initial"]) for s in data["species"]},
            time=time, bcs=bcs, lattice=phys["lattice"], degree=phys["degree"],
            petsc_options=data["solver"]["petsc_options"] or None, lumped=phys["lumped"])
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
        row.update(newton=0 if info is None else info.newton_iterations,
                   krylov=0 if info is None else info.krylov_iterations,
                   retries=0 if info is None else info.retries)
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


register_model("diffusion", DiffusionModel())
register_model("mechanics", MechanicsModel())
register_model("multicomponent", MulticomponentModel())

TOP = ("case", "geometry", "materials", "physics", "species", "boundary", "mechanics", "time",
       "solver", "output", "checkpoint")


# --- the case ------------------------------------------------------------------------------


@dataclass
class Case:
    """A validated case file.

    Attributes:
        path: the file.
        data: the validated sections, with defaults filled in.
        boundaries: the geometry's boundary names (known before meshing).
        gdim: the geometric dimension.
    """

    path: Path
    data: dict[str, Any]
    boundaries: list[str] | None
    gdim: int | None

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
    ctx = Context(label)
    for key in raw:
        if key not in TOP:
            raise ctx.error(key, f"unknown section {key!r}; allowed sections: {', '.join(TOP)}")
    data: dict[str, Any] = {}
    data["case"] = _table(raw.get("case", {}), CASE, "case", ctx)
    if "geometry" not in raw:
        raise ctx.error("geometry", "missing required section [geometry] (builder or file)")
    data["geometry"] = _validate_geometry(raw["geometry"], ctx, base)
    data["materials"] = _table(raw.get("materials", {}), MATERIALS, "materials", ctx)

    physics = raw.get("physics", {})
    if not isinstance(physics, dict):
        raise ctx.error("physics", f"expected a table, got {_type_name(physics)}")
    model = physics.get("model", "diffusion")
    if model not in MODELS:
        raise ctx.error("physics.model", f"unknown model {model!r}; allowed values: "
                        f"{', '.join(MODELS)}")
    MODELS[model].validate(raw, data, ctx)
    data["physics"]["model"] = model

    time_dependent = model != "mechanics"
    if time_dependent:
        if "time" not in raw:
            raise ctx.error("time", "missing required section [time] (t_end, dt)")
        tm = _table(raw["time"], TIME, "time", ctx)
        if tm["growth"] < 1:
            raise ctx.error("time.growth", f"must be ≥ 1, got {tm['growth']!r}")
        if tm["t_end"] <= tm["t0"]:
            raise ctx.error("time.t_end", f"must be after t0 = {tm['t0']!r}, got "
                            f"{tm['t_end']!r}")
        if tm["adaptive"] is not None:
            tm["adaptive"] = {k: v for k, v in _table(tm["adaptive"], ADAPTIVE,
                                                      "time.adaptive", ctx).items()
                              if v is not None}
            if tm["growth"] != 1:
                raise ctx.error("time.growth", "growth is for fixed steps; adaptive steps "
                                "choose Δt themselves: remove one of them")
        from femdiff.timestepping import Adaptive, TimeControl

        _construct("time", ctx, TimeControl, dt=tm["dt"], t0=tm["t0"], scheme=tm["scheme"],
                   dt_min=tm["dt_min"], dt_max=tm["dt_max"], shrink=tm["shrink"],
                   max_retries=tm["max_retries"])
        if tm["adaptive"] is not None:
            _construct("time.adaptive", ctx, Adaptive, **tm["adaptive"])
        data["time"] = tm
    elif "time" in raw:
        raise ctx.error("time", f"model {model!r} is stationary: remove [time]")

    data["solver"] = _table(raw.get("solver", {}), SOLVER, "solver", ctx)
    out_raw = dict(raw.get("output", {})) if isinstance(raw.get("output", {}), dict) \
        else raw["output"]
    profiles_raw = _array_of_tables(out_raw.pop("profiles", None), "output.profiles", ctx) \
        if isinstance(out_raw, dict) else []
    out = _table(out_raw, OUTPUT, "output", ctx)
    if out["every"] < 0:
        raise ctx.error("output.every", f"must be ≥ 0, got {out['every']}")
    if time_dependent:
        tm = data["time"]
        for i, t in enumerate(out["times"]):
            if not tm["t0"] < t <= tm["t_end"]:
                raise ctx.error(f"output.times[{i}]", f"must lie in (t0, t_end] = "
                                f"({tm['t0']:g}, {tm['t_end']:g}], got {t!r}")
    for i, b in enumerate(out["boundaries"] or []):
        ctx.check_boundary(b, f"output.boundaries[{i}]")
    profiles = []
    for i, p in enumerate(profiles_raw):
        prof = _table(p, PROFILE, f"output.profiles[{i}]", ctx)
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
    data["output"] = out
    ck = _table(raw.get("checkpoint", {}), CHECKPOINT, "checkpoint", ctx)
    if ck["every_steps"] < 0:
        raise ctx.error("checkpoint.every_steps", f"must be ≥ 0, got {ck['every_steps']}")
    data["checkpoint"] = ck
    return Case(path or Path(label), data, ctx.boundaries, ctx.gdim)
