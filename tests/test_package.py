import subprocess
import sys

import arttrack
from arttrack import _core


def test_core_version_matches_package():
    assert _core.__version__ == arttrack.__version__


def test_import_without_extension_says_how_to_build():
    # sys.modules[name] = None makes `import name` fail, as a missing .so would.
    code = ("import sys; sys.modules['arttrack._core'] = None\n"
            "try:\n    import arttrack.postprocess\n"
            "except ImportError as e:\n    print(e)\nelse:\n    print('imported')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "not built" in out and "pip install" in out


def test_top_level_import_is_light():
    # `import arttrack` must not drag in MindSpore (seconds to import) or the extension.
    code = "import sys, arttrack, arttrack.config, arttrack.joints; print('mindspore' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ----------------------------------------------------------------------------- layout
PACKAGE = __import__("pathlib").Path(arttrack.__file__).parent
# The top level: the programs (python -m arttrack.<name>) and what they share.
SHARED = {"arttrack", "arttrack.cli", "arttrack.errors", "arttrack.joints", "arttrack.config",
          "arttrack._native"}


def _modules() -> dict[str, "ast.Module"]:
    import ast

    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(f.read_text(encoding="utf-8"))
    return out


def _imports(name: str, tree, top_level_only: bool = False) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every arttrack import of a module."""
    import ast

    nodes = tree.body if top_level_only else ast.walk(tree)
    out = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "arttrack":
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "arttrack"]
    return out


def test_layout_programs_apart_no_private_names_no_cycles():
    """DESIGN.md section 3: a library module never imports a program; no module takes a
    private name from another (the extension module aside); module-level imports form no
    cycle."""
    mods = _modules()
    packages = {".".join(f.relative_to(PACKAGE.parent).parts[:-1]) for f in PACKAGE.rglob("__init__.py")}
    programs = {m for m in mods if m.count(".") == 1 and m not in SHARED | packages}
    assert {"arttrack.multiperson", "arttrack.train", "arttrack.predict"} <= programs
    problems = []
    for name, tree in mods.items():
        for target, names in _imports(name, tree):
            resolved = {target} | {f"{target}.{n}" for n in names}
            if name not in programs and not name.endswith("__main__") and resolved & programs:
                problems.append(f"{name} imports the program {sorted(resolved & programs)[0]}")
            private = [n for n in names if n.startswith("_") and n not in ("__version__", "_core")]
            if private and target != name:
                problems.append(f"{name} imports {private} from {target}")
    assert not problems, problems
    # cycles among module-level imports (what runs at import time)
    graph = {}
    for name, tree in mods.items():
        deps = set()
        for target, names in _imports(name, tree, top_level_only=True):
            deps |= {m for m in ({target} | {f"{target}.{n}" for n in names}) if m in mods}
        graph[name] = deps - {name}
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if d == "arttrack" or m.startswith(d + "."):  # a package's own __init__
                continue
            assert state.get(d) != 1, " -> ".join(path + [m, d])
            if d not in state:
                visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
