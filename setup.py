"""Build hook: the wheel ships the demos and case files as ``femdiff/_examples/``.

The top-level ``demos/`` and ``cases/`` folders stay the source of truth; ``build_py``
copies them into the package at build time (not in an editable install, where
:mod:`femdiff.case.examples` reads the folders themselves), so ``femdiff demos`` and
``femdiff cases`` work from a plain ``pip install``. Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
EXAMPLES = {"demos": "demo_*.py", "cases": "*.toml"}


class BuildPyWithExamples(build_py):
    """build_py, then the examples into <build_lib>/femdiff/_examples/<kind>/."""

    def run(self) -> None:  # noqa: D102
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for kind, pattern in EXAMPLES.items():
            target = Path(self.build_lib) / "femdiff" / "_examples" / kind
            self.mkpath(str(target))
            for source in sorted((ROOT / kind).glob(pattern)):
                self.copy_file(str(source), str(target / source.name))


setup(cmdclass={"build_py": BuildPyWithExamples})
