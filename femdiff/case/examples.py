"""The shipped examples: the demos and case files, from a checkout or from the wheel.

The top-level ``demos/`` and ``cases/`` folders of the repository are the source of
truth. A wheel carries copies in ``femdiff/_examples/`` (``setup.py`` copies them at
build time), so ``femdiff demos`` and ``femdiff cases`` work from any install; in a
checkout (editable install) the folders themselves are used.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # femdiff/


def folder(kind: str) -> Path:
    """The folder of the shipped ``demos`` or ``cases``: the wheel's copy, else the repo's."""
    shipped = _PACKAGE / "_examples" / kind
    return shipped if shipped.is_dir() else _PACKAGE.parent / kind


def demos() -> dict[str, Path]:
    """Demo name (file name without ``demo_``) -> its script."""
    return {p.stem.removeprefix("demo_"): p for p in sorted(folder("demos").glob("demo_*.py"))}


def demo_title(path: Path) -> str:
    """The first Markdown heading of a demo (its title), or ""."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    return ""


def cases() -> dict[str, Path]:
    """Case name (file name without ``.toml``) -> its file."""
    return {p.stem: p for p in sorted(folder("cases").glob("*.toml"))}


def case_title(path: Path) -> str:
    """A case file's ``[case] description``, or its first comment line."""
    try:
        text = tomllib.loads(path.read_text(encoding="utf-8")).get("case", {})
        if isinstance(text, dict) and text.get("description"):
            return str(text["description"])
    except (OSError, tomllib.TOMLDecodeError):
        pass
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def copy_case(name: str | None, dest: Path) -> list[Path]:
    """Copy one shipped case file (or all of them, ``name`` None) into folder ``dest``.

    Raises:
        ValueError: an unknown case name, or a file that already exists in ``dest``.
    """
    found = cases()
    if name is not None and name.removesuffix(".toml") not in found:
        raise ValueError(f"unknown case {name!r}; available: {', '.join(found)}")
    chosen = [found[name.removesuffix(".toml")]] if name else list(found.values())
    dest.mkdir(parents=True, exist_ok=True)
    targets = [dest / p.name for p in chosen]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise ValueError(f"{', '.join(existing)} already exist(s); remove it or copy to "
                         "another folder")
    for src, target in zip(chosen, targets, strict=True):
        shutil.copyfile(src, target)
    return targets
