"""The module paths of femdiff 0.1 that moved into subpackages, kept for one release.

``import femdiff.traps`` (or ``from femdiff import traps``) still works: a meta-path finder
maps the old name to the module's new home (``femdiff.problems.trapping``), which is the
same module object, and warns with a DeprecationWarning at the caller's line.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from types import ModuleType

#: old module name (under ``femdiff.``) -> new dotted path (under ``femdiff.``)
MOVED = {
    "mesh": "geometry.mesh",
    "periodic": "geometry.periodic",
    "thermodynamics": "models.thermodynamics",
    "mixtures": "models.mixtures",
    "trapping": "models.trap_laws",
    "materials": "models.materials",
    "material_diffusion": "models.material_law",
    "mixture_materials": "models.mixture_law",
    "mechanics": "physics.mechanics",
    "thermal": "physics.heat",
    "fracture": "physics.fracture",
    "boundary": "physics.boundary",
    "problem": "problems.base",
    "component": "problems.component",
    "diffusion": "problems.diffusion",
    "diffusion_materials": "problems.per_material",
    "traps": "problems.trapping",
    "multicomponent": "problems.multicomponent",
    "coupled": "problems.coupled",
    "homogenisation": "problems.homogenisation",
    "dilute": "problems.activity",
    "newton": "numerics.newton",
    "solvers": "numerics.solvers",
    "preconditioners": "numerics.preconditioners",
    "timestepping": "numerics.timestepping",
    "fluxes": "numerics.fluxes",
    "fem_utils": "numerics.fem_utils",
    "checkpoint": "io.checkpoint",
    "collective": "io.collective",
}

_HERE = os.path.dirname(os.path.abspath(__file__))


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``femdiff.<old>`` and loads it as the moved module itself."""

    def find_spec(self, fullname: str, path: object = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        old = fullname.removeprefix("femdiff.")
        if fullname.startswith("femdiff.") and old in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = "femdiff." + MOVED[spec.name.removeprefix("femdiff.")]
        warnings.warn(f"{spec.name} moved to {new}; the old path will be removed in the "
                      "next release", DeprecationWarning,
                      skip_file_prefixes=("<frozen", _HERE))
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the moved module is already initialised."""


def install() -> None:
    """Add the finder once, first: the moved names have no files (a stale install might)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
