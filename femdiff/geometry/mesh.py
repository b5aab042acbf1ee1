"""Gmsh models and files to distributed DOLFINx meshes, with boundaries addressed by name.

Gmsh runs on rank 0 only; :func:`dolfinx.io.gmsh.model_to_mesh` distributes the mesh. The
result is a :class:`Domain`: the mesh, its cell and facet tags, and a name → (dim, tag) map,
so that users say ``"left"`` rather than ``3``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from mpi4py import MPI

import numpy as np
from dolfinx import mesh as dmesh

from femdiff._compat import cell_partitioner, gmshio
from femdiff.geometry.domain import Domain, MeshError, UnknownNameError
from femdiff.geometry.periodic import create_periodic

__all__ = ["Domain", "MeshError", "UnknownNameError", "box", "file_names", "from_dolfinx",
           "from_gmsh_model", "interval", "periodic", "read", "rectangle", "with_volumes"]


def _has_interior_facet_group(model, dim: int) -> bool:
    """Whether a facet physical group of ``model`` lies between two cell entities."""
    for _, tag in model.getPhysicalGroups(dim - 1):
        for entity in model.getEntitiesForPhysicalGroup(dim - 1, tag):
            upward, _ = model.getAdjacencies(dim - 1, entity)
            if len(upward) > 1:
                return True
    return False


def from_gmsh_model(model, comm: MPI.Comm = MPI.COMM_WORLD, gdim: int | None = None,
                    rank: int = 0, ghost_mode: dmesh.GhostMode | None = None) -> Domain:
    """Convert a meshed Gmsh model (alive on ``rank``) into a distributed :class:`Domain`.

    Args:
        model: ``gmsh.model`` with a mesh and physical groups (only needed on ``rank``).
        comm: Communicator for the distributed mesh.
        gdim: Geometric dimension; defaults to the model's dimension.
        rank: The rank that holds the Gmsh model.
        ghost_mode: Cell ghosting of the distributed mesh. By default ``shared_facet`` when
            a boundary group is interior (such as a diffusion couple's ``"interface"``), so
            that :meth:`Domain.dS` integrates over it in parallel; otherwise ``none``.
    """
    if comm.rank == rank:
        problem = None
        if not model.getPhysicalGroups():
            problem = f"the Gmsh model {_NO_GROUPS}"
        dim = model.getDimension()
        if problem is None and dim < 1:
            problem = "the Gmsh model has no mesh"
        elif problem is None and len(model.mesh.getElements(dim)[1]) == 0:
            problem = "the Gmsh model has no elements; call gmsh.model.mesh.generate(dim)"
        elif problem is None and not model.getPhysicalGroups(dim):
            problem = (f"the Gmsh model has no physical group of dimension {dim}: "
                       "the cells to keep must be in one")
        interior = problem is None and _has_interior_facet_group(model, dim)
        payload = (problem, dim, interior)
    else:
        payload = None
    problem, dim, interior = comm.bcast(payload, root=rank)
    if problem:
        raise MeshError(problem)
    if ghost_mode is None:
        ghost_mode = dmesh.GhostMode.shared_facet if interior else dmesh.GhostMode.none
    partitioner = None if ghost_mode == dmesh.GhostMode.none else cell_partitioner(ghost_mode)
    data = gmshio.model_to_mesh(model, comm, rank, gdim=gdim or dim, partitioner=partitioner)
    groups = {name: (int(d), int(t)) for name, (d, t) in data.physical_groups.items()}
    return Domain(data.mesh, data.cell_tags, data.facet_tags, groups)


_NO_GROUPS = ("has no physical groups; name its volumes and boundaries (in a .geo file: "
              'Physical Surface("name") = {...};)')
_GEO_DIMS = {"Point": 0, "Curve": 1, "Line": 1, "Surface": 2, "Volume": 3}


def file_names(path: str | Path) -> tuple[int, list[str], list[str]]:
    """(dimension, boundary names, volume names) of a ``.msh`` or ``.geo`` file, unmeshed.

    Reads the ``$PhysicalNames`` section of a ``.msh`` file, or the ``Physical``
    statements of a ``.geo`` file, without Gmsh (case-file validation uses it, on every
    rank). The dimension is the highest one with a named group; boundaries are the
    groups one dimension lower.

    Raises:
        MeshError: the file is missing, empty or unreadable (no ``$MeshFormat`` header),
            or it has no physical groups, or none with a name.
    """
    import re

    path = Path(path)
    if not path.is_file():
        raise MeshError(f"mesh file {str(path)!r} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MeshError(f"mesh file {str(path)!r} is empty or unreadable: "
                        f"{exc.strerror or exc}") from None
    if not raw.strip():
        raise MeshError(f"mesh file {str(path)!r} is empty or unreadable (no content)")
    groups: list[tuple[int, str]] = []
    if path.suffix == ".msh":
        if not raw.lstrip().startswith(b"$MeshFormat"):
            raise MeshError(f"mesh file {str(path)!r} is empty or unreadable: not a Gmsh "
                            ".msh file (no $MeshFormat header)")
        start = raw.find(b"$PhysicalNames")
        if start >= 0:
            end = raw.find(b"$EndPhysicalNames", start)
            for line in raw[start:end].decode(errors="replace").splitlines()[2:]:
                parts = line.split(maxsplit=2)
                if len(parts) == 3 and parts[0].isdigit():
                    groups.append((int(parts[0]), parts[2].strip().strip('"')))
        if not groups:
            raise MeshError(f"mesh file {str(path)!r} has no named physical groups "
                            "($PhysicalNames); name its volumes and boundaries in Gmsh")
    else:
        text = raw.decode(errors="replace")
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments
        text = re.sub(r"//[^\n]*", "", text)
        statements = re.findall(r"Physical\s+(Point|Curve|Line|Surface|Volume)\s*\(\s*"
                                r'("([^"]+)")?', text)
        if not statements:
            raise MeshError(f"mesh file {str(path)!r}: the model {_NO_GROUPS}")
        groups = [(_GEO_DIMS[kind], name) for kind, _, name in statements if name]
        if not groups:
            raise MeshError(f"mesh file {str(path)!r}: the model's physical groups have no "
                            'names; femdiff refers to them by name: Physical Surface("name") '
                            "= {...};")
    dim = max(d for d, _ in groups)
    return (dim, sorted(n for d, n in groups if d == dim - 1),
            sorted(n for d, n in groups if d == dim))


def read(path: str | Path, comm: MPI.Comm = MPI.COMM_WORLD, gdim: int | None = None,
         order: int | None = None) -> Domain:
    """Read a Gmsh ``.msh`` or ``.geo`` file (meshing a ``.geo`` on rank 0).

    Raises:
        MeshError: when the file is missing, empty, unreadable or has no physical groups.
    """
    import gmsh

    path = Path(path)
    error = None
    if comm.rank == 0:
        if not path.is_file():
            error = f"mesh file {str(path)!r} does not exist"
        elif path.stat().st_size == 0:
            error = f"mesh file {str(path)!r} is empty or unreadable (0 bytes)"
        elif path.suffix not in (".msh", ".geo"):
            error = f"mesh file {str(path)!r}: expected a .msh or .geo file"
        elif path.suffix == ".msh":
            # Gmsh hands a file without a $MeshFormat header to its .geo parser, whose
            # failure then corrupts later parses: reject such files before gmsh sees them
            with path.open("rb") as fh:
                head = fh.read(64).lstrip()
            if not head.startswith(b"$MeshFormat"):
                error = (f"could not read mesh file {str(path)!r}: not a Gmsh .msh file "
                         "(no $MeshFormat header)")
    error = comm.bcast(error, root=0)
    if error:
        raise MeshError(error)

    started = False
    if comm.rank == 0:
        if not gmsh.isInitialized():
            gmsh.initialize(interruptible=False)
            started = True
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.clear()
        try:
            gmsh.open(str(path))
            if not gmsh.model.getPhysicalGroups():  # say so before meshing anything
                error = f"mesh file {str(path)!r}: {_NO_GROUPS}"
            elif path.suffix == ".geo":
                dim = gmsh.model.getDimension()
                if order:
                    gmsh.option.setNumber("Mesh.ElementOrder", order)
                gmsh.model.mesh.generate(dim)
            elif order and order > 1:
                gmsh.model.mesh.setOrder(order)
        except Exception as exc:  # gmsh raises plain Exception with its log text
            error = f"could not read mesh file {str(path)!r}: {exc}"
    error = comm.bcast(error, root=0)
    failed = True
    try:
        if error:
            raise MeshError(error)
        domain = from_gmsh_model(gmsh.model, comm, gdim=gdim, rank=0)
        failed = False
        return domain
    finally:
        # a failed parse leaves gmsh's parser in a state that spoils later models:
        # restart it (builders re-initialise on demand)
        if comm.rank == 0 and (started or failed):
            gmsh.finalize()


def from_dolfinx(mesh: dmesh.Mesh,
                 boundaries: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
                 ) -> Domain:
    """Wrap a DOLFINx mesh, naming boundaries with locator functions ``x -> bool``.

    Tags are numbered 1, 2, ... in the order given; a facet matched by two locators keeps
    the later one.
    """
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    groups: dict[str, tuple[int, int]] = {}
    indices, values = [], []
    for tag, (name, locator) in enumerate((boundaries or {}).items(), start=1):
        facets = dmesh.locate_entities_boundary(mesh, tdim - 1, locator)
        indices.append(facets)
        values.append(np.full(len(facets), tag, dtype=np.int32))
        groups[name] = (tdim - 1, tag)
    if indices:
        idx = np.concatenate(indices).astype(np.int32)
        val = np.concatenate(values)
        order = np.argsort(idx, kind="stable")
        idx, val = idx[order], val[order]
        # keep the last locator for facets matched twice
        keep = np.append(idx[1:] != idx[:-1], True)
        facet_tags = dmesh.meshtags(mesh, tdim - 1, idx[keep], val[keep])
    else:
        facet_tags = dmesh.meshtags(mesh, tdim - 1, np.empty(0, np.int32), np.empty(0, np.int32))
    return Domain(mesh, None, facet_tags, groups)


def interval(n: int, length: float = 1.0, x0: float = 0.0,
             comm: MPI.Comm = MPI.COMM_WORLD) -> Domain:
    """A 1D interval [x0, x0 + length] with boundaries ``"left"`` and ``"right"``."""
    m = dmesh.create_interval(comm, n, [x0, x0 + length])
    return from_dolfinx(m, {"left": lambda x: np.isclose(x[0], x0),
                            "right": lambda x: np.isclose(x[0], x0 + length)})


#: the cell types of :func:`rectangle` by name (also the case files' geometry.params.cell)
RECTANGLE_CELLS = ("triangle", "quadrilateral")


def rectangle(nx: int, ny: int, lx: float = 1.0, ly: float = 1.0,
              comm: MPI.Comm = MPI.COMM_WORLD,
              cell: dmesh.CellType | str = dmesh.CellType.triangle) -> Domain:
    """A structured rectangle [0,lx]×[0,ly] with ``left/right/bottom/top`` boundaries.

    ``cell``: ``"triangle"`` (each square cut in two) or ``"quadrilateral"`` (Q1 elements;
    on such a grid about 3× more accurate than P1 at equal dofs for PFHub 1b, see
    ``benchmarks/bench_pfhub_speed.py``), or a ``dolfinx.mesh.CellType``.
    """
    if isinstance(cell, str):
        if cell not in RECTANGLE_CELLS:
            raise ValueError(f"rectangle cell must be 'triangle' or 'quadrilateral', got "
                             f"{cell!r}")
        cell = dmesh.CellType[cell]
    m = dmesh.create_rectangle(comm, [[0.0, 0.0], [lx, ly]], [nx, ny], cell_type=cell)
    return from_dolfinx(m, {
        "left": lambda x: np.isclose(x[0], 0.0), "right": lambda x: np.isclose(x[0], lx),
        "bottom": lambda x: np.isclose(x[1], 0.0), "top": lambda x: np.isclose(x[1], ly)})


def box(nx: int, ny: int, nz: int, lx: float = 1.0, ly: float = 1.0, lz: float = 1.0,
        comm: MPI.Comm = MPI.COMM_WORLD) -> Domain:
    """A structured box with ``left/right/front/back/bottom/top`` boundaries (x, y, z)."""
    m = dmesh.create_box(comm, [[0.0, 0.0, 0.0], [lx, ly, lz]], [nx, ny, nz])
    return from_dolfinx(m, {
        "left": lambda x: np.isclose(x[0], 0.0), "right": lambda x: np.isclose(x[0], lx),
        "front": lambda x: np.isclose(x[1], 0.0), "back": lambda x: np.isclose(x[1], ly),
        "bottom": lambda x: np.isclose(x[2], 0.0), "top": lambda x: np.isclose(x[2], lz)})


def with_volumes(domain: Domain,
                 volumes: Mapping[str, Callable[[np.ndarray], np.ndarray]]) -> Domain:
    """Name the volumes of a :class:`Domain` with locators ``x -> bool`` of cell midpoints.

    For meshes built in DOLFINx (e.g. :func:`interval`, :func:`rectangle`), so that
    materials can be assigned by name. A cell matched by two locators keeps the later one.
    The facet tags and boundary names are kept.

    Raises:
        MeshError: when some cell matches no locator.
    """
    msh = domain.mesh
    tdim = msh.topology.dim
    cmap = msh.topology.index_map(tdim)
    n = cmap.size_local + cmap.num_ghosts
    cells = np.arange(n, dtype=np.int32)
    mid = dmesh.compute_midpoints(msh, tdim, cells).T
    values = np.zeros(n, dtype=np.int32)
    groups = {k: v for k, v in domain.physical_groups.items() if v[0] != tdim}
    first = max((t for _, t in domain.physical_groups.values()), default=0) + 1
    for tag, (name, locator) in enumerate(volumes.items(), start=first):
        values[np.asarray(locator(mid), dtype=bool)] = tag
        groups[name] = (tdim, tag)
    unmatched = domain.comm.allreduce(int(np.sum(values[: cmap.size_local] == 0)), MPI.SUM)
    if unmatched:
        raise MeshError(f"{unmatched} cell(s) match none of the volumes "
                        f"{', '.join(repr(v) for v in volumes)}")
    cell_tags = dmesh.meshtags(msh, tdim, cells, values)
    return Domain(msh, cell_tags, domain.facet_tags, groups)


def periodic(domain: Domain, pairs: Sequence[Sequence[str]], tol: float = 1e-8) -> Domain:
    """Glue boundary pairs, e.g. ``[("left", "right"), ("bottom", "top")]``.

    See :func:`femdiff.geometry.periodic.create_periodic`; the result is a
    :class:`~femdiff.geometry.periodic.PeriodicDomain` without the glued boundary names.
    """
    return create_periodic(domain, pairs, tol=tol)
