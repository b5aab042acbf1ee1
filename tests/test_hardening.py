"""Regression tests for issue 17 (hardening): failing writes, bad inputs, size checks.

Each test reproduces one defect of the issue's bad-input and failing-disk sweep and
checks the fixed behaviour: a one-line error naming the file (or option) and exit 1 for a
failed write, exit 2 for bad input, and no hang under MPI.
"""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mpi4py import MPI

import numpy as np
import pytest
from dolfinx import fem

from femdiff import geometry
from femdiff import io as fio
from femdiff.geometry import mesh
from femdiff.io import checkpoint
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Interaction, StressCoupling
from femdiff.numerics import solvers

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"
VENV_BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FEMDIFF_FAULT_WRITE", None)
    env.update(extra)
    return env


def _femdiff(args: list[str], ranks: int = 1, timeout: float = 240, **env: str
             ) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process (under mpirun for ranks > 1), killed at ``timeout``.

    The timeout is the hang detector: a run that deadlocks is killed and the test fails
    on ``TimeoutExpired``.
    """
    cmd = [sys.executable, "-m", "femdiff.cli", "-q", *args]
    if ranks > 1:
        cmd = [str(VENV_BIN / "mpirun"), "-n", str(ranks), *cmd]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                          capture_output=True, text=True, timeout=timeout,
                          env=_env(**env), cwd=ROOT)


def _error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("femdiff: error:")]
    assert lines, proc.stderr[-2000:]
    return lines[0]


def _short_case(tmp_path: Path) -> Path:
    """quickstart.toml cut to t_end = 40 (7 steps), checkpointed every 2 steps."""
    text = (CASES / "quickstart.toml").read_text()
    text = text.replace("t_end = 200.0", "t_end = 40.0").replace(
        "times = [50.0, 100.0]", "times = [20.0]").replace("every_steps = 4", "every_steps = 2")
    assert "every_steps = 2" in text
    path = tmp_path / "short.toml"
    path.write_text(text)
    return path


# --- 1. rank-0-only writes agree on success (no MPI hang) ------------------------------------


@pytest.mark.mpi
def test_collective_raises_the_same_error_on_every_rank(mpi_tmp_path):
    comm = MPI.COMM_WORLD
    with pytest.raises(fio.OutputError, match=r"could not write '.*x\.csv': No space left"):
        with fio.collective(comm, mpi_tmp_path / "x.csv"):
            if comm.rank == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    # a failure on the last rank only reaches rank 0 too
    with pytest.raises(fio.OutputError, match="boom"):
        with fio.collective(comm):
            if comm.rank == comm.size - 1:
                raise RuntimeError("boom")
    # and success is silent everywhere
    with fio.collective(comm):
        pass


@pytest.mark.mpi
def test_time_series_write_failure_on_rank_0_fails_all_ranks(mpi_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    path = mpi_tmp_path / "s.csv"
    series = fio.TimeSeries(comm, path, ["t", "a"])
    series.append(t=0.0, a=1.0)
    monkeypatch.setenv("FEMDIFF_FAULT_WRITE", "s.csv:ENOSPC")
    with pytest.raises(fio.OutputError, match=r"s\.csv.*No space left on device"):
        series.append(t=1.0, a=2.0)
    monkeypatch.delenv("FEMDIFF_FAULT_WRITE")
    series.close()
    comm.Barrier()
    if comm.rank == 0:  # the file holds the rows written before the failure, readable
        assert fio.read_csv(path)["t"].tolist() == [0.0]


@pytest.mark.mpi
def test_plots_and_checkpoints_fail_together(mpi_tmp_path, monkeypatch):
    comm = MPI.COMM_WORLD
    domain = mesh.rectangle(4, 4)
    V = fem.functionspace(domain.mesh, ("Lagrange", 1))
    monkeypatch.setenv("FEMDIFF_FAULT_WRITE", "*.png:EACCES,ckpt_*:ENOSPC")
    pts = fio.line_points((0, 0.5), (1, 0.5), 5)
    values = fio.sample_line(fem.Function(V), pts)
    with pytest.raises(fio.OutputError, match=r"p\.png.*Permission denied"):
        fio.plot_profiles(comm, mpi_tmp_path / "p.png", pts, {"C": values})
    u = fem.Function(V)
    with pytest.raises(fio.OutputError, match=r"ckpt_1\.h5.*No space left"):
        checkpoint.write(mpi_tmp_path / "ckpt_1.h5", V, {"u": u.x.array}, {"t": 0.0})
    comm.Barrier()
    if comm.rank == 0:  # no temporary file left behind
        assert not list(mpi_tmp_path.glob(".ckpt_1*"))


@pytest.mark.skip_in_parallel
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["series.csv:ENOSPC:3", "ckpt_*:ENOSPC:1", "*.png"])
def test_run_on_two_ranks_with_a_failing_rank_0_write_exits(tmp_path, fault):
    """The issue's hang: rank 0's write fails, rank 1 must not wait forever."""
    case = _short_case(tmp_path)
    proc = _femdiff(["run", str(case), "-o", str(tmp_path / "out"), "--progress", "never"],
                    ranks=2, FEMDIFF_FAULT_WRITE=fault)
    assert proc.returncode == 1, proc.stderr[-2000:]
    line = _error_line(proc)
    assert "could not write" in line and "No space left on device" in line
    assert "Traceback" not in proc.stderr


@pytest.mark.skip_in_parallel
def test_run_into_an_unusable_folder_fails_fast_on_two_ranks(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    proc = _femdiff(["run", str(CASES / "quickstart.toml"), "-o", str(blocker / "out")],
                    ranks=2, timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "afile/out" in _error_line(proc) and "Not a directory" in _error_line(proc)


@pytest.mark.skip_in_parallel
def test_run_into_an_immutable_folder_fails_fast_on_two_ranks(tmp_path):
    """As root, chmod does not stop writes; ``chattr +i`` does (skipped where unavailable)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
    elif not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(ro)]).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        proc = _femdiff(["run", str(CASES / "quickstart.toml"), "-o", str(ro)], ranks=2,
                        timeout=120)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(ro)])
        ro.chmod(0o755)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "could not write" in _error_line(proc) and str(ro) in _error_line(proc)


