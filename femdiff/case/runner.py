"""Running a built case: the output folder, the step loop, series, fields and checkpoints.

``femdiff run`` (:mod:`femdiff.cli`) validates and builds a case, then :func:`run_case`
prepares its folder (only a folder femdiff wrote is ever replaced; a refused restart
touches nothing), steps the problem with its progress display, and writes the CSV
series with units, the chosen fields, the derived quantities, the checkpoints and the
final plots, each from the right rank.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import femdiff

log = logging.getLogger("femdiff")


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


def message(exc: BaseException) -> str:
    """The one line of an error: its first line (a KeyError's argument; memory: a hint)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if isinstance(exc, MemoryError):
        text = f"out of memory{': ' + text if text else ''} (a coarser mesh, or more ranks?)"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


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
        (out / FAILED_MARKER).write_text(f"{type(exc).__name__}: {message(exc)}\n")
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
