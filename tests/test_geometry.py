"""Gmsh builders and mesh loading: names, measured sizes, refinement, bad input.

Every global quantity is summed over ranks, so the ``mpi`` tests also run under
``mpirun -n 2 python -m mpi4py -m pytest -m mpi``.
"""

import math
from pathlib import Path

from mpi4py import MPI

import gmsh
import numpy as np
import pytest
from dolfinx import fem

from femdiff import geometry
from femdiff.geometry import mesh

MESHES = Path(__file__).resolve().parent.parent / "meshes"
PI = math.pi


def total(d, measure):
    """Global integral of 1 over a measure of Domain ``d``."""
    value = fem.assemble_scalar(fem.form(fem.Constant(d.mesh, 1.0) * measure))
    return d.comm.allreduce(value, op=MPI.SUM)


def cell_sizes(d):
    """Owned cells' diameters and midpoints."""
    m = d.mesh
    n = m.topology.index_map(d.tdim).size_local
    sizes = m.h(d.tdim, np.arange(n, dtype=np.int32))
    mid = m.geometry.x[m.geometry.dofmaps[0][:n]].mean(axis=1)
    return sizes, mid


def global_max(comm, values):
    return comm.allreduce(float(values.max()) if len(values) else -np.inf, op=MPI.MAX)


def global_min(comm, values):
    return comm.allreduce(float(values.min()) if len(values) else np.inf, op=MPI.MIN)


def global_mean(comm, values):
    count = comm.allreduce(len(values), op=MPI.SUM)
    assert count > 0
    return comm.allreduce(float(values.sum()), op=MPI.SUM) / count


def test_registry_lists_every_builder():
    assert set(geometry.BUILDERS) == {"rod", "box", "beam", "plate_with_hole", "notched_bar",
                                      "sphere", "diffusion_couple", "t_shape", "crack_tip",
                                      "sphere_octant"}


# --- names and measured sizes -----------------------------------------------------------

@pytest.mark.mpi
@pytest.mark.parametrize("order, tol", [(1, 5e-2), (2, 5e-4)])
def test_rod_volume_and_names(comm, order, tol):
    """Cylinder π r² L. With h = r/2 the circle is a polygon of N = 2πr/h ≈ 13 sides, whose
    area is short by (2π/N)²/6 ≈ 4 % (order 1); quadratic edges make this O((h/r)⁴)."""
    r, length = 0.1, 1.0
    d = geometry.build("rod", comm, length=length, radius=r, dim=3, h=r / 2, order=order)
    assert d.boundary_names == ["left", "right", "surface"]
    assert d.volume_names == ["rod"]
    assert d.mesh.geometry.cmaps[0].degree == order
    assert d.volume() == pytest.approx(PI * r**2 * length, rel=tol)
    assert total(d, d.ds("surface")) == pytest.approx(2 * PI * r * length, rel=tol)
    assert total(d, d.ds("left")) == pytest.approx(PI * r**2, rel=tol)
    assert total(d, d.ds("right")) == pytest.approx(PI * r**2, rel=tol)


@pytest.mark.mpi
@pytest.mark.parametrize("order, rate", [(1, 2), (2, 4)])
def test_disk_area_converges_with_h(comm, order, rate):
    """The area error of the meshed disk falls as h² (chords) or h⁴ (quadratic arcs); this
    is what the tolerances of the curved-geometry tests rely on."""
    errors = []
    hs = (0.2, 0.1)  # h = 0.4 is pre-asymptotic: Gmsh puts extra points on a coarse circle
    for h in hs:
        d = geometry.build("sphere", comm, radius=1.0, dim=2, h=h, order=order)
        errors.append(abs(d.volume() - PI))
    observed = math.log(errors[1] / errors[0]) / math.log(hs[1] / hs[0])
    assert observed == pytest.approx(rate, abs=0.5)


