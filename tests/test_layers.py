"""The layers hold: no import runs up a layer, no modules import each other in a circle (function-level imports count)."""

from __future__ import annotations

import ast
from collections import defaultdict

from tests.helpers import ROOT
from workbench.layers import LAYERS, layer_of


def _imports() -> dict[str, set[str]]:
    """``workbench.*`` module -> the ``workbench.*`` modules it imports, anywhere in its body."""
    out: dict[str, set[str]] = defaultdict(set)
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                names = [".".join(base + ([node.module] if node.module else []))]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            out[module] |= {n for n in names if n.split(".")[0] == "workbench" and n != module}
    return out


def test_every_module_is_in_a_layer():
    for module in _imports():
        layer_of(module)  # raises for a module no layer names


def test_no_import_runs_up():
    names = list(LAYERS)
    up = [f"{a} ({names[layer_of(a)]}) -> {b} ({names[layer_of(b)]})"
          for a, targets in _imports().items() for b in targets if layer_of(b) > layer_of(a)]
    assert not up, "imports that run up a layer:\n" + "\n".join(sorted(up))


def test_no_circles_between_modules():
    graph = _imports()
    state: dict[str, int] = {}
    circles = []

    def visit(node, path):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not circles, "modules that import each other:\n" + "\n".join(circles)


def test_the_check_can_fail():
    """An upward import is seen: chat importing run would be one."""
    assert layer_of("workbench.run.llama_server") > layer_of("workbench.chat.render")
    assert layer_of("workbench.gguffile.walk") < layer_of("workbench.tokenizer.gguf_vocab")
