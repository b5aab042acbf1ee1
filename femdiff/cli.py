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
import os
import re
import runpy
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import femdiff
from femdiff.case import examples

log = logging.getLogger("femdiff")

DEMO_DIR = examples.folder("demos")


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
        f"petsc     {major}.{minor}.{sub}  (scalar {PETSc.ScalarType.__name__})",  # type: ignore[attr-defined]
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


def solver_lines(sim: Any) -> list[str]:
    """``solver <name>: <description>`` for every problem of a built case that has one.

    The description (:meth:`femdiff.problems.base.MixedProblem.solver_description`) names the
    SNES/KSP/PC types, the factorisation package, the factorisation reuse and the rule
    that chose them.
    """
    problems = [("problem", getattr(sim, "problem", None))]
    lines = []
    for name, problem in problems:
        describe = getattr(problem, "solver_description", None)
        if callable(describe):
            lines.append(f"solver ({name}): {describe()}")
        settings = getattr(problem, "settings", None)
        if settings is not None:  # the numerics in one object (femdiff.numerics.settings)
            lines.append(f"settings ({name}): {'; '.join(settings.describe())}")
    return lines


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


# --- run ----------------------------------------------------------------------------------


#: written into an output folder when its run fails; such a folder may be replaced
FAILED_MARKER = "FAILED"
#: written into every output folder femdiff creates: only such a folder is ever replaced
OUTPUT_MARKER = ".femdiff-output"


def _replaceable(out: Path) -> bool:
    """Whether ``out`` holds only what a failed run left: its marker and no checkpoint."""
    from femdiff.io import checkpoint

    return ((out / OUTPUT_MARKER).is_file() and (out / FAILED_MARKER).is_file()
            and checkpoint.latest(out / "checkpoints") is None
            and not (out / "state_final.h5").exists())


def _case_inputs(case: Any) -> list[Path]:
    """The files a case reads: the case file and its mesh file (never deleted)."""
    paths = [getattr(case, "path", None), case.data.get("geometry", {}).get("path")]
    return [Path(p) for p in paths if p is not None]


def _replace_refused(out: Path, protect: Any) -> str | None:
    """Why the existing folder ``out`` may not be replaced (``None``: it may)."""
    if not (out / OUTPUT_MARKER).is_file():
        return (f"--overwrite refused: {str(out)!r} was not written by femdiff (it has no "
                f"{OUTPUT_MARKER} file); remove it yourself or choose another -o")
    root = out.resolve()
    for path in protect:
        if path.resolve().is_relative_to(root):
            return (f"--overwrite refused: the output folder {str(out)!r} holds "
                    f"{str(path)!r}, which this case reads; move it out or choose "
                    "another -o")
    return None


def _prepare_folder(comm: Any, out: Path, restart: bool, overwrite: bool,
                    protect: Any = ()) -> None:
    """Check and create the output folder on rank 0; every rank raises on a problem.

    An existing folder needs ``--overwrite`` or ``--restart``, unless it is empty or holds
    a failed run without checkpoints (it has a ``FAILED`` file): that one is replaced.
    Only a folder femdiff wrote (it has the :data:`OUTPUT_MARKER` file) is replaced, and
    never one that holds a file of ``protect`` (the case file, its mesh file). A restart
    is only checked here: its folder is touched by :func:`_claim_folder`, once the
    checkpoint has been read and the restart accepted.
    """
    from femdiff import io as fio

    def check() -> str | None:
        if restart:
            if not (out / "checkpoints").is_dir():
                return (f"cannot restart: {str(out)!r} has no checkpoints/ folder (was the "
                        "run started with checkpointing enabled in [checkpoint]?)")
        elif out.exists() and not out.is_dir():
            return (f"output folder {str(out)!r} is a file, not a folder"
                    + ("; --overwrite replaces only a folder femdiff wrote" if overwrite
                       else "") + "; choose another -o")
        elif out.exists() and any(out.iterdir()):
            if overwrite:
                return _replace_refused(out, protect)
            if _replaceable(out) and not _replace_refused(out, protect):
                log.info("replacing %s, left by a failed run", out)
                return None
            failed = (out / FAILED_MARKER).is_file()
            return (f"output folder {str(out)!r} already exists"
                    + (" (left by a failed run, see its FAILED file)" if failed else "")
                    + "; use --overwrite to replace it or --restart to continue its run")
        return None

    error = None
    if comm.rank == 0:
        try:
            error = check()
        except OSError as exc:
            error = fio.describe_write_error(exc, out)
    error = comm.bcast(error, root=0)
    if error:
        raise FileExistsError(error)
    if not restart:
        _claim_folder(comm, out, replace=True)