# name, params, exact boundary measures, exact volume measures, relative tolerance.
# Straight-sided shapes are exact to round-off; curved ones use order 2 or refinement.
CASES = {
    "rod2d": ("rod", dict(dim=2, length=1.0, radius=0.1),
              {"left": 0.2, "right": 0.2, "surface": 2.0}, {"rod": 0.2}, 1e-10),
    "box2d": ("box", dict(lx=2.0, ly=0.5),
              {"left": 0.5, "right": 0.5, "bottom": 2.0, "top": 2.0}, {"domain": 1.0}, 1e-10),
    "box3d": ("box", dict(dim=3, lx=1.0, ly=2.0, lz=0.5, h=0.25),
              {"left": 1.0, "right": 1.0, "front": 0.5, "back": 0.5, "bottom": 2.0,
               "top": 2.0}, {"domain": 1.0}, 1e-10),
    "beam2d": ("beam", dict(length=1.0, height=0.1),
               {"left": 0.1, "right": 0.1, "bottom": 1.0, "top": 1.0}, {"beam": 0.1}, 1e-10),
    "beam3d": ("beam", dict(dim=3, length=1.0, height=0.1, width=0.2, h=0.05),
               {"left": 0.02, "right": 0.02, "front": 0.1, "back": 0.1, "bottom": 0.2,
                "top": 0.2}, {"beam": 0.02}, 1e-10),
    "quarter_plate": ("plate_with_hole", dict(width=1.0, height=0.8, radius=0.2, order=2),
                      {"left": 0.6, "bottom": 0.8, "right": 0.8, "top": 1.0, "hole": PI * 0.1},
                      {"plate": 0.8 - PI * 0.01}, 1e-5),
    "full_plate": ("plate_with_hole", dict(width=2.0, height=1.0, radius=0.2, quarter=False,
                                           order=2),
                   {"left": 1.0, "right": 1.0, "bottom": 2.0, "top": 2.0, "hole": PI * 0.4},
                   {"plate": 2.0 - PI * 0.04}, 1e-5),
    "notched_bar": ("notched_bar", dict(length=1.0, height=0.2, notch_depth=0.05,
                                        notch_radius=0.02, order=2),
                    {"left": 0.2, "right": 0.2, "bottom": 1.0, "top": 1.0 - 0.04,
                     "notch": 2 * 0.03 + PI * 0.02},
                    {"bar": 0.2 - (0.04 * 0.03 + PI * 0.02**2 / 2)}, 1e-5),
    "disk": ("sphere", dict(dim=2, radius=1.0, order=2, h=0.1),
             {"surface": 2 * PI}, {"particle": PI}, 1e-5),
    "couple2d": ("diffusion_couple", dict(length=2.0, height=1.0, interface=0.5),
                 {"left": 1.0, "right": 1.0, "bottom": 2.0, "top": 2.0},
                 {"A": 0.5, "B": 1.5}, 1e-10),
    "couple3d": ("diffusion_couple", dict(dim=3, length=2.0, height=1.0, h=0.34),
                 {"left": 1.0, "right": 1.0, "front": 2.0, "back": 2.0, "bottom": 2.0,
                  "top": 2.0}, {"A": 1.0, "B": 1.0}, 1e-10),
    "t_shape": ("t_shape", dict(h=5.0),
                {"boundary": 100 + 100 + 20 + 2 * 40 + 100 + 2 * 20},
                {"domain": 20 * 100 + 100 * 20}, 1e-10),
}


@pytest.mark.mpi
@pytest.mark.parametrize("case", CASES)
def test_builder_names_and_measures(comm, case):
    name, params, boundaries, volumes, tol = CASES[case]
    d = geometry.build(name, comm, **params)
    extra = ["interface"] if name == "diffusion_couple" else []
    assert d.boundary_names == sorted([*boundaries, *extra])
    assert d.volume_names == sorted(volumes)
    for b, exact in boundaries.items():
        assert total(d, d.ds(b)) == pytest.approx(exact, rel=tol), b
    for v, exact in volumes.items():
        assert total(d, d.dx(v)) == pytest.approx(exact, rel=tol), v
    assert d.volume() == pytest.approx(sum(volumes.values()), rel=tol)


