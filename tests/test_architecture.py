"""The core is pure: domain and rule modules import no terminal, UI, cluster or HTTP library,
and the CLI starts without loading the heavy adapters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PURE_PACKAGES = ("planner/domain", "planner/rules")
FORBIDDEN = {"rich", "textual", "click", "kubernetes", "urllib", "http", "requests", "socket",
             "subprocess", "tui", "planner.sources", "planner.sinks", "planner.commands",
             "planner.service"}
FRONT_ENDS = ("planner/commands", "tui")
#: What only the service layer may call: builders, rules and adapters.
BUILDERS = ("planner.domain.inventory_builder", "planner.domain.graph_builder",
            "planner.rules.fit", "planner.rules.blockers", "planner.sources", "planner.apply")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_domain_and_rules_import_nothing_impure() -> None:
    offenders = []
    for package in PURE_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = sorted(n for n in _imports(path) if _forbidden(n))
            if bad:
                offenders.append(f"{path.relative_to(ROOT)}: {bad}")
            text = path.read_text(encoding="utf-8")
            if "open(" in text or "Path(" in text:
                offenders.append(f"{path.relative_to(ROOT)}: file access")
    assert not offenders, "impure core modules:\n" + "\n".join(offenders)


def test_front_ends_reach_the_domain_only_through_the_service_layer() -> None:
    """Commands and the TUI call planner.service; they may read domain *types* for rendering,
    but never call builders or rules directly."""
    offenders = []
    for package in FRONT_ENDS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for name in _imports(path):
                if name.startswith(BUILDERS):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_core_modules_load_without_rich_textual_or_kubernetes() -> None:
    code = (
        "import sys, planner.domain.inventory_builder, planner.domain.graph\n"
        "import planner.rules.registry, planner.domain.plan, planner.domain.fit\n"
        "bad = [m for m in ('rich', 'textual', 'kubernetes', 'click') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from planner.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='planner')\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in ('textual', 'kubernetes', 'networkx', 'yaml') if m in sys.modules]\n"
        "sys.stderr.write(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip() == ""
    assert "scan" in out.stdout


def test_domain_records_are_immutable() -> None:
    # Frozen dataclasses, or value classes (frozen for the type checker; planner.domain.value).
    import dataclasses
    import importlib

    mutable = []
    for path in sorted((ROOT / "planner" / "domain").glob("*.py")):
        module = importlib.import_module(f"planner.domain.{path.stem}")
        for name, cls in vars(module).items():
            if (isinstance(cls, type) and dataclasses.is_dataclass(cls)
                    and cls.__module__ == module.__name__ and not name.startswith("_")
                    and not cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
                    and not getattr(cls, "__value_class__", False)):
                mutable.append(f"{module.__name__}.{name}")
    assert mutable == []


def test_assigning_a_value_class_field_is_a_type_error(tmp_path: Path) -> None:
    from mypy import api

    snippet = tmp_path / "mutate.py"
    snippet.write_text("from planner.domain.inventory import EnvVar, Workload, ObjectRef\n"
                       "EnvVar(name='a').value = 'b'\n"
                       "Workload(ObjectRef('Deployment', 'a', 'b')).replicas = 3\n")
    out, _, code = api.run(["--strict", "--no-incremental", "--follow-imports=silent",
                            "--cache-dir", str(tmp_path / "cache"), str(snippet)])
    assert code == 1
    assert 'Property "value" defined in "EnvVar" is read-only' in out
    assert 'Property "replicas" defined in "Workload" is read-only' in out