# --- 2. a full disk in serial ---------------------------------------------------------------


@pytest.mark.skip_in_parallel
def test_time_series_keeps_complete_rows_when_the_disk_fills(tmp_path, monkeypatch):
    path = tmp_path / "s.csv"
    series = fio.TimeSeries(MPI.COMM_WORLD, path, ["t", "a"])
    series.append(t=0.0, a=1.0)
    real_write = os.write

    def half_write(fd, data):  # a full disk mid-row: part of it lands, then ENOSPC
        real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_write)
    with pytest.raises(fio.OutputError, match=r"s\.csv.*No space left on device"):
        series.append(t=1.0, a=2.0)
    monkeypatch.undo()
    series.close()
    assert fio.read_csv(path)["t"].tolist() == [0.0]  # the torn row was cut off


@pytest.mark.skip_in_parallel
@pytest.mark.slow
def test_full_disk_run_gives_one_line_and_usable_files(tmp_path):
    """ENOSPC at the second checkpoint: exit 1, one line naming it, earlier files usable."""
    case = _short_case(tmp_path)
    out = tmp_path / "out"
    proc = _femdiff(["run", str(case), "-o", str(out), "--progress", "never"],
                    FEMDIFF_FAULT_WRITE="ckpt_*:ENOSPC:2")
    assert proc.returncode == 1, proc.stderr[-2000:]
    line = _error_line(proc)
    assert "ckpt_00000004.h5" in line and "No space left on device" in line
    assert "Traceback" not in proc.stderr and "terminate called" not in proc.stderr
    latest = checkpoint.latest(out / "checkpoints")
    assert latest is not None and latest.name == "ckpt_00000002.h5"
    t = fio.read_csv(out / "series.csv")["t"]
    assert len(t) == 5 and np.all(np.diff(t) > 0)  # t = 0 and steps 1-4
    assert (out / "FAILED").is_file()


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.skip_in_parallel
@pytest.mark.slow
@pytest.mark.parametrize("size", ["300k", "420k"])
def test_run_on_a_tiny_tmpfs(tmp_path, size):
    """A real full disk: no ADIOS2 'terminate called', no HDF5 crash; exit 1, one line."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, size):
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = disk / "out"
        proc = _femdiff(["run", str(CASES / "quickstart.toml"), "-o", str(out),
                         "--progress", "never"])
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert "No space left on device" in _error_line(proc)
        assert "terminate called" not in proc.stderr and "Traceback" not in proc.stderr
        t = fio.read_csv(out / "series.csv")["t"]  # readable, rows in order
        assert len(t) >= 1 and np.all(np.diff(t) > 0)
        latest = checkpoint.latest(out / "checkpoints")
        if latest is not None:  # a complete checkpoint reads back
            import h5py

            with h5py.File(latest) as fh:
                assert int(fh.attrs["complete"]) == 1
    finally:
        subprocess.run(["umount", str(disk)])


@pytest.mark.skip_in_parallel
def test_field_writer_refuses_a_step_that_does_not_fit(tmp_path, monkeypatch):
    domain = mesh.rectangle(4, 4)
    c = fem.Function(fem.functionspace(domain.mesh, ("Lagrange", 1)), name="C")
    writer = fio.FieldWriter(MPI.COMM_WORLD, tmp_path / "f", [c])
    reserve = tmp_path / ".f.reserve"
    assert reserve.stat().st_size == fio.FieldWriter.RESERVE
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, 100))
    with pytest.raises(fio.OutputError, match=r"f_P1\.bp.*No space left on device"):
        writer.write(0.0)
    monkeypatch.undo()
    writer.close()
    assert not reserve.exists()


# --- 11. a failed run's folder; profiles outside the mesh -------------------------------------


@pytest.mark.skip_in_parallel
def test_failed_run_folder_is_replaced_and_said_so(tmp_path):
    from femdiff.case import runner as cli

    out = tmp_path / "out"
    out.mkdir()
    (out / "case.toml").write_text("")
    (out / cli.FAILED_MARKER).write_text("RuntimeError: x\n")
    assert not cli._replaceable(out)  # not femdiff's: no marker
    (out / cli.OUTPUT_MARKER).write_text("")
    assert cli._replaceable(out)
    cli._prepare_folder(MPI.COMM_WORLD, out, restart=False, overwrite=False)
    assert list(out.iterdir()) == [out / cli.OUTPUT_MARKER]  # replaced, marked as ours
    # with a checkpoint it is kept, and the message says it failed
    (out / "checkpoints").mkdir()
    checkpoint.write(out / "checkpoints" / "ckpt_00000001.h5",
                     fem.functionspace(mesh.interval(2).mesh, ("Lagrange", 1)),
                     {}, {"t": 0.0})
    (out / cli.FAILED_MARKER).write_text("RuntimeError: x\n")
    with pytest.raises(FileExistsError, match="left by a failed run.*--overwrite"):
        cli._prepare_folder(MPI.COMM_WORLD, out, restart=False, overwrite=False)


@pytest.mark.mpi
def test_profile_outside_the_mesh_warns(caplog):
    domain = mesh.rectangle(4, 4)
    f = fem.Function(fem.functionspace(domain.mesh, ("Lagrange", 1)), name="C")
    with caplog.at_level("WARNING", logger="femdiff"):
        values = fio.sample_line(f, fio.line_points((2, 2), (3, 3), 5), label="line 'far'")
        inside = fio.sample_line(f, fio.line_points((0, 0.5), (1, 0.5), 5), label="in")
    if MPI.COMM_WORLD.rank == 0:
        assert np.isnan(values).all() and not np.isnan(inside).any()
        messages = [r.getMessage() for r in caplog.records]
        assert any("line 'far': 5 of 5 points" in m and "outside the mesh" in m
                   for m in messages)
        assert not any(m.startswith("in:") for m in messages)


# --- 3 (support). checkpoint fingerprints --------------------------------------------------


@pytest.mark.mpi
def test_checkpoint_fingerprint_round_trip_and_differences(mpi_tmp_path):
    V = fem.functionspace(mesh.interval(4).mesh, ("Lagrange", 1))
    stamp = {"physics": {"mobility": {"D": 1e-9}, "model": "diffusion"},
              "time": {"t_end": 10.0, "dt": 1.0}, "output": {"every": 2}}
    path = checkpoint.write(mpi_tmp_path / "c.h5", V, {"u": fem.Function(V).x.array},
                            {"t": 1.0}, fingerprint=stamp)
    stored = checkpoint.read_fingerprint(path, MPI.COMM_WORLD)
    assert stored == stamp
    _, scalars = checkpoint.read(path, V)  # the fingerprint is not a scalar
    assert set(scalars) == {"t", "complete"}
    other = {"physics": {"mobility": {"D": 2e-9}, "model": "diffusion", "extra": 1},
             "time": {"t_end": 20.0, "dt": 1.0}, "output": {"every": 5}}
    assert checkpoint.fingerprint_differences(stored, other, ignore=("output", "time.t_end")
                                              ) == ["physics.extra", "physics.mobility.D"]
    assert checkpoint.fingerprint_differences(stored, stamp) == []
    # the Checkpointer's check, as a restart would call it
    from types import SimpleNamespace

    problem = SimpleNamespace(domain=SimpleNamespace(comm=MPI.COMM_WORLD))
    checkpoint.Checkpointer(problem, mpi_tmp_path, fingerprint=stamp).check_fingerprint(path)
    with pytest.raises(ValueError, match=r"different settings \(physics\.extra, "
                       r"physics\.mobility\.D\)"):
        checkpoint.Checkpointer(problem, mpi_tmp_path, fingerprint=other).check_fingerprint(
            path, ignore=("output", "time.t_end"))


# --- 5, 6. empty and group-less mesh files --------------------------------------------------


@pytest.mark.skip_in_parallel
def test_mesh_file_names_empty_and_groupless(tmp_path):
    empty = tmp_path / "empty.msh"
    empty.write_text("")
    with pytest.raises(mesh.MeshError, match="is empty or unreadable"):
        mesh.file_names(empty)
    with pytest.raises(mesh.MeshError, match="is empty or unreadable"):
        mesh.read(empty, MPI.COMM_SELF)
    geo = tmp_path / "plain.geo"
    geo.write_text("Point(1) = {0,0,0,0.1}; Point(2) = {1,0,0,0.1}; Line(1) = {1,2};\n"
                   '// Physical Curve("commented out") = {1};\n')
    with pytest.raises(mesh.MeshError, match="the model has no physical groups"):
        mesh.file_names(geo)
    with pytest.raises(mesh.MeshError, match="has no physical groups"):
        mesh.read(geo, MPI.COMM_SELF)
    assert mesh.file_names(ROOT / "meshes" / "rod2d.geo")[0] == 2


def _geometry_case(tmp_path: Path, mesh_file: str, profile: bool) -> Path:
    text = (CASES / "quickstart.toml").read_text()
    text = text.replace('builder = "rectangle"', f'file = "{mesh_file}"').replace(
        "params = { nx = 16, ny = 8, lx = 1.0e-3, ly = 0.5e-3 }", "")
    if profile:  # the report came from the profile check, without boundaries
        text = text.split("[[boundary]]")[0] + "[output]\n" + \
            'profiles = [{ name = "m", start = [0.0, 0.5], end = [1.0, 0.5] }]\n'
    path = tmp_path / "case.toml"
    path.write_text(text)
    return path


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("content,profile,expected", [
    ("", False, "is empty or unreadable"),
    ("Point(1) = {0,0,0};\n", True, "the model has no physical groups")])
def test_check_reports_unusable_mesh_files_first(tmp_path, content, profile, expected):
    name = "m.msh" if not content else "m.geo"
    (tmp_path / name).write_text(content)
    proc = _femdiff(["check", str(_geometry_case(tmp_path, name, profile))], timeout=120)
    assert proc.returncode == 2
    assert expected in _error_line(proc)


# --- 7. PETSc options ------------------------------------------------------------------------


def test_bad_petsc_type_names_option_value_and_valid_types():
    with pytest.raises(ValueError, match=r"snes_type = 'nosuchsolver' is not a SNES type.*"
                       r"valid: .*newtonls"):
        solvers.set_options("t_bad_", {"snes_type": "nosuchsolver"})
    with pytest.raises(ValueError, match=r"fieldsplit_c_ksp_type = 'cgg'.*valid: .*\bcg\b"):
        solvers.merge(solvers.newton_options(), {"fieldsplit_c_ksp_type": "cgg"})
    with pytest.raises(ValueError, match=r"mat_solver_type = 'nope'"):
        solvers.validate_options({"pc_factor_mat_solver_type": "nope"})
    # femdiff's own option sets pass
    for opts in (solvers.newton_options(), solvers.elasticity_options(),
                 solvers.cahn_hilliard_iterative_options()):
        solvers.validate_options(opts)
    assert "newtonls" in solvers.valid_types("SNES")


def test_femdiff_options_one_check_names_the_key():
    """femdiff's own options (solvers.FEMDIFF_OPTIONS): the API messages name the key."""
    cases = [({"femdiff_refactor_krylov": 0}, "femdiff_refactor_krylov must be a positive "
              "integer, got 0"),
             ({"femdiff_refactor_krylov": True}, "femdiff_refactor_krylov must be a positive "
              "integer, got True"),
             ({"femdiff_newton_kappa": 1.0}, "femdiff_newton_kappa must be a number in "
              "[0, 1) (0: off), got 1.0"),
             ({"femdiff_newton_kappa": float("nan")}, "femdiff_newton_kappa must be"),
             ({"femdiff_schur": "bks"}, "femdiff_schur must be 'bksw', got 'bks'"),
             ({"femdiff_split": "c_mu"}, "femdiff_split must be 'local_mu', 'mu_local' or "
              "'mutraps_c', got 'c_mu'"),
             ({"femdiff_foo": 1}, "femdiff_foo is not a femdiff option; allowed femdiff "
              "options: femdiff_refactor_krylov, femdiff_newton_kappa, femdiff_schur, "
              "femdiff_split")]
    for options, message in cases:
        with pytest.raises(solvers.OptionError) as info:
            solvers.validate_femdiff_options(options)
        assert str(info.value).startswith(message)
        assert info.value.key == next(iter(options))
        assert isinstance(info.value, ValueError)  # what the API raised before
    # femdiff's own sets pass, and None (unset) and other PETSc keys are left alone
    for opts in (solvers.cahn_hilliard_options(), solvers.cahn_hilliard_iterative_options(),
                 solvers.mixed_iterative_options(1), solvers.mixed_iterative_options(3),
                 solvers.mixed_iterative_options(3, "mu"),
                 {"femdiff_schur": None, "snes_type": "nosuchsolver"}):
        solvers.validate_femdiff_options(opts)


