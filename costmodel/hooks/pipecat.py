"""Pipecat hook: price the usage a pipeline reports and end the pipeline before it overspends.

Pipecat services report usage in ``MetricsFrame``\\ s (``LLMUsageMetricsData``,
``STTUsageMetricsData``, ``TTSUsageMetricsData``; enable them with
``PipelineParams(enable_usage_metrics=True)``). Each one is priced with
`costmodel.adapters.pipecat` and fed to a `SessionGuard`; when the guard says

- ``wrap_up``: the optional ``on_wrap_up`` frame(s) are pushed upstream from the end of the
  pipeline (e.g. an ``LLMMessagesAppendFrame(messages=[...], run_llm=True)`` asking the bot to
  close politely: the assistant context aggregator appends it and runs the LLM), or
  ``on_wrap_up(decision)`` is called (it may return frames to push, and may be async);
- ``cut``: the pipeline is ended with ``EndWorkerFrame`` (graceful: queued frames are flushed;
  ``end="cancel"``: ``CancelWorkerFrame``, immediate). Pipecat releases before 1.4 have the
  older names ``EndTaskFrame`` / ``CancelTaskFrame``, used when the new ones do not exist.

Two ways to plug it in (``pip install costmodel[pipecat]``)::

    from costmodel.hooks.pipecat import BudgetObserver

    budget = BudgetObserver(limit_usd="0.50", models={
        "DeepgramSTTService": "deepgram/nova-3",
        "OpenAILLMService": "openai/gpt-4o-mini",
        "CartesiaTTSService": "cartesia/sonic-3"})
    task = PipelineWorker(pipeline, params=PipelineParams(enable_usage_metrics=True),
                          observers=[budget])        # PipelineTask in older releases
    budget.task = task                               # the observer ends the pipeline through it

or ``BudgetProcessor(...)`` placed **last** in the pipeline (it sees only the metrics that flow
through it, and pushes the end frame itself). The observer sees every processor's metrics
wherever it sits, each frame once.

Model names: a metric carries ``processor`` (``"OpenAILLMService#0"``) and ``model``
(``"gpt-4o-mini"``). ``models`` maps either to a catalog id (tried in that order: full
processor name, processor class name, model name), or is a callable ``(processor, model) ->
catalog id | None``; a model name the catalog knows (an id, alias or unambiguous bare name) is
used as is. When a metric cannot be mapped or priced, the guard's ``on_unpriced`` policy
decides: ``fail_closed`` (default) ends the pipeline, ``fail_open`` logs and goes on.

STT audio is billed as providers bill it (`costmodel.hooks.streams`): a streaming service
(Deepgram...) reports "incremental deltas" of one stream (pipecat ``metrics/metrics.py``
``STTUsage``), so its audio is rounded to the billing increment once per stream (per service
instance), each report priced as what it adds to the stream's bill: at every report the spend
is what the stream would cost if it closed then. A segmented service (``SegmentedSTTService``:
Whisper, Groq...) uploads each VAD segment as a request of its own and reports each: each is
billed alone. The observer tells them apart by the service that pushed the metric; the
processor and recorded metrics cannot, so name segmented services in ``segmented_stt=``
(processor or class names).

The guard's session model (the LLM whose next response is projected) is ``llm_model=``, or
the one LLM among the ``models`` values. Or pass your own ``guard=SessionGuard(...)``.

``spend_log=PATH`` appends the session's spend-log line (`costmodel.guard.spendlog`: spend,
every priced usage, ``seconds``) when the pipeline has finished (the observer: the end frame
processed by the task's sink, or the task's ``on_pipeline_finished``; the processor: the end
frame reaching it, last) or at `PipecatBudget.finalize`. Its length is on the guard's
``clock=`` (default ``time.monotonic``; a replay of recorded metrics passes one that reads
their timestamps).

Only services report usage: Pipecat services push their usage metrics *downstream*
(``FrameProcessor.start_llm_usage_metrics`` and its siblings). A usage metric that travels
upstream, or that a transport pushed (the processors that face the user's client), is not
the provider's report: it is passed on and never metered (counted in ``ignored_metrics``).
The observer checks both; the processor sees only the direction of what reaches it (a frame
does not say who pushed it), so prefer the observer where a transport takes client input.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

from ..adapters.pipecat import usage_from_pipecat_metrics
from ..core.usage import Usage
from ..errors import CostModelError, UsageError
from ..guard.policy import Decision
from ..guard.session import SessionGuard
from ._common import MeteredHook, build_guard, session_model
from .pipecat_frames import (
    END_FRAME_NAMES,
    end_frame,
    end_of,
    first_push,
    frames_module,
    ignored_because,
    is_last_sink,
    note_segmented,
    pusher,
    wait_for_sink,
    watch_task,
)
from .streams import Streams

__all__ = ["BudgetObserver", "BudgetProcessor", "PipecatBudget", "end_frame"]

log = logging.getLogger("costmodel.hooks.pipecat")

# Built from Pipecat's base classes on first access (module __getattr__ below), so that this
# module imports without pipecat; declared here for readers and linters.
BudgetObserver: type
BudgetProcessor: type

_USAGE_CLASSES = frozenset({"LLMUsageMetricsData", "STTUsageMetricsData", "TTSUsageMetricsData"})
_INSTANCE = re.compile(r"#\d+$")

Models = Mapping[str, str] | Callable[[str, str | None], str | None] | None


def _as_dict(data: Any) -> tuple[str, Any]:
    """(class name, dict) of one MetricsData (pydantic model) or a recorded dict."""
    if isinstance(data, Mapping):
        return "", data
    dump = getattr(data, "model_dump", None)
    if dump is None:
        raise UsageError(f"not a Pipecat MetricsData: {data!r}")
    return type(data).__name__, dump()


def _is_usage(cls_name: str, data: Mapping[str, Any]) -> bool:
    if cls_name:
        return cls_name in _USAGE_CLASSES
    value = data.get("value")
    return (isinstance(value, Mapping) and ("prompt_tokens" in value or "audio_seconds" in value)
            or type(value) is int)


class PipecatBudget(MeteredHook):
    """Prices Pipecat usage metrics against a `SessionGuard`; framework-free (the observer and
    processor wrap it). See the module docstring for the arguments."""

    guard: SessionGuard
    _stop_words = "ending the pipeline"
    _log = log

    def __init__(self, guard: SessionGuard | None = None, *,
                 limit_usd: Decimal | str | float | None = None, models: Models = None,
                 llm_model: str | None = None, on_wrap_up: Any = None,
                 end: Literal["end", "cancel"] = "end", name: str = "pipecat",
                 spend_log: str | os.PathLike[str] | None = None,
                 segmented_stt: Iterable[str] = (), **guard_kwargs: Any) -> None:
        if end not in ("end", "cancel"):
            raise UsageError("end must be 'end' (graceful) or 'cancel' (immediate)")
        self.models = models
        if guard is None and llm_model is None and isinstance(models, Mapping):
            catalog = guard_kwargs.get("catalog")
            if catalog is None:
                from ..core.catalog import default_catalog
                catalog = default_catalog()
            llm_model = session_model(models.values(), catalog)
        self.guard = build_guard(guard, limit_usd, llm_model, guard_kwargs, log)
        self.on_wrap_up = on_wrap_up
        self.end = end
        self.name, self.spend_log = name, spend_log
        self._last: Decision | None = None
        self.ended = False          # the end frame was pushed
        self.wrapped_up = False     # the wrap-up was delivered
        self._ids: dict[tuple[str, str | None], str] = {}
        self.ignored_metrics = 0    # usage metrics from the client's side: never metered
        self.segmented_stt = set(segmented_stt)   # processors whose reports are requests
        self.streams = Streams(self.guard.catalog)

    # -- pricing ------------------------------------------------------------------------------
    def catalog_id(self, processor: str, model: str | None) -> str:
        """The catalog id for a metric's ``processor`` and ``model`` (see the module doc)."""
        key = (processor, model)
        hit = self._ids.get(key)
        if hit is not None:
            return hit
        found: str | None = None
        models = self.models
        if callable(models):
            found = models(processor, model)
        elif models:
            for name in (processor, _INSTANCE.sub("", processor), model):
                if name is not None and name in models:
                    found = models[name]
                    break
        if found is None and model:
            with contextlib.suppress(CostModelError):
                found = self.guard.catalog.resolve(model)
        if found is None:
            raise UsageError(f"no catalog id for Pipecat processor {processor!r} (model "
                             f"{model!r}): add it to models=, e.g. "
                             f"{{{_INSTANCE.sub('', processor)!r}: '<provider>/<model>'}}")
        self._ids[key] = found
        return found

    def usages(self, frame: Any) -> list[Usage]:
        """The priced `Usage`\\ s in a ``MetricsFrame`` (or a list of MetricsData, or recorded
        ``{"processor", "model", "value"}`` dicts); timing metrics are skipped.

        STT audio is billed per stream (`costmodel.hooks.streams`): a streaming service's
        reports are deltas of one stream, and each becomes what it adds to the stream's bill
        (the audio so far rounded once, less what was billed); a report that adds nothing is
        left out. Advances the streams: call it once per frame (`observe` does). The reports
        of a processor in ``segmented_stt`` are requests of their own, each billed alone."""
        items = getattr(frame, "data", frame)
        if isinstance(items, Mapping) or not isinstance(items, Iterable):
            items = [items]
        out = []
        for data in items:
            cls_name, d = _as_dict(data)
            if not _is_usage(cls_name, d):
                continue
            processor = str(d.get("processor") or "")
            model = d.get("model")
            usage: Usage | None = usage_from_pipecat_metrics(
                d, self.catalog_id(processor, model), label=processor)
            if usage is not None and usage.audio_seconds and not self._segmented(processor):
                usage = self.streams.share((processor, usage.model), usage)
            if usage is not None:
                out.append(usage)
        return out

    def _segmented(self, processor: str) -> bool:
        return processor in self.segmented_stt or \
            _INSTANCE.sub("", processor) in self.segmented_stt

    def observe(self, frame: Any) -> Decision | None:
        """Price the usage in `frame` and return the guard's decision (None: nothing priced)."""
        try:
            usages = self.usages(frame)
        except CostModelError as exc:
            return self._unpriced(str(exc))
        if not usages:
            return None
        return self._feed(usages)

    def finalize(self, end: str | None = None) -> Decision:
        """The session is over: the guard's last decision; the spend-log line is written
        (``end``: how it ended; default ``cut`` when the budget ended it, else ``ended``)."""
        return self._finalize(end)

    def ignore(self, frame: Any, why: str) -> None:
        """A metrics frame that did not come from a service: pass it on, never meter it."""
        self.ignored_metrics += 1
        if self.ignored_metrics == 1:   # once: whoever sends them may send many
            log.warning("%s: not metering a MetricsFrame %s: only services report usage",
                        self.name, why)

    # -- acting -------------------------------------------------------------------------------
    async def act(self, decision: Decision | None, push: Callable[[Any, Any], Any]) -> None:
        """Carry out `decision` once: push the wrap-up frames, or end the pipeline.

        ``push(frame, direction)`` is awaited for each frame to push."""
        if decision is None or self.ended:
            return
        if decision.action == "cut":
            self.ended = True
            frame, direction = end_frame(self.end == "cancel", f"budget: {decision.reason}")
            log.error("%s: ending the pipeline (%s): %s", self.name, type(frame).__name__,
                      decision.reason)
            await push(frame, direction)
        elif decision.action == "wrap_up" and not self.wrapped_up:
            self.wrapped_up = True
            frames = self.on_wrap_up
            if callable(frames) and not isinstance(frames, type):
                frames = frames(decision)
                if inspect.isawaitable(frames):
                    frames = await frames
            if frames is None:
                return
            from pipecat.processors.frame_processor import FrameDirection
            for frame in frames if isinstance(frames, list | tuple) else [frames]:
                log.warning("%s: wrap-up: pushing %s", self.name, type(frame).__name__)
                # Upstream from the end: the assistant context aggregator (last but the
                # budget processor) takes an LLMMessagesAppendFrame in either direction.
                await push(frame, FrameDirection.UPSTREAM)


