"""Outputs: durable CSV series, field files read back, line sampling and PNG plots."""

import os

from mpi4py import MPI

import numpy as np
import pytest
from dolfinx import fem

from femdiff import io as fio
from femdiff.geometry import mesh


@pytest.mark.skip_in_parallel
def test_time_series_restart_drops_later_rows_and_torn_lines(tmp_path):
    comm = MPI.COMM_WORLD
    path = tmp_path / "s.csv"
    series = fio.TimeSeries(comm, path, ["t", "a"])
    for t in (0.0, 1.0, 2.0, 3.0):
        series.append(t=t, a=10 * t)
    series.close()
    with path.open("a") as fh:
        fh.write("4.0,4")  # a row torn by a kill
    again = fio.TimeSeries(comm, path, ["t", "a"], restart_time=2.0)
    again.append(t=2.5, a=25.0)
    again.close()
    data = fio.read_csv(path)
    assert data["t"].tolist() == [0.0, 1.0, 2.0, 2.5]
    assert data["a"].tolist() == [0.0, 10.0, 20.0, 25.0]
    assert path.read_text().count("t,a") == 1  # the header once
    with pytest.raises(KeyError, match="lacks columns"):
        fio.TimeSeries(comm, path, ["t", "a"]).append(t=1.0)
    fresh = fio.read_csv(path)  # without restart_time: a new file
    assert fresh["t"].size == 0


@pytest.mark.skip_in_parallel
def test_atomic_write_replaces_whole_files(tmp_path):
    target = fio.atomic_write(tmp_path / "sub" / "a.txt", "one")
    fio.atomic_write(target, b"two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


@pytest.mark.mpi
def test_field_writer_vtx_and_xdmf_read_back(mpi_tmp_path):
    comm = MPI.COMM_WORLD
    domain = mesh.rectangle(6, 4)
    V1 = fem.functionspace(domain.mesh, ("Lagrange", 1))
    V0 = fem.functionspace(domain.mesh, ("Discontinuous Lagrange", 0))
    c, s = fem.Function(V1, name="C"), fem.Function(V0, name="sigma_h")
    with fio.FieldWriter(comm, mpi_tmp_path / "f", [c, s]) as w:
        for t in (0.0, 0.5, 1.0):
            c.x.array[:] = t
            w.write(t)
    assert sorted(p.name for p in w.paths) == ["f_DG0.bp", "f_P1.bp"]
    comm.Barrier()
    assert fio.bp_steps(mpi_tmp_path / "f_P1.bp") == 3
    assert fio.bp_steps(mpi_tmp_path / "f_DG0.bp") == 3
    with fio.FieldWriter(comm, mpi_tmp_path / "x", [c, s], format="xdmf") as w:
        w.write(0.0)
        w.write(2.0)
    comm.Barrier()
    assert fio.xdmf_times(mpi_tmp_path / "x.xdmf") == [0.0, 2.0]
    with pytest.raises(ValueError, match="'vtx' or 'xdmf'"):
        fio.FieldWriter(comm, mpi_tmp_path / "y", [c], format="vtk")


@pytest.mark.skip_in_parallel
def test_bp_steps_of_a_killed_writer(tmp_path):
    """A BP4 folder whose index was cut mid-record reports only the whole steps."""
    comm = MPI.COMM_WORLD
    domain = mesh.rectangle(3, 3)
    c = fem.Function(fem.functionspace(domain.mesh, ("Lagrange", 1)), name="C")
    with fio.FieldWriter(comm, tmp_path / "f", [c]) as w:
        for t in range(4):
            w.write(float(t))
    index = tmp_path / "f_P1.bp" / "md.idx"
    raw = index.read_bytes()
    assert len(raw) == 64 + 4 * 64
    index.write_bytes(raw[: 64 + 2 * 64 + 20])
    assert fio.bp_steps(tmp_path / "f_P1.bp") == 2
    assert fio.bp_steps(tmp_path / "missing.bp") == 0


@pytest.mark.mpi
def test_sample_line_and_plots(mpi_tmp_path):
    comm = MPI.COMM_WORLD
    domain = mesh.rectangle(10, 5, 2.0, 1.0)
    V = fem.functionspace(domain.mesh, ("Lagrange", 1))
    f = fem.Function(V, name="C")
    f.interpolate(lambda x: x[0] + 2 * x[1])
    pts = fio.line_points((0.0, 0.5), (2.0, 0.5), 11)
    assert pts.shape == (11, 3)
    outside = np.vstack([pts, [[5.0, 5.0, 0.0]]])
    values = fio.sample_line(f, outside)
    if comm.rank == 0:
        assert np.allclose(values[:-1], pts[:, 0] + 1.0)  # P1 is exact for a linear field
        assert np.isnan(values[-1])
    else:
        assert values.size == 0
    series = fio.TimeSeries(comm, mpi_tmp_path / "s.csv", ["t", "F", "amount"])
    for t in np.linspace(0, 1, 20):
        series.append(t=t, F=np.exp(-t), amount=1.0 + 0 * t)
    series.close()
    pngs = [fio.plot_series(comm, mpi_tmp_path / "s.csv", mpi_tmp_path / "s.png"),
            fio.plot_profiles(comm, mpi_tmp_path / "p.png", pts, {"C": values[:-1]
                                                                   if comm.rank == 0 else values}),
            fio.plot_field_2d(f, mpi_tmp_path / "f.png", n=60)]
    if comm.rank == 0:
        for png in pngs:
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert os.path.getsize(png) > 10_000, png
    else:
        assert pngs == [None, None, None]
