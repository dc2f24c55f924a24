"""What the Pipecat hook reads from, and pushes into, a running pipeline (the installed
pipecat-ai's frames, imported on use, so that `costmodel.hooks.pipecat` imports without it).

- `end_frame`: the frame that ends a pipeline in the installed release, and its direction;
- `first_push`, `ignored_because`: which pushes of a ``MetricsFrame`` the observer prices;
- `pusher`: how the observer pushes an end frame (through its task);
- `note_segmented`: which STT services report requests of their own (not parts of a stream);
- `is_last_sink`, `end_of`, `wait_for_sink`: when a session is over. A worker's run ends when
  an ``EndFrame``, ``StopFrame`` or ``CancelFrame`` reaches its sink, the last processor of
  ``task.pipeline`` (pipecat/pipeline/worker.py, ``_sink_push_frame``, which then calls
  ``on_pipeline_finished``: https://github.com/pipecat-ai/pipecat/blob/main/src/pipecat/
  pipeline/worker.py). The frame's first push is much earlier, before the services ahead of
  it have reported their last usage (an STT service flushes its trailing audio as it stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["END_FRAME_NAMES", "INSTALL_HINT", "end_frame", "end_of", "first_push",
           "frames_module", "ignored_because", "is_last_sink", "note_segmented", "pusher",
           "wait_for_sink", "watch_task"]

log = logging.getLogger("costmodel.hooks.pipecat")

INSTALL_HINT = ("the Pipecat hook needs pipecat-ai, which is not installed: "
                "pip install costmodel[pipecat]")

#: The frames that end a worker's run when they reach its sink.
END_FRAME_NAMES = ("EndFrame", "StopFrame", "CancelFrame")

#: At ``on_pipeline_finished``, how long to wait for the observer to see the sink's event.
SINK_WAIT_SECONDS = 1.0


def frames_module() -> Any:
    """``pipecat.frames.frames``, or an ImportError saying what to install."""
    try:
        from pipecat.frames import frames
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(INSTALL_HINT) from exc
    return frames


def end_frame(cancel: bool = False, reason: str | None = None) -> tuple[Any, Any]:
    """The frame that ends the pipeline in the installed Pipecat, and the direction to push it.

    ``EndWorkerFrame`` / ``CancelWorkerFrame`` (Pipecat >= 1.4) go downstream, as their
    docstrings ask, so frames queued ahead are flushed first; the older ``EndTaskFrame`` /
    ``CancelTaskFrame`` go upstream to the task, as those releases expected.
    """
    frames = frames_module()
    from pipecat.processors.frame_processor import FrameDirection

    new, old = ("CancelWorkerFrame", "CancelTaskFrame") if cancel else \
        ("EndWorkerFrame", "EndTaskFrame")
    cls = getattr(frames, new, None)
    direction = FrameDirection.DOWNSTREAM
    if cls is None:
        cls, direction = getattr(frames, old), FrameDirection.UPSTREAM
    try:
        return cls(reason=reason), direction
    except TypeError:  # old releases: no reason field
        return cls(), direction


def first_push(seen: deque[int], data: Any) -> bool:
    """Whether this is the frame's first push (older Pipecat reports every push)."""
    frame = data.frame
    if getattr(data, "first_push", True) is False or frame.id in seen:
        return False
    seen.append(frame.id)
    return True


def ignored_because(data: Any, client_side: tuple[type, ...]) -> str | None:
    """Why a usage metric pushed this way is not priced, or None to price it."""
    from pipecat.processors.frame_processor import FrameDirection

    if data.direction != FrameDirection.DOWNSTREAM:
        return "pushed upstream"
    if isinstance(data.source, client_side):
        return f"pushed by the transport {data.source}"
    return None


def pusher(observer: Any, data: Any) -> Callable[[Any, Any], Any]:
    """How the observer pushes an end frame: through its task, else from the frame's source."""
    from pipecat.processors.frame_processor import FrameDirection

    async def push(out: Any, direction: Any) -> None:
        if observer.task is None:
            log.warning("%s: no task attached (observer.task = task); pushing %s from "
                        "%s", observer.budget.name, type(out).__name__, data.source)
            await data.source.push_frame(out, direction)
        elif direction == FrameDirection.DOWNSTREAM:
            await observer.task.queue_frame(out)
        else:
            await observer.task.queue_frame(out, direction)

    return push


def note_segmented(names: set[str], source: Any) -> None:
    """Add `source`'s name to `names` when it is a segmented STT service (each VAD segment
    it uploads is a request of its own, and it reports each one:
    ``SegmentedSTTService._handle_user_stopped_speaking`` in pipecat/services/stt_service.py)."""
    from pipecat.services.stt_service import SegmentedSTTService

    if isinstance(source, SegmentedSTTService):
        names.add(str(source.name))


def is_last_sink(task: Any, processor: Any) -> bool:
    """Whether `processor` is the end of the run: the task's sink, the last processor of
    ``task.pipeline``; without a task, any pipeline's sink (exact for a flat pipeline, where
    nothing but sinks follows the user's pipeline's own)."""
    if task is None:
        from pipecat.pipeline.pipeline import PipelineSink

        return isinstance(processor, PipelineSink)
    processors = getattr(getattr(task, "pipeline", None), "processors", None)
    if not processors:
        return False
    return processor is processors[-1]


def watch_task(task: Any, watched: Any, on_finished: Callable[[Any, Any], Any]) -> Any:
    """`task`, with `on_finished` called at its ``on_pipeline_finished`` (once per task)."""
    if task is not None and task is not watched:
        task.add_event_handler("on_pipeline_finished", on_finished)
    return task


def end_of(frame: Any) -> str:
    """How a session ended by `frame` ended (the spend-log line's ``end``)."""
    return "cancelled" if type(frame).__name__ == "CancelFrame" else "ended"


async def wait_for_sink(seen: asyncio.Event) -> None:
    """Wait (a little) for the observer to have seen the end frame at the task's sink: at
    ``on_pipeline_finished`` that event is already queued ahead of it, but a ``CancelFrame``
    that timed out on its way never reaches the sink, and the session is over all the same."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(seen.wait(), SINK_WAIT_SECONDS)
