"""A `Call` as Gemini Live reports it: the client's setup, then the server's messages, with one
``usageMetadata`` per model turn.

Provider behaviour, from Google's documentation and staff (not from costmodel's estimator):

- The client streams microphone audio continuously (the Live API "processes continuous
  streams of audio", https://docs.cloud.google.com/vertex-ai/generative-ai/docs/live-api/start-manage-session),
  silence included: a Cloud Billing reply (discuss.ai.google.dev thread 92653) says the
  stream's silence is billed. At 25 tokens per second ("10 seconds x 25 tokens/sec", Vertex
  AI's Provisioned Throughput for Live API page), the model's turn k sees every second of the
  stream up to the moment it starts answering.
- Each turn re-bills the whole context, "re-billing applies to all tokens, including raw
  audio from previous turns" (Google staff,
  https://discuss.ai.google.dev/t/pricing-of-speech-to-speech-live-model/140340): the prompt
  of turn k is the system instruction + all streamed input audio so far + every earlier
  answer's audio.
- Context window compression (set in the setup, as sessions past 15 minutes need it): when the
  context passes ``triggerTokens`` (default 80% of the context window) the sliding window
  keeps ``targetTokens`` ("If not set, trigger_tokens/2 is assumed"), cut "at start of USER
  role turn"; the system instruction is never dropped (google-genai
  ``ContextWindowCompressionConfig`` / ``SlidingWindow`` docstrings).
- No implicit caching on Live models (the catalog: "caching not supported"): no
  ``cachedContentTokenCount``.

>>> from tests.fit.timeline import TrueParams, simulate_call
>>> events, truth = live_events(simulate_call(TrueParams(seed=3), 0))
>>> events[0]["setup"]["model"]
'models/gemini-3.8-live'
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .timeline import Call

MODEL = "gemini-3.8-live"
TOKENS_PER_S = 25
CONTEXT_WINDOW = 131_072
TRIGGER = int(CONTEXT_WINDOW * 0.8)
TARGET = TRIGGER // 2
PAYLOAD = "AAAAAAAAAAAA"


@dataclass(frozen=True)
class SessionTruth:
    responses: int
    compressions: int
    prompt_tokens: int


def _setup(call: Call) -> list[dict]:
    return [{"setup": {
        "model": f"models/{MODEL}",
        "generationConfig": {"responseModalities": ["AUDIO"]},
        "systemInstruction": {"parts": [{"text": "You are a friendly booking assistant."}]},
        "realtimeInputConfig": {"automaticActivityDetection": {
            "silenceDurationMs": call.params.vad_silence_ms}},
        "contextWindowCompression": {"slidingWindow": {}},
        "sessionResumption": {}}},
        {"setupComplete": {}}]


def live_events(call: Call, *, chunks: int = 1) -> tuple[list[dict], SessionTruth]:
    """The messages of `call`'s Live session and what the provider did. `chunks`: audio
    messages (``modelTurn`` parts) per answer."""
    p = call.params
    events = _setup(call)
    system = p.system_tokens
    # The context after the system instruction, oldest first: (tokens, starts a user turn?).
    context: deque[tuple[int, bool]] = deque()
    size = streamed = compressions = total = 0
    for turn in call.turns:
        # Every second of the microphone stream up to the model's start of turn is input.
        heard = round(turn.commit_s * TOKENS_PER_S) - streamed
        streamed += heard
        context.append((heard, True))
        size += heard
        if system + size > TRIGGER:
            compressions += 1
            while system + size > TARGET and len(context) > 1:
                size -= context.popleft()[0]
                while context and not context[0][1]:  # cut at the start of a user turn
                    size -= context.popleft()[0]
        answer = round(turn.agent_s * TOKENS_PER_S)
        prompt = system + size
        meta = {"promptTokenCount": prompt, "responseTokenCount": answer,
                "totalTokenCount": prompt + answer,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": system},
                                        {"modality": "AUDIO", "tokenCount": size}],
                "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": answer}]}
        events.append({"serverContent": {"inputTranscription": {"text": "I'd like to book."}}})
        events.extend({"serverContent": {"modelTurn": {"parts": [{"inlineData": {
            "mimeType": "audio/pcm;rate=24000", "data": PAYLOAD}}]}}} for _ in range(chunks))
        events.append({"serverContent": {"generationComplete": True}})
        events.append({"serverContent": {"turnComplete": True}, "usageMetadata": meta})
        context.append((answer, False))
        size += answer
        total += prompt
    return events, SessionTruth(len(call.turns), compressions, total)
