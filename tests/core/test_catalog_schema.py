"""The catalog's JSON schema (pricing/catalog.schema.json): generated from the pydantic models,
never stale, named by every built-in file, and every built-in file validates against it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from costmodel._yamlmarks import load_with_marks
from costmodel.cli import app
from costmodel.core import _parse_cache
from costmodel.core.catalog import Catalog, builtin_dir
from costmodel.core.rates import CatalogFile, ModelEntry
from costmodel.core.schema import SCHEMA_FILE, catalog_json_schema

MODELINE = f"# yaml-language-server: $schema=./{SCHEMA_FILE}"
REGENERATE = "costmodel prices schema -o pricing/catalog.schema.json"


def _builtin_files():
    return sorted(builtin_dir().glob("*.yaml"))


def test_the_committed_schema_is_the_generated_one():
    committed = (builtin_dir() / SCHEMA_FILE).read_text(encoding="utf-8")
    assert json.loads(committed) == catalog_json_schema(), f"stale schema: run {REGENERATE}"
    # ...byte for byte as the command writes it, so regenerating leaves no diff.
    assert committed == json.dumps(catalog_json_schema(), indent=2) + "\n"


def test_the_schema_command_prints_and_writes_it(tmp_path):
    printed = CliRunner().invoke(app, ["prices", "schema"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output) == catalog_json_schema()
    target = tmp_path / "schema.json"
    written = CliRunner().invoke(app, ["prices", "schema", "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == printed.output


def test_the_schema_describes_entries_not_just_the_file():
    schema = catalog_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["models"]["items"] == {"$ref": "#/$defs/ModelEntry"}
    entry = schema["$defs"]["ModelEntry"]
    assert set(entry["required"]) == {"id", "kind", "name"}
    assert entry["additionalProperties"] is False  # a misspelt key is flagged in the editor
    assert {"PricePeriod", "TimeRate", "ModelFacts", "SelfHost"} <= set(schema["$defs"])


@pytest.mark.parametrize("path", _builtin_files(), ids=lambda p: p.name)
def test_every_builtin_file_names_the_schema_and_validates(path):
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    data, _ = load_with_marks(text, str(path))
    # The models the loader uses...
    top = CatalogFile.model_validate(data)
    for item in top.models:
        ModelEntry.model_validate(item)
    # ...and the generated schema, as an editor would use it.
    jsonschema = pytest.importorskip("jsonschema")  # (a dependency of streamlit's altair)
    validator = jsonschema.Draft202012Validator(catalog_json_schema(),
                                                format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def test_the_schema_flags_what_the_models_refuse():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(catalog_json_schema())
    entry = {"id": "toy/x", "kind": "llm", "name": "X", "prices": [], "colour": "red"}
    assert not validator.is_valid({"provider": "toy", "models": [entry]})
    del entry["colour"]
    assert validator.is_valid({"provider": "toy", "models": [entry]})
    entry["kind"] = "video"
    assert not validator.is_valid({"provider": "toy", "models": [entry]})


def test_the_modeline_leaves_loading_and_the_parse_cache_alone(tmp_path, monkeypatch):
    # The modeline is a YAML comment: the same data, parsed or from the parse cache.
    cache = tmp_path / "parse-cache"
    monkeypatch.setenv(_parse_cache.ENV_VAR, str(cache))
    first = Catalog.load()
    assert first.get("openai/gpt-realtime-1.5").kind == "realtime"
    monkeypatch.setattr(_parse_cache, "_SETTLE_SECONDS", 0.0)  # the files are old enough
    Catalog.load()  # fills the cache
    assert any(cache.iterdir())
    cached = Catalog.load()
    assert cached.entries == first.entries
