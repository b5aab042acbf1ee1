"""The ``femdiff`` command line.

femdiff --version
femdiff info                         # DOLFINx/PETSc/MPI versions, solver packages
femdiff check case.toml              # validate a case file (nothing is meshed)
femdiff run case.toml [-o DIR] [--overwrite | --restart] [--set KEY=VALUE ...]
mpirun -n 4 femdiff run case.toml    # the same, in parallel
femdiff mesh rod -p length=0.01 -p radius=0.001 -o rod.msh
femdiff demos                        # list the demos
femdiff demos stressed_rod [-- ...]  # run one (under mpirun if you launch it so)
femdiff cases [NAME] [--copy DIR]    # list the shipped case files, or copy them
femdiff keys [SECTION]               # the case-file keys: type, default, unit, doc
femdiff schema [-o FILE]             # a JSON Schema of case files, for editors

Global options: --debug (tracebacks), --verbose / --quiet (logging level).

Exit codes: 0 done, 2 bad input (one line naming the file, key and allowed values), 1 a
failed computation, or an output file that could not be written (a full disk, no
permission: one line naming the file, raised on every rank together, so an MPI run never
hangs on it). A failed run leaves a ``FAILED`` file (with the error) in its folder, and
the CSV rows and checkpoints it completed; a folder with a ``FAILED`` file and no
checkpoint is replaced by the next run, one with checkpoints needs --overwrite or
--restart. --overwrite replaces only a folder femdiff wrote (it has a
``.femdiff-output`` file), never one holding the case file or its mesh file. A restart
that is refused (no readable checkpoint, other settings, an earlier end time) touches
nothing in the folder; a damaged checkpoint is named and the one before it used.

Environment: ``FEMDIFF_MAX_CELLS`` (the Gmsh builders refuse meshes estimated above it;
default 5,000,000, 0: no limit; ``femdiff mesh ... -p max_cells=N`` for one mesh).
"""

from __future__ import annotations

import argparse
import ast
import gc
import logging
import math
import runpy
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import femdiff
from femdiff.case import examples
from femdiff.case.runner import (  # noqa: F401  (the markers: their names lived here)
    FAILED_MARKER,
    OUTPUT_MARKER,
    info,
    run_case,
    solver_lines,
)
from femdiff.case.runner import message as _message

log = logging.getLogger("femdiff")

DEMO_DIR = examples.folder("demos")


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _demos() -> dict[str, Path]:
    return examples.demos()


# --- progress and logging ---------------------------------------------------------------


