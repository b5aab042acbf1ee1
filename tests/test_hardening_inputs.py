"""Regression tests for issue 25 (hardening), items 6–9 and 11–16: inputs that were ignored,
tracebacks, and messages without a key.

Most defects are checked with ``femdiff check`` on a shipped case changed by ``--set``
(nothing is meshed): exit code 2 and one line naming the file, the key path and what is
allowed. The few that can only show on a mesh (a folding transform, a negative boundary
temperature) build just the mesh or the temperature solve.
"""

import copy
import math
import tomllib
from pathlib import Path

from mpi4py import MPI

import numpy as np
import pytest

from femdiff import case as fcase
from femdiff.cli import main
from femdiff.numerics import solvers
from femdiff.numerics.timestepping import TimeControl

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "cases"


def _check(capsys, case: str, *sets: str) -> tuple[int, str]:
    """``femdiff check cases/<case>.toml --set ...``: (exit code, stdout + stderr)."""
    args = ["check", str(CASES / f"{case}.toml")]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    out = capsys.readouterr()
    return code, out.out + out.err


def _raw(case: str) -> dict:
    return tomllib.loads((CASES / f"{case}.toml").read_text())


def _validate(raw: dict) -> fcase.Case:
    return fcase.validate(raw, "inline.toml", CASES)


