"""Id resolution: the model ids and provider names real payloads carry resolve to catalog ids.

Each id below is one a provider, framework or cloud really sends; the comment says where it
was published. Entries come from the built-in catalog unless a test adds its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from costmodel import Catalog, UnknownModelError
from costmodel.core.resolve import IdRules, Miss, Resolver, load_rules, provider_table

from ..conftest import write

# (id as carried, provider as carried, catalog id)
REAL_IDS = [
    # OpenAI dated snapshots, listed under "Snapshots" on the model pages:
    # https://platform.openai.com/docs/models/gpt-realtime-mini
    ("gpt-realtime-mini-2025-10-06", None, "openai/gpt-realtime-mini"),
    # https://platform.openai.com/docs/models/gpt-realtime (its own alias in the catalog)
    ("gpt-realtime-2025-08-28", None, "openai/gpt-realtime"),
    # Provider-prefixed, as LiteLLM and LiveKit Inference spell them:
    # https://docs.litellm.ai/docs/providers/openai, https://docs.livekit.io/agents/models/llm/
    ("openai/gpt-realtime-2025-08-28", None, "openai/gpt-realtime"),
    ("anthropic/claude-haiku-4-5", None, "anthropic/claude-haiku-4.5"),
    # Anthropic's API id: https://docs.anthropic.com/en/docs/about-claude/models/overview
    ("claude-haiku-4-5-20251001", None, "anthropic/claude-haiku-4.5"),
    # Vertex AI's id for the same snapshot:
    # https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude
    ("claude-haiku-4-5@20251001", "Vertex AI", "anthropic/claude-haiku-4.5"),
    ("vertex_ai/claude-haiku-4-5@20251001", None, "anthropic/claude-haiku-4.5"),
    # Bedrock model id and cross-region inference profile:
    # https://docs.aws.amazon.com/bedrock/latest/userguide/models-supported.html
    ("amazon.nova-2-sonic-v1:0", "Amazon", "amazon/nova-2-sonic"),
    ("bedrock/amazon.nova-2-sonic-v1:0", None, "amazon/nova-2-sonic"),
    ("bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0", None, "anthropic/claude-haiku-4.5"),
    # What LiveKit's adapter joined from a Nova Sonic session_usage_updated (issue 11):
    # provider "Amazon", model "amazon.nova-2-sonic-v1:0".
    ("amazon/amazon.nova-2-sonic-v1:0", None, "amazon/nova-2-sonic"),
    # LiveKit's Google realtime plugin reports provider "Gemini" (Developer API) or
    # "Vertex AI": https://github.com/livekit/agents/tree/main/livekit-plugins/livekit-plugins-google
    ("gemini-2.5-flash-native-audio-preview-12-2025", "Gemini",
     "google/gemini-2.5-flash-native-audio"),
    ("gemini-3-flash-preview", "Vertex AI", "google/gemini-3-flash"),
    # LiveKit's OpenAI-client plugins report the API host: xAI's is api.x.ai
    # (https://docs.x.ai/docs/api-reference, base URL https://api.x.ai/v1); model ids from
    # https://docs.x.ai/docs/models
    ("grok-4-1-fast-reasoning", "api.x.ai", "xai/grok-4.1-fast"),
    ("nova-3", "Deepgram", "deepgram/nova-3"),
    ("gpt-realtime", "openai", "openai/gpt-realtime"),
    # Gemini's stable version suffix: https://ai.google.dev/gemini-api/docs/models#model-versions
    ("models/gemini-2.0-flash-live-001", None, "google/gemini-2.0-flash-live"),
    # Pipecat's service class as MetricsData.processor names it (pipecat-ai 1.14.0,
    # https://github.com/pipecat-ai/pipecat/blob/main/src/pipecat/services/azure/llm.py)
    ("gpt-4o-mini", "AzureLLMService", "openai/gpt-4o-mini"),
]


@pytest.mark.parametrize(("model", "provider", "expected"), REAL_IDS)
def test_real_ids_resolve(builtin: Catalog, model: str, provider: str | None,
                          expected: str) -> None:
    assert builtin.resolve(model, provider=provider) == expected


def test_the_one_argument_form_still_works(builtin: Catalog) -> None:
    assert builtin.resolve("openai/gpt-realtime-1.5") == "openai/gpt-realtime-1.5"
    assert builtin.resolve("gpt-realtime-mini-2025-10-06") == "openai/gpt-realtime-mini"
    assert "claude-haiku-4-5@20251001" in builtin


LEGACY = """
provider: test
models:
  - id: openai/gpt-4o-realtime-preview
    kind: realtime
    name: GPT-4o Realtime Preview (test copy)
    prices:
      - effective: 2024-12-17
        checked: 2026-11-25
        source: https://platform.openai.com/docs/models/gpt-4o-realtime-preview
        tokens:
          text: {input: 5, cached: 2.5, output: 20}
          audio: {input: 40, cached: 2.5, output: 80}
  - id: openai/gpt-4o-realtime-preview-2024-10-01
    kind: realtime
    name: GPT-4o Realtime Preview, first snapshot (priced higher; test copy)
    prices:
      - effective: 2024-10-01
        checked: 2026-11-25
        source: https://platform.openai.com/docs/models/gpt-4o-realtime-preview
        tokens:
          text: {input: 5, cached: 2.5, output: 20}
          audio: {input: 100, cached: 20, output: 200}
