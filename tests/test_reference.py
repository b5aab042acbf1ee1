"""The case-file reference (femdiff keys / schema, the docs page) and the shipped examples."""

import inspect
import json
import tomllib
from pathlib import Path

import pytest

from femdiff.case import examples, reference
from femdiff.case.schema import Key
from femdiff.cli import main

pytestmark = pytest.mark.skip_in_parallel
ROOT = Path(__file__).resolve().parent.parent


def _key_tables():
    """Every Key table of femdiff.case: module globals and model class attributes."""
    import femdiff.case as fcase
    import femdiff.case.diffusion  # noqa: F401
    import femdiff.case.multicomponent  # noqa: F401

    def is_keys(v):
        return isinstance(v, dict) and v and all(isinstance(k, Key) for k in v.values())

    for _name, module in inspect.getmembers(fcase, inspect.ismodule):
        if not module.__name__.startswith("femdiff.case."):
            continue
        holders = [module] + [c for _, c in inspect.getmembers(module, inspect.isclass)
                              if c.__module__ == module.__name__]
        for holder in holders:
            for attr, value in vars(holder).items():
                if is_keys(value):
                    yield f"{module.__name__}.{attr}", value
                elif isinstance(value, dict) and value and all(map(is_keys, value.values())):
                    for sub in value.values():  # typed tables: type -> keys
                        yield f"{module.__name__}.{attr}", sub


def test_every_key_table_is_in_the_reference():
    covered = [s.keys for s in reference.SECTIONS]
    missing = []
    for where, keys in _key_tables():
        # a section may merge extra keys into a copy: compare by key identity
        if not any(all(k in c and c[k] is v for k, v in keys.items()) for c in covered):
            missing.append(where)
    assert not missing, f"add these key tables to femdiff.case.reference.SECTIONS: {missing}"


def test_every_key_has_a_doc():
    undocumented = [f"{reference.section_id(s)}.{k}" for s in reference.SECTIONS
                    for k in s.keys if not reference.key_doc(s, k).strip()]
    assert not undocumented, ("document these case keys (Key(doc=...) or "
                              f"reference.KEY_DOCS): {undocumented}")


def test_keys_command(capsys):
    assert main(["keys", "time"]) == 0
    out = capsys.readouterr().out
    assert "[time.adaptive]" in out and "t_end" in out and "end time [s]" in out
    assert main(["keys", "nope"]) == 2
    assert "unknown section 'nope'; sections: " in capsys.readouterr().err


def test_schema_accepts_every_shipped_case(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted((ROOT / "cases").glob("*.toml")):
        errors = [e.message for e in validator.iter_errors(tomllib.loads(path.read_text()))]
        assert not errors, f"{path.name}: {errors[:3]}"
    bad = {"geometry": {"builder": "rod"}, "time": {"t_end": 1, "dt": 1, "dtt": 2}}
    assert not validator.is_valid(bad)


def test_reference_markdown_has_every_section():
    text = reference.markdown()
    for s in reference.SECTIONS:
        assert f"## `{s.header}`" in text


def test_cases_command(tmp_path, capsys):
    assert main(["cases"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(examples.cases()) and lines[0].split()[0] == "coated_steel"
    assert main(["cases", "tds", "--copy", str(tmp_path)]) == 0
    assert (tmp_path / "tds.toml").read_text() == (ROOT / "cases" / "tds.toml").read_text()
    assert main(["cases", "tds", "--copy", str(tmp_path)]) == 2  # never overwritten
    assert main(["cases", "nope"]) == 2
    assert "unknown case 'nope'; available: " in capsys.readouterr().err


def test_demos_list_one_line_each(capsys):
    assert main(["demos"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(list((ROOT / "demos").glob("demo_*.py")))
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # name and title


@pytest.mark.parametrize("command", ["info", "run", "check", "mesh", "demos", "cases", "keys",
                                     "schema"])
def test_every_subcommand_help_has_examples_and_docs(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "documentation:" in out
    assert command == "mesh" or "examples:" in out
    if command == "mesh":  # the builders and their parameters
        assert "crack_tip:" in out and "notch_depth=0.05" in out


def test_top_help_is_not_a_docstring(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "first steps:" in out


def test_mesh_bad_parameter_names_the_key(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["mesh", "rod", "-p", "lenght=1", "-o", "x.msh"]) == 2
    err = capsys.readouterr().err
    assert "geometry.params.lenght: unknown parameter 'lenght' of builder 'rod'; allowed " \
           "keys: length, radius" in err and "Traceback" not in err
