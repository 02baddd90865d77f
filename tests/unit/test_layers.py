"""Dependencies point one way: the core (connector/) owns the adapter contract (`connector.crm`)
and never imports an adapter's code; adapters import the core.

The only exceptions are where the daemon is put together with the built-in CRM it ships with,
each named here with the reason; anything else importing `adapters` fails this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (module file, imported module): the composition root of the built-in CRM, not the core's logic.
COMPOSITION_ROOT = {
    ("connector/service.py", "adapters.builtin.routes"),  # the CRM's pages and REST API on the daemon's app
    ("connector/service.py", "adapters.builtin"),  # the CRM's database placed under storage.dir
    ("connector/commands/demo_history.py", "adapters.builtin.board"),  # `demo` seeds the built-in CRM
    ("connector/commands/demo_history.py", "adapters.builtin.campaigns"),
    ("connector/commands/demo_history.py", "adapters.builtin.db"),
    ("connector/commands/demo_history.py", "adapters.builtin.store"),
    ("connector/commands/demo_seed.py", "adapters.builtin.passwords"),
    ("connector/commands/demo_seed.py", "adapters.builtin.store"),
}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (inside functions and TYPE_CHECKING too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "adapters":  # `from adapters import builtin`
                found.update(f"adapters.{alias.name}" for alias in node.names)
    return found


def adapter_imports(package: str) -> set[tuple[str, str]]:
    """(file, module) for each import of `adapters` or below from the files of `package`."""
    pairs: set[tuple[str, str]] = set()
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for module in imported_modules(path):
            if module == "adapters" or module.startswith("adapters."):
                pairs.add((relative, module))
    return pairs


def test_the_core_imports_no_adapter_code_outside_the_composition_root() -> None:
    assert adapter_imports("connector") - COMPOSITION_ROOT == set()


def test_the_sync_core_and_the_contract_import_nothing_from_adapters() -> None:
    offenders = {pair for pair in adapter_imports("connector") if pair[0].startswith("connector/sync/")}
    assert offenders == set()
    assert {m for m in imported_modules(ROOT / "connector/crm.py") if m.startswith("adapters")} == set()


def test_the_check_sees_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from adapters.base import Adapter\n    import adapters.amocrm\n")
    assert imported_modules(module) >= {"adapters.base", "adapters.amocrm"}
