"""The package layout: old module paths still import (deprecated), nothing is too large."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from femdiff import _moved

PACKAGE = Path(__file__).resolve().parents[1] / "femdiff"


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_old_path_imports_the_moved_module_with_a_warning(old):
    new = importlib.import_module("femdiff." + _moved.MOVED[old])
    sys.modules.pop("femdiff." + old, None)
    with pytest.warns(DeprecationWarning, match=f"femdiff.{old} moved to"):
        module = importlib.import_module("femdiff." + old)
    assert module is new  # one module: state and monkeypatching are shared


def test_no_flat_modules_left():
    """Concepts live in subpackages; the top holds only the CLI and the plumbing."""
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "_compat.py", "_moved.py", "cli.py"], flat


def test_no_module_over_700_lines():
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert max(sizes.values()) <= 700, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
