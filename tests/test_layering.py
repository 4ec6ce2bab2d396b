"""The architecture of docs/architecture.md, enforced: every module imports only from
its own layer or the layers below, the module graph has no cycles, and nothing
below the Kafka edge talks to Kafka.

    0 eventyard.core (+ importing, libc, ports)   value types, errors, small helpers
    1 eventyard.config, eventyard.state, eventyard.observe
    2 eventyard.operators
    3 eventyard.pipelines, eventyard.testing
    4 eventyard.kafka                              the Kafka edge
    5 applications: runtime, replay, dlq, demo, broker, orphans, scaffold, cli (with
      cli.inspect, the read-only look at a store), and the `eventyard` facade module
      (its public names resolve lazily into layers 0-3)

Imports under `if TYPE_CHECKING:` are left out: they never run, and they are how
two modules may name each other's types (state.store and state.transaction).
Imports inside functions count: they run, only later.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

# repository folder -> the package it installs as (pyproject's package-dir)
FOLDERS = {"eventyard": "eventyard", "config": "eventyard.config", "state": "eventyard.state",
           "operators": "eventyard.operators", "pipelines": "eventyard.pipelines"}

LAYERS: dict[str, int] = {
    "eventyard.core": 0, "eventyard.importing": 0, "eventyard.libc": 0, "eventyard.ports": 0,
    "eventyard.config": 1, "eventyard.state": 1, "eventyard.observe": 1,
    "eventyard.operators": 2,
    "eventyard.pipelines": 3, "eventyard.testing": 3,
    "eventyard.kafka": 4,
    **dict.fromkeys(["eventyard.runtime", "eventyard.replay", "eventyard.dlq", "eventyard.demo",
                     "eventyard.broker", "eventyard.orphans", "eventyard.scaffold", "eventyard.cli",
                     "eventyard.__main__", "eventyard"], 5),
}
KAFKA_CLIENTS = ("kafka", "confluent_kafka")


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (a submodule when `from pkg import submodule`)
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    parts[0] = FOLDERS[parts[0]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for folder in FOLDERS for p in (REPO / folder).rglob("*.py")}
    assert "eventyard.state.store" in found and "eventyard.cli.app" in found
    return found


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_imports_of(child))
            continue
        yield from _runtime_imports_of(node)


def _runtime_imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    yield from _runtime_imports(node)


def imports(known: dict[str, Path]) -> list[Import]:
    found: list[Import] = []
    for source, path in known.items():
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [Import(source, alias.name, node.lineno) for alias in node.names]
                continue
            base = node.module or ""
            if node.level:  # relative: from .x import y
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append(Import(source, submodule if submodule in known else base, node.lineno))
    return found


def layer_of(module: str) -> int | None:
    """The layer of the module or of its nearest listed package; `eventyard` itself
    names only the facade module, so a new eventyard/x.py must be placed on purpose."""
    while module:
        if module in LAYERS:
            return LAYERS[module]
        module = module.rpartition(".")[0]
        if module == "eventyard":
            return None
    return None


def test_every_module_has_a_layer():
    assert [m for m in modules() if layer_of(m) is None] == []


def test_no_module_imports_from_a_higher_layer():
    known = modules()
    upward = [f"{i.source} (layer {layer_of(i.source)}) imports {i.target} (layer {layer_of(i.target)}) "
              f"at line {i.line}"
              for i in imports(known) if i.target.startswith("eventyard")
              and (layer_of(i.target) or 0) > (layer_of(i.source) or 0)]
    assert upward == []


def test_only_the_kafka_edge_and_the_applications_use_a_kafka_client():
    known = modules()
    below_edge = [f"{i.source} imports {i.target} at line {i.line}" for i in imports(known)
                  if i.target.split(".")[0] in KAFKA_CLIENTS and (layer_of(i.source) or 0) < LAYERS["eventyard.kafka"]]
    assert below_edge == []


def test_the_module_graph_has_no_cycles():
    known = modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for i in imports(known):
        if i.target in known and i.target != i.source:
            graph[i.source].add(i.target)
    # Tarjan's strongly connected components; any component of 2+ modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []
