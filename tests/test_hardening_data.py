"""Hardening (issue #25, items 1-5): data loss and wrong results around output and restarts.

1. --overwrite replaces only a folder femdiff wrote, never the case or mesh file;
2. a refused restart touches nothing in its folder;
3. a restart of a broken-C (two-material) problem is exact;
4. a damaged or changed checkpoint is named and passed over on every rank together;
5. an adaptive Cahn–Hilliard restart takes the same steps as the run that goes on.
"""

import os
import subprocess
import sys
from pathlib import Path

from mpi4py import MPI

import h5py
import numpy as np
import pytest

from femdiff.geometry import mesh
from femdiff.io import checkpoint
from femdiff.models.materials import Material
from femdiff.models.thermodynamics import (
    ChemicalPotential,
    DoubleWell,
    GradientEnergy,
    Ideal,
    Mobility,
)
from femdiff.numerics.timestepping import Adaptive, TimeControl
from femdiff.problems.diffusion import DiffusionProblem, FixedConcentration

FEMDIFF = Path(sys.executable).parent / "femdiff"
MPIRUN = Path(sys.executable).parent / "mpirun"
CASE = Path(__file__).resolve().parent.parent / "cases" / "quickstart.toml"
SHORT = ["--set", "time.t_end=20.0", "--set", "output.times=[]", "--set", "output.png=false",
         "--set", 'output.fields="none"']