# coarse parameters for every builder, in every dimension it takes
DECLARED = {
    "rod": [dict(dim=2, length=1.0, radius=0.2, h=0.2), dict(dim=3, length=1.0, radius=0.2,
                                                            h=0.2)],
    "box": [dict(h=0.5), dict(dim=3, h=0.5)],
    "beam": [dict(h=0.1), dict(dim=3, h=0.1)],
    "plate_with_hole": [dict(h=0.2), dict(h=0.2, quarter=False)],
    "notched_bar": [dict(h=0.1)],
    "sphere": [dict(dim=2, h=0.5), dict(dim=3, h=0.5)],
    "diffusion_couple": [dict(h=0.5), dict(dim=3, h=0.5)],
    "t_shape": [dict(h=10.0)],
    "crack_tip": [dict(h=0.25), dict(h=0.25, symmetric=False)],
    "sphere_octant": [dict(h=0.5), dict(radius=5e-6, h=2e-6)],
}


def test_every_builder_declares_its_names():
    assert set(DECLARED) == set(geometry.BUILDERS), "add the new builder to DECLARED"
    with pytest.raises(ValueError, match="declares no physical names"):
        geometry.names(lambda h=None: None)


@pytest.mark.mpi
@pytest.mark.parametrize("name, params", [(n, p) for n, ps in DECLARED.items() for p in ps])
def test_declared_names_are_the_built_ones(comm, name, params):
    """geometry.names (known before meshing) equals the physical groups Gmsh made."""
    declared = geometry.names(name, **params)
    d = geometry.build(name, comm, **params)
    assert declared.dim == d.tdim
    assert list(declared.boundaries) == d.boundary_names
    assert list(declared.volumes) == d.volume_names


@pytest.mark.mpi
def test_sphere_3d(comm):
    d = geometry.build("sphere", comm, radius=1.0, h=0.5, order=2)
    assert (d.boundary_names, d.volume_names) == (["surface"], ["particle"])
    assert d.volume() == pytest.approx(4 / 3 * PI, rel=2e-3)
    assert total(d, d.ds("surface")) == pytest.approx(4 * PI, rel=2e-3)


@pytest.mark.mpi
@pytest.mark.parametrize("dim, area", [(2, 1.0), (3, 1.0)])
def test_diffusion_couple_interface_is_interior(comm, dim, area):
    """"interface" is a facet group between A and B: dS sees it (also across processes,
    which needs shared-facet ghosting), ds does not, and the mesh is conforming there."""
    d = geometry.build("diffusion_couple", comm, length=2.0, height=1.0, dim=dim,
                       h=0.34 if dim == 3 else 0.1)
    assert total(d, d.dS("interface")) == pytest.approx(area)
    assert total(d, d.ds("interface")) == 0.0
    # conforming: every interface facet has one cell of A and one of B
    tdim = d.tdim
    f2c = d.mesh.topology.connectivity(tdim - 1, tdim)
    n_owned = d.mesh.topology.index_map(tdim - 1).size_local
    facets = d.facets("interface")
    facets = facets[facets < n_owned]
    cell_volume = np.zeros(d.mesh.topology.index_map(tdim).size_local
                           + d.mesh.topology.index_map(tdim).num_ghosts, dtype=np.int32)
    cell_volume[d.cells("A")] = 1
    cell_volume[d.cells("B")] = 2
    pairs = [sorted(cell_volume[f2c.links(f)]) for f in facets]
    assert all(p == [1, 2] for p in pairs)
    assert comm.allreduce(len(pairs), op=MPI.SUM) > 0


# --- geometric order and refinement ---------------------------------------------------

@pytest.mark.mpi
def test_order_two_has_quadratic_coordinate_element(comm):
    d = geometry.build("plate_with_hole", comm, order=2)
    assert d.mesh.geometry.cmaps[0].degree == 2
    assert geometry.build("plate_with_hole", comm).mesh.geometry.cmaps[0].degree == 1


