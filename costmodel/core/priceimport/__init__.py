"""`costmodel prices import`: the long tail of a public price map as a user catalog directory.

LiteLLM's, genai-prices' or voice-prices' map (the installed package's, read as data by
`costmodel.core.pricediff.maps`, never imported) becomes catalog files, one per provider, that
load beside the built-in catalog with ``--pricing DIR``. Every imported rate is
``confidence: secondary``, its source the package's PyPI page (name and version), its notes
the map's key and whatever of the row was left out; models the catalog already prices are
skipped (the curated entry wins), and so are models whose rates the catalog cannot hold.

>>> from datetime import date
>>> from decimal import Decimal
>>> from pathlib import Path
>>> from costmodel.core.catalog import default_catalog
>>> from costmodel.core.pricediff.maps import MapSource
>>> their = {"acme-tts-1": {"litellm_provider": "acme", "mode": "audio_speech",
...                         "input_cost_per_character": 1.5e-05}}
>>> report = import_prices(MapSource("litellm", "1.0", Path("map.json"), their),
...                        default_catalog(), day=date(2026, 11, 30))
>>> [(e["id"], e["prices"][0]["characters"]) for e in report.entries]
[('acme/acme-tts-1', {'usd_per_mchar': Decimal('15')})]
"""

from .build import SHADOWED, SOURCES, ImportReport, import_prices, parse_kinds, read_source
from .rows import IMPORT_KINDS, LITELLM_KINDS, genai_kind
from .write import MARK, header, write_catalog

__all__ = ["IMPORT_KINDS", "LITELLM_KINDS", "MARK", "SHADOWED", "SOURCES", "ImportReport",
           "genai_kind", "header", "import_prices", "parse_kinds", "read_source",
           "write_catalog"]