def _tree(folder):
    """{relative path: bytes (None for a folder)} of everything under ``folder``."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


# --- 1. --overwrite ----------------------------------------------------------------------------


@pytest.mark.skip_in_parallel
def test_overwrite_replaces_only_a_folder_femdiff_wrote(tmp_path, capsys):
    from femdiff.cli import OUTPUT_MARKER, main

    def error():
        (line,) = [ln for ln in capsys.readouterr().err.splitlines()
                   if ln.startswith("femdiff: error")]
        return line

    # a folder femdiff did not write: refused, nothing deleted
    out = tmp_path / "o"
    (out / "sub").mkdir(parents=True)
    (out / "thesis.txt").write_text("precious")
    before = _tree(out)
    assert main(["-q", "run", str(CASE), "-o", str(out), "--overwrite", *SHORT]) == 2
    assert "was not written by femdiff" in error()
    assert _tree(out) == before
    # -o naming a regular file: refused, the file kept
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    assert main(["-q", "run", str(CASE), "-o", str(file), "--overwrite", *SHORT]) == 2
    assert "is a file, not a folder" in error()
    assert file.read_text() == "mine"

    # a folder femdiff wrote is replaced, unless it holds the case file it runs
    out = tmp_path / "run"
    assert main(["-q", "run", str(CASE), "-o", str(out), *SHORT]) == 0
    assert (out / OUTPUT_MARKER).is_file()
    own = out / "case.toml"  # femdiff's copy, run again after an edit
    before = _tree(out)
    assert main(["-q", "run", str(own), "-o", str(out), "--overwrite", *SHORT]) == 2
    assert f"holds {str(own)!r}, which this case reads" in error()
    assert _tree(out) == before
    (out / "stale.txt").write_text("from the last run")
    assert main(["-q", "run", str(CASE), "-o", str(out), "--overwrite", *SHORT]) == 0
    assert not (out / "stale.txt").exists() and (out / OUTPUT_MARKER).is_file()


@pytest.mark.skip_in_parallel
def test_overwrite_keeps_a_mesh_file_the_case_reads(tmp_path):
    from types import SimpleNamespace

    from femdiff.case import runner as cli

    out = tmp_path / "out"
    out.mkdir()
    (out / cli.OUTPUT_MARKER).write_text("")
    msh = out / "part.msh"
    msh.write_text("$MeshFormat")
    case = SimpleNamespace(path=tmp_path / "c.toml", data={"geometry": {"path": msh}})
    assert cli._case_inputs(case) == [tmp_path / "c.toml", msh]
    with pytest.raises(FileExistsError, match="holds .*part.msh'"):
        cli._prepare_folder(MPI.COMM_WORLD, out, restart=False, overwrite=True,
                            protect=cli._case_inputs(case))
    assert msh.is_file()
    # also when a failed run's folder would be replaced without --overwrite
    (out / cli.FAILED_MARKER).write_text("RuntimeError: x\n")
    with pytest.raises(FileExistsError, match="already exists"):
        cli._prepare_folder(MPI.COMM_WORLD, out, restart=False, overwrite=False,
                            protect=cli._case_inputs(case))
    assert msh.is_file()


# --- 2. a refused restart ---------------------------------------------------------------------


@pytest.mark.skip_in_parallel
def test_refused_restart_touches_nothing(tmp_path, capsys):
    """An end time before the checkpoint's: exit 2, the folder byte for byte as it was
    (series.csv keeps its rows after the checkpoint, no FAILED file)."""
    from femdiff.cli import FAILED_MARKER, main

    out = tmp_path / "out"
    common = ["--set", "output.times=[]", "--set", "output.png=false",
              "--set", "checkpoint.every_steps=5"]
    assert main(["-q", "run", str(CASE), "-o", str(out), "--set", "time.t_end=100.0",
                 *common]) == 0
    before = _tree(out)
    capsys.readouterr()
    assert main(["-q", "run", str(CASE), "-o", str(out), "--restart",
                 "--set", "time.t_end=30.0", *common]) == 2
    assert "cannot restart: the end time time.t_end = 30.0 is before the checkpoint's " \
        "time" in capsys.readouterr().err
    assert _tree(out) == before
    assert not (out / FAILED_MARKER).exists()


# --- 3. a broken C (two materials) ------------------------------------------------------------


def _two_materials(comm=MPI.COMM_WORLD):
    """Two materials (solubilities 1 and 20): C jumps at x = 0.25 mm; BDF2."""
    d = mesh.rectangle(8, 2, 1.0e-3, 0.25e-3, comm=comm)
    d = mesh.with_volumes(d, {"A": lambda x: x[0] < 0.25e-3, "B": lambda x: x[0] > 0.25e-3})
    p = DiffusionProblem(
        d, ChemicalPotential([Ideal(600.0)]), None,
        materials=[Material("A", ("A",), D0=1e-9, S0=1.0),
                   Material("B", ("B",), D0=3e-9, S0=20.0)],
        initial={"A": 1.0, "B": 20.0}, bcs=[FixedConcentration("left", 4.0)],
        time=TimeControl(dt=20.0, scheme="bdf2"))
    p.initialise()
    return p


@pytest.mark.mpi
def test_two_material_restart_is_exact(mpi_tmp_path):
    """The broken C has one dof per cell at an interface node, with the value of its own
    side: the checkpoint keys them apart (cell midpoints), so the continuation is the
    uninterrupted run's (the same operations on the same numbers: 1e-12 is round-off)."""
    a = _two_materials()
    for _ in range(3):
        a.step()
    path = checkpoint.Checkpointer(a, mpi_tmp_path).save(3)
    for _ in range(3):
        a.step()
    b = _two_materials()
    checkpoint.Checkpointer(b, mpi_tmp_path).load(path)
    assert np.array_equal(b.u_n.x.array, b.u.x.array)
    for _ in range(3):
        b.step()
    assert b.broken and b.current_time == a.current_time
    assert b.amount() == pytest.approx(a.amount(), rel=1e-12)
    assert np.allclose(b.u.x.array, a.u.x.array, rtol=1e-12, atol=1e-14)
    # the interface really jumps (C_B/C_A = 20 at equilibrium), so the test can fail
    n = b.V_c.dofmap.index_map.size_local
    lo, hi = (b.domain.comm.allreduce(f(b.C.x.array[:n]), op=op)
              for f, op in ((np.min, MPI.MIN), (np.max, MPI.MAX)))
    assert hi / lo > 5


