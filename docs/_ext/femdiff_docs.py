"""Generated pages of the femdiff documentation (run at every build, never committed).

* ``api/``: one automodule page per public module, from a walk of the package
  (:func:`public_modules`), so a module moved into a subpackage needs no hand edit; after
  reading, every public class and function must be in Sphinx's inventory (a warning,
  an error under ``-W``, names the missing ones).
* ``reference/case-keys.md``: the case-file reference (:mod:`femdiff.case.reference`).
* ``reference/cli.md``: every subcommand's ``--help``.
* ``gallery/``: every demo as a notebook (jupytext), executed by myst-nb at its small
  size (``CI=1``) unless listed in :data:`NOT_EXECUTED`, with its PNG figures.
* ``reference/benchmarks.md``: every benchmark script's docstring (its command and the
  tables measured), included by ``performance.md``.
* ``verification.md``: the table of tests marked ``@pytest.mark.verification``, read from
  the test files' syntax trees (:func:`verification_rows`).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import os
import pkgutil
import re
import shutil
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent.parent
ROOT = DOCS.parent

#: demos whose execution would push the build past its budget: source only (none today:
#: all eleven run at their CI size, 126 s in sequence on the shared 2-core machine)
NOT_EXECUTED: set[str] = set()


# --- API -------------------------------------------------------------------------------------


def public_modules() -> list[str]:
    """Every importable femdiff module whose dotted name has no ``_``-prefixed part."""
    import femdiff

    names = ["femdiff"]
    for info in pkgutil.walk_packages(femdiff.__path__, "femdiff."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def public_names(module_name: str) -> list[str]:
    """The public classes and functions defined in a module (not imported into it)."""
    module = importlib.import_module(module_name)
    out = []
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) == module_name:
            out.append(name)
    return sorted(out)


def write_api(out: Path) -> list[str]:
    """One page per public module and an index; returns the module names."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    modules = public_modules()
    for name in modules:
        (out / f"{name}.md").write_text(
            f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n   :members:\n"
            "   :undoc-members:\n   :show-inheritance:\n   :ignore-module-all:\n"
            "   :member-order: bysource\n```\n", encoding="utf-8")
    rows = []
    for name in modules:
        doc = (inspect.getdoc(importlib.import_module(name)) or "").strip()
        summary = doc.split("\n\n")[0].replace("\n", " ").replace("|", "\\|")
        rows.append(f"| [`{name}`]({name}.md) | {summary} |")
    (out / "index.md").write_text(
        "# API reference\n\nGenerated from a walk of the package (`pkgutil`): every public "
        "module, its classes and functions with their Google-style docstrings.\n\n"
        "| module | what it holds |\n|---|---|\n" + "\n".join(rows) + "\n\n"
        "```{toctree}\n:hidden:\n\n" + "\n".join(modules) + "\n```\n", encoding="utf-8")
    return modules


def check_inventory(app: Any, env: Any) -> None:
    """Warn (an error under -W) for every public class or function not in the API pages."""
    from sphinx.util import logging

    objects = set(env.get_domain("py").objects)
    missing = [f"{m}.{n}" for m in public_modules() for n in public_names(m)
               if f"{m}.{n}" not in objects]
    if missing:
        logging.getLogger(__name__).warning(
            "public names missing from the API reference: %s", ", ".join(missing))


# --- case-file reference and CLI --------------------------------------------------------------


def write_reference(out: Path) -> None:
    """reference/case-keys.md and reference/cli.md."""
    from femdiff.case import reference
    from femdiff.cli import main

    out.mkdir(parents=True, exist_ok=True)
    (out / "case-keys.md").write_text(reference.markdown() + "\n", encoding="utf-8")

    def help_of(argv: list[str]) -> str:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
            main(argv)
        return buffer.getvalue()

    lines = ["# Command line", "",
             "Generated from the parser: `femdiff --help` and every subcommand's `--help`. "
             "Options that `femdiff run` and the others share: `--debug` (tracebacks), "
             "`-v/--verbose`, `-q/--quiet`. See also the [case-file guide](../case-files.md).",
             "", "## `femdiff`", "", "```text", help_of(["--help"]).rstrip(), "```", ""]
    commands = ["info", "check", "run", "mesh", "demos", "cases", "keys", "schema"]
    for command in commands:
        lines += [f"## `femdiff {command}`", "", "```text",
                  help_of([command, "--help"]).rstrip(), "```", ""]
    (out / "cli.md").write_text("\n".join(lines), encoding="utf-8")


