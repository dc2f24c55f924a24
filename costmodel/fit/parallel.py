"""Reading many session files on every CPU.

Reading a file is independent of every other, and decoding JSON holds the GIL, so many
files are read in worker processes (forked: they inherit the loaded catalog instead of
loading their own), in chunks, and send back only each session's small `SessionFacts`.
Below `PARALLEL_FROM` files, or where fork is not available, files are read here: starting
workers costs more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from ..errors import InputError, UnknownModelError
from .facts import SessionFacts
from .models import ModelBook

PARALLEL_FROM = 64
_CHUNKS_PER_WORKER = 8

Outcome = tuple[list[SessionFacts], list[str]]

_book: ModelBook | None = None
_model: str | None = None


def cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (not on every platform)
        return os.cpu_count() or 1


def read_file(path: str, book: ModelBook, model: str | None) -> Outcome:
    """One file's facts; a file that cannot be read is left out, saying why."""
    from .fitting import file_facts  # (fitting imports this module)

    try:
        return file_facts(path, book, model)
    except UnknownModelError:
        raise
    except InputError as exc:
        return [], [str(exc)]


def map_files(files: Sequence[str], book: ModelBook, model: str | None,
              workers: int | None) -> Iterator[Outcome]:
    """Each file's outcome, in order."""
    n = workers if workers is not None else cpus()
    if n <= 1 or len(files) < PARALLEL_FROM or "fork" not in \
            multiprocessing.get_all_start_methods():
        for path in files:
            yield read_file(path, book, model)
        return
    size = max(1, -(-len(files) // (n * _CHUNKS_PER_WORKER)))
    chunks = [list(files[i:i + size]) for i in range(0, len(files), size)]
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("fork"),
                             initializer=_init, initargs=(book, model)) as pool:
        shown: set[tuple[type[Warning], str]] = set()
        for kind, payload, caught in pool.map(_read_chunk, chunks):
            for category, text in caught:  # a worker's warnings, once each, raised here
                if (category, text) not in shown:
                    shown.add((category, text))
                    warnings.warn(text, category, stacklevel=2)
            if kind == "unknown":  # rebuilt here: its arguments do not survive pickling
                exc = UnknownModelError(*payload[:2], note=payload[2])
                exc.args = (payload[3],)
                raise exc
            yield from payload


def _init(book: ModelBook, model: str | None) -> None:
    global _book, _model
    _book, _model = book, model


def _read_chunk(paths: list[str]) -> tuple[str, Any, list[tuple[type[Warning], str]]]:
    """A chunk's outcomes, and the warnings reading it raised (a worker's own would go to
    its stderr, past the command line's notes)."""
    assert _book is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: tuple[str, Any] = ("ok", [read_file(p, _book, _model) for p in paths])
        except UnknownModelError as exc:
            result = ("unknown", (exc.model, exc.suggestions, exc.note, str(exc)))
    seen = list(dict.fromkeys((w.category, str(w.message)) for w in caught))
    return (*result, seen)