"""


def test_a_snapshot_resolves_to_its_model_unless_it_has_an_entry_of_its_own(
        tmp_path: Path) -> None:
    # Snapshots from https://platform.openai.com/docs/models/gpt-4o-realtime-preview
    cat = Catalog.load([write(tmp_path / "p", "legacy.yaml", LEGACY).parent])
    assert cat.resolve("gpt-4o-realtime-preview-2024-12-17") == "openai/gpt-4o-realtime-preview"
    assert (cat.resolve("gpt-4o-realtime-preview-2024-10-01")
            == "openai/gpt-4o-realtime-preview-2024-10-01")
    assert (cat.resolve("openai/gpt-4o-realtime-preview-2024-06-03")
            == "openai/gpt-4o-realtime-preview")


def test_an_azure_deployment_resolves_through_an_alias_the_user_adds(tmp_path: Path,
                                                                     builtin: Catalog) -> None:
    # Azure OpenAI requests name the deployment, which its owner chose:
    # https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/realtime-audio
    with pytest.raises(UnknownModelError, match="alias in your own catalog file"):
        builtin.resolve("azure/support-voice-prod")
    aliases = builtin.get("openai/gpt-realtime").aliases
    write(tmp_path / "mine", "azure.yaml", f"""
        provider: mine
        models:
          - id: openai/gpt-realtime
            aliases: {[*aliases, "support-voice-prod"]}
        """)
    cat = Catalog.load([tmp_path / "mine"])
    assert cat.resolve("azure/support-voice-prod") == "openai/gpt-realtime"
    assert cat.resolve("support-voice-prod", provider="azure") == "openai/gpt-realtime"


def test_a_provider_name_restricts_the_search_to_its_providers(builtin: Catalog) -> None:
    with pytest.raises(UnknownModelError) as err:
        builtin.resolve("nova-3", provider="api.openai.com")
    assert "deepgram/nova-3" in err.value.suggestions   # named, never silently picked


def test_an_unknown_provider_name_searches_every_provider(builtin: Catalog) -> None:
    assert builtin.resolve("gpt-4o-mini", provider="api.example-gateway.com") == \
        "openai/gpt-4o-mini"


def test_an_id_that_still_fails_names_the_nearest_ids(builtin: Catalog) -> None:
    with pytest.raises(UnknownModelError) as err:
        builtin.resolve("openai/gpt-realtime-mini-2")
    assert "openai/gpt-realtime-mini" in err.value.suggestions


def test_answers_are_memoized(builtin: Catalog) -> None:
    first = builtin.resolve("gpt-realtime-mini-2025-10-06", provider="openai")
    assert builtin._resolved[("gpt-realtime-mini-2025-10-06", "openai")] == first


def test_the_table_is_data_a_new_provider_name_needs_no_code() -> None:
    rules = IdRules.model_validate({
        "providers": {"Acme Voice Cloud": {"means": ["toy"]}},
        "snapshots": [{"pattern": r"-\d{4}-\d{2}-\d{2}$"}],
    })
    resolver = Resolver([("toy/realtime", ["toy-rt"]), ("other/tts", [])], rules)
    assert resolver.find("toy-rt-2026-01-01", "acme voice cloud") == "toy/realtime"
    assert resolver.find("acme voice cloud/realtime") == "toy/realtime"
    assert resolver.find("tts") == "other/tts"
    assert isinstance(resolver.find("tts", "Acme Voice Cloud"), Miss)   # not one of toy's


def test_every_provider_the_table_names_is_in_the_builtin_catalog(builtin: Catalog) -> None:
    providers = {e.provider for e in builtin}
    for name, means in provider_table().items():
        assert set(means) <= providers, name
    assert provider_table()["vertex ai"] == ("google", "anthropic")


def test_the_builtin_table_validates() -> None:
    rules = load_rules()
    assert rules.snapshots and rules.vendor_prefixes and "api.x.ai" in rules.providers


def test_azure_names_its_speech_service_too(builtin: Catalog) -> None:
    # Pipecat's Azure speech classes (pipecat-ai 1.14.0 pipecat/services/azure/stt.py, tts.py)
    # and LiveKit's "azure" provider name reach the azure-speech entries; Azure's OpenAI
    # deployments still resolve to OpenAI's models.
    assert builtin.resolve("tts-neural", provider="AzureTTSService") == "azure-speech/tts-neural"
    assert builtin.resolve("stt-realtime", provider="Azure") == "azure-speech/stt-realtime"
    assert builtin.resolve("gpt-realtime", provider="azure") == "openai/gpt-realtime"
