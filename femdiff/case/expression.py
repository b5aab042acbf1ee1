"""The formula language of case files: numbers and formulas of x, y, z (and t).

``"1 + 0.1*sin(pi*x)*cos(2*pi*y)"`` is parsed (never ``eval``-ed) into a Python AST that
only admits numbers, the coordinate names, ``pi``, ``e``, ``+ - * / **`` and the functions
in :data:`FUNCTIONS`; it evaluates to UFL (forms, Neumann data) or NumPy (interpolation).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

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

    def check_finite(self) -> None:
        """Raise ValueError for a formula that is not a finite real number anywhere.

        Evaluated (NumPy) at sample points of several length scales, with t at several
        times: a formula such as ``"sqrt(-1)"``, ``"1/0"`` or ``"1e400*x"`` fails at every
        point (a formula singular only somewhere, e.g. ``"1/x"``, passes: the points of
        its domain are unknown before meshing). UFL would take ``sqrt(-1)`` as complex.
        """
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Constant) and not math.isfinite(node.value):
                text = ast.get_source_segment(self.text.strip(), node)
                raise ValueError(f"the number {text} in {self.text!r} is not finite (it "
                                 "overflows a double)")
        axis = np.array([0.0, 1e-6, -1e-3, 0.37, -0.61, 1.0, 3.3, -2e3, 1e6])
        grid = np.stack([axis, np.roll(axis, 3), np.roll(axis, 5)])
        values = None
        with np.errstate(all="ignore"):
            try:
                values = [self.numpy(grid, t) for t in (0.0, 1.0, 1e3)]
            except (ZeroDivisionError, OverflowError):
                pass
        if values is None or not any(np.isfinite(v).any() for v in values):
            raise ValueError(f"{self.text!r} is not a finite real number at any point (a "
                             "division by zero, a square root or logarithm of a negative "
                             "number, an overflow?)")

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



def as_ufl(value: float | Expression, mesh: Any, t: Any = None) -> Any:
    """A validated number or formula as UFL on ``mesh`` (numbers stay numbers)."""
    return value if isinstance(value, float) else value.ufl(mesh, t)


def as_numpy(value: float | Expression) -> Any:
    """A number, or a callable ``x -> values`` for interpolation."""
    return value if isinstance(value, float) else value.numpy
