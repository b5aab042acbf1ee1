"""The composition matrix: every pair of features runs and conserves, or is refused.

Each case of :mod:`composition` is a closed square (no condition on the species), so the
total hydrogen (mobile + trapped) may change only by the Newton tolerance. Tolerance
1e-10 relative: Newton's rtol is 1e-10 on residuals whose conservation rows sum to the
change of the total (the trap rows too), and the runs take 4 steps.
"""

from __future__ import annotations

import csv

from mpi4py import MPI

import pytest
from composition import REFUSED, case_of, pairs, to_toml

from femdiff.cli import main


def _write(tmp, pair) -> str:
    case = case_of(*pair)
    case["time"].update({"t_end": 40.0, "dt": 10.0})
    path = tmp / ("_".join(pair) + ".toml")
    if MPI.COMM_WORLD.rank == 0:
        path.write_text(to_toml(case))
    MPI.COMM_WORLD.Barrier()
    return str(path)


def test_every_pair_is_in_the_matrix():
    """A new feature must be added to REFUSED or run: the refused pairs are real pairs."""
    assert set(REFUSED) <= set(pairs())


@pytest.mark.mpi
@pytest.mark.parametrize("pair", pairs(), ids=lambda p: "+".join(p))
def test_pair_conserves_or_is_refused(pair, mpi_tmp_path, capsys):
    path = _write(mpi_tmp_path, pair)
    code = main(["-q", "check", path])
    err = capsys.readouterr().err.strip()
    if pair in REFUSED:
        assert code == 2
        if MPI.COMM_WORLD.rank == 0:  # (the one line is printed once)
            assert len(err.splitlines()) == 1, err
            assert f": {REFUSED[pair]}: " in err, err
        return
    assert code == 0, err
    out = mpi_tmp_path / ("out_" + "_".join(pair))
    assert main(["-q", "run", path, "-o", str(out)]) == 0, capsys.readouterr().err
    with open(out / "series.csv") as f:
        rows = list(csv.DictReader(f))
    column = "total" if "total" in rows[0] else "amount_H"
    first, last = float(rows[0][column]), float(rows[-1][column])
    assert len(rows) == 5
    assert abs(last - first) <= 1e-10 * abs(first), (column, first, last)
