"""The femdiff console script (subprocess-based: serial only)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import femdiff
from femdiff.cli import DEMO_DIR, main

FEMDIFF = Path(sys.executable).parent / "femdiff"


@pytest.mark.skip_in_parallel
def test_version_and_info():
    out = subprocess.run([str(FEMDIFF), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"femdiff {femdiff.__version__}"
    info = subprocess.run([str(FEMDIFF), "info"], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    for key in ("dolfinx", "petsc", "MPI", "mumps=yes", "hypre=", "gmsh"):
        assert key in info.stdout


@pytest.mark.skip_in_parallel
def test_mesh_command_writes_loadable_file(tmp_path, capsys):
    path = tmp_path / "rod.msh"
    assert main(["mesh", "rod", "-p", "length=0.01", "-p", "radius=0.001", "-p", "dim=2",
                 "-o", str(path)]) == 0
    from femdiff.geometry import mesh

    assert mesh.read(path).boundary_names == ["left", "right", "surface"]


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("argv, message", [
    (["mesh", "rod", "-p", "radius=-1", "-o", "x.msh"], "radius must be a positive number"),
    (["mesh", "rod", "-p", "radius", "-o", "x.msh"], "must be NAME=VALUE"),
    (["mesh", "cube", "-o", "x.msh"], "unknown geometry 'cube'"),
    (["demos", "nope"], "unknown demo 'nope'; available: "),
])
def test_errors_are_one_line_without_traceback(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_demos_listed(capsys):
    assert main(["demos"]) == 0
    assert "stressed_rod" in capsys.readouterr().out


# --- case files: validation messages -------------------------------------------------------

CASES = Path(__file__).resolve().parent.parent / "cases"
QUICK = (CASES / "quickstart.toml").read_text()
ROD = (CASES / "stressed_rod.toml").read_text()
DRAG = (CASES / "onsager_drag.toml").read_text()
PERIODIC = (CASES / "spinodal_periodic.toml").read_text()
DARKEN = (CASES / "darken_couple.toml").read_text()
LAMINATE = (CASES / "laminate_cell.toml").read_text()
_MS = "mean_strain = [[1.0e-3, 0.0], [0.0, 0.0]]"
_MECH_BC = '[[mechanics.boundary]]\nname = "{name}"\ntype = "{type}"\n{extra}\n[output]'
_BC = '[[boundary]]\nname = "left"\ntype = "{type}"\nvalue = 0.2\nspecies = "{species}"\n\n[time]'
_SOLVER = "[solver]\npetsc_options = {{ {} }}\n\n[checkpoint]"
_FEMDIFF_KEYS = "femdiff_refactor_krylov, femdiff_newton_kappa, femdiff_schur, femdiff_split"


def _check(tmp_path, text, capsys, name="case.toml"):
    path = tmp_path / name
    path.write_text(text)
    code = main(["check", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


BAD_INPUT = [
    # (base, old, new, expected message parts)
    (QUICK, "dt = 5.0", "dtt = 5.0",
     ["time.dtt: unknown key 'dtt'; allowed keys in [time]: t_end, dt, t0, scheme"]),
    (QUICK, "t_end = 200.0", 't_end = "200"',
     ["time.t_end: expected a number, got string '200'"]),
    (QUICK, "t_end = 200.0\n", "",
     ["time.t_end: missing required value (end time [s])"]),
    (QUICK, "T = 300.0", "T = -300.0",
     ["materials.T: must be a positive number (temperature [K]), got -300.0"]),
    (QUICK, 'name = "left"', 'name = "lft"',
     ["boundary[0].name: unknown boundary 'lft'; the geometry 'rectangle' has boundaries: "
      "left, right, bottom, top"]),
    (QUICK, 'type = "concentration"', 'type = "concentration"\nspecies = "D"',
     ["boundary[0].species: unknown species 'D'; declared species ([[species]] name): H"]),
    (QUICK, 'type = "concentration"', 'type = "dirichlet"',
     ["boundary[0].type: unknown value 'dirichlet'; allowed values: no_flux, concentration, "
      "potential, flux"]),
    (QUICK, "ly = 0.5e-3 }", 'ly = 0.5e-3, cell = "hexagon" }',
     ["geometry.params.cell: unknown value 'hexagon'; allowed values: triangle, quadrilateral"]),
    (QUICK, 'builder = "rectangle"', 'builder = "square"',
     ["geometry.builder: unknown builder 'square'; allowed values: rod, box,", "rectangle"]),
    (QUICK, '{ type = "ideal" }', '{ type = "idael" }',
     ["physics.terms[0].type: unknown type 'idael'; allowed values: ideal, stress,"]),
    (QUICK, "D = 1.0e-9", "D = -1.0e-9",
     ["physics.mobility.D: must be a positive number (diffusivity [m²/s]), got -1e-09"]),
    (QUICK, "cos(pi*x/1e-3)", "cos(pi*r/1e-3)",
     ["species[0].initial: unknown name 'r'", "allowed names: x, y, z, pi, e"]),
    (QUICK, "cos(pi*x/1e-3)", "cos(pi*z/1e-3)",
     ["species[0].initial: '1 + 0.5*cos(pi*z/1e-3)' uses coordinate z but the mesh is 2D"]),
    (QUICK, 'scheme = "bdf2"', 'scheme = "bdf3"',
     ["time.scheme: unknown value 'bdf3'; allowed values: backward_euler, bdf2, "
      "crank_nicolson"]),
    (QUICK, "every_steps = 4", "every_steps = 4.5",
     ["checkpoint.every_steps: expected an integer, got number 4.5"]),
    (QUICK, "[checkpoint]", "[checkpoints]",
     ["checkpoints: unknown section 'checkpoints'; allowed sections: case, geometry,"]),
    (QUICK, 'fields = "vtx"', 'fields = "vtk"',
     ["output.fields: unknown value 'vtk'; allowed values: vtx, xdmf, none"]),
    (QUICK, "times = [50.0, 100.0]", "times = [50.0, 300.0]",
     ["output.times[1]: must lie in (t0, t_end] = (0, 200], got 300.0"]),
    (QUICK, "dt = 5.0", "dt = 5.0.0", ["invalid TOML: ", "(at line "]),
    (ROD, "nu = 0.3", "nu = 0.7",
     ["materials.nu: Poisson's ratio nu must lie in (-1, 0.5), got 0.7"]),
    (ROD, "omega = 2.0e-6", "omega = 2.0e-29",
     ["physics.terms[1].omega: partial volume omega=2e-29 is implausible for molar units",
      "did you mean units='atomic'?"]),
    (ROD, 'name = "surface"', 'name = "lateral"',
     ["mechanics.boundary[1].name: unknown boundary 'lateral'; the geometry 'rod' has "
      "boundaries: left, right, surface"]),
    (ROD, "dim = 3 }", "dim = 3, radius2 = 1 }",
     ["geometry.params.radius2: unknown parameter 'radius2' of builder 'rod'; allowed keys: "
      "length, radius, dim, h, order"]),
    (ROD, "length = 0.01,", "length = -0.01,",
     ["geometry.params.length: must be a positive number (a size), got -0.01"]),
    (ROD, "[mechanics]\n", "[mechanic]\n",
     ["mechanic: unknown section 'mechanic'"]),
    # femdiff's own PETSc options (femdiff.numerics.solvers.FEMDIFF_OPTIONS), checked before meshing
    (QUICK, "[checkpoint]", _SOLVER.format("femdiff_newton_kappa = 2"),
     ["solver.petsc_options.femdiff_newton_kappa: must be a number in [0, 1) (0: off), "
      "got 2"]),
    (QUICK, "[checkpoint]", _SOLVER.format('femdiff_newton_kappa = "0.1"'),
     ["solver.petsc_options.femdiff_newton_kappa: must be a number in [0, 1) (0: off), "
      "got '0.1'"]),
    (QUICK, "[checkpoint]", _SOLVER.format("femdiff_refactor_krylov = 0"),
     ["solver.petsc_options.femdiff_refactor_krylov: must be a positive integer, got 0"]),
    (QUICK, "[checkpoint]", _SOLVER.format("femdiff_refactor_krylov = 2.5"),
     ["solver.petsc_options.femdiff_refactor_krylov: must be a positive integer, got 2.5"]),
    (QUICK, "[checkpoint]", _SOLVER.format('femdiff_schur = "bkws"'),
     ["solver.petsc_options.femdiff_schur: must be 'bksw', got 'bkws'"]),
    (QUICK, "[checkpoint]", _SOLVER.format('femdiff_split = "c_mu"'),
     ["solver.petsc_options.femdiff_split: must be 'local_mu', 'mu_local' or 'mutraps_c', "
      "got 'c_mu'"]),
    (QUICK, "[checkpoint]", _SOLVER.format("femdiff_foo = 1"),
     ["solver.petsc_options.femdiff_foo: is not a femdiff option; allowed femdiff options: "
      + _FEMDIFF_KEYS]),
    # [mechanics] petsc_options go to the elasticity KSP: types checked, no femdiff_* keys
    (ROD, "[mechanics]\n", "[mechanics]\npetsc_options = { femdiff_newton_kappa = 0.1 }\n",
     ["mechanics.petsc_options.femdiff_newton_kappa: femdiff's own options are read by the "
      "diffusion Newton solver only: put them in [solver] petsc_options"]),
    (ROD, "[mechanics]\n", '[mechanics]\npetsc_options = { ksp_type = "cgg" }\n',
     ["mechanics.petsc_options.ksp_type: PETSc option ksp_type = 'cgg' is not a KSP type",
      "valid: "]),
    # periodic geometry
    (PERIODIC, "[time]", '[[boundary]]\nname = "left"\ntype = "no_flux"\n\n[time]',
     ["boundary[0].name: boundary 'left' is periodic (glued to 'right' by "
      "geometry.periodic): it is no longer a boundary"]),
    (PERIODIC, '["bottom", "top"]]', '["bottom", "left"]]',
     ["geometry.periodic[1]: boundary 'left' is in two pairs"]),
    (PERIODIC, '["bottom", "top"]]', '["bottom", "front"]]',
     ["geometry.periodic[1]: unknown boundary 'front'"]),
    # model "multicomponent"
    (DRAG, "[time]", _BC.format(type="concentration", species="Q"),
     ["boundary[0].species: unknown species 'Q'; declared species (physics.species): A, B, "
      "S"]),
    (DRAG, "[time]", _BC.format(type="concentration", species="S"),
     ["boundary[0].species: a 'concentration' condition on the dependent species 'S'",
      "set the independent species (A, B) instead"]),
    (DRAG, "[time]", _BC.format(type="potential", species="S"),
     ["boundary[0].species: a 'potential' condition on the dependent species 'S'"]),
    (DRAG, '"A-B" = ', '"A-Q" = ',
     ["physics.transport.L.A-Q: unknown species 'Q'; declared species (physics.species): "
      "A, B, S"]),
    (DRAG, '"B-B" = ', '"S-S" = ',
     ["physics.transport.L.S-S: species 'S' is not allowed here: the dependent species 'S' "
      "follows from the others", "allowed species: A, B"]),
    (DRAG, '"0.8*(0.1/(R*T))"', '"1.2*(0.1/(R*T))"',
     ["physics.transport.L: the Onsager matrix is indefinite"]),
    (DRAG, '"A-A" = "0.1/(R*T)"', '"A-A" = "0.1*X_Q/(R*T)"',
     ["physics.transport.L.A-A: unknown name 'X_Q'", "allowed names: X_A, X_B, X_S, R, T"]),
    (DRAG, 'type = "ideal"', 'type = "ideel"',
     ["physics.thermodynamics.type: unknown value 'ideel'; allowed values: ideal, "
      "regular_solution, wagner"]),
    (DRAG, 'type = "matrix"', 'type = "mobilities"',
     ["physics.transport.L: type 'mobilities' takes M = {...}, not 'L'"]),
    (DRAG, 'name = "B"', 'name = "Q"',
     ["species[1].name: unknown species 'Q'; declared species (physics.species): A, B, S"]),
    (DRAG, 'name = "B"', 'name = "S"',
     ["species: missing [[species]] (name, initial) for 'B'"]),
    (DRAG, 'scheme = "bdf2"', 'scheme = "bdf2"\nadaptive = { tol = 1e-3 }\ngrowth = 1.5',
     ["time.growth: growth is for fixed steps"]),
    (DRAG, 'scheme = "bdf2"', 'scheme = "bdf2"\nadaptive = { tol = 1e-3, guess_degree = 3 }',
     ["time.adaptive", "guess_degree must be 0, 1 or 2"]),
    (DARKEN, '"C-Si"', '"C-Mn"',
     ["physics.thermodynamics.epsilon.C-Mn: unknown species 'Mn'; declared species "
      "(physics.species): C, Si, Fe"]),
    (DARKEN, "Si = 1.0e-15", "Fe = 1.0e-15",
     ["physics.transport.D.Fe: species 'Fe' is not allowed here: the dependent species"]),
    (DARKEN, 'type = "wagner"', 'type = "regular_solution"',
     ["physics.thermodynamics.epsilon: 'epsilon' belongs to type 'wagner'"]),
    (DARKEN, "transform = { x =", "transform = { y =",
     ["geometry.transform.y: unknown coordinate 'y'; allowed keys: x"]),
    # a periodic cell under a mean strain (model "mechanics", femdiff.problems.homogenisation)
    (LAMINATE, 'periodic = [["left", "right"], ["bottom", "top"]]', "",
     ["mechanics.mean_strain: needs a periodic cell: the geometry has no periodic pairs"]),
    (LAMINATE, ', ["bottom", "top"]]', "]",
     ["mechanics.mean_strain: needs a cell periodic in every direction: geometry.periodic "
      "glues 1 pair(s), a 2D cell needs 2"]),
    (LAMINATE, _MS, "mean_strain = [[1.0e-3, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]",
     ["mechanics.mean_strain: expected a 2×2 array [[exx, exy], [exy, eyy]] (the mesh is "
      "2D), got array"]),
    (LAMINATE, _MS, "mean_strain = [1.0e-3, 0.0, 0.0]",
     ["mechanics.mean_strain: expected a 2×2 array"]),
    (LAMINATE, _MS, "mean_strain = [[1.0e-3, 2.0e-4], [0.0, 0.0]]",
     ["mechanics.mean_strain: must be symmetric (the tensor strain, ε_xy = γ_xy/2), got "
      "[0][1] = 0.0002 but [1][0] = 0.0: a rotation is not periodic"]),
    (LAMINATE, _MS, 'mean_strain = [[1.0e-3, "a"], ["a", 0.0]]',
     ["mechanics.mean_strain[0][1]: expected a number, got string 'a'"]),
    (LAMINATE, "[output]", _MECH_BC.format(name="left", type="fixed", extra=""),
     ["mechanics.boundary[0].name: boundary 'left' is periodic (glued to 'right' by "
      "geometry.periodic): it is no longer a boundary and takes no condition"]),
    (LAMINATE, "[output]", _MECH_BC.format(name="top", type="traction",
                                           extra="value = [0.0, 1.0e6]\n"),
     ["mechanics.boundary[0].name: boundary 'top' is periodic"]),
    (LAMINATE, "[output]", _MECH_BC.format(name="interface", type="traction",
                                           extra="value = [0.0, 1.0e6]\n"),
     ["mechanics.boundary[0]: a periodic cell under mechanics.mean_strain takes no "
      "[[mechanics.boundary]] (here 'traction')"]),
    (LAMINATE, "effective_stiffness = true", "effective_stiffness = true\nT_ref = 300.0\n"
     "\n[thermal]\nT = 600.0",
     ["mechanics.effective_stiffness: needs a cell loaded by its mean strain alone: remove "
      "mechanics.T_ref"]),
    (LAMINATE, _MS, "",
     ["mechanics.effective_stiffness: needs mechanics.mean_strain"]),
    (LAMINATE, "effective_stiffness = true", "effective_stiffness = true\ntwo_way = true",
     ["mechanics.two_way: two-way coupling needs a diffusion model"]),
    (PERIODIC, "[time]", f"[mechanics]\n{_MS}\n\n[time]",
     ["mechanics.mean_strain: a periodic cell under a mean strain is physics.model = "
      "'mechanics'"]),
    (LAMINATE, "effective_stiffness = true", "effective_stiffnes = true",
     ["mechanics.effective_stiffnes: unknown key 'effective_stiffnes'; allowed keys in "
      "[mechanics]: ", "mean_strain, effective_stiffness"]),
]


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("base, old, new, parts", BAD_INPUT,
                         ids=[p[3][0].split(":")[0] for p in BAD_INPUT])
def test_bad_case_gives_one_clear_message(base, old, new, parts, tmp_path, capsys):
    assert old in base
    code, text = _check(tmp_path, base.replace(old, new, 1), capsys)
    assert code == 2
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == 1, text  # one message
    assert lines[0].startswith(f"femdiff: error: {tmp_path / 'case.toml'}: ")
    for part in parts:
        assert part in lines[0]


@pytest.mark.skip_in_parallel
def test_good_femdiff_options_pass_check(tmp_path, capsys):
    """Every femdiff_* key with an allowed value passes (the bad ones fail above).

    (femdiff_schur is for a Cahn–Hilliard case with the iterative solver only: see
    tests/test_hardening_inputs.py.)
    """
    good = ('femdiff_refactor_krylov = 3, femdiff_newton_kappa = 0, '
            'femdiff_split = "mu_local", ksp_type = "fgmres"')
    code, text = _check(tmp_path, QUICK.replace("[checkpoint]", _SOLVER.format(good), 1),
                        capsys)
    assert code == 0, text


@pytest.mark.skip_in_parallel
def test_errors_before_meshing_and_debug_traceback(tmp_path, capsys, monkeypatch):
    from femdiff import case as fcase
    from femdiff import geometry

    def no_meshing(*args, **kwargs):
        raise AssertionError("meshed before validation finished")

    monkeypatch.setattr(geometry, "build", no_meshing)
    path = tmp_path / "case.toml"
    path.write_text(ROD.replace('type = "ideal"', 'type = "ideal", T = 0.0'))
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "physics.terms[0].T: must be a positive number" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(fcase.CaseError, match=r"physics\.terms\[0\]\.T"):
        main(["--debug", "check", str(path)])
    # a missing file, and an --set override that fixes a bad value
    assert main(["check", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: case file does not exist" in capsys.readouterr().err
    assert main(["check", str(path), "--set", "physics.terms.0.T=300.0"]) == 0


@pytest.mark.skip_in_parallel
def test_geometry_failures_are_one_line(tmp_path, capsys, monkeypatch):
    """Gmsh failing (exit 1) and an unreadable mesh file (exit 2): one line, no traceback."""
    from femdiff import case as fcase
    from femdiff import geometry

    def gmsh_fails(*args, **kwargs):
        raise RuntimeError("rod: OpenCASCADE exception: BRep_API: command not done\n"
                           "Info    : more Gmsh log")

    path = tmp_path / "case.toml"
    path.write_text(ROD)
    with monkeypatch.context() as m:
        m.setattr(geometry, "build", gmsh_fails)
        assert main(["run", str(path), "-o", str(tmp_path / "a")]) == 1
        lines = [line for line in capsys.readouterr().err.splitlines()
                 if line.startswith("femdiff: error")]
        assert lines == [f"femdiff: error: {path}: geometry: Gmsh failed: rod: OpenCASCADE "
                         "exception: BRep_API: command not done"]
        with pytest.raises(fcase.GeometryError, match="BRep_API"):
            main(["--debug", "run", str(path), "-o", str(tmp_path / "b")])
    capsys.readouterr()
    # a .msh file whose names parse but whose nodes do not: Gmsh fails on reading it
    (tmp_path / "bad.msh").write_text(
        '$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$PhysicalNames\n2\n1 1 "left"\n'
        '2 2 "domain"\n$EndPhysicalNames\n$Nodes\ngarbage\n')
    path.write_text('[geometry]\nfile = "bad.msh"\n\n[materials]\nT = 300.0\n\n'
                    '[physics]\nterms = [{ type = "ideal" }]\n'
                    'mobility = { type = "einstein", D = 1.0e-9 }\n\n'
                    '[[species]]\nname = "H"\ninitial = 1.0\n\n'
                    '[time]\nt_end = 1.0\ndt = 0.5\n')
    assert main(["check", str(path)]) == 0  # the names are known before meshing
    assert main(["run", str(path), "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("femdiff: error")]
    assert line.startswith(f"femdiff: error: {path}: geometry.file: could not read mesh file")


@pytest.mark.skip_in_parallel
def test_multicomponent_reservoir_and_adaptive_steps_validate(tmp_path, capsys):
    """The multicomponent problem has reservoirs and error control: case files reach them."""
    text = DRAG.replace("[time]", _BC.format(type="potential", species="A"), 1)
    text = text.replace('scheme = "bdf2"', 'scheme = "bdf2"\nadaptive = { tol = 1e-3 }', 1)
    code, out = _check(tmp_path, text, capsys)
    assert code == 0, out


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("name", sorted(p.name for p in CASES.glob("*.toml")))
def test_shipped_cases_validate(name, capsys):
    assert main(["check", str(CASES / name)]) == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.skip_in_parallel
def test_builder_names_match_geometry():
    """case.builder_names (known before meshing) agrees with what the builders name."""
    from femdiff import case as fcase
    from femdiff import geometry

    coarse = {"rod": {"dim": 2, "length": 1.0, "radius": 0.2, "h": 0.2},
              "box": {"h": 0.5}, "beam": {"h": 0.1}, "plate_with_hole": {"h": 0.2},
              "notched_bar": {"h": 0.1}, "sphere": {"dim": 2, "h": 0.5},
              "diffusion_couple": {"h": 0.5}, "t_shape": {"h": 10.0},
              "crack_tip": {"h": 0.25, "symmetric": False}, "sphere_octant": {"h": 0.5}}
    assert set(coarse) == set(geometry.BUILDERS), "add new builders to case.builder_names"
    for name, params in coarse.items():
        domain = geometry.build(name, **params)
        _, bnames, vnames = fcase.builder_names(name, params)
        assert bnames == domain.boundary_names, name
        assert vnames == domain.volume_names, name


# --- femdiff run ---------------------------------------------------------------------------

SMALL = ["--set", "time.t_end=100.0", "--set", "output.times=[50.0]",
         "--set", "checkpoint.every_steps=3"]


def _run(args, env=None, ranks=1):
    cmd = [str(FEMDIFF), *args]
    if ranks > 1:
        cmd = [str(Path(sys.executable).parent / "mpirun"), "-n", str(ranks), *cmd]
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The quickstart case run once, serially, start to end."""
    out = tmp_path_factory.mktemp("quick") / "out"
    result = _run(["run", str(CASES / "quickstart.toml"), "-o", str(out), *SMALL])
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.mark.skip_in_parallel
def test_run_writes_readable_outputs(quick_run):
    from femdiff import io as fio

    out, result = quick_run
    assert "steps to t = 100" in result.stderr and "\r" not in result.stderr  # no TTY
    series = fio.read_csv(out / "series.csv")
    assert list(series) == ["t", "dt", "amount_H", "free_energy", "flux_bottom", "flux_left",
                            "flux_right", "flux_top", "newton", "krylov", "retries"]
    assert series["t"][0] == 0 and series["t"][-1] == pytest.approx(100.0)
    assert np.all(np.diff(series["t"]) > 0) and 50.0 in series["t"]
    assert (series["newton"][1:] >= 1).all()
    assert series["amount_H"][-1] > series["amount_H"][0]  # fed through the left edge
    assert series["flux_left"][1] < 0  # inflow: negative outward flux
    # fields at t = 0, 50 and 100 (C and μ in P1; the flux J in DG0)
    assert fio.bp_steps(out / "fields_P1.bp") == 3
    assert fio.bp_steps(out / "fields_DG0.bp") == 3
    profile = fio.read_csv(out / "profile_midline.csv")
    assert list(profile) == ["s", "x", "y", "z", "C", "mu"] and len(profile["C"]) == 51
    assert profile["C"][0] == pytest.approx(2.0)  # the fixed value on the left edge
    for png in ("series.png", "field_C.png", "profile_midline_C.png"):
        assert (out / png).stat().st_size > 15_000, png
    assert (out / "case.toml").exists() and "dolfinx" in (out / "environment.txt").read_text()