@pytest.mark.mpi
@pytest.mark.parametrize("refine, distance_to_target", [
    (geometry.Refine(size=0.02, distance=0.05, point=(0.3, 0.4)),
     lambda x: np.hypot(x[:, 0] - 0.3, x[:, 1] - 0.4)),
    (geometry.Refine(size=0.02, distance=0.05, segment=((0, 0.2), (1, 0.2))),
     lambda x: np.abs(x[:, 1] - 0.2)),
    (geometry.Refine(size=0.02, distance=0.05, segment=((-1, -1), (2, 2))),
     lambda x: np.abs(x[:, 1] - x[:, 0]) / np.sqrt(2)),
    (geometry.Refine(size=0.02, distance=0.05, boundary="top"),
     lambda x: np.abs(x[:, 1] - 1.0)),
], ids=["point", "segment", "long segment", "boundary"])
def test_local_refinement_makes_small_cells_near_target(comm, refine, distance_to_target):
    """Within ``distance`` the cells are about ``size`` (cell diameters: Gmsh meets sizes
    to a factor ~1.5, a few cells to ~3); beyond 2×distance they are back to about h."""
    h = 0.2
    coarse = geometry.build("box", comm, h=h)
    size, mid = cell_sizes(coarse)
    assert global_min(comm, size) > 0.4 * h
    fine = geometry.build("box", comm, h=h, refine=[refine])
    size, mid = cell_sizes(fine)
    dist = distance_to_target(mid)
    near = size[dist < refine.distance / 2]
    assert global_mean(comm, near) < 1.5 * refine.size
    assert global_max(comm, near) < 3 * refine.size
    assert global_mean(comm, size[dist > 2 * refine.distance + h]) > 0.5 * h
    assert fine.volume() == pytest.approx(1.0)


@pytest.mark.mpi
def test_plate_is_refined_at_the_hole_by_default(comm):
    r = 0.1
    d = geometry.build("plate_with_hole", comm, radius=r)
    size, mid = cell_sizes(d)
    rho = np.hypot(mid[:, 0], mid[:, 1])
    assert global_max(comm, size[rho < 1.5 * r]) < 2.5 * r / 8
    assert global_min(comm, size[rho > 0.5]) > 0.4 * (1.0 / 8)
    uniform = geometry.build("plate_with_hole", comm, radius=r, refine=())
    size, mid = cell_sizes(uniform)
    assert global_max(comm, size[np.hypot(mid[:, 0], mid[:, 1]) < 1.5 * r]) > r / 4


def test_builder_returns_named_gmsh_model():
    """Builders run on one rank: each rank meshes its own model here."""
    started = geometry.initialize()
    try:
        model = geometry.rod(dim=2, h=0.05, order=2, refine=geometry.Refine(
            size=0.01, distance=0.02, point=(0.5, 0.0)))
        assert model is gmsh.model
        names = sorted(model.getPhysicalName(d, t) for d, t in model.getPhysicalGroups())
        assert names == ["left", "right", "rod", "surface"]
        assert gmsh.option.getNumber("General.Terminal") == 0
        # the Distance field's helper point is gone: the rectangle's 4 corners remain, and
        # the seed vertex embedded at the target
        (_, surface), = model.getEntities(2)
        assert len(model.mesh.getEmbedded(2, surface)) == 1
        assert len(model.getEntities(0)) == 5
    finally:
        gmsh.finalize() if started else gmsh.clear()


# --- .geo and .msh files ----------------------------------------------------------------

GEO = {  # file: (boundaries, volume names, measure of the domain, relative tolerance)
    "rod.geo": (["left", "right", "surface"], ["rod"], PI * 1e-3**2 * 10e-3, 3e-2),
    "rod2d.geo": (["left", "right", "surface"], ["rod"], 0.2, 1e-10),
    "plate_with_hole.geo": (["bottom", "hole", "left", "right", "top"], ["plate"],
                            1 - PI * 0.01 / 4, 1e-3),
    "beam.geo": (["bottom", "left", "right", "top"], ["beam"], 0.1, 1e-10),
    "sphere.geo": (["surface"], ["particle"], 4 / 3 * PI, 5e-2),
    "diffusion_couple.geo": (["bottom", "interface", "left", "right", "top"], ["A", "B"],
                             2.0, 1e-10),
    "box.geo": (["bottom", "left", "right", "top"], ["domain"], 1.0, 1e-10),
}


