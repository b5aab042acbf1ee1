"""Checkpoints: partition-independent round trips, atomic files, kill and restart."""

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
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Mobility
from femdiff.numerics.timestepping import Adaptive, TimeControl
from femdiff.problems.diffusion import DiffusionProblem, FixedConcentration
from femdiff.problems.multicomponent import IdealMixing, Mixture, MulticomponentProblem, Onsager

FEMDIFF = Path(sys.executable).parent / "femdiff"
MPIRUN = Path(sys.executable).parent / "mpirun"
CASES = Path(__file__).resolve().parent.parent / "cases"
CASE = CASES / "quickstart.toml"


def _problem(adaptive=None):
    domain = mesh.rectangle(8, 5, 1.0, 0.5)
    p = DiffusionProblem(
        domain, ChemicalPotential([Ideal(300.0)]), Mobility.from_diffusivity(1e-2, 300.0),
        initial=lambda x: 1 + 0.5 * np.sin(np.pi * x[0]) * np.cos(np.pi * x[1]),
        time=TimeControl(dt=0.5, scheme="bdf2"), bcs=[FixedConcentration("left", 1.5)],
        adaptive=adaptive)
    p.initialise()
    return p


@pytest.mark.mpi
@pytest.mark.parametrize("adaptive", [None, Adaptive(tol=1e-2)], ids=["fixed", "adaptive"])
def test_checkpoint_restores_the_exact_continuation(adaptive, mpi_tmp_path):
    a = _problem(adaptive)
    for _ in range(3):
        a.step()
    t_saved = a.current_time
    path = checkpoint.Checkpointer(a, mpi_tmp_path).save(3)
    assert path.name == "ckpt_00000003.h5"
    reference = [a.step(0.4) for _ in range(2)]

    b = _problem(adaptive)
    scalars = checkpoint.Checkpointer(b, mpi_tmp_path).load(path)
    assert scalars["step"] == 3 and b.current_time == t_saved > 0
    again = [b.step(0.4) for _ in range(2)]
    assert [r.newton_iterations for r in reference] == [r.newton_iterations for r in again]
    assert np.allclose(a.u.x.array, b.u.x.array, rtol=1e-12, atol=1e-14)
    assert np.allclose(a.C.x.array, b.C.x.array, rtol=1e-12)


@pytest.mark.mpi
def test_next_dt_is_stored_once(mpi_tmp_path):
    """A runner's next Δt is the problem's dt_request: one key, which step() then uses."""
    a = _problem()
    a.step()
    path = checkpoint.Checkpointer(a, mpi_tmp_path).save(1, dt_next=0.8)
    with h5py.File(path, "r") as fh:
        assert fh.attrs["dt_request"] == 0.8 and "runner_dt" not in fh.attrs
    b = _problem()
    assert checkpoint.Checkpointer(b, mpi_tmp_path).load(path)["dt_request"] == 0.8
    assert b.step().dt == 0.8  # no dt given: the problem's requested Δt
    # files from before stored the runner's Δt beside a stale dt_request
    old = checkpoint.Checkpointer(a, mpi_tmp_path).save(2, {"runner_dt": 0.7})
    c = _problem()
    assert checkpoint.Checkpointer(c, mpi_tmp_path).load(old)["dt_request"] == 0.7
    assert c.step().dt == 0.7


def _ternary(binary=False):
    """A, B and solvent S (or A and S) on a lattice, with a fixed X_B on the left."""
    species = ["A", "S"] if binary else ["A", "B", "S"]
    L = {("A", "A"): 1e-4} if binary else {("A", "A"): 1e-4, ("B", "B"): 2e-4,
                                           ("A", "B"): 5e-5, ("B", "A"): 5e-5}
    initial = {"A": lambda x: 0.3 + 0.1 * np.cos(np.pi * x[0])}
    if not binary:
        initial["B"] = 0.2
    p = MulticomponentProblem(
        mesh.interval(24, 1.0), species, Mixture([IdealMixing(300.0)]), Onsager.matrix(L),
        initial=initial, time=TimeControl(dt=0.05, scheme="bdf2"),
        bcs=None if binary else {"B": [FixedConcentration("left", 0.25)]})
    p.initialise()
    return p