@pytest.mark.skip_in_parallel
def test_run_under_mpirun_matches_serial(quick_run, tmp_path):
    from femdiff import io as fio

    out1, _ = quick_run
    out2 = tmp_path / "out"
    result = _run(["run", str(CASES / "quickstart.toml"), "-o", str(out2), *SMALL], ranks=2)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("steps to t = 100") == 1  # rank 0 logs alone
    a, b = fio.read_csv(out1 / "series.csv"), fio.read_csv(out2 / "series.csv")
    assert np.array_equal(a["t"], b["t"])
    for key in ("amount_H", "free_energy", "flux_left", "flux_right"):
        assert np.allclose(a[key], b[key], rtol=1e-8, atol=1e-12 * abs(a[key]).max()), key
    pa, pb = fio.read_csv(out1 / "profile_midline.csv"), fio.read_csv(out2 / "profile_midline.csv")
    assert np.allclose(pa["C"], pb["C"], rtol=1e-9)


@pytest.mark.skip_in_parallel
def test_existing_output_folder_is_never_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    path = str(CASES / "quickstart.toml")
    assert main(["run", path, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"output folder {str(out)!r} already exists; use --overwrite" in err
    assert (out / "precious.txt").read_text() == "keep me"
    assert main(["run", path, "-o", str(out), "--restart"]) == 2
    assert "cannot restart" in capsys.readouterr().err
    # --overwrite replaces only a folder femdiff wrote (tests/test_hardening_data.py)
    assert main(["run", path, "-o", str(out), "--overwrite"]) == 2
    assert "was not written by femdiff" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"
    out = tmp_path / "new"
    common = ["--set", "time.t_end=10.0", "--set", "output.times=[]", "--set",
              'output.fields="xdmf"', "--set", "output.every=1", "--set", "output.png=false"]
    assert main(["-q", "run", path, "-o", str(out), *common]) == 0
    (out / "precious.txt").write_text("written into femdiff's folder")
    assert main(["-q", "run", path, "-o", str(out), "--overwrite", *common]) == 0
    assert not (out / "precious.txt").exists()
    from femdiff import io as fio

    assert fio.xdmf_times(out / "fields.xdmf") == pytest.approx([0.0, 5.0, 10.0])
    import h5py

    with h5py.File(out / "fields.h5") as fh:
        assert "Function" in fh and "Mesh" in fh


def test_progress_line_only_on_a_terminal():
    import io as pyio

    from mpi4py import MPI

    from femdiff.cli import Progress
    from femdiff.problems.diffusion import StepInfo

    class Tty(pyio.StringIO):
        def isatty(self):
            return True

    info = StepInfo(t=5.0, dt=1.0, newton_iterations=3, krylov_iterations=7, retries=0)
    quiet = pyio.StringIO()
    Progress(MPI.COMM_WORLD, 0.0, 10.0, stream=quiet).update(1, info, force=True)
    assert quiet.getvalue() == ""
    tty = Tty()
    bar = Progress(MPI.COMM_WORLD, 0.0, 10.0, stream=tty)
    bar.update(1, info, force=True)
    bar.done()
    if MPI.COMM_WORLD.rank == 0:
        text = tty.getvalue()
        assert text.startswith("\r") and text.endswith("\n")
        for part in ("t = 5 ( 50.0%)", "dt = 1", "newton  3", "krylov    7", "ETA 00:00"):
            assert part in text
    else:
        assert tty.getvalue() == ""


@pytest.mark.mpi
def test_run_in_process_under_mpi(mpi_tmp_path):
    """`femdiff run` called in-process on every rank (the `mpirun -n 2 pytest` path)."""
    from femdiff import io as fio

    out = mpi_tmp_path / "out"
    assert main(["-q", "run", str(CASES / "quickstart.toml"), "-o", str(out),
                 "--set", "time.t_end=20.0", "--set", "output.times=[]",
                 "--set", "output.png=false"]) == 0
    from mpi4py import MPI

    MPI.COMM_WORLD.Barrier()
    series = fio.read_csv(out / "series.csv")
    assert series["t"][-1] == pytest.approx(20.0)
    assert fio.bp_steps(out / "fields_P1.bp") == 2


# --- every shipped case file reproduces its Python demo ----------------------------------

DEMO_CASES = {
    # case file: (demo args, case overrides giving the demo's small run, demo Function)
    "stressed_rod.toml": (["--small"], ["geometry.h=0.0008333333333333334",
                                        "time.t_end=5066.059182116889"],
                          lambda g: g["problem"].C),
    "mechanics_rod.toml": (["--small"], ["geometry.h=0.0008333333333333334"],
                           lambda g: g["solid"].sigma_h()),
    "spinodal.toml": (["--small", "--t-end", "20"],
                      ["geometry.params.nx=50", "geometry.params.ny=50",
                       "geometry.params.lx=50.0", "geometry.params.ly=50.0",
                       "time.t_end=20.0", "output.times=[10.0]",
                       'output.profiles=[{name="diagonal", start=[0.0, 0.0], end=[50.0, 50.0],'
                       ' n=71}]'], lambda g: g["problem"].C),
    "spinodal_periodic.toml": (["--small", "--domain", "periodic", "--t-end", "20"],
                               ["geometry.params.nx=50", "geometry.params.ny=50",
                                "geometry.params.lx=50.0", "geometry.params.ly=50.0",
                                "time.t_end=20.0", "output.times=[10.0]",
                                'output.profiles=[{name="diagonal", start=[0.0, 0.0], '
                                'end=[50.0, 50.0], n=71}]'], lambda g: g["problem"].C),
    "uphill.toml": (["--small"], ["geometry.params.n=100"], lambda g: g["problem"].C),
    "onsager_drag.toml": (["--small"], ["geometry.params.n=100", "time.dt=0.5",
                                        "time.t_end=40.0", "output.times=[2.0, 10.0]"],
                          lambda g: [g["problem"].X[s] for s in ("A", "B", "S")]),
    "darken_couple.toml": (["--small"], ["geometry.params.n=300", "time.dt_max=37440.0"],
                           lambda g: [g["problem"].X[s] for s in ("C", "Si")]),
    # the demo's last (two-way) particle: h = R/3, Δt = 50 s
    "electrode_particle.toml": (["--small"], [
        "geometry.h=1.6666666666666669e-06", "time.dt=50.0",  # R/3 in floating point
        "output.times=[100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0]",
        'output.profiles=[{name="axis", start=[0.0, 0.0, 0.0], end=[5.0e-6, 0.0, 0.0],'
        ' n=41}]'], lambda g: g["cp"].C),
    "coated_steel.toml": (["--small"], ["geometry.h=2.5e-05", "time.t_end=37216.37103899027"],
                          lambda g: g["problem"].C),
    # the demo's last run ("stress + Soret"): conduction, thermal stress, hydrogen
    "hot_pipe_wall.toml": (["--small"], ["geometry.h=0.001", "time.t_end=2203.1321373377405"],
                           lambda g: g["problem"].C),
    # the demo's --small mesh (grading 0.5) to its last time, 1000 s
    "crack_tip.toml": (["--small"], ["geometry.params.grading=0.5", "time.t_end=1000.0"],
                       lambda g: g["problem"].C),
    # the demo's --small 5 K/min ramp (n = 10, 1 K per step), compared as the spectrum
    # (series.csv T and desorption_flux, one row per step) with the demo's second ramp
    "tds.toml": (["--small"], ["geometry.params.n=10", "time.dt=12.0"],
                 lambda g: {"T": g["spectra"][1][0], "desorption_flux": g["spectra"][1][1]}),
}


def test_every_case_file_has_a_demo_check():
    # laminate_cell has no demo: tests/test_homogenisation.py checks it against Backus's
    # closed form instead; plate_hole_hydrogen: tests/test_quantities.py against the
    # equilibrium of lattice and Oriani-trapped hydrogen under the hole's stress
    shipped = {p.name for p in CASES.glob("*.toml")} - {"quickstart.toml",
                                                        "laminate_cell.toml",
                                                        "plate_hole_hydrogen.toml"}
    assert shipped == set(DEMO_CASES), "add the new case file to DEMO_CASES"


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("name", sorted(DEMO_CASES))
def test_case_file_matches_its_demo(name, tmp_path, monkeypatch):
    import runpy

    from femdiff import io as fio

    demo_args, overrides, field = DEMO_CASES[name]
    stem = name.removesuffix(".toml").removesuffix("_periodic")  # a variant of its demo
    demo = DEMO_DIR / f"demo_{stem}.py"
    monkeypatch.setattr(sys, "argv", [str(demo), *demo_args, "--out", str(tmp_path / "demo")])
    demo_globals = runpy.run_path(str(demo), run_name="__main__")

    out = tmp_path / "case"
    sets = [a for o in overrides for a in ("--set", o)]
    assert main(["-q", "run", str(CASES / name), "-o", str(out), *sets,
                 "--set", "output.png=false", "--set", 'output.fields="none"']) == 0
    fields = field(demo_globals)
    if isinstance(fields, dict):  # a time series: the case's rows after the initial state
        series = fio.read_csv(out / "series.csv")
        for column, expected in fields.items():
            got = series[column][1:]
            assert len(got) == len(expected) >= 20, column
            scale = np.abs(expected).max()
            assert np.allclose(got, expected, rtol=1e-8, atol=1e-10 * scale), column
        return
    (profile_csv,) = out.glob("profile_*.csv")
    profile = fio.read_csv(profile_csv)
    points = np.column_stack([profile["x"], profile["y"], profile["z"]])
    for f in fields if isinstance(fields, list) else [fields]:
        expected = fio.sample_line(f, points)
        got = profile[f.name if f.name in profile else "C"]
        inside = np.isfinite(expected)
        assert inside.sum() >= 20 and np.isfinite(got[inside]).all()
        scale = np.abs(expected[inside]).max()
        assert np.allclose(got[inside], expected[inside], rtol=1e-8, atol=1e-10 * scale), \
            f.name


def test_info_and_run_log_name_the_solver(tmp_path, capsys):
    """`femdiff info CASE` and the run log say which solver runs and the rule that chose
    it (issue #15): the spinodal case gets the Cahn–Hilliard default."""
    small = ["--set", "geometry.params.nx=8", "--set", "geometry.params.ny=8"]
    assert main(["info", str(CASES / "spinodal.toml"), *small]) == 0
    out = capsys.readouterr().out
    assert "solver (problem): SNES newtonls" in out
    assert "KSP fgmres" in out and "PC lu" in out and "reused" in out
    assert "with Cahn–Hilliard" in out
    assert main(["run", str(CASES / "spinodal.toml"), "-o", str(tmp_path / "run"), *small,
                 "--set", "time.t_end=0.1", "--set", "output.times=[]",
                 "--set", "output.profiles=[]", "--set", "output.png=false",
                 "--set", 'output.fields="none"']) == 0
    err = capsys.readouterr().err
    assert "solver (problem): SNES newtonls" in err and "with Cahn–Hilliard" in err