def test_every_geo_file_is_checked():
    assert sorted(p.name for p in MESHES.glob("*.geo")) == sorted(GEO)
    assert (MESHES / "README.md").is_file()


@pytest.mark.mpi
@pytest.mark.parametrize("name", sorted(GEO))
def test_geo_files_load_with_names(comm, name):
    boundaries, volumes, measure, tol = GEO[name]
    d = mesh.read(MESHES / name, comm)
    assert d.boundary_names == boundaries
    assert d.volume_names == volumes
    assert d.volume() == pytest.approx(measure, rel=tol)
    if name == "diffusion_couple.geo":
        assert total(d, d.dS("interface")) == pytest.approx(1.0)
        assert total(d, d.dx("A")) == pytest.approx(1.0)


@pytest.mark.mpi
def test_geo_with_order_two(comm):
    d = mesh.read(MESHES / "rod2d.geo", comm, order=2)
    assert d.mesh.geometry.cmaps[0].degree == 2


@pytest.mark.mpi
def test_msh_roundtrip(comm, mpi_tmp_path):
    path = geometry.write_msh("plate_with_hole", mpi_tmp_path / "out" / "plate.msh", comm,
                              order=2)
    assert path.is_file()
    d = mesh.read(path, comm)
    assert d.boundary_names == ["bottom", "hole", "left", "right", "top"]
    assert d.volume_names == ["plate"]
    assert d.volume() == pytest.approx(1 - PI * 0.01 / 4, rel=1e-5)


# --- bad input --------------------------------------------------------------------------

@pytest.mark.mpi
@pytest.mark.parametrize("name, params, message", [
    ("rod", dict(radius=-1.0), "radius must be a positive number, got -1.0"),
    ("rod", dict(length="long"), "length must be a positive number, got 'long'"),
    ("rod", dict(order=3), "order must be 1 or 2, got 3"),
    ("rod", dict(dim=4), "dim must be one of (2, 3)"),
    ("rod", dict(colour="red"), "unexpected keyword argument 'colour'"),
    ("box", dict(h=0.0), "h must be a positive number"),
    ("box", dict(lz=1.0), "lz=1.0 needs dim=3"),
    ("beam", dict(width=math.inf, dim=3), "width must be a positive number, got inf"),
    ("plate_with_hole", dict(radius=2.0), "hole radius 2.0 must be smaller than the plate"),
    ("plate_with_hole", dict(radius=0.6, quarter=False), "half width/height 0.5"),
    ("notched_bar", dict(notch_depth=0.3), "notch_depth 0.3 must be smaller than height"),
    ("notched_bar", dict(notch_radius=0.6), "notch_radius 0.6 must be smaller than length/2"),
    ("sphere", dict(radius=0), "radius must be a positive number, got 0"),
    ("diffusion_couple", dict(interface=5.0), "interface 5.0 must lie inside (0, length=2.0)"),
    ("t_shape", dict(bar=(100, 140, 100, 120)), "must overlap or share an edge"),
    ("t_shape", dict(stem=(20, 0, 0, 100)), "stem must be (x0, x1, y0, y1) with x1 > x0"),
    ("rod", dict(refine=[0.1]), "refine must be a sequence of Refine"),
    ("plate_with_hole", dict(refine=geometry.Refine(0.01, 0.1, boundary="holes")),
     "unknown boundary 'holes'; known: bottom, hole, left, right, top"),
    ("nonsense", {}, "unknown geometry 'nonsense'; available: rod, box"),
])
def test_bad_parameters_raise_on_every_rank(comm, name, params, message):
    with pytest.raises(ValueError) as info:
        geometry.build(name, comm, **params)
    assert message in str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    (dict(size=0.1, distance=0.1), "exactly one target"),
    (dict(size=0.1, distance=0.1, point=(0, 0), boundary="hole"), "exactly one target"),
    (dict(size=-0.1, distance=0.1, point=(0, 0)), "Refine.size must be a positive number"),
    (dict(size=0.1, distance=0, point=(0, 0)), "Refine.distance must be a positive number"),
    (dict(size=0.1, distance=0.1, point=(0,)), "Refine.point must be 2 or 3 finite"),
    (dict(size=0.1, distance=0.1, segment=((0, 0), (0, 0))), "coincident end points"),
])
def test_refine_validation(kwargs, message):
    with pytest.raises(ValueError) as info:
        geometry.Refine(**kwargs)
    assert message in str(info.value)
    assert geometry.Refine(0.1, 0.2, point=(1, 2)).point == (1.0, 2.0, 0.0)