@pytest.mark.skip_in_parallel
def test_older_broken_c_checkpoint_is_refused(tmp_path):
    """A file from before (a broken C keyed by node only: one value for both sides of an
    interface) cannot be restored exactly: refused, not silently smoothed."""
    a = _two_materials()
    a.step()
    path = checkpoint.write(tmp_path / "old.h5", a.W, {"u": a.u.x.array}, {"t": 1.0})
    with h5py.File(path, "r+") as fh:  # rewrite it as the older femdiff did
        del fh.attrs[checkpoint.CHECKSUM]
        keys, values = fh["u"]["keys_0"][()], fh["u"]["values_0"][()]
        old = np.empty(len(keys), dtype=[("x", "<i8"), ("y", "<i8"), ("z", "<i8")])
        for name in "xyz":
            old[name] = keys[name]
        order = np.argsort(old, order=("x", "y", "z"), kind="stable")
        del fh["u"]["keys_0"], fh["u"]["values_0"]
        fh["u"]["keys_0"], fh["u"]["values_0"] = old[order], values[order]
    with pytest.raises(ValueError, match="older femdiff .* cannot be restored exactly"):
        checkpoint.read(path, a.W)


# --- 4. damaged checkpoints -------------------------------------------------------------------


def _invert_middle(path, n=4000):
    data = bytearray(path.read_bytes())
    mid = len(data) // 2 - n // 2
    data[mid:mid + n] = bytes(b ^ 0xFF for b in data[mid:mid + n])
    path.write_bytes(bytes(data))