@pytest.mark.skip_in_parallel
def test_cli_bad_snes_type_is_bad_input(tmp_path):
    text = (CASES / "quickstart.toml").read_text().replace(
        "[checkpoint]", '[solver]\npetsc_options = { snes_type = "nosuchsolver" }\n\n'
        "[checkpoint]")
    case = tmp_path / "bad.toml"
    case.write_text(text)
    proc = _femdiff(["run", str(case), "-o", str(tmp_path / "out")], timeout=180)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = _error_line(proc)
    assert "snes_type = 'nosuchsolver'" in line and "newtonls" in line
    assert "solver.petsc_options.snes_type" in line  # found by validation, before meshing
    assert "error code 86" not in proc.stderr


# --- 9. mesh size sanity -----------------------------------------------------------------------


def test_mesh_size_limit_refuses_before_meshing(monkeypatch):
    with pytest.raises(ValueError, match=r"rod: mesh size h = 1e-07 would make about .* cells"
                       r".*more than the limit of 5,000,000"):
        geometry.build("rod", h=1e-7)
    with pytest.raises(ValueError, match="more than the limit of 100"):
        geometry.build("rod", dim=2, h=0.02, max_cells=100)
    monkeypatch.setenv(geometry.MAX_CELLS_ENV, "100")
    with pytest.raises(ValueError, match="more than the limit of 100"):
        geometry.build("rod", dim=2, h=0.02)
    # overridden: the same mesh is made
    domain = geometry.build("rod", dim=2, h=0.02, max_cells=0)
    cells = domain.comm.allreduce(domain.mesh.topology.index_map(2).size_local)
    # the estimate is area/(√3/4 h²) = 0.2/(1.73e-4) ≈ 1155; Gmsh's frontal-Delaunay
    # triangles are near-regular, so within a factor 2 (the estimator's stated accuracy)
    assert 1155 / 2 < cells < 1155 * 2


