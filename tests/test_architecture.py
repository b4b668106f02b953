"""The import graph points one way: ``scrm`` (the project's shared, app-less code) below
``accounts ← members ← campaigns ← community``; inside ``members``, the pure rules below the log,
the selectors below the services, and every page, task and API view above them. A lower module
importing a higher one fails here, with the line that does it."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["scrm", "accounts", "members", "campaigns", "community"]  # lowest first
# Inside members, lowest first; a module may import its own layer and lower ones only.
MEMBERS_LAYERS = [
    ("models", ("members.models",)),
    ("pure rules", ("members.loyalty",)),
    ("event log", ("members.events",)),
    ("selectors", ("members.selectors",)),
    ("services", ("members.services",)),
]


def _modules(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        rel = path.relative_to(ROOT)
        if "migrations" in rel.parts:
            continue
        name = ".".join(rel.with_suffix("").parts)
        yield name.removesuffix(".__init__"), path


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (imports inside functions count too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module not in APPS:  # "from members import events": the names say which
                found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _app(module: str) -> str | None:
    top = module.split(".")[0]
    return top if top in APPS else None


def _members_layer(module: str) -> int:
    for i, (_name, prefixes) in enumerate(MEMBERS_LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return len(MEMBERS_LAYERS)  # forms, views, api, urls, tasks, admin, apps, demo, commands


def _upward_imports() -> list[str]:
    problems = []
    for app in APPS:
        level = APPS.index(app)
        for module, path in _modules(app):
            for line, imported in _imports(path):
                other = _app(imported)
                if other is not None and APPS.index(other) > level:
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
                if app == "members" and other == "members":
                    mine, theirs = _members_layer(module), _members_layer(imported)
                    if theirs > mine and not imported.startswith(module):
                        problems.append(
                            f"{path.relative_to(ROOT)}:{line} ({MEMBERS_LAYERS[mine][0]})"
                            f" imports {imported} (a higher layer)"
                        )
    return problems


def test_no_module_imports_a_higher_app_or_layer():
    assert _upward_imports() == []


def test_the_walk_finds_an_upward_import(tmp_path, monkeypatch):
    """The check itself can fail: a selector that imports a service is reported."""
    fake = tmp_path / "members" / "selectors"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("from members.services.orders import order_ingest\n")
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "oops.py").write_text("def f():\n    from members import urls\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    problems = _upward_imports()
    assert any("selectors/bad.py:1" in p and "higher layer" in p for p in problems)
    assert any("accounts/oops.py:2 imports members" in p for p in problems)


def test_the_pure_rules_import_only_the_standard_library():
    path = ROOT / "members" / "loyalty.py"
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    foreign = [m for _line, m in _imports(path) if m.split(".")[0] not in stdlib]
    assert foreign == []


LOWER_URL_OWNERS = {"accounts": ("members:", "counter:", "portal:", "campaigns:", "community:")}


@pytest.mark.parametrize("app", sorted(LOWER_URL_OWNERS))
def test_a_lower_app_names_no_url_of_a_higher_one(app):
    """Each app plugs its pages into the shells (scrm.shells); accounts never names them."""
    names = LOWER_URL_OWNERS[app]
    pattern = re.compile("|".join(re.escape(n) for n in names))
    sources = [*(ROOT / app).rglob("*.py"), *(ROOT / "templates" / app).rglob("*.html")]
    hits = [
        f"{p.relative_to(ROOT)}: {m.group(0)}"
        for p in sources
        if "migrations" not in p.parts
        for m in pattern.finditer(p.read_text())
    ]
    assert hits == []


# --- Dead code -----------------------------------------------------------------------------------

WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _used_words(paths: list[Path]) -> dict[str, int]:
    """Every identifier and every word inside a string, over these files, leaving out import
    statements and ``__all__`` (a re-export is not a use)."""
    counts: dict[str, int] = {}

    def add(word: str) -> None:
        counts[word] = counts.get(word, 0) + 1

    for path in paths:
        text = path.read_text()
        if path.suffix != ".py":
            for w in WORD.findall(text):
                add(w)
            continue
        tree = ast.parse(text)
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) or (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            ):
                skip.update(id(n) for n in ast.walk(node))
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Name):
                add(node.id)
            elif isinstance(node, ast.Attribute):
                add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                add(node.name)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                for w in WORD.findall(node.value):
                    add(w)
    return counts


def _dead_code(root: Path) -> list[str]:
    """Top-level functions, classes and CONSTANTS of the apps that nothing uses: not another
    module, a template, a script, a setting (by its dotted path) nor the benchmarks. Things
    registered where they are defined (admin classes, tasks, template tags, receivers, schema
    extensions) and Django's own entry points (settings, AppConfig, commands, migrations) are left
    out."""
    app_files = [p for app in APPS for p in (root / app).rglob("*.py")]
    corpus = [
        *app_files,
        *(root / "bench").rglob("*.py"),
        *(root / "templates").rglob("*.html"),
        *(root / "static" / "js").rglob("*.js"),
    ]
    used = _used_words(corpus)
    dead = []
    for path in app_files:
        rel = path.relative_to(root)
        if {"migrations", "settings", "management"} & set(rel.parts) or path.name == "apps.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                decorators = " ".join(ast.unparse(d) for d in node.decorator_list)
                if any(k in decorators for k in ("register", "task", "receiver")) or (
                    isinstance(node, ast.ClassDef)
                    and any("Extension" in ast.unparse(b) for b in node.bases)
                ):
                    continue  # registered where it is defined
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()]
            else:
                continue
            dead += [f"{rel}:{node.lineno} {n}" for n in names if used.get(n, 0) <= 1]
    return dead


def test_no_function_class_or_constant_goes_unused():
    assert _dead_code(ROOT) == []


def test_the_dead_code_check_finds_an_unused_function(tmp_path):
    for app in APPS:
        (tmp_path / app).mkdir()
    (tmp_path / "bench").mkdir()
    (tmp_path / "members" / "services.py").write_text(
        "def voucher_issue_many():\n    return 1\n\n\ndef used():\n    return 2\n"
    )
    (tmp_path / "members" / "__init__.py").write_text(
        "from members.services import used, voucher_issue_many\n\n"
        "__all__ = ['used', 'voucher_issue_many']\n\nused()\n"
    )
    assert _dead_code(tmp_path) == ["members/services.py:1 voucher_issue_many"]
