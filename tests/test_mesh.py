import numpy as np
import pytest

from femdiff.geometry import mesh


@pytest.mark.mpi
def test_interval_names(comm):
    d = mesh.interval(10, 2.0, comm=comm)
    assert d.boundary_names == ["left", "right"]
    n_left = comm.allreduce(len(d.facets("left")), op=__import__("mpi4py").MPI.SUM)
    assert n_left == 1
    assert np.isclose(d.characteristic_length(), 2.0)
    assert np.isclose(d.volume(), 2.0)


def test_unknown_name_lists_known(comm):
    d = mesh.rectangle(2, 2, comm=comm)
    with pytest.raises(mesh.UnknownNameError, match="'bottom', 'left', 'right', 'top'"):
        d.boundary_tag("lfet")
