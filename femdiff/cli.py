"""The ``femdiff`` command line.

femdiff --version
femdiff info                         # DOLFINx/PETSc/MPI versions, solver packages
femdiff mesh rod -p length=0.01 -p radius=0.001 -o rod.msh
femdiff demos                        # list the demos
femdiff demos stressed_rod [-- ...]  # run one (under mpirun if you launch it so)
"""

from __future__ import annotations

import argparse
import ast
import runpy
import sys
from pathlib import Path

import femdiff

DEMO_DIR = Path(__file__).resolve().parent.parent / "demos"


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def info() -> str:
    """A report of the numerical stack (what a bug report needs)."""
    from mpi4py import MPI
    from petsc4py import PETSc

    import dolfinx
    import gmsh

    major, minor, sub = PETSc.Sys.getVersion()
    lines = [
        f"femdiff   {femdiff.__version__}",
        f"python    {sys.version.split()[0]}",
        f"dolfinx   {dolfinx.__version__}",
        f"petsc     {major}.{minor}.{sub}  (scalar {PETSc.ScalarType.__name__})",
        f"mpi4py    {__import__('mpi4py').__version__}",
        f"MPI       {MPI.Get_library_version().splitlines()[0].strip()}",
        f"ranks     {MPI.COMM_WORLD.size}",
        f"gmsh      {gmsh.__version__}",
        f"adios2    {'yes' if dolfinx.has_adios2 else 'no'} (VTX output)",
        "solvers   " + ", ".join(
            f"{p}={'yes' if PETSc.Sys.hasExternalPackage(p) else 'no'}"
            for p in ("mumps", "superlu_dist", "hypre", "ptscotch", "hdf5")),
    ]
    return "\n".join(lines)


def _demos() -> dict[str, Path]:
    return {p.stem.removeprefix("demo_"): p for p in sorted(DEMO_DIR.glob("demo_*.py"))}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``femdiff`` console script."""
    parser = argparse.ArgumentParser(prog="femdiff", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"femdiff {femdiff.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="print the DOLFINx/PETSc/MPI environment")
    m = sub.add_parser("mesh", help="write a built-in geometry to a .msh file")
    m.add_argument("builder")
    m.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    m.add_argument("-o", "--output", required=True, type=Path)
    d = sub.add_parser("demos", help="list the demos, or run one")
    d.add_argument("name", nargs="?")
    d.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    try:
        if args.command == "info":
            print(info())
        elif args.command == "mesh":
            from femdiff import geometry

            params = {}
            for item in args.param:
                key, sep, value = item.partition("=")
                if not sep:
                    raise ValueError(f"parameter {item!r} must be NAME=VALUE")
                params[key] = _parse_value(value)
            path = geometry.write_msh(args.builder, args.output, **params)
            print(f"wrote {path}")
        elif args.command == "demos":
            demos = _demos()
            if not args.name:
                print("\n".join(demos) if demos else "no demos found")
            elif args.name not in demos:
                raise ValueError(f"unknown demo {args.name!r}; available: {', '.join(demos)}")
            else:
                sys.argv = [str(demos[args.name]), *args.args]
                runpy.run_path(str(demos[args.name]), run_name="__main__")
        else:
            parser.print_help()
        return 0
    except (ValueError, KeyError, OSError) as exc:
        if args.debug:
            raise
        print(f"femdiff: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