def _claim_folder(comm: Any, out: Path, replace: bool = False) -> None:
    """Create (``replace``: empty) the output folder, mark it as femdiff's, probe it."""
    from femdiff import io as fio

    def create() -> None:
        if replace and out.is_dir() and any(out.iterdir()):
            shutil.rmtree(out)  # checked by _prepare_folder: a folder femdiff wrote
        out.mkdir(parents=True, exist_ok=True)
        marker = out / OUTPUT_MARKER
        if not marker.is_file():
            marker.write_text(f"written by femdiff {femdiff.__version__}; "
                              "`femdiff run --overwrite` may replace this folder\n")
        (out / FAILED_MARKER).unlink(missing_ok=True)
        for reserve in out.glob(".*.reserve"):  # left by a killed run's FieldWriter
            reserve.unlink(missing_ok=True)
        probe = out / f".femdiff_write_test{os.getpid()}"  # fail now, not after meshing
        probe.write_bytes(b"")
        probe.unlink()

    fio.on_root(comm, create, out)


def _mark_failed(comm: Any, out: Path, exc: BaseException) -> None:
    """Leave a ``FAILED`` file with the error in ``out`` (rank 0, best effort, no MPI)."""
    if comm.rank != 0 or not out.is_dir():
        return
    try:
        (out / FAILED_MARKER).write_text(f"{type(exc).__name__}: {_message(exc)}\n")
    except OSError:
        pass  # a full disk, say: the error message still reaches the user


def _segment_stem(out: Path) -> Path:
    """Field-file stem after a restart: ``fields_restart<k>``, k one more than existing."""
    ks = [int(m.group(1)) for p in out.glob("fields_restart*")
          if (m := re.match(r"fields_restart(\d+)", p.name))]
    return out / f"fields_restart{max(ks, default=0) + 1}"


