"""The femdiff console script (subprocess-based: serial only)."""

import subprocess
import sys
from pathlib import Path

import pytest

import femdiff
from femdiff.cli import main

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
    from femdiff import mesh

    assert mesh.read(path).boundary_names == ["left", "right", "surface"]


@pytest.mark.skip_in_parallel
@pytest.mark.parametrize("argv, message", [
    (["mesh", "rod", "-p", "radius=-1", "-o", "x.msh"], "radius must be a positive number"),
    (["mesh", "rod", "-p", "radius", "-o", "x.msh"], "must be NAME=VALUE"),
    (["mesh", "cube", "-o", "x.msh"], "unknown geometry 'cube'"),
    (["demos", "nope"], "unknown demo 'nope'; available: mechanics_rod, spinodal"),
])
def test_errors_are_one_line_without_traceback(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_demos_listed(capsys):
    assert main(["demos"]) == 0
    assert "stressed_rod" in capsys.readouterr().out
