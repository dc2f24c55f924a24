"""YAML loading that remembers where each value came from, for error messages."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import yaml

from ._files import clip
from .errors import CatalogError

MAX_DEPTH = 100  # real scenario and catalog files nest 6 levels; 20,000 would overflow the stack
_MAX_INT_CHARS = 100  # int() of thousands of digits raises a bare ValueError (Python's limit)


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings (pydantic parses them), rejects duplicate keys,
    and refuses nesting deeper than `MAX_DEPTH` (composing recurses once per level)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    if len(node.value) > _MAX_INT_CHARS:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of {len(node.value)} digits", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            break  # SafeLoader's own check names the unhashable key and its line
        if key in seen:
            raise CatalogError(f"duplicate key {clip(repr(key))}",
                               line=key_node.start_mark.line + 1, field=clip(str(key)))
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


# libyaml composes the node tree (with marks) ~10x faster than the pure-Python parser; the
# pure-Python loader stays the reference: it runs where libyaml is missing, and again for any
# document libyaml refuses or nests too deeply, so every error reads the same either way.
_CLoader: type[yaml.CSafeLoader] | None = None
if getattr(yaml, "__with_libyaml__", False):
    class _CSafeLoader(yaml.CSafeLoader):
        pass

    _CLoader = _CSafeLoader

_loaders: list[type[yaml.SafeLoader] | type[yaml.CSafeLoader]] = [_Loader]
if _CLoader is not None:
    _loaders.append(_CLoader)
for _cls in _loaders:
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _cls.add_constructor("tag:yaml.org,2002:int", _construct_int)
    # Keep "2026-11-25" a string: pydantic turns it into a date and reports bad ones by field.
    _cls.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def load_with_marks(text: str, path: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text; return the data and the node tree (for `line_of`)."""
    if _CLoader is not None:
        loaded = _load_fast(text)
        if loaded is not None:
            return loaded
    return _load(text, path)


def _load_fast(text: str) -> tuple[Any, yaml.Node | None] | None:
    """`_load` with libyaml's parser, or None for a document it should not settle (an error
    of any kind, or nesting past `MAX_DEPTH`: libyaml's own limit is 1,000)."""
    loader = None
    try:
        assert _CLoader is not None  # (load_with_marks calls this only then)
        loader = _CLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None, None
        if _too_deep(node):
            return None
        return loader.construct_document(node), node
    except (yaml.YAMLError, CatalogError, RecursionError):
        return None
    finally:
        if loader is not None:
            loader.dispose()


def _too_deep(root: yaml.Node) -> bool:
    """Whether collections nest more than `MAX_DEPTH` levels (as `_Loader` counts them)."""
    seen: set[int] = set()  # an anchor inside its own node makes a cycle
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(node, yaml.CollectionNode) and id(node) not in seen:
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    stack.append((key, depth + 1))
                    stack.append((value, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in node.value)
    return False


def _load(text: str, path: str) -> tuple[Any, yaml.Node | None]:
    loader = None
    try:
        loader = _Loader(text)  # (checks every character: may raise ReaderError)
        node = loader.get_single_node()  # composed once: the data is built from this tree
        data = loader.construct_document(node) if node is not None else None
    except CatalogError as exc:
        raise CatalogError(str(exc).split(": ", 2)[-1], path=path, line=exc.line,
                           field=exc.field) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise CatalogError(f"invalid YAML: {exc.problem or exc}", path=path, line=line) from None
    except yaml.reader.ReaderError as exc:  # a control character: no mark, only a position
        line = text.count("\n", 0, exc.position) + 1
        raise CatalogError(f"invalid YAML: {exc.reason} (character #x{exc.character:04x})",
                           path=path, line=line) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of the value at `loc` (a pydantic error location), or its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(part)), None)
        elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
              and part < len(node.value)):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line
