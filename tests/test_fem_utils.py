"""Small DOLFINx helpers (femdiff.numerics.fem_utils)."""

from mpi4py import MPI

import basix.ufl
import numpy as np
import pytest
from dolfinx import fem
from dolfinx import mesh as dmesh

from femdiff.numerics.fem_utils import owned


@pytest.mark.mpi
@pytest.mark.parametrize("space", ["scalar", "vector", "mixed"])
def test_owned_partitions_the_dofs(space):
    """Every global dof is owned by exactly one rank (exact integer identities).

    Blocked spaces count unrolled dofs (index_map_bs = 2 for the vector P1 space); the
    mixed space has block size 1. The order of the kept entries is their order in ``dofs``.
    """
    comm = MPI.COMM_WORLD
    msh = dmesh.create_unit_square(comm, 6, 5, ghost_mode=dmesh.GhostMode.shared_facet)
    P = basix.ufl.element("Lagrange", msh.basix_cell(), 1)
    element = {"scalar": P,
               "vector": basix.ufl.element("Lagrange", msh.basix_cell(), 1, shape=(2,)),
               "mixed": basix.ufl.mixed_element([P, P])}[space]
    V = fem.functionspace(msh, element)
    imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
    n_all = (imap.size_local + imap.num_ghosts) * bs
    dofs = np.arange(n_all, dtype=np.int32)[::-1]  # reversed: the order must be kept
    mine = owned(dofs, V)
    np.testing.assert_array_equal(mine, np.arange(imap.size_local * bs)[::-1])
    # the owned dofs of all ranks: each global (block, component) exactly once
    glob = imap.local_to_global(mine // bs) * bs + mine % bs
    every = np.concatenate(comm.allgather(glob))
    assert every.size == imap.size_global * bs
    np.testing.assert_array_equal(np.sort(every), np.arange(imap.size_global * bs))
    # a 2D array (here one row per block) is flattened row by row
    np.testing.assert_array_equal(owned(dofs.reshape(-1, bs), V), mine)
    assert owned(np.empty(0, dtype=np.int32), V).size == 0