# (id, case, --set overrides, the key path, a part of the message)
BAD = [
    # 6. traps in a multicomponent case
    ("6-traps-multicomponent", "darken_couple",
     ['traps=[{type = "oriani", density = 1.0, binding_energy = 3.0e4}]'],
     "traps", "model 'multicomponent' takes no [traps]: traps are not supported"),
    # 7. [thermal] T next to materials.T (one temperature, given once)
    ("7-thermal-T-twice", "darken_couple", ["thermal={T = 1000.0}"],
     "thermal.T", "given twice (materials.T and thermal.T)"),
    ("7-thermal-formula", "onsager_drag", ['thermal={T = "1000 + x"}'],
     "thermal.T", "one uniform temperature"),
    ("7-thermal-solve", "onsager_drag", ['thermal={solve = "steady"}'],
     "thermal.solve", "model 'multicomponent' reads only T from [thermal]"),
    # 8. mobilities without every species
    ("8-mobilities-missing", "darken_couple",
     ['physics.transport={type = "mobilities", M = {C = 1e-12, Si = 1e-15}}'],
     "physics.transport.M", "missing the mobility of 'Fe'"),
    # 9. accepted without a word
    ("9-trap-density-above-NL", "tds", ["physics.n_sites=1.0e5", "traps.0.density=1.0e6",
                                        "traps.0.initial=0.0"],
     "traps[0].density", "above the lattice site density N_L = 100000"),
    ("9-mobility-n_sites-differs", "quickstart",
     ['physics.terms=[{type = "lattice_saturation", n_sites = 1.0e5}]',
      'physics.mobility={type = "lattice", D = 1e-9, n_sites = 2.0e5}'],
     "physics.mobility.n_sites", "differs from physics.terms[0].n_sites = 100000"),
    ("9-physics-n_sites-differs", "tds",
     ['physics.terms=[{type = "lattice_saturation", n_sites = 1.0e5}]',
      "physics.n_sites=3.0e5"],
     "physics.n_sites", "differs from physics.terms[0].n_sites"),
    ("9-duplicate-mechanics-bc", "mechanics_rod",
     ['mechanics.boundary=[{name = "left", type = "fixed"}, {name = "left", type = "fixed"}]'],
     "mechanics.boundary[1]", "given twice (also mechanics.boundary[0])"),
    ("9-duplicate-pressure", "mechanics_rod",
     ['mechanics.boundary=[{name = "left", type = "fixed"}, {name = "surface", type = '
      '"pressure", value = 1e6}, {name = "surface", type = "pressure", value = 2e6}]'],
     "mechanics.boundary[2]", "'pressure' condition on 'surface' is given twice"),
    ("9-fixed-and-displacement", "mechanics_rod",
     ['mechanics.boundary=[{name = "left", type = "fixed"}, {name = "left", type = '
      '"displacement", components = {x = 0.0}}]'],
     "mechanics.boundary[1]", "prescribed twice"),
    ("9-displacement-component-twice", "mechanics_rod",
     ['mechanics.boundary=[{name = "left", type = "displacement", components = {x = 0.0}}, '
      '{name = "left", type = "displacement", components = {x = 1e-6, y = 0.0}}]'],
     "mechanics.boundary[1].components.x", "given twice"),
    ("9-heating-rate-runaway", "tds", ["thermal.heating_rate=1e9"],
     "thermal.heating_rate", "reaches 1.44e+12 K at t_end"),
    ("9-steps-1e18", "quickstart", ["time.t_end=1e9", "time.dt=1e-9", "time.growth=1.0"],
     "time.dt", "about 1e+18 steps"),
    # 9. a key the model does not use (the generic rule; more in the tests below)
    ("9-n_sites-without-traps", "quickstart", ["physics.n_sites=1.0e5"],
     "physics.n_sites", "is for [[traps]]"),
    ("9-trap_initial-without-traps", "quickstart", ['physics.trap_initial="equilibrium"'],
     "physics.trap_initial", "is for [[traps]]"),
    ("9-materials-E-without-mechanics", "quickstart", ["materials.E=2e11"],
     "materials.E", "is not used by model 'diffusion'"),
    ("9-materials-T-in-mechanics", "mechanics_rod", ["materials.T=300.0"],
     "materials.T", "is not used by model 'mechanics'"),
    ("9-materials-omega-multicomponent", "darken_couple", ["materials.omega=1e-6"],
     "materials.omega", "is not used by model 'multicomponent'"),
    ("9-materials-T-all-given", "quickstart",
     ['physics.terms=[{type = "ideal", T = 350.0}]',
      'physics.mobility={type = "einstein", D = 1e-9, T = 350.0}'],
     "materials.T", "no part of it takes materials.T"),
    ("9-materials-T-read-by-traps", "tds", ["materials.T=400.0"],
     None, None),  # the rate laws of the traps read it: valid
    ("9-c_ref-without-two_way", "stressed_rod", ["mechanics.c_ref=1.0"],
     "mechanics.c_ref", "without it, it is not used"),
    ("9-c_ref-missing-two_way", "stressed_rod",
     ["mechanics.two_way=true", 'species.0.initial="1 + x"'],
     "mechanics.c_ref", "missing required value"),
    ("9-solver-linear-multicomponent", "darken_couple", ['solver.linear="lu"'],
     "solver.linear", "read by model 'diffusion' only"),
    ("9-checkpoint-in-mechanics", "mechanics_rod", ["checkpoint.keep=3"],
     "checkpoint", "model 'mechanics' takes no [checkpoint]"),
    ("9-solver-in-mechanics", "mechanics_rod", ['solver.petsc_options={ksp_rtol = 1e-9}'],
     "solver", "model 'mechanics' takes no [solver]"),
    ("9-thermal-T-in-mechanics", "mechanics_rod", ["thermal.T=500.0"],
     "thermal.T", "only for a thermal strain"),
    ("9-species-in-mechanics", "mechanics_rod", ['species=[{name = "H", initial = 1.0}]'],
     "species", "model 'mechanics' takes no [species]"),
    # 11. NaN/inf in mechanics values and interaction potentials
    ("11-pressure-nan", "mechanics_rod", ["mechanics.boundary.1.value=nan"],
     "mechanics.boundary[1].value", "must be a finite number"),
    ("11-pressure-formula-inf", "mechanics_rod", ['mechanics.boundary.1.value="1/0*x"'],
     "mechanics.boundary[1].value", "not a finite real number at any point"),
    ("11-traction-inf", "mechanics_rod",
     ['mechanics.boundary=[{name = "left", type = "fixed"}, {name = "right", type = '
      '"traction", value = [inf, 0.0, 0.0]}]'],
     "mechanics.boundary[1].value[0]", "must be a finite number"),
    ("11-displacement-nan", "mechanics_rod",
     ['mechanics.boundary=[{name = "left", type = "displacement", components = '
      '{x = nan, y = 0.0, z = 0.0}}]'],
     "mechanics.boundary[0].components.x", "must be a finite number"),
    ("11-displacement-overflow", "mechanics_rod",
     ['mechanics.boundary=[{name = "left", type = "displacement", components = '
      '{x = "1e400*y", y = 0.0, z = 0.0}}]'],
     "mechanics.boundary[0].components.x", "is not finite (it overflows a double)"),
    ("11-k_field-tip-inf", "crack_tip", ["mechanics.boundary.0.tip=[inf, 0.0]"],
     "mechanics.boundary[0].tip", "must be finite numbers"),
    ("11-interaction-inf", "quickstart",
     ['physics.terms=[{type = "ideal"}, {type = "interaction", potential = inf}]'],
     "physics.terms[1].potential", "must be a finite number"),
    ("11-interaction-nan-formula", "quickstart",
     ['physics.terms=[{type = "ideal"}, {type = "interaction", potential = "ln(-1-x*x)"}]'],
     "physics.terms[1].potential", "not a finite real number at any point"),
    # 12. femdiff_schur outside the Cahn–Hilliard fieldsplit
    ("12-schur-not-cahn-hilliard", "quickstart",
     ['solver.petsc_options={femdiff_schur = "bksw"}'],
     "solver.petsc_options.femdiff_schur", "is for Cahn–Hilliard"),
    ("12-schur-without-iterative", "spinodal",
     ['solver.petsc_options={femdiff_schur = "bksw"}'],
     "solver.petsc_options.femdiff_schur", 'set solver.linear = "iterative"'),
    ("12-schur-multicomponent", "darken_couple",
     ['solver.petsc_options={femdiff_schur = "bksw"}'],
     "solver.petsc_options.femdiff_schur", "not model 'multicomponent'"),
    # 13. max_retries < 0
    ("13-max_retries", "quickstart", ["time.max_retries=-1"],
     "time.max_retries", "must be an integer ≥ 0"),
    # 14. PETSc option values
    ("14-rtol-string", "quickstart", ['solver.petsc_options={snes_rtol = "abc"}'],
     "solver.petsc_options.snes_rtol", "must be a tolerance ≥ 0, got 'abc'"),
    ("14-max_it-negative", "quickstart", ["solver.petsc_options={snes_max_it = -5}"],
     "solver.petsc_options.snes_max_it", "must be an integer ≥ 0, got -5"),
    ("14-pc_type-number", "quickstart", ["solver.petsc_options={pc_type = 3}"],
     "solver.petsc_options.pc_type", "must be a type name (a string), got 3"),
    ("14-mechanics-ksp_rtol", "mechanics_rod", ['mechanics.petsc_options={ksp_rtol = "x"}'],
     "mechanics.petsc_options.ksp_rtol", "must be a tolerance ≥ 0"),
    ("14-mumps-icntl", "quickstart", ['solver.petsc_options={mat_mumps_icntl_14 = "lots"}'],
     "solver.petsc_options.mat_mumps_icntl_14", "must be an integer (a MUMPS ICNTL value)"),
    ("14-mumps-cntl", "quickstart", ['solver.petsc_options={mat_mumps_cntl_1 = "high"}'],
     "solver.petsc_options.mat_mumps_cntl_1", "must be a number (a MUMPS CNTL value)"),
    ("14-max_it-fraction", "quickstart", ["solver.petsc_options={ksp_max_it = 2.5}"],
     "solver.petsc_options.ksp_max_it", "must be an integer ≥ 0"),
    # 15. messages without a key
    ("15-negative-heating-rate", "tds", ["thermal.heating_rate=-1.0"],
     "thermal.heating_rate", "reaches 0 K at t − t0 = 300 s"),
    ("15-complex-formula", "quickstart", ['species.0.initial="sqrt(-1)"'],
     "species[0].initial", "not a finite real number at any point"),
    ("15-complex-boundary", "quickstart", ['boundary.1.value="sqrt(-1-x*x)"'],
     "boundary[1].value", "not a finite real number at any point"),
    ("15-two-way-iterative", "stressed_rod",
     ["mechanics.two_way=true", 'solver.linear="iterative"'],
     "solver.linear", "two-way mechanics solves (C, μ, u) together with LU only"),
    # 16. what the geometry builder refuses, found before meshing
    ("16-hole-larger-than-plate", "mechanics_rod",
     ['geometry={builder = "plate_with_hole", params = {width = 1.0, height = 1.0, '
      'radius = 2.0}}', 'mechanics.boundary=[{name = "left", type = "fixed"}]',
      "output.profiles=[]"],
     "geometry.params.radius", "hole radius 2.0 must be smaller than the plate"),
    ("16-tiny-h", "mechanics_rod", ["geometry.h=1e-8"],
     "geometry.h", "more than the limit of 5,000,000"),
]


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("case, sets, key, part", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_naming_the_key(case, sets, key, part, capsys):
    code, text = _check(capsys, case, *sets)
    if key is None:  # a look-alike that is valid
        assert code == 0, text
        return
    assert code == 2, text
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == 1, text
    assert lines[0].startswith(f"femdiff: error: {CASES / case}.toml: {key}: "), lines[0]
    assert part in lines[0], lines[0]


@pytest.mark.skip_in_parallel
def test_valid_neighbours_still_pass(capsys):
    """The rules refuse what is ignored or impossible, not its valid neighbours."""
    ok = [
        # one N_L, given consistently twice; N_T ≤ N_L
        ("tds", ['physics.terms=[{type = "lattice_saturation", n_sites = 1.0e5}]',
                 "physics.n_sites=1.0e5"]),
        # a cooling ramp that stays above 0 K; a long but finite run
        ("tds", ["thermal.heating_rate=-0.1"]),
        # a roller on two faces: x on one entry, y on another
        ("mechanics_rod", ['mechanics.boundary=[{name = "left", type = "displacement", '
                           'components = {x = 0.0}}, {name = "left", type = "displacement", '
                           'components = {y = 0.0, z = 0.0}}]']),
        # femdiff_schur where it belongs: Cahn–Hilliard, the iterative solver
        ("spinodal", ['solver.linear="iterative"',
                      'solver.petsc_options={femdiff_schur = "bksw"}']),
        # numbers as PETSc reads them: numeric strings, -2 for a lag, MUMPS controls
        ("quickstart", ['solver.petsc_options={snes_rtol = "1e-8", snes_lag_jacobian = -2, '
                        'mat_mumps_icntl_14 = 80, mat_mumps_cntl_1 = 0.01}']),
        # a formula singular somewhere (its domain is unknown before meshing)
        ("quickstart", ['boundary.1.value="1e-7/(1 + x)"']),
        # a uniform [thermal] T in a multicomponent case without materials.T (test below)
        ("onsager_drag", []),
    ]
    for case, sets in ok:
        code, text = _check(capsys, case, *sets)
        assert code == 0, (case, sets, text)


@pytest.mark.skip_in_parallel
def test_a_long_run_is_a_warning_naming_the_key(capsys):
    code, text = _check(capsys, "quickstart", "time.t_end=2e7", "time.dt=5.0",
                        "time.growth=1.0", "time.dt_max=5.0")
    assert code == 0, text
    assert "quickstart.toml: time.dt: about 4e+06 time steps" in text


def test_api_refuses_the_same_values():
    """The Python API checks what the case files check (items 13, 14)."""
    with pytest.raises(ValueError, match="max_retries must be an integer ≥ 0"):
        TimeControl(dt=1.0, max_retries=-1)
    for key, value, part in [("snes_rtol", "abc", "tolerance"), ("ksp_max_it", -5, "≥ 0"),
                             ("fieldsplit_c_pc_type", 3, "type name"),
                             ("mat_mumps_icntl_14", "lots", "ICNTL")]:
        with pytest.raises(ValueError, match=f"PETSc option {key} must be .*{part}"):
            solvers.validate_options({key: value})
    solvers.validate_options({"ksp_monitor": None, "snes_converged_reason": True,
                              "ksp_rtol": 1e-9, "pc_gamg_threshold": -1.0})


@pytest.mark.skip_in_parallel
def test_femdiff_schur_in_the_api_names_the_option():
    """Item 12 in the API: an IndexError in preconditioners.py before the fix."""
    from femdiff.geometry import mesh
    from femdiff.models import thermodynamics
    from femdiff.problems.diffusion import DiffusionProblem

    domain = mesh.interval(8, comm=MPI.COMM_WORLD)
    problem = DiffusionProblem(
        domain, thermodynamics.ChemicalPotential([thermodynamics.Ideal(300.0)]),
        thermodynamics.Mobility.from_diffusivity(1e-9, 300.0), initial=1.0,
        time=TimeControl(dt=1.0), solver="iterative",
        petsc_options={"femdiff_schur": "bksw"})
    with pytest.raises(solvers.OptionError, match="femdiff_schur is the BKSW"):
        problem.initialise()


# --- the generic rule: every section a model accepts is read --------------------------------

#: a base case per model, and a section table each model may be given
BASES = {"diffusion": "quickstart", "multicomponent": "darken_couple",
         "mechanics": "mechanics_rod"}
SECTION_SAMPLES = {
    "species": [{"name": "H", "initial": 1.0}],
    "boundary": [{"name": "left", "type": "no_flux"}],
    "traps": [{"type": "oriani", "density": 1.0, "binding_energy": 3.0e4}],
    "mechanics": {"boundary": [{"name": "left", "type": "fixed"}]},
    "thermal": {"T": 400.0},
    "solver": {"petsc_options": {"ksp_rtol": 1e-9}},
    "checkpoint": {"every_steps": 3},
}


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("model", list(BASES))
@pytest.mark.parametrize("section", list(SECTION_SAMPLES))
def test_a_section_the_model_does_not_read_is_refused(model, section):
    """For each model and section: the model declares it read, or check refuses it."""
    m = fcase.MODELS[model]
    raw = _raw(BASES[model])
    if section in raw:
        assert section in m.sections
        return
    raw[section] = copy.deepcopy(SECTION_SAMPLES[section])
    if section not in m.sections:
        with pytest.raises(fcase.CaseError, match=rf"{section}: model {model!r} takes no"):
            _validate(raw)


MATERIAL_SAMPLES = {"T": 350.0, "units": "atomic", "E": 2.0e11, "nu": 0.3,
                    "elastic_model": "plane_strain", "omega": 2.0e-6}


def test_material_samples_cover_the_schema():
    assert set(MATERIAL_SAMPLES) == set(fcase.loader.MATERIALS)


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("model", list(BASES))
@pytest.mark.parametrize("key", list(MATERIAL_SAMPLES))
def test_a_materials_key_is_read_or_refused(model, key):
    """A [materials] key the model's validation never reads is refused, naming it."""
    raw = _raw(BASES[model])
    given = key in raw.get("materials", {})
    raw.setdefault("materials", {})[key] = MATERIAL_SAMPLES[key]
    try:
        _validate(raw)
    except fcase.CaseError as exc:
        if exc.key == f"materials.{key}":
            # unused, or meaningless here (a planar elastic model on a 3D mesh)
            assert "is not used by model" in exc.message or "a 2D model" in exc.message \
                or given
            return
        # another key's complaint about the sample (atomic units, say): the key was read
        assert key == "units", str(exc)
        return
    # accepted: it reaches an object the model builds (checked by value below)
    assert (model, key) in READ, f"materials.{key} accepted by {model!r} but not listed"


#: the [materials] keys each base case reads (a change of them changes the case)
READ = {("diffusion", "T"), ("diffusion", "units"), ("multicomponent", "T"),
        ("multicomponent", "units"), ("mechanics", "E"), ("mechanics", "nu"),
        ("mechanics", "elastic_model")}


def _setup_repr(case: fcase.Case) -> str:
    return repr(case.setup)


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("model, key", sorted(READ))
def test_a_materials_key_that_is_read_changes_the_case(model, key):
    """The keys accepted above change what validation builds (the μ terms, the transport,
    the elastic material)."""
    raw = _raw(BASES[model])
    raw.setdefault("materials", {})
    base = _setup_repr(_validate(raw))
    other = copy.deepcopy(raw)
    sample = {"T": 350.0, "units": "atomic", "E": 1.0e11, "nu": 0.25,
              "elastic_model": "plane_stress"}[key]
    other["materials"][key] = sample
    if key == "elastic_model":  # (mechanics_rod is 3D: planar models are refused there)
        other["geometry"] = {"builder": "box", "params": {"lx": 0.01, "ly": 0.001},
                             "h": 0.0005}
        other["mechanics"]["boundary"] = [{"name": "left", "type": "fixed"}]
        other["output"] = {}
        raw = copy.deepcopy(other)
        raw["materials"][key] = "plane_strain"
        base = _setup_repr(_validate(raw))
    assert _setup_repr(_validate(other)) != base


# --- item 7: a uniform [thermal] T in a multicomponent case is materials.T ------------------


def _drag_small(**changes) -> dict:
    """onsager_drag, small, with a constant L: μ̃ = RT ln(X_i/X_S) then carries T into J
    (the case's L ∝ 1/(RT) cancels it)."""
    raw = _raw("onsager_drag")
    raw["geometry"]["params"]["n"] = 40
    raw["physics"]["transport"]["L"] = {"A-A": 1e-5, "B-B": 1e-5, "A-B": 0.8e-5}
    raw["time"].update(t_end=2.0, dt=0.5)
    raw["output"] = {"fields": "none", "png": False}
    raw.pop("checkpoint", None)
    for section, table in changes.items():
        if table is None:
            raw.pop(section, None)
        else:
            raw[section] = table
    return raw


def _drag_result(raw: dict) -> np.ndarray:
    case = _validate(raw)
    sim = case.build(MPI.COMM_WORLD)
    sim.problem.run(case.data["time"]["t_end"])
    return np.concatenate([sim.problem.X[s].x.array for s in ("A", "B")])


@pytest.mark.skip_in_parallel
def test_multicomponent_thermal_T_acts_as_materials_T():
    """[thermal] T = 1000 gives the result of materials.T = 1000 (bit for bit: the same
    temperature reaches the same objects), and another T changes it."""
    with_materials = _drag_result(_drag_small())
    with_thermal = _drag_result(_drag_small(materials=None, thermal={"T": 1000.0}))
    hotter = _drag_result(_drag_small(materials=None, thermal={"T": 1500.0}))
    np.testing.assert_array_equal(with_thermal, with_materials)
    # J = −L ∇μ̃ with μ̃ ∝ RT: 1.5 times faster, a visible change after four steps
    assert np.max(np.abs(hotter - with_materials)) > 1e-4


# --- items 15 and 16 on a mesh ---------------------------------------------------------------


@pytest.mark.mpi
def test_a_folding_transform_names_the_key():
    raw = _raw("quickstart")
    raw["geometry"]["transform"] = {"x": "0*x"}
    case = _validate(raw)  # not refused before meshing: the map is known on the nodes only
    with pytest.raises(fcase.CaseError, match=r"geometry.transform: collapses or folds 256 "
                       r"of 256 cells"):
        fcase.build_domain(case, MPI.COMM_WORLD)
    raw["geometry"]["transform"] = {"x": "-x", "y": "y + 0.1*x"}  # mirrored and sheared
    domain = fcase.build_domain(_validate(raw), MPI.COMM_WORLD)
    assert domain.mesh.geometry.x[:, 0].max() <= 0.0


@pytest.mark.skip_in_parallel
def test_negative_boundary_temperature_names_the_key():
    from femdiff.case.thermal import temperature_field

    raw = _raw("hot_pipe_wall")
    raw["geometry"]["h"] = 0.001
    raw["thermal"]["boundary"][0]["value"] = "600 - 1e6*y"
    case = _validate(raw)
    domain = fcase.build_domain(case, MPI.COMM_WORLD)
    with pytest.raises(fcase.CaseError, match=r"inline.toml: thermal.boundary\[0\].value: "
                       r"FixedTemperature on 'left': negative temperature"):
        temperature_field(case.data["thermal"], case.data["material_list"], domain,
                          "inline.toml")


def test_an_output_file_that_is_a_folder_is_named(tmp_path):
    """Item 15: the error named atomic_write's temporary file, not the user's file."""
    from femdiff import io as fio

    (tmp_path / "series.csv").mkdir()
    with pytest.raises(fio.OutputError) as info:
        fio.on_root(MPI.COMM_WORLD, lambda: fio.atomic_write(tmp_path / "series.csv", "t\n"),
                    tmp_path / "series.csv")
    assert f"could not write {str(tmp_path / 'series.csv')!r}" in str(info.value)
    assert ".tmp" not in str(info.value) and "a folder has the file's name" in str(info.value)


def test_geometry_estimate_meshes_nothing():
    """Item 16: the dry run returns the estimate and leaves no mesh (Gmsh cleared)."""
    import gmsh

    from femdiff import geometry

    cells = geometry.estimate("plate_with_hole", h=0.05)
    assert 300 < cells < 3000  # ~ area / (√3/4 h²) plus the refinement at the hole
    assert not gmsh.isInitialized()
    with pytest.raises(ValueError, match="hole radius 2"):
        geometry.estimate("plate_with_hole", radius=2.0)
    assert math.isfinite(geometry.estimate("rod", length=1.0, radius=0.1, h=0.05))


# --- the generic rule, run: every key a model accepts changes the result -------------------
#
# For each model and each key of the sections it reads (the schema tables, enumerated, so
# a new key must be given a sample here), the key is set on a small base case: either
# `femdiff check` refuses it (at the key or its section: it is unused, or needs other
# input), or the run changes bit for bit (fields, columns, solver description). A key that
# is accepted and ignored leaves a deterministic run bit-identical. [time], [output] and
# [checkpoint] are left out: the same for every time-dependent model, and their keys act on
# failures (shrink, max_retries), outputs or restarts, not on a short run's result.


def _small_bases() -> dict[str, dict]:
    quick = _raw("quickstart")
    quick["geometry"]["params"].update(nx=4, ny=2)
    quick["time"] = {"t_end": 10.0, "dt": 5.0, "scheme": "bdf2"}
    quick["output"] = {"fields": "none", "png": False}
    quick.pop("checkpoint")
    quick["thermal"] = {"T": 300.0}  # so that the other [thermal] keys meet a T
    mech = {"geometry": {"builder": "rectangle", "params": {"nx": 4, "ny": 2, "lx": 1e-3,
                                                            "ly": 0.5e-3}},
            "materials": {"T": 300.0, "E": 2e11, "nu": 0.3, "omega": 2e-6,
                          "elastic_model": "plane_strain"},
            "physics": {"terms": [{"type": "ideal"}, {"type": "stress"}],
                        "mobility": {"type": "einstein", "D": 1e-9}},
            "species": [{"name": "H", "initial": "1 + 1000*x"}],
            "mechanics": {"boundary": [{"name": "left", "type": "fixed"},
                                       {"name": "right", "type": "traction",
                                        "value": [1e8, 0.0]}]},
            "time": {"t_end": 10.0, "dt": 5.0},
            "output": {"fields": "none", "png": False}}
    solid = {"geometry": mech["geometry"], "physics": {"model": "mechanics"},
             "materials": {"E": 1.5e11, "nu": 0.28, "elastic_model": "plane_stress"},
             "mechanics": copy.deepcopy(mech["mechanics"]),
             "output": {"fields": "none", "png": False}}
    drag = _drag_small()
    drag["boundary"] = [{"name": "left", "type": "concentration", "species": "A",
                         "value": 0.2}]
    return {"diffusion": quick, "diffusion+mechanics": mech, "multicomponent": drag,
            "mechanics": solid}


#: (section, key) -> a valid value other than the base's ("species"/"boundary": entry 0)
KEY_SAMPLES = {
    **{("materials", k): v for k, v in MATERIAL_SAMPLES.items()},
    ("physics", "terms"): [{"type": "ideal"}, {"type": "interaction",
                                               "potential": "1000*x/1e-3"}],
    ("physics", "mobility"): {"type": "einstein", "D": 2e-9},
    ("physics", "degree"): 2, ("physics", "lumped"): False,
    ("physics", "energy_stable"): True, ("physics", "n_sites"): 1e5,
    ("physics", "trap_initial"): "equilibrium", ("physics", "source"): "1e-3*(1 + t)",
    ("physics", "species"): ["A", "B", "V"], ("physics", "lattice"): False,
    ("physics", "thermodynamics"): {"type": "regular_solution", "omega": {"A-B": 1000.0}},
    ("physics", "transport"): {"type": "matrix", "L": {"A-A": 2e-5, "B-B": 1e-5}},
    ("species", "name"): "D", ("species", "initial"): "0.2 + 0.1*x/1e-3",
    ("species", "concentration_scale"): 3.0,
    ("boundary", "name"): "top", ("boundary", "type"): "potential",
    ("boundary", "value"): 3.0, ("boundary", "species"): "H",
    ("mechanics", "degree"): 2, ("mechanics", "solver"): "lu",
    ("mechanics", "sigma_h"): "CG",
    ("mechanics", "petsc_options"): {"ksp_type": "gmres", "pc_type": "jacobi",
                                     "ksp_rtol": 1e-6},
    ("mechanics", "boundary"): [{"name": "left", "type": "fixed"},
                                {"name": "right", "type": "traction", "value": [2e8, 0.0]}],
    ("mechanics", "two_way"): True, ("mechanics", "c_ref"): 1.0,
    ("mechanics", "elastic_model"): "plane_strain", ("mechanics", "T_ref"): 400.0,
    ("mechanics", "mean_strain"): [[1e-3, 0.0], [0.0, 0.0]],
    ("mechanics", "effective_stiffness"): True,
    ("thermal", "T"): 350.0, ("thermal", "heat_of_transport"): 5e3,
    ("thermal", "heating_rate"): 0.1, ("thermal", "solve"): "steady",
    ("thermal", "boundary"): [{"name": "left", "type": "temperature", "value": 300.0}],
    ("thermal", "source"): 1.0, ("thermal", "initial"): 300.0, ("thermal", "dt"): 1.0,
    ("thermal", "t_end"): 10.0, ("thermal", "degree"): 2, ("thermal", "solver"): "lu",
    ("solver", "linear"): "iterative", ("solver", "petsc_options"): {"snes_rtol": 1e-12},
}


def _schema(model: str) -> dict[str, list[str]]:
    """The keys of the sections ``model`` reads, from the schema tables."""
    from femdiff.case import loader, mechanics, thermal

    m = fcase.MODELS[model]
    out = {"materials": list(loader.MATERIALS),
           "physics": [k for k in m.PHYSICS if k != "model"]}  # (model: the selector)
    if "species" in m.sections:
        out["species"] = list(m.SPECIES)
    if "boundary" in m.sections:
        out["boundary"] = list(m.BOUNDARY)
    if "mechanics" in m.sections:
        out["mechanics"] = list(mechanics.MECHANICS)
    if "thermal" in m.sections:
        out["thermal"] = list(getattr(m, "thermal_keys", None) or thermal.THERMAL)
    if "solver" in m.sections:
        out["solver"] = list(loader.SOLVER)
    return out


def _other_state(raw: dict) -> None:  # onsager_drag: A and B start elsewhere
    raw["species"][0]["initial"] = "0.3 + 0.01*x"


def _no_lattice(raw: dict) -> None:  # onsager_drag without a solvent: S independent
    raw["physics"]["lattice"] = False
    raw["species"].append({"name": "S", "initial": "1 - (0.3 + 0.2*tanh((x - 5.0)/0.5))"
                                                    " - 0.5*(1 - (0.3 + 0.2*tanh((x - 5.0)"
                                                    "/0.5)))/1.5"})
    raw["physics"]["transport"]["L"]["S-S"] = 1e-5


def _energy_stable(raw: dict) -> None:  # convex splitting is for backward Euler
    raw["physics"]["energy_stable"] = True
    raw["time"]["scheme"] = "backward_euler"


def _two_way(raw: dict) -> None:  # the initial state is a formula: c_ref is needed
    raw["mechanics"].update(two_way=True, c_ref=1.0)


def _thermal_T(raw: dict) -> None:  # one temperature: [thermal] T instead of materials.T
    del raw["materials"]["T"]
    raw["thermal"] = {"T": 1500.0}


def _bc(key: str, value: object) -> object:
    def patch(raw: dict) -> None:
        raw["boundary"][0][key] = value
    return patch


#: (base, section, key) -> a function changing the base where one value is not enough
PATCHES = {("multicomponent", "species", "initial"): _other_state,
           ("diffusion+mechanics", "mechanics", "two_way"): _two_way,
           ("multicomponent", "thermal", "T"): _thermal_T,
           ("multicomponent", "boundary", "value"): _bc("value", 0.25),
           ("multicomponent", "boundary", "species"): _bc("species", "B"),
           ("multicomponent", "boundary", "type"): _bc("type", "flux"),
           ("multicomponent", "boundary", "name"): _bc("name", "right"),
           ("multicomponent", "physics", "lattice"): _no_lattice,
           ("diffusion", "physics", "energy_stable"): _energy_stable}

# [mechanics] keys on the bases that have the section (the diffusion and mechanics
# models share validate_mechanics; a multicomponent σ_h is the same solve)
GENERIC = [(base, section, key)
           for base in ("diffusion", "diffusion+mechanics", "multicomponent", "mechanics")
           for section, keys in _schema(base.split("+")[0]).items() for key in keys
           if (section == "mechanics") == (base in ("diffusion+mechanics", "mechanics"))
           or (base == "mechanics" and section != "mechanics")]


def test_every_key_of_every_model_has_a_sample():
    missing = {(s, k) for _, s, k in GENERIC} - set(KEY_SAMPLES)
    assert not missing, f"give these keys a sample in KEY_SAMPLES: {sorted(missing)}"


def _fingerprint(raw: dict) -> tuple:
    from femdiff.cli import solver_lines

    case = _validate(raw)
    sim = case.build(MPI.COMM_WORLD)
    if sim.time_dependent:
        sim.problem.run(case.data["time"]["t_end"])
    sim.refresh()
    fields = [(f.name, f.x.array.copy()) for f in sim.fields()]
    return sim.columns(), solver_lines(sim), fields


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[1] == b[1] and len(a[2]) == len(b[2]) and all(
        n == m and x.shape == y.shape and np.array_equal(x, y)
        for (n, x), (m, y) in zip(a[2], b[2], strict=True))


_BASE_PRINTS: dict[str, tuple] = {}


@pytest.mark.slow
@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("base, section, key", GENERIC,
                         ids=[f"{b}-{s}.{k}" for b, s, k in GENERIC])
def test_every_accepted_key_changes_the_run(base, section, key):
    raw = _small_bases()[base]
    value = copy.deepcopy(KEY_SAMPLES[(section, key)])
    if (base, section, key) in PATCHES:
        PATCHES[(base, section, key)](raw)
    elif section in ("species", "boundary"):
        raw.setdefault(section, [{}])[0][key] = value
    else:
        raw.setdefault(section, {})[key] = value
    try:
        case = _validate(raw)
    except fcase.CaseError as exc:  # refused: at the key, or at its section (needs more)
        assert exc.key.split(".")[0].split("[")[0] == section, str(exc)
        return
    assert case is not None
    if base not in _BASE_PRINTS:
        _BASE_PRINTS[base] = _fingerprint(_small_bases()[base])
    assert not _same(_fingerprint(raw), _BASE_PRINTS[base]), \
        f"{section}.{key} = {value!r} is accepted by {base!r} and changes nothing"


@pytest.mark.skip_in_parallel
def test_api_mobilities_need_every_species():
    """Item 8 in the API: a species left out of Onsager.mobilities got M = 0 silently."""
    from femdiff.geometry import mesh
    from femdiff.problems.multicomponent import IdealMixing, Mixture, MulticomponentProblem, Onsager

    problem = MulticomponentProblem(
        mesh.interval(4, 1.0), ["A", "S"], Mixture([IdealMixing(1000.0)]),
        Onsager.mobilities({"A": 1.0}), initial={"A": 0.3}, time=TimeControl(dt=1.0))
    with pytest.raises(ValueError, match="needs M of every species; missing 'S'"):
        problem.initialise()
