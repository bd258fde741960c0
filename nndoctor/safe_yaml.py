"""The one YAML loader of nndoctor: a safe loader that refuses alias bombs.

Every YAML file nndoctor reads goes through :func:`load_yaml`: the knowledge base (rules, facts,
causes, settings) and the files beside a log (``hparams.yaml``, ``args.yaml``, MLflow's
``meta.yaml``). A safe loader builds no arbitrary objects, but aliases still let a 1 KB file stand
for billions of values ("billion laughs"): PyYAML shares the aliased objects, so loading is cheap,
and whatever walks the result afterwards (pydantic, ``str()``) expands them, to gigabytes. So the
document is composed first (aliases are pointers there, linear in the file size), its *expanded*
size is counted, and a document above :data:`MAX_YAML_NODES` (or one that contains itself) is
refused with a :class:`YAMLBombError`, a ``yaml.YAMLError``, before any object is built.
"""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's is 6× faster, same result
MAX_YAML_NODES = 200_000  # values after expanding aliases; the largest built-in file has ~600


class YAMLBombError(yaml.YAMLError):
    """A document whose aliases expand beyond the node budget, or that refers to itself."""


def expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes of ``root`` with every alias expanded (an alias counts the whole subtree it names),
    stopping early at ``limit + 1``. Shared nodes are sized once (memoised), so this is linear in
    the number of distinct nodes. Raises :class:`YAMLBombError` for a recursive document."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            size[key] = min(total, limit + 1)
            continue
        if key in size:
            continue
        if key in on_path:
            raise YAMLBombError("the document refers to itself (a recursive alias)")
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise YAMLBombError("the document refers to itself (a recursive alias)")
            if id(child) not in size:
                stack.append((child, False))
        if len(size) > limit:
            break
    return size.get(id(root), limit + 1)


def tree_size(root: yaml.Node, limit: int) -> int:
    """:func:`expanded_size` of a document without aliases (no ``*`` in its text), where no
    node is shared: its nodes counted, stopping early at ``limit + 1``."""
    count, stack = 0, [root]
    while stack and count <= limit:
        node = stack.pop()
        count += 1
        if isinstance(node, yaml.CollectionNode):
            stack.extend(_children(node))
    return count


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_yaml(text: str, max_nodes: int = MAX_YAML_NODES) -> Any:
    """Parse one YAML document with the safe loader; ``yaml.YAMLError`` (a
    :class:`YAMLBombError` for an alias bomb) when it is not valid or too large once expanded."""
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = tree_size if "*" not in text else expanded_size  # an alias is written *name
        if size(node, max_nodes) > max_nodes:
            raise YAMLBombError(f"more than {max_nodes:,} values once its aliases are expanded "
                                "(an alias bomb?)")
        return loader.construct_document(node)
    except RecursionError:  # libyaml stops at 1,000 levels; the pure-Python loader does not
        raise YAMLBombError("the document is nested too deeply") from None
    finally:
        loader.dispose()