def _budget(budget: PipecatBudget | None, kwargs: dict[str, Any]) -> PipecatBudget:
    if budget is not None:
        if kwargs:
            raise UsageError("pass either a PipecatBudget or the arguments to build one")
        return budget
    return PipecatBudget(**kwargs)


def _build_classes() -> dict[str, type]:
    frames = frames_module()
    return {"BudgetProcessor": _processor_class(frames),
            "BudgetObserver": _observer_class(frames)}


def _observe(budget: PipecatBudget, frame: Any) -> Decision | None:
    """`budget.observe`, never raising: a failure leaves the session unpriced."""
    try:
        return budget.observe(frame)
    except Exception as exc:  # never into pipecat (which drops an observer that raises)
        log.exception("%s: the budget hook failed", budget.name)
        return budget._unpriced(f"the budget hook failed: {exc!r}")


def _processor_class(frames: Any) -> type:
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

    metrics_frame = frames.MetricsFrame
    terminal = (frames.EndFrame, frames.CancelFrame)

    class BudgetProcessor(FrameProcessor):
        """A pass-through processor that prices the usage metrics reaching it and ends the
        pipeline on a cut; place it last. Takes a `PipecatBudget` or its arguments."""

        def __init__(self, budget: PipecatBudget | None = None, **kwargs: Any) -> None:
            super().__init__(name=kwargs.pop("processor_name", None))
            self.budget = _budget(budget, kwargs)

        @property
        def guard(self) -> SessionGuard:
            return self.budget.guard

        async def process_frame(self, frame: Any, direction: Any) -> None:
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)
            if isinstance(frame, metrics_frame) and direction != FrameDirection.DOWNSTREAM:
                self.budget.ignore(frame, "travelling upstream")
            elif isinstance(frame, metrics_frame):
                await self.budget.act(_observe(self.budget, frame), self.push_frame)
            elif isinstance(frame, terminal):
                self.budget.finalize()

    return BudgetProcessor


