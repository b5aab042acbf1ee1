"""The numerics in one object: femdiff.numerics.settings.Settings."""

from __future__ import annotations

import numpy as np
import pytest

from femdiff.geometry import mesh
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Mobility
from femdiff.numerics.settings import Settings
from femdiff.numerics.timestepping import TimeControl
from femdiff.problems.diffusion import DiffusionProblem, FixedConcentration

T = 300.0


def _problem(**kwargs):
    d = mesh.interval(16)
    return DiffusionProblem(d, ChemicalPotential([Ideal(T)]), Mobility.from_diffusivity(1.0, T),
                            initial=1.0, bcs=[FixedConcentration("left", 2.0)],
                            time=TimeControl(dt=0.01), **kwargs)


def test_settings_equal_the_keywords():
    """Settings(...) and the same keywords pose the same problem: identical states."""
    numerics = {"degree": 2, "lumped": False, "formulation": "mixed", "solver": "lu"}
    a = _problem(settings=Settings(**numerics))
    b = _problem(**numerics)
    for p in (a, b):
        p.run(0.05)
    assert a.settings == b.settings
    np.testing.assert_array_equal(a.u.x.array, b.u.x.array)


def test_settings_and_keywords_clash():
    with pytest.raises(ValueError, match="give the numerics once: degree beside settings="):
        _problem(settings=Settings(), degree=2)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"degree": 3}, "degree must be 1 or 2"),
    ({"formulation": "fancy"}, "formulation must be one of"),
    ({"solver": "gpu"}, "solver must be one of"),
    ({"concentration_scale": -1.0}, "concentration_scale must be positive"),
])
def test_bad_settings_fail_before_any_mesh(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Settings(**kwargs)


def test_describe_lists_every_field():
    lines = Settings().describe()
    assert lines[0] == "degree = 1" and any(s.startswith("solver = ") for s in lines)