def test_under_resolved_geometry_warns(caplog):
    with caplog.at_level("WARNING", logger="femdiff"):
        geometry.build("rod", length=0.01, radius=0.001, dim=2, h=0.004)
    if MPI.COMM_WORLD.rank == 0:
        assert any("fewer than 2 cells across the smallest feature" in r.getMessage()
                   and "0.002" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="femdiff"):
        geometry.build("rod", length=0.01, radius=0.001, dim=2, h=0.0005)
    assert not any("smallest feature" in r.getMessage() for r in caplog.records)


# --- 10. σ_h from another mesh -----------------------------------------------------------------


@pytest.mark.mpi
def test_stress_from_another_mesh_is_refused_with_advice():
    from femdiff.models.thermodynamics import Mobility
    from femdiff.numerics.timestepping import TimeControl
    from femdiff.problems.diffusion import DiffusionProblem

    def problem(term):
        return DiffusionProblem(domain, ChemicalPotential([Ideal(300.0), term]),
                                Mobility.from_diffusivity(1e-9, 300.0), initial=1.0,
                                time=TimeControl(dt=1.0))

    domain, other = mesh.rectangle(4, 4), mesh.rectangle(3, 3)
    sigma = fem.Function(fem.functionspace(other.mesh, ("Discontinuous Lagrange", 0)))
    sigma.x.array[:] = 5.0e6
    for term in (StressCoupling(2e-6, sigma), Interaction(sigma)):
        with pytest.raises(ValueError, match="another mesh.*interpolate_nonmatching"):
            problem(term).initialise()
    # the advice works: interpolated onto this mesh, the same stress is accepted
    V = fem.functionspace(domain.mesh, ("Discontinuous Lagrange", 0))
    imap = domain.mesh.topology.index_map(domain.tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    moved = fem.Function(V)
    moved.interpolate_nonmatching(sigma, cells,
                                  fem.create_interpolation_data(V, sigma.function_space, cells))
    # both meshes cover the unit square, so the constant is carried over exactly
    assert np.allclose(moved.x.array, 5.0e6, rtol=1e-12)
    problem(StressCoupling(2e-6, moved)).initialise()
    # the multicomponent stress term is checked the same way
    from femdiff.problems import multicomponent as mc

    mix = mc.Mixture([mc.IdealMixing(300.0), mc.StressCoupling({"A": 2e-6}, sigma)])
    p = mc.MulticomponentProblem(domain, ["A", "S"], mix, mc.Onsager.matrix({("A", "A"): 1.0}),
                                 initial={"A": 0.2}, time=TimeControl(dt=1.0))
    with pytest.raises(ValueError, match="another mesh.*interpolate_nonmatching"):
        p.initialise()


# --- defect 4 and 11: data outside the model's domain fail at `check`, or at set-up ------------

QUICK = (CASES / "quickstart.toml").read_text()


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("old, new, expected", [
    ("value = 2.0", "value = nan", "boundary[0].value: must be a finite number, got nan"),
    ("value = 2.0", "value = -1.0",
     "boundary[0].value: concentration -1 is outside the domain (0, inf)"),
    ('initial = "1 + 0.5*cos(pi*x/1e-3)"', "initial = 0.0",
     "species[0].initial: concentration 0 is outside the domain (0, inf)"),
])
def test_check_rejects_constants_outside_the_model_domain(tmp_path, capsys, old, new,
                                                          expected):
    """`femdiff check` (no mesh) already knows ln C needs C > 0 and finite data."""
    from femdiff.cli import main

    assert old in QUICK
    path = tmp_path / "case.toml"
    path.write_text(QUICK.replace(old, new, 1))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    (line,) = [ln for ln in err.splitlines() if ln]
    assert expected in line


@pytest.mark.skip_in_parallel
def test_formula_boundary_value_outside_domain_fails_at_setup(tmp_path, capsys):
    """A formula is checked at the boundary nodes before the first solve, naming the key."""
    from femdiff.cli import main

    path = tmp_path / "case.toml"
    # on the left edge (x = 0, 0 ≤ y ≤ 0.5 mm) C = 2 − 8000 y reaches −2
    path.write_text(QUICK.replace("value = 2.0", 'value = "2.0 - 8000*y"', 1))
    assert main(["check", str(path)]) == 0  # formulas need the mesh
    capsys.readouterr()
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("femdiff: error")]
    assert len(lines) == 1, err
    (line,) = lines
    assert "boundary[0].value: FixedConcentration on 'left': C = " in line
    assert "inside the model's domain (0, inf)" in line


# --- defect 3: a restart must be of the same physics --------------------------------------


@pytest.mark.skip_in_parallel
def test_restart_refuses_other_physics_and_keeps_the_csv(tmp_path, capsys):
    """The checkpoint's fingerprint (the case less output/checkpoint/solver/t_end) must match.

    A refused restart names the differing keys and leaves the folder untouched; a longer
    t_end, or other output settings, are still accepted.
    """
    from femdiff.cli import main

    case = _short_case(tmp_path)
    out = tmp_path / "out"
    assert main(["-q", "run", str(case), "-o", str(out)]) == 0
    csv = (out / "series.csv").read_bytes()
    capsys.readouterr()
    code = main(["-q", "run", str(case), "-o", str(out), "--restart",
                 "--set", "physics.mobility.D=2e-9", "--set", "boundary.0.value=3.0"])
    assert code == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines()
               if ln.startswith("femdiff: error")]
    assert "different settings" in line
    assert "boundary.0.value" in line and "physics.mobility.D" in line
    assert (out / "series.csv").read_bytes() == csv  # nothing already written is lost
    assert main(["-q", "run", str(case), "-o", str(out), "--restart",
                 "--set", "time.t_end=50.0", "--set", "output.times=[45.0]"]) == 0
