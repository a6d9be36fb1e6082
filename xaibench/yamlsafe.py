"""Reading a registry's YAML so that no file can hang or exhaust the machine.

PyYAML's safe loader executes nothing, but an alias bomb (a few lines of anchors referring to
anchors) expands to billions of nodes in anything that walks the result, a deeply nested
document overflows the composer's recursion, and an anchor referring to itself makes a cycle.
:func:`read_yaml` bounds them all before anything walks the document: the file's size, its
encoding (one line with the byte offset), the nesting depth and the number of nodes the document
has once aliases are expanded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20
"""A registry is a page of settings: 1 MiB is far more than any needs."""
MAX_NODES = 100_000
"""Nodes once every alias is expanded (a large real registry has a few thousand)."""
MAX_DEPTH = 64


class YamlProblem(Exception):
    """A file that cannot be read as a registry; ``line`` (1-based) where known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line, self.column = line, column


def read_yaml(path: Path) -> tuple[yaml.Node | None, Any]:
    """The composed node graph and the loaded data of ``path``; raise :class:`YamlProblem`."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlProblem(f"file of {size} bytes; a registry may have at most {MAX_BYTES}")
    raw = path.read_bytes()[: MAX_BYTES + 1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlProblem(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset {exc.start}", line) from None
    if "\x00" in text:
        offset = text.index("\x00")
        raise YamlProblem(f"NUL character at offset {offset}", text[:offset].count("\n") + 1)
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH + 200))
        _depth(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _bound(node)
        data = yaml.load(text, Loader=yaml.SafeLoader) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(f"YAML syntax error: {problem}", mark.line + 1 if mark else None,
                          mark.column + 1 if mark else None) from None
    except RecursionError:
        raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        sys.setrecursionlimit(limit)
    return node, data


def _depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the parser's events (the composer recurses)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", event.start_mark.line + 1,
                                  event.start_mark.column + 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _bound(root: yaml.Node) -> None:
    """Raise :class:`YamlProblem` for a cycle, depth above MAX_DEPTH or more than MAX_NODES
    expanded nodes.  Sizes are memoised per node, so an alias bomb is measured in linear time."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        line = node.start_mark.line + 1
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels", line)
        if id(node) in active:
            raise YamlProblem("an alias refers to the node that contains it (a cycle)", line)
        active.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise YamlProblem(f"more than {MAX_NODES} values once aliases are expanded (an alias bomb?)", line)
        active.discard(id(node))
        sizes[id(node)] = total
        return total

    size(root, 0)