def write_benchmarks(path: Path) -> int:
    """reference/benchmarks.md: each benchmark script's docstring (command, tables)."""
    lines = []
    scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    for script in scripts:
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
        title, _, body = doc.partition("\n")
        lines += [f"### `{script.name}`", "", title.strip(), "", "```text",
                  body.strip("\n"), "```", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return len(scripts)


# --- gallery -----------------------------------------------------------------------------------

_FIGURES = '''
# ## Figures
#
# The PNG files this run wrote to its output folder (the documentation build runs the
# demo at its small size, `CI=1`).

# +
from pathlib import Path as _Path

from IPython.display import Image as _Image
from IPython.display import display as _display

_folder = _Path(globals().get("out") or args.out)
for _png in sorted(_folder.glob("*.png")):
    _display(_Image(filename=str(_png)))
# -
'''


def write_gallery(out: Path) -> list[str]:
    """The demos as notebooks (gallery/<demo>.ipynb) and the gallery index."""
    import jupytext

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    from femdiff.case import examples

    names = []
    for name, path in examples.demos().items():
        text = path.read_text(encoding="utf-8") + _FIGURES
        notebook = jupytext.reads(text, fmt="py:light")
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        if name in NOT_EXECUTED:
            notebook.metadata["mystnb"] = {"execution_mode": "off"}
        jupytext.write(notebook, out / f"demo_{name}.ipynb", fmt="ipynb")
        names.append(name)
    rows = [f"| [{examples.demo_title(p)}](demo_{n}.ipynb) | `demos/demo_{n}.py` | "
            f"{'source only' if n in NOT_EXECUTED else 'executed (small size)'} |"
            for n, p in examples.demos().items()]
    (out / "index.md").write_text(
        "# Gallery\n\nEvery demo, as the literate script it is (`demos/*.py`, jupytext "
        "light format), run by this documentation build at its small size (`CI=1`, the "
        "size the tests use) with the figures it wrote. Run one yourself with "
        "`femdiff demos NAME`, `python demos/demo_NAME.py` (`--small` for the quick "
        "size), under `mpirun -n 2`, or open it as a notebook: "
        "`jupytext --to ipynb demos/demo_NAME.py`.\n\n| demo | source | in this build |\n"
        "|---|---|---|\n" + "\n".join(rows) + "\n\n```{toctree}\n:hidden:\n\n"
        + "\n".join(f"demo_{n}" for n in names) + "\n```\n", encoding="utf-8")
    return names


# --- verification ------------------------------------------------------------------------------


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def verification_rows(tests: Path = ROOT / "tests") -> list[dict[str, str]]:
    """One row per ``@pytest.mark.verification(...)`` test, read from the syntax trees.

    The marker's keyword arguments (``quantity``, ``reference``, ``source``, ``error``)
    become the columns; the test's file, name and docstring's first sentence are added.
    """
    rows = []
    for path in sorted(tests.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if isinstance(dec, ast.Call) and ast.unparse(dec.func).endswith(
                        "mark.verification"):
                    kw = {k.arg: _literal(k.value) for k in dec.keywords if k.arg}
                    doc = (ast.get_docstring(node) or "").split("\n\n")[0]
                    rows.append({"test": f"{path.name}::{node.name}",
                                 "doc": " ".join(doc.split()), **{k: str(v)
                                                                  for k, v in kw.items()}})
    return rows


def write_verification(path: Path) -> int:
    """verification.md from :func:`verification_rows`; returns the number of rows."""
    rows = verification_rows()

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["# Verification", "",
             "Every row is a test in `tests/` marked `@pytest.mark.verification(quantity=..., "
             "reference=..., source=..., error=...)`; this table is generated from those "
             "markers (read from the test files' syntax trees at build time), so it lists "
             "exactly what the suite checks. *error* is the error the test measured when "
             "its tolerance was set, and the bound it asserts; the test's docstring and "
             "comments justify the tolerance. Run one with `pytest tests/FILE -k NAME`; "
             "`pytest -m verification` runs them all.", "",
             f"{len(rows)} verification tests.", "",
             "| quantity | reference | source | error (measured; asserted) | test |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {cell(r.get('quantity', r['doc']))} | {cell(r.get('reference', ''))}"
                     f" | {cell(r.get('source', ''))} | {cell(r.get('error', ''))} | "
                     f"`{r['test']}` |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(rows)


# --- Sphinx ---------------------------------------------------------------------------------


def generate(app: Any) -> None:
    """Write every generated page before Sphinx reads the sources."""
    os.environ.setdefault("CI", "1")  # the demos' small sizes
    os.environ.setdefault("FEMDIFF_OUTPUT", str(Path(app.outdir).parent / "gallery-output"))
    write_api(DOCS / "api")
    write_reference(DOCS / "reference")
    write_benchmarks(DOCS / "reference" / "benchmarks.md")
    write_gallery(DOCS / "gallery")
    write_verification(DOCS / "verification.md")
    write_composition(DOCS / "reference" / "composition-matrix.md")


def write_composition(path: Path) -> None:
    """The composition matrix of ``tests/composition.py`` (the one its test runs)."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import composition
    finally:
        sys.path.pop(0)
    path.write_text(composition.matrix_markdown(), encoding="utf-8")


def escape_bars(app: Any, what: str, name: str, obj: Any, options: Any,
                lines: list[str]) -> None:
    """Docstrings as written for readers of the source, made valid reStructuredText.

    ``|x|`` is an absolute value or a norm, never a substitution; a plural after inline
    code (````Constant````s) needs an escaped space.
    """
    for i, line in enumerate(lines):
        if "|" in line and not line.lstrip().startswith(("|", "+")):
            line = line.replace("|", "\\|")
        lines[i] = re.sub(r"``s\b", r"``\\ s", line)


def copy_mathjax(app: Any, exc: Exception | None) -> None:
    """MathJax 3 (shipped by the sphinx-mathjax-offline package) into _static/mathjax."""
    import importlib.util

    from sphinx.util.fileutil import copy_asset

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if exc is None and spec is not None and spec.origin is not None:
        copy_asset(str(Path(spec.origin).parent / "static" / "mathjax"),
                   str(Path(app.outdir) / "_static" / "mathjax"))


def setup(app: Any) -> dict[str, Any]:
    """The Sphinx extension."""
    app.connect("builder-inited", generate)
    app.connect("build-finished", copy_mathjax)
    app.connect("autodoc-process-docstring", escape_bars)
    app.connect("env-check-consistency", check_inventory)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