@pytest.mark.mpi
def test_multicomponent_checkpoint_restores_the_exact_continuation(mpi_tmp_path):
    a = _ternary()
    for _ in range(3):
        a.step()
    path = checkpoint.Checkpointer(a, mpi_tmp_path).save(3)
    reference = [a.step(0.08) for _ in range(2)]

    b = _ternary()
    scalars = checkpoint.Checkpointer(b, mpi_tmp_path).load(path)
    assert scalars["step"] == 3 and b.current_time == pytest.approx(0.15)
    assert b._dt_prev == pytest.approx(0.05)  # BDF2 continues with its variable-step history
    again = [b.step(0.08) for _ in range(2)]
    assert [r.newton_iterations for r in reference] == [r.newton_iterations for r in again]
    assert np.allclose(a.u.x.array, b.u.x.array, rtol=1e-12, atol=1e-14)
    for s in ("A", "B", "S"):
        assert np.allclose(a.X[s].x.array, b.X[s].x.array, rtol=1e-12)

    binary = _ternary(binary=True)  # another number of species: refused, not misread
    arrays, scalars = a.state_dict()
    with pytest.raises(ValueError, match="stored state has 2 independent species, this "
                       "problem has 1"):
        binary.load_state(arrays, scalars)


@pytest.mark.mpi
def test_file_is_partition_independent(mpi_tmp_path):
    """Stored dofs are sorted by coordinates: the file does not depend on the ranks."""
    p = _problem()
    path = checkpoint.write(mpi_tmp_path / "s.h5", p.W, {"u": p.u.x.array}, {"t": 0.0})
    if MPI.COMM_WORLD.rank == 0:
        with h5py.File(path) as fh:
            keys, values = fh["u"]["keys_0"][()], fh["u"]["values_0"][()]
            assert fh.attrs["complete"] == 1
        assert len(keys) == 9 * 6 and np.all(np.diff(keys["x"]) >= 0)
        # C at the node (x, y) = (0.5, 0): the initial formula, in scaled units
        i = np.flatnonzero((keys["x"] == keys["x"].max() // 2) & (keys["y"] == 0))[0]
        assert values[i, 0] * p.c_scale == pytest.approx(1.5)


@pytest.mark.skip_in_parallel
def test_latest_skips_incomplete_files(tmp_path):
    for step in (2, 4):
        with h5py.File(tmp_path / f"ckpt_{step:08d}.h5", "w") as fh:
            fh.attrs["complete"] = 1
    with h5py.File(tmp_path / "ckpt_00000006.h5", "w") as fh:  # e.g. a foreign writer
        fh.attrs["t"] = 1.0
    (tmp_path / "ckpt_00000008.h5").write_bytes(b"\x89HDF truncated")
    (tmp_path / ".ckpt_00000010.h5.tmp").write_bytes(b"partial")
    assert checkpoint.latest(tmp_path).name == "ckpt_00000004.h5"
    checkpoint.prune(tmp_path, keep=1)
    assert [p.name for p in checkpoint.checkpoint_files(tmp_path)] == ["ckpt_00000008.h5"]


def _femdiff(args, env=None, ranks=1):
    cmd = [str(FEMDIFF), *args]
    if ranks > 1:
        cmd = [str(MPIRUN), "-n", str(ranks), *cmd]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def _state(path):
    with h5py.File(path) as fh:
        return ({k: fh["u"][k][()] for k in fh["u"]}, dict(fh.attrs))


@pytest.mark.skip_in_parallel
def test_kill_and_restart_matches_uninterrupted_run(tmp_path):
    """SIGKILL during a checkpoint write, then mid-run; resume (the last time on 2 ranks)."""
    from femdiff import io as fio

    common = ["--set", "time.t_end=120.0", "--set", "output.times=[60.0]",
              "--set", "checkpoint.every_steps=3", "--set", "output.png=false"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    done = _femdiff(["run", str(CASE), "-o", str(ref), *common])
    assert done.returncode == 0, done.stderr

    # 1. killed while writing its 2nd checkpoint (after step 6): only ckpt 3 is complete
    first = _femdiff(["run", str(CASE), "-o", str(out), *common],
                     env={"FEMDIFF_FAULT": "checkpoint:2"})
    assert first.returncode == -9, first.stderr
    assert [p.name for p in checkpoint.checkpoint_files(out / "checkpoints")] == \
        ["ckpt_00000003.h5"]
    assert list((out / "checkpoints").glob(".ckpt_00000006.h5.tmp"))
    rows = fio.read_csv(out / "series.csv")["t"]  # readable after the kill
    assert len(rows) == 7  # t = 0 and six steps
    assert fio.bp_steps(out / "fields_P1.bp") >= 1

    # 2. resumed from step 3, killed again right after step 10 (between checkpoints)
    second = _femdiff(["run", str(CASE), "-o", str(out), "--restart", *common],
                      env={"FEMDIFF_FAULT": "step:10"})
    assert second.returncode == -9, second.stderr
    assert "restarting from ckpt_00000003.h5: step 3" in second.stderr
    assert checkpoint.latest(out / "checkpoints").name == "ckpt_00000009.h5"

    # 3. resumed from step 9 on two ranks, to the end
    third = _femdiff(["run", str(CASE), "-o", str(out), "--restart", *common], ranks=2)
    assert third.returncode == 0, third.stderr
    assert "restarting from ckpt_00000009.h5: step 9" in third.stderr

    (u_ref, s_ref), (u_new, s_new) = _state(ref / "state_final.h5"), _state(out / "state_final.h5")
    assert s_new["t"] == s_ref["t"] == pytest.approx(120.0) and s_new["step"] == s_ref["step"]
    for key in u_ref:
        if key.startswith("keys"):
            assert np.array_equal(u_ref[key], u_new[key])
        else:  # agree to solver tolerance (Newton rtol 1e-10)
            assert np.allclose(u_ref[key], u_new[key], rtol=1e-9, atol=1e-10), key
    # the series continues without duplicates and matches the uninterrupted one
    a, b = fio.read_csv(ref / "series.csv"), fio.read_csv(out / "series.csv")
    assert np.array_equal(a["t"], b["t"])
    assert np.allclose(a["amount_H"], b["amount_H"], rtol=1e-9)
    # fields: each segment is a readable VTX file; the restarts write new segments
    assert fio.bp_steps(out / "fields_restart1_P1.bp") >= 1
    assert fio.bp_steps(out / "fields_restart2_P1.bp") >= 2  # restart state, t=120


@pytest.mark.skip_in_parallel
def test_multicomponent_case_kill_and_restart(tmp_path):
    """A multicomponent case killed between checkpoints resumes (on 2 ranks) to the same end."""
    from femdiff import io as fio

    case = str(CASES / "onsager_drag.toml")
    common = ["--set", "geometry.params.n=50", "--set", "time.dt=0.5",
              "--set", "time.t_end=10.0", "--set", "output.times=[5.0]",
              "--set", "checkpoint.every_steps=4", "--set", "output.png=false"]
    ref, out = tmp_path / "ref", tmp_path / "out"
    done = _femdiff(["run", case, "-o", str(ref), *common])
    assert done.returncode == 0, done.stderr

    first = _femdiff(["run", case, "-o", str(out), *common], env={"FEMDIFF_FAULT": "step:10"})
    assert first.returncode == -9, first.stderr
    assert checkpoint.latest(out / "checkpoints").name == "ckpt_00000008.h5"
    second = _femdiff(["run", case, "-o", str(out), "--restart", *common], ranks=2)
    assert second.returncode == 0, second.stderr
    assert "restarting from ckpt_00000008.h5: step 8" in second.stderr

    (u_ref, s_ref), (u_new, s_new) = _state(ref / "state_final.h5"), _state(out / "state_final.h5")
    assert s_new["t"] == s_ref["t"] == pytest.approx(10.0) and s_new["step"] == s_ref["step"]
    for key in u_ref:
        if key.startswith("keys"):
            assert np.array_equal(u_ref[key], u_new[key])
        else:  # agree to solver tolerance
            assert np.allclose(u_ref[key], u_new[key], rtol=1e-9, atol=1e-10), key
    a, b = fio.read_csv(ref / "series.csv"), fio.read_csv(out / "series.csv")
    assert np.array_equal(a["t"], b["t"])
    for key in ("amount_A", "amount_B", "flux_B_left"):
        assert np.allclose(a[key], b[key], rtol=1e-8, atol=1e-12), key
    assert fio.bp_steps(out / "fields_restart1_P1.bp") >= 2  # restart state, t=10
