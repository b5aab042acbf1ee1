"""Shared test set-up: MPI-aware markers, temporary paths and clean-up between tests."""

import gc
import logging
import os
from pathlib import Path

from mpi4py import MPI

import pytest

import femdiff  # noqa: F401  (imports dolfinx_solver first)


def pytest_runtest_setup(item):
    if item.get_closest_marker("skip_in_parallel") and MPI.COMM_WORLD.size > 1:
        pytest.skip("runs on one rank only")


@pytest.fixture(autouse=True)
def _collect_and_sync():
    yield
    gc.collect()
    MPI.COMM_WORLD.Barrier()


@pytest.fixture(autouse=True)
def _restore_femdiff_logger():
    """An in-process ``femdiff.cli.main`` sets up the "femdiff" logger (its own handler,
    no propagation, ERROR on ranks > 0): put it back, so that later tests' caplog sees
    the same records on every rank (a record missing on one rank only hangs a 2-rank run).
    """
    log = logging.getLogger("femdiff")
    saved = (list(log.handlers), log.propagate, log.level)
    yield
    log.handlers[:], log.propagate = saved[0], saved[1]
    log.setLevel(saved[2])


@pytest.fixture
def comm():
    return MPI.COMM_WORLD


@pytest.fixture
def mpi_tmp_path(tmp_path) -> Path:
    """A temporary directory shared by all ranks (rank 0's ``tmp_path``)."""
    return Path(MPI.COMM_WORLD.bcast(str(tmp_path), root=0))


@pytest.fixture
def is_ci() -> bool:
    return bool(os.environ.get("CI"))
