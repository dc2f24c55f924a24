"""The JSON schema of a catalog file, generated from the models in `costmodel.core.rates`
(editors validate ``pricing/*.yaml`` against it; `costmodel prices schema` prints it)."""

from __future__ import annotations

from typing import Any

from .rates import CatalogFile, ModelEntry

SCHEMA_FILE = "catalog.schema.json"  # beside the built-in catalog files
_JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def catalog_json_schema() -> dict[str, Any]:
    """The JSON schema of a complete catalog file, generated from `CatalogFile` with each of
    its ``models`` a `ModelEntry`, for editors (the YAML files name it in a
    ``yaml-language-server`` modeline). `costmodel prices schema` prints it; the built-in
    ``pricing/catalog.schema.json`` is this, and a test keeps it so.

    Rules that span fields (exactly one rate of a `TimeRate`, prices in date order, ids that
    other entries reference) are checked by the loader only. An override file, whose entries
    may give just ``id`` and the fields they change, is not a complete file.
    """
    schema = CatalogFile.model_json_schema()
    entry = ModelEntry.model_json_schema()
    defs: dict[str, Any] = {**schema.pop("$defs", {}), **entry.pop("$defs", {})}
    defs["ModelEntry"] = entry
    schema["properties"]["models"] = {
        "description": "the provider's entries, each a ModelEntry",
        "items": {"$ref": "#/$defs/ModelEntry"},
        "title": "Models",
        "type": "array",
    }
    return {"$schema": _JSON_SCHEMA_DIALECT, **schema,
            "title": "costmodel price catalog file", "$defs": dict(sorted(defs.items()))}
