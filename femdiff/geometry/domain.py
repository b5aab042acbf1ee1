"""The domain: a distributed DOLFINx mesh with its volumes and boundaries named.

A :class:`Domain` holds the mesh, its cell and facet tags, and a name → (dim, tag) map,
so that users say ``"left"`` rather than ``3``; the measures over named parts come from
it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import mesh as dmesh


class MeshError(ValueError):
    """A mesh file or Gmsh model that cannot be used."""


class UnknownNameError(KeyError):
    """A boundary or volume name that the mesh does not have."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass
class Domain:
    """A distributed mesh with named physical groups.

    Attributes:
        mesh: The DOLFINx mesh.
        cell_tags: Cell tags (volumes), or ``None``.
        facet_tags: Facet tags (boundaries), or ``None``.
        physical_groups: Name → (dimension, tag).
    """

    mesh: dmesh.Mesh
    cell_tags: dmesh.MeshTags | None = None
    facet_tags: dmesh.MeshTags | None = None
    physical_groups: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tdim = self.mesh.topology.dim
        self.mesh.topology.create_connectivity(tdim - 1, tdim)

    @property
    def comm(self) -> MPI.Comm:
        """The mesh communicator."""
        return self.mesh.comm

    @property
    def gdim(self) -> int:
        """Geometric dimension."""
        return self.mesh.geometry.dim

    @property
    def tdim(self) -> int:
        """Topological dimension."""
        return self.mesh.topology.dim

    @property
    def boundary_names(self) -> list[str]:
        """Names of the facet (boundary) groups."""
        return sorted(n for n, (d, _) in self.physical_groups.items() if d == self.tdim - 1)

    @property
    def volume_names(self) -> list[str]:
        """Names of the cell (volume) groups."""
        return sorted(n for n, (d, _) in self.physical_groups.items() if d == self.tdim)

    def boundary_tag(self, name: str) -> int:
        """Return the facet tag of boundary ``name``; unknown names list the known ones."""
        return self._tag(name, self.tdim - 1, "boundary", self.boundary_names)

    def volume_tag(self, name: str) -> int:
        """Return the cell tag of volume ``name``."""
        return self._tag(name, self.tdim, "volume", self.volume_names)

    def _tag(self, name: str, dim: int, kind: str, known: list[str]) -> int:
        group = self.physical_groups.get(name)
        if group is None or group[0] != dim:
            raise UnknownNameError(
                f"unknown {kind} name {name!r}; this mesh has {kind} names: "
                f"{', '.join(repr(n) for n in known) or '(none)'}"
            )
        return int(group[1])

    def facets(self, name: str) -> np.ndarray:
        """Process-local facet indices of boundary ``name``."""
        tag = self.boundary_tag(name)
        assert self.facet_tags is not None
        return self.facet_tags.find(tag)

    def cells(self, name: str) -> np.ndarray:
        """Process-local cell indices of volume ``name``."""
        tag = self.volume_tag(name)
        assert self.cell_tags is not None
        return self.cell_tags.find(tag)

    def measure(self, kind: str = "dx", name: str | None = None, *,
                metadata: dict | None = None, tagged: bool = True) -> ufl.Measure:
        """The one place where femdiff makes integration measures.

        Every volume and surface integral of femdiff (forms, amounts, flux totals, energies)
        takes its measure from here, so that a change of coordinates (the r weight of an
        axisymmetric body) is made once.

        Args:
            kind: ``"dx"`` (cells), ``"ds"`` (boundary facets) or ``"dS"`` (interior facets).
            name: a volume (dx) or boundary (ds, dS) name; ``None``: all of them.
            metadata: quadrature metadata (e.g. vertex quadrature for lumping).
            tagged: attach the cell or facet tags (``False``: a plain measure, for forms
                that must not mix subdomain data).
        """
        tags = {"dx": self.cell_tags, "ds": self.facet_tags, "dS": self.facet_tags}[kind]
        measure = ufl.Measure(kind, domain=self.mesh, metadata=metadata,
                              subdomain_data=tags if tagged else None)
        if name is None:
            return measure
        return measure(self.volume_tag(name) if kind == "dx" else self.boundary_tag(name))

    def ds(self, name: str | None = None) -> ufl.Measure:
        """Surface measure over boundary ``name`` (whole boundary if ``None``)."""
        return self.measure("ds", name)

    def dS(self, name: str) -> ufl.Measure:
        """Interior-facet measure over a named internal surface (e.g. ``"interface"``)."""
        return self.measure("dS", name)

    def dx(self, name: str | None = None) -> ufl.Measure:
        """Volume measure over volume ``name`` (whole domain if ``None``)."""
        return self.measure("dx", name)

    def check_boundaries(self, names: list[str] | tuple[str, ...]) -> None:
        """Raise :class:`UnknownNameError` for the first unknown boundary name."""
        for name in names:
            self.boundary_tag(name)

    def characteristic_length(self) -> float:
        """The largest bounding-box edge of the mesh (global)."""
        x = self.mesh.geometry.x[:, : self.gdim]
        lo = x.min(axis=0) if len(x) else np.full(self.gdim, np.inf)
        hi = x.max(axis=0) if len(x) else np.full(self.gdim, -np.inf)
        glo, ghi = np.empty_like(lo), np.empty_like(hi)
        self.comm.Allreduce(np.ascontiguousarray(lo), glo, op=MPI.MIN)
        self.comm.Allreduce(np.ascontiguousarray(hi), ghi, op=MPI.MAX)
        return float(np.max(ghi - glo))

    def volume(self) -> float:
        """Global measure of the domain."""
        from dolfinx import fem

        one = fem.form(fem.Constant(self.mesh, 1.0) * self.dx())
        return self.comm.allreduce(fem.assemble_scalar(one), op=MPI.SUM)
