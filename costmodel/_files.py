"""Reading the files users hand us (scenarios, call-length CSVs, catalogs, prompts, sessions).

Every read is bounded: at most ``limit + 1`` bytes are read, so ``/dev/zero``, a FIFO or a
multi-gigabyte file given by mistake fails at once with "file too large" instead of filling
memory. Text is UTF-8; a byte-order mark is dropped (editors on Windows add one). Errors quote
no more than `CLIP` bytes of what they found, so the wrong file (a key, ``/etc/passwd``)
never ends up copied into a terminal or a log.

Callers pass ``fail``, which turns a message into their own error (a `ScenarioError` naming
the scenario key, a `CatalogError`, an `InputError`), so the exit code stays theirs.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import BinaryIO

MB = 1 << 20
# Limits far above any real file of the kind; a file past them is the wrong file.
SCENARIO_LIMIT = 1 * MB     # the examples are ~2 KB
CSV_LIMIT = 16 * MB         # ~2 million call lengths; more adds nothing to a simulation
CATALOG_LIMIT = 4 * MB      # per catalog file; the built-in ones are under 40 KB
TEXT_LIMIT = 16 * MB        # a prompt file or `costmodel tokens`: 4x the largest context
EVENT_LINE_LIMIT = 16 * MB  # one recorded event; audio deltas are a few KB each
# A whole recorded session: an hour with every output audio delta is ~250 MB; `guard replay`
# holds the lines in memory (it reads them twice), so a bound matters.
EVENT_FILE_LIMIT = 1024 * MB
CLIP = 40                   # bytes of an offending token an error may quote

_BOM = b"\xef\xbb\xbf"

Fail = Callable[[str], Exception]


def clip(text: str, limit: int = CLIP) -> str:
    """The first `limit` bytes of `text` (pass ``repr(x)`` for a value), marked when cut."""
    raw = text.encode("utf-8", errors="replace")
    if len(raw) <= limit:
        return text
    return raw[:limit].decode("utf-8", errors="ignore") + "..."


def user_cache_dir() -> Path:
    """The per-user cache directory of the platform, ``costmodel/`` in it."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "costmodel"


def _mb(n: int) -> str:
    return f"{n / MB:.1f} MB" if n % MB else f"{n // MB} MB"


def read_bytes(source: str | Path | BinaryIO, *, limit: int, fail: Fail) -> bytes:
    """At most `limit` bytes of a file (or an open binary stream); more is an error."""
    if isinstance(source, str | Path):
        try:
            with open(source, "rb") as fh:
                info = os.fstat(fh.fileno())
                if stat.S_ISDIR(info.st_mode):  # (open() succeeds on directories on some OSes)
                    raise fail("is a directory, not a file")
                # A regular file says its size: refuse it without reading a byte.
                if stat.S_ISREG(info.st_mode) and info.st_size > limit:
                    raise fail(f"file too large ({_mb(info.st_size)} > {_mb(limit)} limit)")
                data = fh.read(limit + 1)
        except OSError as exc:
            raise fail(f"cannot read: {exc.strerror or exc}") from None
    else:
        data = source.read(limit + 1)
    if len(data) > limit:  # a device, pipe or growing file: its size was not known
        raise fail(f"file too large (more than the {_mb(limit)} limit)")
    return data


def decode(data: bytes, *, fail: Fail) -> str:
    """UTF-8 text without its byte-order mark; binary data is refused, naming the line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail("not UTF-8 text: UTF-16 (save it as UTF-8)")
    nul = data.find(b"\0")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise fail(f"not UTF-8 text: a binary file (a NUL byte on line {line})")
    data = data.removeprefix(_BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise fail(f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})") from None


def read_text(source: str | Path | BinaryIO, *, limit: int, fail: Fail) -> str:
    """A whole text file, bounded by `limit` bytes (see `read_bytes` and `decode`)."""
    return decode(read_bytes(source, limit=limit, fail=fail), fail=fail)


def read_lines(stream: BinaryIO, *, fail: Fail, limit: int = EVENT_LINE_LIMIT,
               total_limit: int = EVENT_FILE_LIMIT) -> Iterator[str]:
    """The lines of a stream, without their line breaks or a leading BOM, each bounded by
    `limit` bytes (so a stream with no line breaks fails once that much is read).

    Bytes that are not UTF-8 become U+FFFD: one bad line is then reported as malformed by
    whoever parses it, and the rest of the file still counts.
    """
    # Read in blocks and split them in C: a readline() and a decode() per line cost more
    # than parsing the line, and chain() hands the lines out without a generator step each.
    return chain.from_iterable(_blocks(stream, fail, limit, total_limit))


def _blocks(stream: BinaryIO, fail: Fail, limit: int, total_limit: int) -> Iterator[list[str]]:
    """The lines of `read_lines`, a block's worth at a time."""
    read = getattr(stream, "read1", stream.read)  # (what a pipe has, without waiting)
    lineno = total = 0
    carry: list[bytes] = []  # the start of a line that goes on in the next block
    carried = 0
    while True:
        block = read(_BLOCK)
        if not block:
            break
        total += len(block)
        if total > total_limit:
            raise fail(f"file too large (more than the {_mb(total_limit)} limit for a "
                       "recorded session; split it)")
        end = block.rfind(b"\n")
        if end < 0:
            carry.append(block)
            carried += len(block)
            if carried > limit:
                raise fail(f"line {lineno + 1} is longer than {_mb(limit)}: not a file of "
                           "JSON lines")
            continue
        data = b"".join((*carry, block[:end])) if carry else block[:end]
        carry, carried = ([block[end + 1:]], len(block) - end - 1) if end + 1 < len(block) \
            else ([], 0)
        if len(data) > limit:  # (else no line in it can be)
            for i, piece in enumerate(data.split(b"\n")):
                if len(piece) > limit:
                    raise fail(f"line {lineno + i + 1} is longer than {_mb(limit)}: not a "
                               "file of JSON lines")
        lines = data.decode("utf-8", errors="replace").split("\n")
        if not lineno:
            lines[0] = lines[0].removeprefix("\ufeff")
        lineno += len(lines)
        if carried > limit:
            raise fail(f"line {lineno + 1} is longer than {_mb(limit)}: not a file of JSON "
                       "lines")
        yield lines
    if carry:
        last = b"".join(carry).decode("utf-8", errors="replace")
        yield [last.removeprefix("\ufeff") if not lineno else last]


_BLOCK = 64 * 1024  # (a larger block is slower: each one is fresh memory to fault in)
