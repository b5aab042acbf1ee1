"""Demos are tests: each runs serially and on 2 ranks (small sizes) and writes its outputs."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

DEMOS = Path(__file__).resolve().parent.parent / "demos"
MPIRUN = Path(sys.executable).parent / "mpirun"

# demo -> files it must write (relative to its --out folder)
REGISTERED = {
    "demo_stressed_rod.py": ["stressed_rod.csv", "stressed_rod_profiles.png",
                             "fields_P1.bp", "fields_DG0.bp", "fields_DG1.bp"],
    "demo_mechanics_rod.py": ["sigma_h_axis.png", "sigma_h_axis.csv", "rod_stress.bp"],
    "demo_onsager_drag.py": ["onsager_drag.csv", "onsager_drag.png", "fields_P1.bp",
                             "fields_DG0.bp"],
    "demo_darken_couple.py": ["darken_couple.csv", "darken_couple.png", "fields_P1.bp"],
    "demo_spinodal.py": ["free_energy.csv", "free_energy.png", "final_c.png", "fields_P1.bp"],
    "demo_uphill.py": ["uphill.csv", "uphill.png", "fields_P1.bp"],
    "demo_electrode_particle.py": ["one_way.csv", "two_way.csv", "electrode_particle.png",
                                   "fields_two_way_P1.bp", "fields_two_way_P2.bp",
                                   "fields_two_way_DG1.bp"],
    "demo_coated_steel.py": ["coated_steel.csv", "coated_steel_profiles.png",
                             "coated_steel_flux.png", "fields_P1.bp", "fields_DG1.bp"],
    "demo_hot_pipe_wall.py": ["hot_pipe_wall.csv", "hot_pipe_wall.png", "fields_P1.bp"],
    "demo_tds.py": ["tds_0.csv", "kissinger.csv", "tds_spectra.png", "kissinger.png",
                    "fields_P1.bp"],
    "demo_crack_tip.py": ["crack_tip.csv", "crack_tip_profiles.png", "fields_P1.bp"],
}


def test_every_demo_is_registered():
    found = {p.name for p in DEMOS.glob("demo_*.py")}
    assert found == set(REGISTERED), "register new demos in tests/test_demos.py"


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("demo", sorted(REGISTERED))
def test_demo_runs(demo, ranks, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, str(DEMOS / demo), "--small", "--out", str(out)]
    if ranks > 1:
        cmd = [str(MPIRUN), "-n", str(ranks), *cmd]
    env = dict(os.environ, CI="1")
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                          capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in REGISTERED[demo]:
        path = out / name
        assert path.exists(), f"{demo} did not write {name}"
        if path.suffix == ".png":
            assert path.stat().st_size > 10_000  # a real plot, not an empty canvas
    if demo == "demo_stressed_rod.py":
        from femdiff.io import read_csv

        series = read_csv(out / "stressed_rod.csv")
        amount = series["amount"]
        # closed rod: the amount is conserved to round-off
        assert abs(amount.max() - amount.min()) / amount[0] < 1e-10
        # hydrogen leaves the harder-pressed left half: positive flux through mid-length
        assert series["flux_mid"][1] > 0
        assert series["t"].size > 10 and series["C_max"][-1] > series["C_min"][-1]
    if demo == "demo_spinodal.py":
        from femdiff.io import read_csv

        F = read_csv(out / "free_energy.csv")["F"]
        assert (np.diff(F) <= 1e-8 * F[0]).all()  # Cahn–Hilliard dissipates F
    if demo == "demo_uphill.py":
        from femdiff.io import read_csv

        assert read_csv(out / "uphill.csv")["uphill_work"][-1] > 0
    if demo == "demo_electrode_particle.py":
        from femdiff.io import read_csv

        one, two = read_csv(out / "one_way.csv"), read_csv(out / "two_way.csv")
        # the same current inserts the same amount; the tensile core draws lithium in,
        # so two-way the centre is richer and the surface hoop compression smaller
        assert np.allclose(one["amount"], two["amount"], rtol=1e-9)
        assert two["C_centre"][-1] > one["C_centre"][-1]
        assert 0 > two["hoop_surface"][-1] > one["hoop_surface"][-1]
    if demo == "demo_coated_steel.py":
        from femdiff.io import read_csv

        series = read_csv(out / "coated_steel.csv")
        # the steady flux against the series formula; with 4 cells across the coating
        # the O(h²) discretisation error is ≈ (ln 10/4)²/12 ≈ 3 % (the demo's note)
        assert abs(series["flux_mean"][-1] / series["flux_series"][-1] - 1) < 0.05
    if demo == "demo_hot_pipe_wall.py":
        from femdiff.io import read_csv

        series = read_csv(out / "hot_pipe_wall.csv")
        amount = series["amount"]
        # closed wall: the amount is conserved to round-off
        assert abs(amount.max() - amount.min()) / amount[0] < 1e-10
        # stress and Soret both drive hydrogen to the cold outer face
        assert series["C_outer"][-1] > 1.5 * series["C_inner"][-1]


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("ranks", [1, 2])
@pytest.mark.parametrize("extra", [["--domain", "tshape"], ["--domain", "cube"],
                                   ["--domain", "periodic"], ["--dim", "2"]],
                         ids=["tshape", "cube", "periodic", "uphill2d"])
def test_demo_variants_run(extra, ranks, tmp_path):
    """The Gmsh T-shape and the 3D cube of the spinodal demo; the 2D uphill demo."""
    demo = "demo_uphill.py" if extra[0] == "--dim" else "demo_spinodal.py"
    out = tmp_path / "out"
    cmd = [sys.executable, str(DEMOS / demo), "--small", "--out", str(out), *extra]
    if ranks > 1:
        cmd = [str(MPIRUN), "-n", str(ranks), *cmd]
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, start_new_session=True,
                          capture_output=True, text=True, timeout=900,
                            env=dict(os.environ, CI="1"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in REGISTERED[demo]:
        if name == "final_c.png" and "cube" in extra:
            continue  # 3D: no 2D snapshot
        assert (out / name).exists(), f"{demo} {extra} did not write {name}"
    if demo == "demo_spinodal.py":
        from femdiff.io import read_csv

        series = read_csv(out / "free_energy.csv")
        assert (np.diff(series["F"]) <= 1e-8 * series["F"][0]).all()
        assert abs(series["amount"][-1] - series["amount"][0]) < 1e-10 * series["amount"][0]


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("demo", sorted(REGISTERED))
def test_demo_is_a_jupytext_notebook(demo):
    """Each demo opens as a notebook: a jupytext "light" header, prose and code cells."""
    jupytext = pytest.importorskip("jupytext")
    text = (DEMOS / demo).read_text()
    assert text.startswith("# ---\n# jupyter:\n"), f"{demo} has no jupytext header"
    notebook = jupytext.reads(text, fmt="py:light")
    kinds = [cell.cell_type for cell in notebook.cells]
    assert "markdown" in kinds and "code" in kinds, f"{demo}: cells {kinds}"
    # the prose comes first: the demo opens with its title, not with code
    assert kinds[0] == "markdown" and notebook.cells[0].source.startswith("# ")
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "light"
