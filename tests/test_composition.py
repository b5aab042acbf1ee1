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
    column = "amount_total" if "amount_total" in rows[0] else "amount_H"
    first, last = float(rows[0][column]), float(rows[-1][column])
    assert len(rows) == 5
    assert abs(last - first) <= 1e-10 * abs(first), (column, first, last)


@pytest.mark.mpi
def test_multicomponent_materials_and_temperature(mpi_tmp_path):
    """Multicomponent + two materials + a [thermal] temperature: each species' amount is
    conserved (closed couple, 1e-10 as above) and the run equals the one with the same T
    given to the thermodynamics (one temperature reaches the same terms)."""
    from test_multicomponent_materials import MC_CASE

    from femdiff.case import load

    results = []
    for physics, thermal in (("", "\n[thermal]\nT = 600.0\n"), ("", "")):
        text = MC_CASE.format(extra="", physics=physics) + thermal
        if thermal:  # T from [thermal] instead of the thermodynamics table
            text = text.replace('thermodynamics = { type = "ideal", T = 600.0 }',
                                'thermodynamics = { type = "ideal" }')
            assert "T = 600.0 }" not in text
        path = mpi_tmp_path / f"mc{len(results)}.toml"
        if MPI.COMM_WORLD.rank == 0:
            path.write_text(text)
        MPI.COMM_WORLD.Barrier()
        p = load(path).build(MPI.COMM_WORLD).problem
        amounts = {s: p.amount(s) for s in ("H", "T")}
        p.run(2.0)
        for s in ("H", "T"):
            assert p.amount(s) == pytest.approx(amounts[s], rel=1e-10)
        results.append(p.u.x.array.copy())
    # bit for bit on one rank; on two, the meshes of the two builds are distributed
    # independently and sums run in another order: round-off (1e-12 relative)
    scale = max(float(abs(results[0]).max()), 1.0)
    assert abs(results[0] - results[1]).max() <= 1e-12 * scale


@pytest.mark.mpi
def test_crack_tip_with_two_way_mechanics(mpi_tmp_path):
    """#25 item 10: the crack-tip case (lattice H with Oriani traps) with two-way
    mechanics ran into an AttributeError; it runs, and the total hydrogen changes only by
    what flows in through the outer boundary (the conservative flux, 1e-8 of the total
    per step: Newton's rtol with a margin)."""
    from pathlib import Path

    case = Path(__file__).resolve().parents[1] / "cases" / "crack_tip.toml"
    out = mpi_tmp_path / "ct"
    assert main(["-q", "run", str(case), "-o", str(out), "--set", "mechanics.two_way=true",
                 "--set", "geometry.params.grading=0.5", "--set", "time.t_end=10.0",
                 "--set", "output.times=[1.0]", "--set", "output.fields=\"none\""]) == 0
    with open(out / "series.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 3 and float(rows[-1]["t"]) == pytest.approx(10.0)
    for prev, row in zip(rows, rows[1:], strict=False):
        inflow = -float(row["flux_outer"]) * float(row["dt"])
        change = float(row["amount_total"]) - float(prev["amount_total"])
        assert abs(change - inflow) <= 1e-8 * float(row["amount_total"]), (row["t"], change, inflow)