def run_case(case: Any, out: Path, *, restart: bool = False, overwrite: bool = False,
             progress: bool | None = None, progress_every: float = 30.0) -> Path:
    """Run a validated case into ``out`` (collective); return ``out``.

    Writes ``series.csv`` (with its units in ``series.json``; the columns of
    ``[[output.quantities]]`` at its end), field files (``fields_*.bp`` or
    ``fields.xdmf``), ``profile_<name>.csv`` (and ``profile_<name>_times.csv`` of profile
    quantities), PNGs, ``checkpoints/`` and a copy of the case file (docs/outputs.md).
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    _prepare_folder(comm, out, restart, overwrite, protect=_case_inputs(case))
    opened: list[Any] = []  # writers to close if the run fails
    # a restart refused by its checks leaves the folder untouched (no FAILED file either)
    started = [not restart]
    try:
        return _run_case(case, out, comm, restart=restart, progress=progress, opened=opened,
                         started=started, progress_every=progress_every)
    except BaseException as exc:
        for obj in opened:  # free the space ADIOS2 needs to close its files first
            obj.abort()
        if started[0]:
            _mark_failed(comm, out, exc)
        raise


def _run_case(case: Any, out: Path, comm: Any, *, restart: bool,
              progress: bool | None, opened: list[Any], started: list[bool],
              progress_every: float = 30.0) -> Path:
    from mpi4py import MPI

    from femdiff import io as fio
    from femdiff.io import checkpoint
    from femdiff.numerics.timestepping import before

    data = case.data
    outcfg, ckcfg = data["output"], data["checkpoint"]
    wall0 = time.perf_counter()
    if not restart:
        fio.on_root(comm, lambda: shutil.copyfile(case.path, out / "case.toml"),
                    out / "case.toml")
        fio.on_root(comm, lambda: fio.atomic_write(out / "environment.txt", info() + "\n"),
                    out / "environment.txt")
    log.info("case %s: building the mesh and the problem on %d rank(s)", case.name, comm.size)
    sim = case.build(comm)
    ncells = comm.allreduce(sim.domain.mesh.topology.index_map(
        sim.domain.tdim).size_local, op=MPI.SUM) if hasattr(sim, "domain") else 0
    log.info("mesh: %d cells, boundaries %s", ncells, ", ".join(sim.domain.boundary_names)
             if hasattr(sim, "domain") else "")

    for line in solver_lines(sim):
        log.info("%s", line)
    step, t_restart = 0, None
    ckpt = None
    if sim.time_dependent:
        ckpt = checkpoint.Checkpointer(sim.problem, out / "checkpoints", ckcfg["every_steps"],
                                       ckcfg["every_seconds"], ckcfg["keep"],
                                       fingerprint=case.fingerprint())
        if restart:
            # every check that can refuse the restart runs before the folder is touched:
            # the newest checkpoint that reads and verifies (a damaged one is named and
            # passed over, the same on every rank), its fingerprint (another case, or
            # other physics: refused), the end time
            path, scalars, skipped = ckpt.load_newest()
            for why in skipped:
                log.warning("%s; using an older checkpoint", why)
            step, t_restart = int(scalars["step"]), float(scalars["t"])
            t_end = data["time"]["t_end"]
            if t_end < t_restart and before(t_end, t_restart):
                raise ValueError(f"cannot restart: the end time time.t_end = {t_end!r} is "
                                 f"before the checkpoint's time t = {t_restart!r} "
                                 f"({path.name}); set a later time.t_end")
            log.info("restarting from %s: step %d, t = %g", path.name, step, t_restart)
    if restart:
        started[0] = True
        _claim_folder(comm, out)
    from femdiff.case.outputs import make_recorder, series_units
    from femdiff.io.quantities import write_units

    quantities = make_recorder(sim, case, out, t_restart)  # [[output.quantities]]
    if quantities is not None:
        opened.append(quantities)
    units = series_units(sim, case, sim.columns(), quantities)
    series = fio.TimeSeries(comm, out / "series.csv", [c.name for c in units],
                            restart_time=t_restart)
    opened.append(series)
    write_units(comm, out / "series.csv", units)  # series.json: units and descriptions

    def row(info: Any) -> dict[str, float]:
        return {**sim.row(info), **(quantities.values() if quantities is not None else {})}
    writer = None
    chosen = None  # output.fields = [names]
    if outcfg.get("field_names"):
        from femdiff.case.outputs import FieldSet

        chosen = FieldSet(sim, outcfg["field_names"], case.path)
    if outcfg["fields"] != "none":
        stem = _segment_stem(out) if restart else out / "fields"
        writer = fio.FieldWriter(comm, stem, sim.fields() if chosen is None
                                 else chosen.functions, format=outcfg["fields"])
        opened.append(writer)

    def write_fields() -> None:
        assert writer is not None
        sim.refresh()
        if chosen is not None:
            chosen.refresh()
        writer.write(sim.current_time)
    if not restart:
        series.append(**row(None))
        if quantities is not None:
            quantities.write_profiles()
    if writer is not None:
        write_fields()

    if sim.time_dependent:
        assert ckpt is not None
        t_end = data["time"]["t_end"]
        pending = [t for t in sorted({*outcfg["times"], t_end})
                   if before(sim.current_time, t)]
        targets = list(pending)
        from femdiff.io.progress import RunProgress

        # a tqdm bar on a terminal (or --progress always), else a log line every N s
        bar = RunProgress(comm, sim.current_time, t_end, every=progress_every,
                          mode={None: "auto", True: "bar", False: "none"}[progress])
        steps0 = step
        totals = {"newton": 0, "krylov": 0}

        def record(_problem: Any, info: Any) -> None:
            nonlocal step
            step += 1
            totals["newton"] += info.newton_iterations
            totals["krylov"] += info.krylov_iterations
            series.append(**row(info))
            landed = False
            while pending and not before(sim.current_time, pending[0]):
                pending.pop(0)
                landed = True
            if landed and quantities is not None:
                quantities.write_profiles()
            if writer is not None and (landed or (outcfg["every"] and
                                                  step % outcfg["every"] == 0)):
                write_fields()
            if ckpt.due(step):
                ckpt.save(step)
            bar.update(info)
            checkpoint._fault("step", step)

        # the problem owns Δt (TimeControl/Adaptive): restarts resume its stored request
        try:
            if before(sim.current_time, t_end):  # (a restart may stand at t_end to round-off)
                sim.problem.run(t_end, times=targets, callback=record)
        finally:
            bar.close()
        log.info("%d steps to t = %g (Newton %d, Krylov %d iterations)", step - steps0,
                 sim.current_time, totals["newton"], totals["krylov"])
        if ckcfg["final"]:
            ckpt.save(step, path=out / "state_final.h5")
    series.close()
    if quantities is not None:
        quantities.close()
    if writer is not None:
        writer.close()

    _final_outputs(sim, case, out, comm)
    log.info("done in %.1f s; output in %s", time.perf_counter() - wall0, out)
    return out


def _final_outputs(sim: Any, case: Any, out: Path, comm: Any) -> None:
    """Profiles (CSV + PNG), the time-series plot and the 2D field plot.

    A simulation with a ``write_results(out)`` method writes its own result files first
    (e.g. a periodic cell's ``homogenisation.json``).
    """
    from femdiff import io as fio

    outcfg = case.data["output"]
    write_results = getattr(sim, "write_results", None)
    if callable(write_results):
        write_results(out)
    funcs = [f for f in sim.profile_fields()
             if not f.function_space.value_shape or
             int(__import__("numpy").prod(f.function_space.value_shape)) == 1]
    for i, prof in enumerate(outcfg["profiles"]):
        pts = fio.line_points(prof["start"], prof["end"], prof["n"])
        label = f"{case.path}: output.profiles[{i}] ({prof['name']!r})"
        values = {f.name: fio.sample_line(f, pts, label=label, warn=j == 0)
                  for j, f in enumerate(funcs)}
        path = out / f"profile_{prof['name']}.csv"

        def write_profile(pts=pts, values=values, path=path) -> None:
            import numpy as np

            s = np.linalg.norm(pts - pts[0], axis=1)
            cols = {"s": s, "x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2], **values}
            text = ",".join(cols) + "\n" + "\n".join(
                ",".join(repr(float(c[i])) for c in cols.values()) for i in range(len(s)))
            fio.atomic_write(path, text + "\n")

        fio.on_root(comm, write_profile, path)
        if outcfg["png"]:
            for f in funcs:
                fio.plot_profiles(comm, out / f"profile_{prof['name']}_{f.name}.png", pts,
                                  {f"t = {sim.current_time:g}": values[f.name]},
                                  ylabel=f.name, title=f"{case.name}: {f.name} along "
                                  f"{prof['name']}")
    if not outcfg["png"]:
        return
    from femdiff.io.quantities import unit_system

    system = (case.data.get("materials") or {}).get("units", "molar")
    units = unit_system(system, sim.domain.gdim)
    unit_of = {"C": units["C"], "mu": units["mu"], "sigma_h": "Pa", "von_mises": "Pa",
               "T": "K"}
    if sim.time_dependent:
        fio.plot_series(comm, out / "series.csv", out / "series.png", title=case.name)
        columns = sim.columns()
        if "T" in columns and "desorption_flux" in columns:  # TDS: the spectrum against T
            fio.plot_spectrum(comm, out / "series.csv", out / "spectrum.png",
                              ylabel=f"desorption flux [{units['flux']}]",
                              title=f"{case.name}: desorption spectrum")
    for path in sorted(out.glob("profile_*_times.csv")) if comm.rank == 0 else []:
        _plot_profile_times(path)
    if sim.domain.gdim == 2:
        field = sim.plot_field()
        unit = unit_of.get(field.name)
        fio.plot_field_2d(field, out / f"field_{field.name}.png",
                          title=f"{case.name}: {field.name} at t = {sim.current_time:g}",
                          label=f"{field.name} [{unit}]" if unit else field.name)


def _plot_profile_times(path: Path) -> None:
    """A ``profile_<name>_times.csv`` (a profile at every output time) as one PNG (rank 0)."""
    import numpy as np

    from femdiff import io as fio

    data = fio.read_csv(path)
    name = [c for c in data if c not in ("t", "s", "x", "y", "z")][0]
    times = sorted(set(data["t"]))
    first = data["t"] == times[0]
    pts = np.column_stack([data["x"][first], data["y"][first], data["z"][first]])
    profiles = {f"t = {t:g}": data[name][data["t"] == t] for t in times}
    fio._plot_profiles(path.with_suffix(".png"), pts, profiles, name, None)


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


def _message(exc: BaseException) -> str:
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if isinstance(exc, MemoryError):
        text = f"out of memory{': ' + text if text else ''} (a coarser mesh, or more ranks?)"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