def test_validation_happens_before_gmsh_starts():
    if gmsh.isInitialized():
        pytest.skip("another user of gmsh holds it")
    for builder, params in [(geometry.rod, dict(radius=0.0)),
                            (geometry.plate_with_hole, dict(
                                refine=[geometry.Refine(0.01, 0.1, boundary="nope")])),
                            (geometry.t_shape, dict(h=-1.0))]:
        with pytest.raises(ValueError):
            builder(**params)
        assert not gmsh.isInitialized()
    with pytest.raises(ValueError, match="must end in .msh"):
        geometry.write_msh("rod", "rod.vtk")
    assert not gmsh.isInitialized()


BAD_MSH = {
    "missing": (None, "does not exist"),
    "empty": (b"", "is empty"),
    "garbage text": (b"this is not a mesh\n$MeshFormat garbage\n", "no $MeshFormat header"),
    "binary": (bytes(range(256)) * 8, "no $MeshFormat header"),
    "truncated": (b"$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$Nodes\nnot numbers\n",
                  "could not read mesh file"),
}


@pytest.mark.mpi
@pytest.mark.parametrize("case", BAD_MSH)
def test_bad_mesh_files(comm, mpi_tmp_path, case):
    content, message = BAD_MSH[case]
    path = mpi_tmp_path / "bad.msh"
    if content is not None and comm.rank == 0:
        path.write_bytes(content)
    comm.Barrier()
    with pytest.raises(mesh.MeshError) as info:
        mesh.read(path, comm)
    assert message in str(info.value)
    assert "bad.msh" in str(info.value)


@pytest.mark.mpi
def test_wrong_suffix(comm, mpi_tmp_path):
    path = mpi_tmp_path / "mesh.stl"
    if comm.rank == 0:
        path.write_text("solid x\nendsolid x\n")
    comm.Barrier()
    with pytest.raises(mesh.MeshError, match="expected a .msh or .geo file"):
        mesh.read(path, comm)


@pytest.mark.mpi
def test_geo_without_physical_groups(comm, mpi_tmp_path):
    path = mpi_tmp_path / "plain.geo"
    if comm.rank == 0:
        path.write_text('SetFactory("OpenCASCADE");\nRectangle(1) = {0, 0, 0, 1, 1};\n')
    comm.Barrier()
    with pytest.raises(mesh.MeshError, match="has no physical groups"):
        mesh.read(path, comm)
    # and a good file still loads afterwards (a failed read must not spoil gmsh)
    assert mesh.read(MESHES / "box.geo", comm).volume_names == ["domain"]


def test_unknown_names_list_available():
    d = geometry.build("rod", MPI.COMM_WORLD, dim=2)
    with pytest.raises(mesh.UnknownNameError,
                       match="unknown boundary name 'end'; this mesh has boundary names: 'left'"):
        d.ds("end")
    with pytest.raises(mesh.UnknownNameError, match="unknown volume name 'steel'"):
        d.dx("steel")
