"""The case package: models declare what the generic validator needs, and what
validation builds is what the simulation uses."""

from pathlib import Path

from mpi4py import MPI

import pytest

from femdiff import case
from femdiff.numerics.timestepping import Adaptive, TimeControl

CASES = Path(__file__).resolve().parent.parent / "cases"


class _Stationary:
    """A minimal model plug-in: no [time] section."""

    time_dependent = False

    def validate(self, raw, data, ctx):
        data["physics"] = case.schema.table(raw.get("physics", {}), {"model": case.Key(
            "string")}, "physics", ctx)
        return "built"

    def build(self, case_, domain):
        raise AssertionError("not built in this test")


@pytest.fixture
def stationary_model():
    case.register_model("stationary_test", _Stationary())
    yield
    del case.MODELS["stationary_test"]


def test_time_section_follows_the_models_declaration(stationary_model, tmp_path):
    path = tmp_path / "c.toml"
    text = ('[geometry]\nbuilder = "interval"\nparams = { n = 4 }\n\n'
            '[physics]\nmodel = "stationary_test"\n')
    path.write_text(text)
    c = case.load(path)
    assert c.setup == "built" and c.time is None
    path.write_text(text + "\n[time]\nt_end = 1.0\ndt = 0.1\n")
    with pytest.raises(case.CaseError, match=r"time: model 'stationary_test' is stationary"):
        case.load(path)
    diffusion = {"geometry": {"builder": "interval", "params": {"n": 4}},
                 "physics": {"terms": [{"type": "ideal", "T": 300.0}],
                             "mobility": {"type": "linear", "M0": 1.0}},
                 "species": [{"name": "H", "initial": 1.0}]}
    with pytest.raises(case.CaseError, match=r"time: missing required section \[time\]"):
        case.validate(diffusion, "inline.toml", tmp_path)


def test_validation_builds_the_time_objects_once():
    c = case.load(CASES / "spinodal.toml")
    assert isinstance(c.time.control, TimeControl) and isinstance(c.time.adaptive, Adaptive)
    assert c.time.control.dt == c.data["time"]["dt"]
    assert c.time.adaptive.tol == c.data["time"]["adaptive"]["tol"]


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("name, override", [
    ("quickstart.toml", "geometry.params.nx=4"),
    ("onsager_drag.toml", "geometry.params.n=8"),
])
def test_the_simulation_uses_the_validated_objects(name, override):
    """The built problem holds the very objects validation made (nothing built twice)."""
    c = case.load(CASES / name, [override])
    sim = c.build(MPI.COMM_WORLD)
    assert sim.problem.time is c.time.control
    if isinstance(c.setup, case.DiffusionSetup):
        assert sim.problem.mobility is c.setup.mobility
    else:
        assert sim.problem.transport is c.setup.transport
        assert sim.problem.model is c.setup.mixture  # no stress term: no rebinding



@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("builder, params", [
    ("interval", {"n": 2}), ("rectangle", {"nx": 2, "ny": 2}),
    ("rectangle", {"nx": 2, "ny": 2, "cell": "quadrilateral"}),
    ("structured_box", {"nx": 1, "ny": 1, "nz": 1}),
])
def test_structured_names_are_the_built_ones(builder, params, tmp_path):
    """The names validation knows for the structured meshes are the built ones."""
    ctx = case.Context("c.toml")
    g = case.geometry.validate_geometry({"builder": builder, "params": params}, ctx, tmp_path)
    domain = case.build_domain(case.Case(tmp_path / "c.toml", {"geometry": g}, ctx.boundaries,
                                         ctx.gdim), MPI.COMM_WORLD)
    assert ctx.gdim == domain.tdim
    assert sorted(ctx.boundaries) == domain.boundary_names
    assert ctx.volumes == domain.volume_names == []
    if "cell" in params:
        assert domain.mesh.topology.cell_name() == params["cell"]
