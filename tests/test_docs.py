"""The documentation's generated parts, demos as notebooks, and the examples in the wheel."""

import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import femdiff_docs  # noqa: E402

pytestmark = pytest.mark.skip_in_parallel


def test_api_pages_cover_every_public_module_and_name(tmp_path):
    """Every femdiff/*.py (no _-prefixed part) has a page; every public name a docstring.

    The build itself (docs/_ext/femdiff_docs.check_inventory) fails when a public class
    or function is not in Sphinx's inventory; this test catches the walk missing a
    module (a file the import system cannot reach) without building the site.
    """
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
             for p in (ROOT / "femdiff").rglob("*.py")}
    public = {m for m in files if not any(part.startswith("_") for part in m.split("."))}
    modules = femdiff_docs.write_api(tmp_path)
    assert public <= set(modules), f"modules without an API page: {public - set(modules)}"
    for name in modules:
        page = (tmp_path / f"{name}.md").read_text()
        assert f".. automodule:: {name}" in page and ":undoc-members:" in page
    undocumented = [f"{m}.{n}" for m in modules for n in femdiff_docs.public_names(m)
                    if not (getattr(importlib.import_module(m), n).__doc__ or "").strip()]
    assert not undocumented, f"public names without a docstring: {undocumented}"


def test_verification_table_is_read_from_the_markers(tmp_path):
    rows = femdiff_docs.verification_rows()
    assert len(rows) >= 20
    for row in rows:
        assert row.get("reference") and row.get("source") and row.get("error"), row["test"]
    assert femdiff_docs.write_verification(tmp_path / "v.md") == len(rows)


def test_demos_have_no_file_dependency():
    """A notebook has no __file__: demos find their output folder without it."""
    for demo in sorted((ROOT / "demos").glob("demo_*.py")):
        assert "__file__" not in demo.read_text(), demo.name


@pytest.mark.skip_in_parallel  # (CI runs it: #29 asks for a notebook executed in CI)
def test_demo_runs_as_a_notebook(tmp_path, monkeypatch):
    """jupytext -> notebook -> nbclient (an ipykernel), from a folder outside the repo."""
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("CI", "1")
    monkeypatch.delenv("FEMDIFF_OUTPUT", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    notebook = jupytext.read(ROOT / "demos" / "demo_crack_tip.py", fmt="py:light")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    assert (tmp_path / "output" / "crack_tip" / "crack_tip_profiles.png").stat().st_size \
        > 10_000


@pytest.mark.slow
def test_wheel_ships_examples_and_runs_outside_the_checkout(tmp_path):
    """Build the wheel, install it (not editable) in a fresh venv, run demos and a case.

    The venv sees the DOLFINx stack of the running interpreter through a .pth file (its
    own femdiff is the wheel's: a plain path entry does not run the checkout's editable
    finder); everything runs from tmp_path, away from the checkout.
    """
    # build from a copy: an in-tree build leaves build/ and *.egg-info in the checkout
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("output", "__pycache__", "*.egg-info", "build")
    for name in ("femdiff", "demos", "cases"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(dist), str(source)], check=True, capture_output=True,
                   cwd=tmp_path, env=env)
    (wheel,) = dist.glob("femdiff-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "femdiff/_examples/demos/demo_stressed_rod.py" in names
    assert "femdiff/_examples/cases/quickstart.toml" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    # the wheel first: with the stack on the path pip would find the checkout's femdiff
    # (editable) already installed and skip it
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, env=env)
    stack = [p for p in sys.path if p.endswith("site-packages")]
    (Path(site.stdout.strip()) / "femdiff_stack.pth").write_text("\n".join(stack) + "\n")
    # PyPI's mpich puts libmpi (and its libraries) in <prefix>/lib, where mpi4py looks
    for lib in (Path(sys.prefix) / "lib").iterdir():
        if not (venv / "lib" / lib.name).exists():
            (venv / "lib" / lib.name).symlink_to(lib)
    work = tmp_path / "work"
    work.mkdir()

    def femdiff(*args):
        result = subprocess.run([str(venv / "bin" / "femdiff"), *args], cwd=work, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    where = subprocess.run([str(py), "-c", "import femdiff; print(femdiff.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(venv)), where.stdout  # the wheel, not the checkout
    assert "stressed_rod" in femdiff("demos")
    assert "wrote" in femdiff("cases", "quickstart", "--copy", ".")
    femdiff("run", "quickstart.toml", "--set", "time.t_end=20", "--set", "output.times=[10.0]",
            "-o", "out")
    assert (work / "out" / "series.csv").is_file()
