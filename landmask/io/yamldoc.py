"""YAML documents read with bounds: the one loader for rules, workflows and model sidecars.

:func:`load_yaml` reads plain YAML data (mappings, lists, text, numbers,
booleans, null) with PyYAML's safe constructors, so a tag such as
``!!python/object`` is refused, and it bounds what a small file can make:

- nesting at most :data:`MAX_DEPTH` levels deep (a ``[[[[...]]]]`` of
  thousands of levels would exhaust PyYAML's recursive composer);
- at most :data:`MAX_NODES` values once every alias is expanded, counted on
  the composed node graph before anything is built, so an alias bomb
  (``a: &a [x, x]``, ``b: &b [*a, *a]``, ... nine times over) is refused in
  microseconds instead of growing into gigabytes when it is walked.

Every refusal is one line naming the file (and the line, where YAML says it).
"""

from __future__ import annotations

from typing import Any

import yaml

from landmask.errors import ConfigError, InputError

__all__ = ["MAX_DEPTH", "MAX_NODES", "load_yaml"]

#: Deepest nesting of mappings and lists accepted.
MAX_DEPTH = 64
#: Most values (scalars, lists, mappings and their keys) a document may hold
#: once its aliases are expanded.
MAX_NODES = 100_000


class _Limit(Exception):
    """A bound of this module was exceeded (carries the message)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, with the nesting of the composer counted."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.nesting = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.nesting += 1
        try:
            if self.nesting > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Limit(f"nested more than {MAX_DEPTH} levels deep at line {mark.line + 1}")
            node: yaml.Node | None = super().compose_node(parent, index)
            return node
        finally:
            self.nesting -= 1


def _expanded_size(root: yaml.Node) -> int:
    """Values under ``root`` with aliases expanded, stopping once past :data:`MAX_NODES`.

    An alias is the very node object it names, so sizes are memoised by node:
    the walk is linear in the text even when the expansion is exponential.
    """
    sizes: dict[int, int] = {}
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, children_done = todo.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if children_done or not children:
            total = 1 + sum(sizes.get(id(c), 0) for c in children)
            sizes[id(node)] = min(total, MAX_NODES + 1)
            continue
        todo.append((node, True))
        todo.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def load_yaml(text: str, source: str, error: type[InputError] = ConfigError) -> Any:
    """Parse one YAML document of plain data, within this module's bounds.

    Parameters
    ----------
    text
        The document.
    source
        What to name in messages (the file's path).
    error
        The exception type to raise, e.g. :class:`~landmask.errors.RuleError`.

    Raises
    ------
    InputError
        ``error``, one line: not valid YAML (with its line), a tag, nesting
        deeper than :data:`MAX_DEPTH`, more than :data:`MAX_NODES` values.
    """
    loader = _BoundedLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except _Limit as exc:
            raise error(f"{source}: YAML {exc}") from None
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise error(
                f"{source}: YAML expands to more than {MAX_NODES} values "
                "(aliases repeating aliases?)"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        tag = " (tags are not accepted)" if problem and "tag" in str(problem) else ""
        raise error(f"{source}: not valid YAML{where}{tag}") from None
    finally:
        loader.dispose()
