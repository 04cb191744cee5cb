"""The architecture the code claims (docs/architecture.md), checked: no import cycles; a model
class is reached only through the registry (no other module imports a class's modules or tests
a model's class by name); no class imports another class's modules."""

import ast
import re

from dmftc import classes

from .conftest import ROOT

PACKAGE = ROOT / "dmftc"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(tree: ast.Module, modules) -> set[str]:
    """The dmftc modules imported anywhere in ``tree`` (lazy imports included), except under
    ``if TYPE_CHECKING:``."""
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dmftc"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            visit(ast.iter_child_nodes(node))

    visit(tree.body)
    return {m for m in found if m in modules}


def test_there_are_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(tree, modules) - {name} for name, tree in modules.items()}
    # depth-first search for a back edge
    state, path = {}, []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_classes_are_reached_through_the_registry_only():
    modules = _modules()
    for name, tree in modules.items():
        owner = re.match(r"dmftc\.classes\.(\w+)", name)
        for imported in _imports(tree, modules):
            target = re.match(r"dmftc\.classes\.(\w+)", imported)
            if target is None or target.group(1) == "base":
                continue
            if owner is None:
                assert name == "dmftc.classes", f"{name} imports {imported}: ask the registry instead"
            else:
                assert owner.group(1) in (target.group(1), "base"), f"{name} imports another class: {imported}"


def test_no_module_outside_a_class_names_a_class():
    names = [re.escape(c) for c in classes.REGISTRY]
    pattern = re.compile("[\"']({})[\"']".format("|".join(names)))
    for path in PACKAGE.rglob("*.py"):
        if "classes" in path.relative_to(PACKAGE).parts:
            continue
        hits = pattern.findall(path.read_text(encoding="utf-8"))
        assert not hits, f"{path.relative_to(ROOT)} names the classes {hits}: ask the model's class object"