class Progress:
    """A one-line progress display on rank 0: time, Δt, Newton/Krylov iterations, ETA.

    It redraws in place when ``stream`` is a terminal and stays silent otherwise (logs
    and CI output are not filled with carriage returns); :meth:`done` ends the line.
    """

    def __init__(self, comm: Any, t_start: float, t_end: float, stream: Any = None,
                 enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = comm.rank == 0 and (tty if enabled is None else enabled)
        self.t_start, self.t_end = t_start, t_end
        self.wall0 = time.perf_counter()
        self._last = 0.0
        self._width = 0

    def eta(self, t: float) -> float:
        """Estimated wall seconds left, from the simulated-time rate so far."""
        done = (t - self.t_start) / (self.t_end - self.t_start)
        if done <= 0:
            return math.inf
        return (time.perf_counter() - self.wall0) * (1 - done) / done

    def update(self, step: int, info: Any, force: bool = False) -> None:
        """Redraw after a step (at most 5 times a second)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        frac = (info.t - self.t_start) / (self.t_end - self.t_start)
        eta = self.eta(info.t)
        eta_s = "--:--" if not math.isfinite(eta) else f"{int(eta // 60):02d}:{int(eta % 60):02d}"
        line = (f"step {step:6d}  t = {info.t:.4g} ({100 * frac:5.1f}%)  dt = {info.dt:.3g}  "
                f"newton {info.newton_iterations:2d}  krylov {info.krylov_iterations:4d}  "
                f"ETA {eta_s}")
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def done(self) -> None:
        """End the progress line."""
        if self.enabled and self._width:
            self.stream.write("\n")
            self.stream.flush()


def _setup_logging(level: int, comm: Any) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("femdiff: %(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(level if comm.rank == 0 else logging.ERROR)


# --- the command line ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``femdiff`` console script."""
    parser = argparse.ArgumentParser(prog="femdiff", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"femdiff {femdiff.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="store_true", help="debug-level logging")
    loud.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command")
    i = sub.add_parser("info", help="print the DOLFINx/PETSc/MPI environment (and, given "
                       "a case file, the solver it would run and why)")
    i.add_argument("case", type=Path, nargs="?")
    i.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    r = sub.add_parser("run", help="run a TOML case file")
    r.add_argument("case", type=Path)
    r.add_argument("-o", "--output", type=Path, help="output folder (default: from the case)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    mode.add_argument("--restart", action="store_true",
                      help="resume from the last complete checkpoint in the output folder")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a case value, e.g. --set time.t_end=10 (repeatable)")
    r.add_argument("--progress", choices=["auto", "always", "never"], default="auto",
                   help="progress on rank 0 (auto: a bar on a terminal, else a log line "
                   "every --progress-every seconds)")
    r.add_argument("--progress-every", type=float, default=30.0, metavar="SECONDS",
                   help="seconds between progress log lines outside a terminal (default 30)")
    c = sub.add_parser("check", help="validate a case file without running it")
    c.add_argument("case", type=Path)
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    m = sub.add_parser("mesh", help="write a built-in geometry to a .msh file")
    m.add_argument("builder")
    m.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    m.add_argument("-o", "--output", required=True, type=Path)
    d = sub.add_parser("demos", help="list the demos, or run one")
    d.add_argument("name", nargs="?")
    d.add_argument("args", nargs=argparse.REMAINDER)
    _add_reference_commands(sub)
    _document(parser, sub)
    args = parser.parse_args(argv)
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    _setup_logging(level, comm)

    try:
        if args.command == "info":
            lines = [info()]
            if args.case is not None:
                from femdiff import case as fcase

                lines += solver_lines(fcase.load(args.case, args.set).build(comm))
            if comm.rank == 0:
                print("\n".join(lines))
        elif args.command in ("run", "check"):
            from femdiff import case as fcase

            case = fcase.load(args.case, args.set)
            if args.command == "check":
                if comm.rank == 0:
                    model = case.data["physics"]["model"]
                    names = ", ".join(case.boundaries or []) or "(unknown until meshed)"
                    print(f"{args.case}: OK (model {model!r}; boundaries: {names})")
            else:
                progress = {"auto": None, "always": True, "never": False}[args.progress]
                run_case(case, case.output_folder(args.output), restart=args.restart,
                         overwrite=args.overwrite, progress=progress,
                         progress_every=args.progress_every)
        elif args.command == "mesh":
            from femdiff import geometry

            params = {}
            for item in args.param:
                key, sep, value = item.partition("=")
                if not sep:
                    raise ValueError(f"parameter {item!r} must be NAME=VALUE")
                params[key] = _parse_value(value)
            _check_builder_params(args.builder, params)
            path = geometry.write_msh(args.builder, args.output, **params)
            print(f"wrote {path}")
        elif args.command == "demos":
            demos = _demos()
            if not args.name:
                width = max(map(len, demos), default=0)
                print("\n".join(f"{n:<{width}}  {examples.demo_title(p)}"
                                for n, p in demos.items()) if demos else "no demos found")
            elif args.name not in demos:
                raise ValueError(f"unknown demo {args.name!r}; available: {', '.join(demos)}")
            else:
                sys.argv = [str(demos[args.name]), *args.args]
                runpy.run_path(str(demos[args.name]), run_name="__main__")
        elif args.command in ("keys", "schema", "cases"):
            if comm.rank == 0:
                _reference_command(args)
        else:
            parser.print_help()
        return 0
    except (ValueError, KeyError, OSError) as exc:  # bad input: exit code 2
        # (CaseError, MeshError for an unreadable mesh file, a missing or existing folder)
        return _fail(exc, 2, args.debug, comm)
    except (RuntimeError, ArithmeticError, MemoryError, ImportError) as exc:
        # a failed computation: Gmsh could not mesh the geometry (GeometryError), a time
        # step failed even at dt_min (StepFailure), PETSc errors, a missing package, an
        # output file that could not be written (io.OutputError: a full disk, say)
        return _fail(exc, 1, args.debug, comm)
    except KeyboardInterrupt:
        if args.debug:
            raise
        if comm.rank == 0:
            print("femdiff: interrupted", file=sys.stderr)
        return 130


# --- help, the case-file reference, the shipped cases (femdiff keys / schema / cases) ----

DOCS = "docs/ in the source (make docs builds docs/_build/html/index.html)"

#: subcommand -> (description, epilog with examples)
_HELP: dict[str, tuple[str, str]] = {
    "info": ("Print the versions of femdiff, DOLFINx, PETSc, MPI and Gmsh and the solver "
             "packages PETSc has (what a bug report needs). Given a case file, also build "
             "it and print the solver it would run and the rule that chose it.",
             "examples:\n  femdiff info\n  femdiff info cases/stressed_rod.toml\n"
             "  mpirun -n 2 femdiff info cases/spinodal.toml --set solver.linear=iterative"),
    "run": ("Run a TOML case file: mesh, solve, and write the CSV time series, the fields "
            "(VTX/XDMF), PNG plots and checkpoints into the output folder. Launch it under "
            "mpirun to run in parallel.",
            "examples:\n  femdiff cases quickstart --copy .   # a first case file\n"
            "  femdiff run quickstart.toml\n"
            "  mpirun -n 2 femdiff run cases/tds.toml -o tds_out --overwrite\n"
            "  femdiff run case.toml --set time.t_end=10 --set materials.T=400\n"
            "  femdiff run case.toml --restart          # continue from the last checkpoint"),
    "check": ("Validate a case file without meshing or solving it: every key, type, "
              "boundary and volume name. A problem is one line naming the file, the key "
              "path and the allowed values (exit code 2).",
              "examples:\n  femdiff check cases/crack_tip.toml\n"
              "  femdiff check case.toml --set physics.degree=2\n"
              "  femdiff keys boundary                   # what the keys mean"),
    "mesh": ("Build a built-in Gmsh geometry and write it to a .msh file (format 4.1) with "
             "its physical names, to inspect in Gmsh or use as [geometry] file.",
             ""),  # filled from the builders (_mesh_epilog)
    "demos": ("List the demos (literate scripts, also notebooks), or run one with its "
              "options after the name. Each writes fields, a CSV and PNG plots to "
              "output/<name>/ under the current folder (or $FEMDIFF_OUTPUT/<name>).",
              "examples:\n  femdiff demos\n  femdiff demos stressed_rod --small\n"
              "  mpirun -n 2 femdiff demos spinodal --domain periodic --small"),
    "cases": ("List the shipped case files (one line each), print one, or copy one (all "
              "of them without NAME) into a folder to edit and run.",
              "examples:\n  femdiff cases\n  femdiff cases tds\n  femdiff cases tds --copy .\n"
              "  femdiff cases --copy my_cases"),
    "keys": ("Print the case-file keys of every section, or of one section and those "
             "under it: type, default, allowed values, unit and meaning.",
             "examples:\n  femdiff keys\n  femdiff keys time\n  femdiff keys physics.terms"
             "\n  femdiff keys traps"),
    "schema": ("Print a JSON Schema (draft 2020-12) of case files, for editors: Taplo "
               "(Even Better TOML) validates and completes TOML against it.",
               "examples:\n  femdiff schema -o femdiff-case.schema.json\n"
               "  # then, first line of a case file:  #:schema ./femdiff-case.schema.json"),
}


def _mesh_epilog() -> str:
    import inspect

    from femdiff import geometry

    lines = ["builders and their parameters (-p NAME=VALUE; h: mesh size):"]
    for name, fn in geometry.BUILDERS.items():
        params = [f"{p.name}={p.default!r}" if p.default is not inspect.Parameter.empty
                  else p.name for p in inspect.signature(fn).parameters.values()
                  if p.name not in ("name", "refine")]
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        lines += [f"  {name}: {doc}", f"      {', '.join(params)}"]
    lines += ["", "examples:", "  femdiff mesh rod -p length=0.01 -p radius=0.001 -p h=2e-4 "
              "-o rod.msh", "  femdiff mesh crack_tip -p radius=1e-3 -p tip_size=1e-6 "
              "-o crack.msh", "  (-p max_cells=N raises the cell-count limit for one mesh)"]
    return "\n".join(lines)


def _document(parser: argparse.ArgumentParser, sub: Any) -> None:
    """Give the top parser and every subcommand a description and an epilog."""
    parser.description = textwrap.fill(
        "femdiff: chemical-potential-driven diffusion (mixed μ–C form) with traps, mechanics, "
        "Cahn–Hilliard and multicomponent Onsager diffusion, run from TOML case files.", 88)
    parser.epilog = ("first steps:\n  femdiff demos                       # what is shipped"
                     "\n  femdiff cases quickstart --copy .\n  femdiff check quickstart.toml"
                     "\n  femdiff run quickstart.toml\n  femdiff COMMAND --help"
                     "\n\nexit codes: 0 done, 2 bad input, 1 a failed computation"
                     f"\ndocumentation: {DOCS}")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for name, p in sub.choices.items():
        description, epilog = _HELP.get(name, ("", ""))
        if name == "mesh":
            try:
                epilog = _mesh_epilog()
            except ImportError:  # no Gmsh: the help still prints
                epilog = ""
        p.description = textwrap.fill(description, 88) if description else p.description
        p.epilog = (epilog + "\n\n" if epilog else "") + f"documentation: {DOCS}"
        p.formatter_class = argparse.RawDescriptionHelpFormatter


def _add_reference_commands(sub: Any) -> None:
    k = sub.add_parser("keys", help="list the case-file keys (type, default, unit, doc)")
    k.add_argument("section", nargs="?", help="a section, e.g. time or physics.terms")
    s = sub.add_parser("schema", help="write a JSON Schema of case files (for editors)")
    s.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    c = sub.add_parser("cases", help="list the shipped case files, or copy them")
    c.add_argument("name", nargs="?", help="a case name (see the list)")
    c.add_argument("--copy", type=Path, metavar="DIR",
                   help="copy the case (all cases without NAME) into DIR")


def _reference_command(args: argparse.Namespace) -> None:
    """``femdiff keys``, ``schema`` and ``cases`` (rank 0 only)."""
    if args.command in ("keys", "schema"):
        import json

        from femdiff.case import reference

        if args.command == "keys":
            print(reference.text(args.section), end="")
            return
        text = json.dumps(reference.json_schema(), indent=2, ensure_ascii=False) + "\n"
        if args.output is None:
            print(text, end="")
        else:
            args.output.write_text(text, encoding="utf-8")
            print(f"wrote {args.output}")
        return
    found = examples.cases()
    if args.copy is not None:
        for path in examples.copy_case(args.name, args.copy):
            print(f"wrote {path}")
    elif args.name is None:
        width = max(map(len, found), default=0)
        print("\n".join(f"{n:<{width}}  {examples.case_title(p)}" for n, p in found.items()))
    elif args.name.removesuffix(".toml") in found:
        print(found[args.name.removesuffix(".toml")].read_text(encoding="utf-8"), end="")
    else:
        raise ValueError(f"unknown case {args.name!r}; available: {', '.join(found)}")


def _check_builder_params(builder: str, params: dict[str, Any]) -> None:
    """A parameter the builder does not take: the key-naming error of ``femdiff check``."""
    import inspect

    from femdiff import geometry
    from femdiff.case.schema import CaseError

    if builder not in geometry.BUILDERS:
        return  # write_msh names the available builders
    allowed = [p for p in inspect.signature(geometry.BUILDERS[builder]).parameters
               if p not in ("name", "refine")]
    for key in params:
        if key not in (*allowed, "max_cells"):
            raise CaseError("femdiff mesh", f"geometry.params.{key}", f"unknown parameter "
                            f"{key!r} of builder {builder!r}; allowed keys: "
                            f"{', '.join(allowed)}")


def _fail(exc: BaseException, code: int, debug: bool, comm: Any) -> int:
    """Print ``exc`` as one line on rank 0 (re-raise it with ``--debug``); return ``code``."""
    if debug:
        if getattr(exc, "detail", None):  # the traceback of a failed rank-0-only write
            print(exc.detail, file=sys.stderr)
        raise exc
    if comm.rank == 0:
        print(f"femdiff: error: {_message(exc)}", file=sys.stderr)
    # Free what the tracebacks keep alive (the problem's PETSc solvers and ADIOS2 writers)
    # now, while MPI is up, and in the same order on every rank: their destruction is
    # collective, so a rank that frees them later (a chained exception's traceback holds
    # them there) deadlocks the others, and one that leaves them to the garbage
    # collector at exit crashes (exit 139).
    chain: BaseException | None = exc
    while chain is not None:
        following = chain.__cause__ or chain.__context__
        chain.__traceback__ = chain.__context__ = chain.__cause__ = None
        chain = following
    del exc
    gc.collect()
    return code


if __name__ == "__main__":
    sys.exit(main())
