"""Self-consistency of benchmarks/pfhub_uploads.py (the PFHub 1a/1b upload data).

The module's numbers are copied from the PFHub meta files and the uploads' free-energy
files; these checks catch a mistyped or misplaced row: each entry cites where it comes
from, each stored pair of rows brackets its sample time, and F decreases between the
sample times, as the Cahn–Hilliard free energy must (F is a Lyapunov functional:
dF/dt = −∫ M |∇μ|² ≤ 0; PFHub benchmark 1 notebook).
"""

import importlib.util
import math
import re
from pathlib import Path

import pytest

_path = Path(__file__).parents[1] / "benchmarks" / "pfhub_uploads.py"
_spec = importlib.util.spec_from_file_location("pfhub_uploads", _path)
pu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pu)

SOURCE = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}:\S+")  # owner/repo@commit:path


@pytest.mark.parametrize("name", sorted(pu.UPLOADS))
def test_entry_cites_its_sources(name):
    u = pu.UPLOADS[name]
    assert u["benchmark"] in pu.BENCHMARKS
    assert u["meta"] == f"usnistgov/pfhub@{pu.PFHUB_COMMIT}:_data/simulations/{name}/meta.yaml"
    assert u["cores"] >= 1 and u["wall_time"] > 0 and u["sim_time"] > 0
    if u["samples"] or u["final_time"] is not None:
        assert u["data_source"] is not None and SOURCE.match(u["data_source"])
    else:
        # a series that is not stored here: say where it is, and why it is missing
        assert u["data_source"] is None and u["note"]


@pytest.mark.parametrize("name", sorted(k for k, u in pu.UPLOADS.items() if u["samples"]))
def test_samples_bracket_their_times_and_F_decreases(name):
    u = pu.UPLOADS[name]
    assert set(u["samples"]) <= set(pu.TIMES)
    # the series reaches a sample time iff a sample is stored for it
    assert set(u["samples"]) == {t for t in pu.TIMES if t <= u["final_time"]}
    previous_t1, previous_F = 0.0, math.inf
    for t in sorted(u["samples"]):
        (t0, f0), (t1, f1) = u["samples"][t]
        assert t0 <= t <= t1 <= u["final_time"]
        assert (t0 < t1) or (t0 == t1 == t and f0 == f1)
        assert previous_t1 <= t0  # consecutive rows of one series: times monotone
        F = pu.free_energy(name, t)
        assert min(f0, f1) <= F <= max(f0, f1)
        assert 0 < F < previous_F  # F(t) decreases (Lyapunov functional)
        previous_t1, previous_F = t1, F


@pytest.mark.parametrize("benchmark", sorted(pu.BENCHMARKS))
@pytest.mark.parametrize("t", pu.TIMES)
def test_spread_is_min_max_over_uploads_that_reach_t(benchmark, t):
    values = [pu.free_energy(k, t) for k, u in pu.uploads(benchmark).items()
              if t in u["samples"]]
    lo, hi = pu.spread(benchmark, t)
    if not values:
        assert math.isnan(lo) and math.isnan(hi)
        return
    assert lo <= hi
    assert (lo, hi) == (min(values), max(values))
    lo_x, hi_x = pu.spread(benchmark, t, exclude_codes=("PRISMS-PF",))
    assert math.isnan(lo_x) or lo <= lo_x <= hi_x <= hi


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="unknown benchmark"):
        pu.uploads("1c")
    with pytest.raises(ValueError, match="t must be one of"):
        pu.spread("1a", 500.0)
    with pytest.raises(KeyError, match="no F sample"):
        pu.free_energy("fenics_1a_ivan", 100.0)  # series only in a gist
