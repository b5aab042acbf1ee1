"""Differences between the supported DOLFINx versions (0.10 and 0.11)."""

from __future__ import annotations

import dolfinx

DOLFINX_VERSION = tuple(int(p) for p in dolfinx.__version__.split(".")[:2])

if DOLFINX_VERSION < (0, 10):
    raise ImportError(f"femdiff needs DOLFINx >= 0.10, found {dolfinx.__version__}")

try:  # 0.10+: the Gmsh interface lives in dolfinx.io.gmsh
    from dolfinx.io import gmsh as gmshio
except ImportError:  # pragma: no cover - pre-0.10 layout
    from dolfinx.io import gmshio  # type: ignore[no-redef]


def cell_partitioner(mode):
    """A cell partitioner with ghost ``mode`` (0.11 also takes the facet-to-cell link bound)."""
    from dolfinx import mesh

    if DOLFINX_VERSION >= (0, 11):
        return mesh.create_cell_partitioner(mode, 2)
    return mesh.create_cell_partitioner(mode)  # pragma: no cover - 0.10


__all__ = ["DOLFINX_VERSION", "cell_partitioner", "gmshio"]
