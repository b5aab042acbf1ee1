"""Gmsh builders and mesh loading: names, measured sizes, refinement, bad input."""

import math
from pathlib import Path

from mpi4py import MPI

import numpy as np
import pytest
from dolfinx import fem

from femdiff import geometry, mesh

MESHES = Path(__file__).resolve().parent.parent / "meshes"


def measure(d, name):
    return d.comm.allreduce(fem.assemble_scalar(fem.form(1.0 * d.ds(name))), op=MPI.SUM)


@pytest.mark.mpi
@pytest.mark.parametrize("order, tol", [(1, 5e-2), (2, 5e-4)])
def test_rod_volume_and_names(comm, order, tol):
    """Cylinder volume π r² L: the polygonal (order 1) error is O((h/r)²) ≈ 3 % at
    h = r/2, the quadratic geometry's is O((h/r)⁴)."""
    d = geometry.build("rod", comm, length=1.0, radius=0.1, dim=3, h=0.05, order=order)
    assert d.boundary_names == ["left", "right", "surface"]
    assert d.volume_names == ["rod"]
    assert d.volume() == pytest.approx(math.pi * 0.01, rel=tol)
    assert measure(d, "surface") == pytest.approx(2 * math.pi * 0.1, rel=tol)
    assert d.mesh.geometry.cmaps[0].degree == order


@pytest.mark.parametrize("name, params, volumes, exact", [
    ("rod", dict(dim=2, length=1.0, radius=0.1), ["rod"], 0.2),
    ("box", dict(dim=3, lx=1.0, ly=2.0, lz=0.5, h=0.25), ["domain"], 1.0),
    ("beam", dict(length=1.0, height=0.1), ["beam"], 0.1),
    ("plate_with_hole", dict(width=1.0, height=1.0, radius=0.1, order=2), ["plate"],
     1 - math.pi * 0.01 / 4),
    ("diffusion_couple", dict(length=2.0, height=1.0), ["A", "B"], 2.0),
    ("t_shape", dict(h=5.0), ["domain"], 20 * 100 + 100 * 20),
    ("sphere", dict(dim=2, radius=1.0, order=2), ["particle"], math.pi),
])
def test_builders_measure_exact(name, params, volumes, exact):
    """Straight-sided shapes are exact; curved ones with order 2 to ~1e-4."""
    d = geometry.build(name, MPI.COMM_WORLD, **params)
    assert d.volume_names == sorted(volumes)
    assert d.volume() == pytest.approx(exact, rel=2e-4)


def test_diffusion_couple_interface_is_interior():
    d = geometry.build("diffusion_couple", MPI.COMM_WORLD, length=2.0, height=1.0)
    length = d.comm.allreduce(fem.assemble_scalar(fem.form(1.0 * d.dS("interface"))), MPI.SUM)
    assert length == pytest.approx(1.0)
    vol_a = d.comm.allreduce(fem.assemble_scalar(fem.form(1.0 * d.dx("A"))), MPI.SUM)
    assert vol_a == pytest.approx(1.0)


def test_local_refinement_makes_small_cells_near_target():
    coarse = geometry.build("box", MPI.COMM_WORLD, lx=1.0, ly=1.0, h=0.2)
    fine = geometry.build("box", MPI.COMM_WORLD, lx=1.0, ly=1.0, h=0.2,
                          refine=[geometry.Refine(size=0.02, distance=0.05, point=(0, 0))])
    def smallest_near_origin(d):
        m = d.mesh
        n = m.topology.index_map(2).size_local
        h = m.h(2, np.arange(n, dtype=np.int32))
        mid = m.geometry.x[m.geometry.dofmaps[0][:n]].mean(axis=1)
        near = np.linalg.norm(mid[:, :2], axis=1) < 0.05
        return h[near].max() if near.any() else np.inf
    assert smallest_near_origin(fine) < 0.04 < smallest_near_origin(coarse)


@pytest.mark.mpi
@pytest.mark.parametrize("path", sorted(MESHES.glob("*.geo")), ids=lambda p: p.name)
def test_geo_files_load_with_names(path, comm):
    d = mesh.read(path, comm)
    assert d.boundary_names and d.volume_names
    builder = {"rod2d": "rod", "box": "box"}.get(path.stem, path.stem)
    if builder in geometry.BUILDERS and path.stem != "rod2d":
        kw = {"dim": 2} if builder in ("box", "diffusion_couple") else {}
        ref = geometry.build(builder, comm, **kw)
        assert d.boundary_names == ref.boundary_names


def test_msh_roundtrip(mpi_tmp_path):
    path = geometry.write_msh("plate_with_hole", mpi_tmp_path / "plate.msh")
    d = mesh.read(path)
    assert d.boundary_names == ["bottom", "hole", "left", "right", "top"]


@pytest.mark.parametrize("name, params, message", [
    ("rod", dict(radius=-1.0), "radius must be a positive number, got -1.0"),
    ("rod", dict(order=3), "order must be 1 or 2, got 3"),
    ("rod", dict(dim=4), "dim must be one of (2, 3)"),
    ("plate_with_hole", dict(radius=2.0), "hole radius 2.0 must be smaller than the plate"),
    ("box", dict(h=0.0), "h must be a positive number"),
    ("diffusion_couple", dict(interface=5.0), "interface 5.0 must lie inside"),
    ("nonsense", {}, "unknown geometry 'nonsense'; available: rod, box"),
])
def test_bad_parameters(name, params, message):
    with pytest.raises(ValueError) as info:
        geometry.build(name, MPI.COMM_WORLD, **params)
    assert message in str(info.value)


def test_refine_validation():
    with pytest.raises(ValueError, match="exactly one target"):
        geometry.Refine(size=0.1, distance=0.1)
    with pytest.raises(ValueError, match="unknown boundary 'holes'; known: bottom, hole"):
        geometry.build("plate_with_hole", MPI.COMM_WORLD,
                       refine=[geometry.Refine(size=0.01, distance=0.1, boundary="holes")])


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("", "is empty"),
    ("this is not a mesh\n$MeshFormat garbage", "could not read mesh file"),
])
def test_bad_mesh_files(mpi_tmp_path, content, message):
    path = mpi_tmp_path / "bad.msh"
    if content is not None and MPI.COMM_WORLD.rank == 0:
        path.write_text(content)
    MPI.COMM_WORLD.Barrier()
    with pytest.raises(mesh.MeshError, match=message):
        mesh.read(path)


def test_geo_without_physical_groups(mpi_tmp_path):
    path = mpi_tmp_path / "plain.geo"
    if MPI.COMM_WORLD.rank == 0:
        path.write_text('SetFactory("OpenCASCADE");\nRectangle(1) = {0, 0, 0, 1, 1};\n')
    MPI.COMM_WORLD.Barrier()
    with pytest.raises(mesh.MeshError, match="has no physical groups"):
        mesh.read(path)


def test_unknown_names_list_available():
    d = geometry.build("rod", MPI.COMM_WORLD, dim=2)
    with pytest.raises(mesh.UnknownNameError,
                       match="unknown boundary name 'end'; this mesh has boundary names: 'left'"):
        d.ds("end")
    with pytest.raises(mesh.UnknownNameError, match="unknown volume name 'steel'"):
        d.dx("steel")
