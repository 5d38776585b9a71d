"""The house's layers, read from the source with `ast`: every import, a function's included.

core < shop < feeds < push < shop.api < backoffice: no package imports one above it, and
config (the wiring) imports none of them; it names them in strings only (settings, urls'
include()). The REST API (shop.api) is a surface over the domain and the pushes (its webhook
subscriptions), so it sits above push although it lives under shop/. No two modules import
each other, directly or through others, even from inside a function.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest first; a module's layer is its longest matching prefix.
LAYERS = ["core", "shop", "feeds", "push", "shop.api", "backoffice"]
WIRING = "config"
PACKAGES = [*LAYERS, WIRING]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in {name.split(".")[0] for name in PACKAGES}:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, path: Path, source: str | None = None) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for each of the project's modules imported."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    top_level = {id(node) for node in tree.body}
    # An import under `if TYPE_CHECKING:` or `try:` at the top still runs at import time.
    for node in tree.body:
        if isinstance(node, ast.If | ast.Try):
            top_level.update(id(child) for child in ast.walk(node))
    found: list[tuple[str, int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # `from a import b` imports the module a.b if there is one, else a name of a.
            target = _resolve(module, path, node)
            names = [
                f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            # `import a.b.c` imports a, a.b and a.b.c; the deepest of the project's is named.
            parts = name.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in MODULES:
                    entry = (candidate, node.lineno, id(node) in top_level)
                    if candidate != module and entry not in found:
                        found.append(entry)
                    break
    return found


def _layer(module: str) -> str:
    return max(
        (p for p in PACKAGES if module == p or module.startswith(p + ".")),
        key=len,
    )


def _graph(*, module_level_only: bool) -> dict[str, set[str]]:
    return {
        module: {
            target for target, _, top in _imports(module, path) if top or not module_level_only
        }
        for module, path in MODULES.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_modules_are_found():
    for module in ["core.ratelimit", "shop.services", "feeds.views", "push.tasks", "config.urls"]:
        assert module in MODULES
    assert "backoffice.admin.shop" in MODULES
    assert _layer("shop.api.views") == "shop.api"
    assert _layer("shop.services") == "shop"


def test_relative_absolute_and_function_level_imports_are_read():
    source = (
        "from . import tasks\n"
        "from .models import Order\n"
        "import feeds.builders\n"
        "from push import tokens as push_tokens\n"
        "\n"
        "def late():\n"
        "    from backoffice.dashboard import dashboard\n"
    )
    imports = _imports("shop.services", MODULES["shop.services"], source)
    assert sorted((target, top) for target, _, top in imports) == [
        ("backoffice.dashboard", False),
        ("feeds.builders", True),
        ("push.tokens", True),
        ("shop.models", True),
        ("shop.tasks", True),
    ]
    package = _imports("backoffice.admin", MODULES["backoffice.admin"], "from . import shop\n")
    assert [target for target, _, _ in package] == ["backoffice.admin.shop"]


def test_no_package_imports_one_above_it():
    wrong = []
    for module, path in MODULES.items():
        layer = _layer(module)
        for target, line, _ in _imports(module, path):
            above = _layer(target)
            if layer == WIRING:
                if above != WIRING:
                    wrong.append(f"{module}:{line} (wiring) imports {target}")
            elif above == WIRING:
                wrong.append(f"{module}:{line} imports the wiring: {target}")
            elif LAYERS.index(above) > LAYERS.index(layer):
                wrong.append(f"{module}:{line} ({layer}) imports {target} ({above})")
    assert wrong == []


# Imports made late, inside a function, that close a loop the modules' own imports would make;
# each is the only one of its loop. Any other loop, even through a function, fails below.
LATE_IMPORTS_IN_A_LOOP = {
    ("push.models", "push.outbox"),  # PushEvent.own_topic reads the outbox's topic names
    ("push.outbox", "push.tasks"),  # a committed outbox write wakes the worker's pump
}


def test_no_import_cycles_at_module_level():
    assert _cycles(_graph(module_level_only=True)) == []


def test_no_import_cycles_even_through_functions_but_the_known_late_ones():
    graph = _graph(module_level_only=False)
    for module, target in LATE_IMPORTS_IN_A_LOOP:
        assert target in graph[module], f"{module} no longer imports {target}: drop it above"
        graph[module].discard(target)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