def _observer_class(frames: Any) -> type:
    from pipecat.observers.base_observer import BaseObserver, FrameProcessed, FramePushed
    from pipecat.transports.base_input import BaseInputTransport
    from pipecat.transports.base_output import BaseOutputTransport

    ends = tuple(getattr(frames, n) for n in END_FRAME_NAMES if hasattr(frames, n))
    client_side = (BaseInputTransport, BaseOutputTransport)

    class BudgetObserver(BaseObserver):
        """An observer that prices every usage metric once, wherever it is pushed, and ends the
        pipeline through ``task`` (set ``observer.task = task`` after building the task).
        Without a task it pushes the end frame from the processor that pushed the metric.

        The session is over (`PipecatBudget.finalize`, its spend-log line) once the end frame
        has been processed by the task's sink, the last processor of ``task.pipeline``
        (without a task: by a pipeline's sink, exact for a flat pipeline), or at the task's
        ``on_pipeline_finished``: never at the end frame's first push, which comes before the
        usage the services report as they stop (an STT service flushes its trailing audio
        then). The observer hears of the sink processing the frame after every push made
        before it (its events are queued in order), so no usage is left out."""

        def __init__(self, budget: PipecatBudget | None = None, *, task: Any = None,
                     **kwargs: Any) -> None:
            try:
                super().__init__(observe_every_push=False)
            except TypeError:  # releases before observe_every_push: deduplicated below
                super().__init__()
            self.budget = _budget(budget, kwargs)
            self._task: Any = None
            self._at_sink = asyncio.Event()
            self.task = task
            self._seen: deque[int] = deque(maxlen=256)

        @property
        def guard(self) -> SessionGuard:
            return self.budget.guard

        def _get_task(self) -> Any:
            return self._task

        def _set_task(self, task: Any) -> None:
            self._task = watch_task(task, self._task, self._pipeline_finished)

        task = property(_get_task, _set_task, doc="The ``PipelineWorker`` (``PipelineTask``) "
                        "the observer ends, and whose end ends the session.")

        async def on_push_frame(self, data: FramePushed) -> None:
            frame = data.frame
            if not isinstance(frame, frames.MetricsFrame) or not first_push(self._seen, data):
                return
            reason = ignored_because(data, client_side)
            if reason is not None:
                self.budget.ignore(frame, reason)
                return
            note_segmented(self.budget.segmented_stt, data.source)
            await self.budget.act(_observe(self.budget, frame), pusher(self, data))

        async def on_process_frame(self, data: FrameProcessed) -> None:
            if isinstance(data.frame, ends) and is_last_sink(self._task, data.processor):
                self._at_sink.set()
                self.budget.finalize(end_of(data.frame))

        async def _pipeline_finished(self, task: Any, frame: Any) -> None:
            await wait_for_sink(self._at_sink)
            self.budget.finalize(end_of(frame))

    return BudgetObserver


def __getattr__(name: str) -> Any:
    # The Pipecat subclasses are built on first use, so this module imports without pipecat.
    if name in ("BudgetProcessor", "BudgetObserver"):
        classes = _build_classes()
        globals().update(classes)
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