def _flip_values(path):
    """Change stored values through HDF5 itself: the structure stays intact."""
    with h5py.File(path, "r+") as fh:
        values = fh["u"]["values_0"]
        changed = values[()]
        changed[len(changed) // 2] += 1e-3
        values[...] = changed


@pytest.mark.mpi
@pytest.mark.parametrize("damage", [_invert_middle, _flip_values], ids=["structure", "values"])
def test_damaged_checkpoint_is_named_and_passed_over(damage, mpi_tmp_path):
    """Every rank gets the same answer (rank 0 reads and broadcasts): no hang on 2 ranks."""
    comm = MPI.COMM_WORLD
    a = _two_materials()
    ckpt = checkpoint.Checkpointer(a, mpi_tmp_path, keep=3)
    a.step()
    good = ckpt.save(1)
    a.step()
    bad = ckpt.save(2)
    if comm.rank == 0:
        damage(bad)
    comm.Barrier()
    with pytest.raises(OSError, match=f"could not read checkpoint {str(bad)!r}"):
        checkpoint.read(bad, a.W)
    b = _two_materials()
    path, scalars, skipped = checkpoint.Checkpointer(b, mpi_tmp_path).load_newest()
    assert path == good and scalars["step"] == 1
    (why,) = skipped
    assert str(bad) in why
    if damage is _flip_values:
        assert "do not match its checksum" in why
    # nothing reads: one error on every rank, naming each file
    if comm.rank == 0:
        _flip_values(good)
    comm.Barrier()
    with pytest.raises(FileNotFoundError, match="no readable checkpoint.*ckpt_00000002.*"
                       "ckpt_00000001"):
        checkpoint.Checkpointer(b, mpi_tmp_path).load_newest()


def _pointwise(p):
    """A state of p's space set node by node: the same numbers on any partition (the
    node indices, rounded: a dof's coordinates may differ by an ulp between partitions)."""
    from dolfinx import fem

    u = fem.Function(p.W)
    i, j = (lambda x: np.rint(x[0] / 1.25e-4)), (lambda x: np.rint(x[1] / 1.25e-4))
    u.sub(0).interpolate(lambda x: 1 + i(x) + 7 * j(x))
    u.sub(1).interpolate(lambda x: 0.1 * i(x) * j(x) - 0.3)
    return u.x.array


@pytest.mark.mpi
def test_checksum_is_the_same_on_any_number_of_ranks(mpi_tmp_path):
    """The checksum is of the gathered, key-sorted data: a file written on N ranks has
    a serial write's checksum, and verifies and reads on one rank."""
    comm = MPI.COMM_WORLD
    p = _two_materials(comm)
    world = checkpoint.write(mpi_tmp_path / "w.h5", p.W, {"u": _pointwise(p)}, {"t": 1.0})
    same = None
    if comm.rank == 0:  # (checked on every rank below: a failure here must not hang)
        q = _two_materials(MPI.COMM_SELF)
        expected = _pointwise(q)
        alone = checkpoint.write(mpi_tmp_path / "s.h5", q.W, {"u": expected}, {"t": 1.0})
        arrays, _ = checkpoint.read(world, q.W)  # written on N ranks, read on 1
        with h5py.File(world) as fw, h5py.File(alone) as fs:
            same = (fw.attrs[checkpoint.CHECKSUM] == fs.attrs[checkpoint.CHECKSUM],
                    bool(np.array_equal(arrays["u"], expected)))
    assert comm.bcast(same, root=0) == (True, True)


@pytest.mark.skip_in_parallel
def test_damaged_checkpoint_restart_on_two_ranks_falls_back(tmp_path):
    """``mpirun -n 2 femdiff run --restart`` with a damaged newest checkpoint and no
    state_final.h5: names the file, uses the one before, ends (no hang)."""
    out = tmp_path / "out"
    common = ["--set", "time.t_end=100.0", "--set", "output.times=[]", "--set",
              "output.png=false", "--set", "checkpoint.every_steps=5"]
    run = [str(FEMDIFF), "run", str(CASE), "-o", str(out), *common]
    env = {**os.environ}
    done = subprocess.run(run, capture_output=True, text=True, timeout=300, env=env,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    newest = checkpoint.checkpoint_files(out / "checkpoints")[-1]
    _invert_middle(newest)
    (out / "state_final.h5").unlink()
    again = subprocess.run([str(MPIRUN), "-n", "2", *run, "--restart"], capture_output=True,
                           text=True, timeout=120, env=env, stdin=subprocess.DEVNULL,
                           start_new_session=True)
    assert again.returncode == 0, again.stderr
    assert f"could not read checkpoint {str(newest)!r}" in again.stderr
    assert "restarting from ckpt_00000005.h5" in again.stderr


# --- 5. adaptive Cahn–Hilliard ----------------------------------------------------------------


def _pfhub_c0(x):
    return 0.5 + 0.01 * (np.cos(0.105 * x[0]) * np.cos(0.11 * x[1])
                         + (np.cos(0.13 * x[0]) * np.cos(0.087 * x[1])) ** 2
                         + np.cos(0.025 * x[0] - 0.15 * x[1]) * np.cos(0.07 * x[0]
                                                                        - 0.02 * x[1]))


def _cahn_hilliard():
    """PFHub 1a data on a 48² square (16² cells), adaptive BDF2, the CH solver defaults:
    the LU factorisation reused across steps, Newton's error-controlled stop."""
    d = mesh.rectangle(16, 16, 48.0, 48.0)
    p = DiffusionProblem(
        d, ChemicalPotential([DoubleWell(5.0, 0.3, 0.7), GradientEnergy(2.0)]),
        Mobility.constant(5.0), initial=_pfhub_c0, time=TimeControl(dt=0.05, scheme="bdf2"),
        adaptive=Adaptive(tol=2e-3), concentration_scale=1.0)
    p.initialise()
    return p


@pytest.mark.mpi
def test_adaptive_cahn_hilliard_restart_takes_the_same_steps(mpi_tmp_path):
    """A restart from a mid checkpoint takes the step times of the run that went on, and
    ends in its state to 1e-12 (round-off: the same operations, given the same Newton
    memory and a fresh factorisation on both sides of the checkpoint)."""
    a = _cahn_hilliard()
    first = a.run(20.0)
    path = checkpoint.Checkpointer(a, mpi_tmp_path).save(len(first))
    assert a.newton_stop is not None and a._refactor_next  # what a restart starts with
    rest = a.run(60.0)
    b = _cahn_hilliard()
    checkpoint.Checkpointer(b, mpi_tmp_path).load(path)
    again = b.run(60.0)
    assert len(rest) == len(again) > 10
    assert np.allclose([s.t for s in again], [s.t for s in rest], rtol=1e-12, atol=0)
    assert np.allclose(b.u.x.array, a.u.x.array, rtol=1e-12, atol=1e-12)
