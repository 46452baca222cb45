"""The layers hold: the import contracts in pyproject.toml ([tool.importlinter], run by
`lint-imports` in .ci/run and `make lint`) are kept by the tree and catch real violations; the
core loads without the heavy libraries and `planner --help` stays light.

The contracts are checked twice: by import-linter itself (as a subprocess, over every import
including indirect ones), and by this file's own reading of the same contracts over each
module's direct imports (relative and ``from package import module`` ones resolved), which is
fast enough for the quick test loop and names the file and line of each violation."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("planner", "tui")


def _config(root: Path) -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads(
        (root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return config


@dataclass(frozen=True)
class Import:
    """One imported module name, where it is imported."""

    importer: str
    imported: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} -> {self.imported}"


def _module_name(root: Path, path: Path) -> tuple[str, str]:
    """(module, package) of a source file."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def file_imports(root: Path, path: Path) -> list[Import]:
    """Every direct import of one module under ``root``. ``from X import Y`` counts as
    importing both X and X.Y (Y may be a module); relative imports are resolved; imports
    inside functions and ``if TYPE_CHECKING:`` blocks count like any other."""
    module, parent = _module_name(root, path)
    rel = str(path.relative_to(root))
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(Import(module, a.name, rel, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = parent.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append(Import(module, base, rel, node.lineno))
            found.extend(Import(module, f"{base}.{a.name}", rel, node.lineno)
                         for a in node.names if a.name != "*")
    return found


def imports(root: Path) -> list[Import]:
    """Every direct import of the planner and tui packages under ``root``."""
    return [imp for package in PACKAGES for path in sorted((root / package).rglob("*.py"))
            for imp in file_imports(root, path)]


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def broken_contracts(found: list[Import], root: Path = ROOT) -> list[str]:
    """The imports in ``found`` that break a contract of ``root``'s pyproject.toml."""
    contracts = _config(root)["contracts"]
    broken: list[str] = []
    for contract in contracts:
        if contract["type"] == "layers":
            layers = [[m.strip() for m in layer.split("|")] for layer in contract["layers"]]

            def position(name: str, layers: list[list[str]] = layers) -> tuple[int, str] | None:
                for index, layer in enumerate(layers):
                    for member in layer:
                        if _within(name, member):
                            return index, member
                return None

            for imp in found:
                importer, imported = position(imp.importer), position(imp.imported)
                if importer is None or imported is None:
                    continue
                upward = imported[0] < importer[0]
                sideways = imported[0] == importer[0] and imported[1] != importer[1]
                if upward or sideways:
                    broken.append(f"{contract['id']}: {imp}")
        elif contract["type"] == "forbidden":
            for imp in found:
                if (any(_within(imp.importer, s) for s in contract["source_modules"])
                        and any(_within(imp.imported, f) for f in contract["forbidden_modules"])):
                    broken.append(f"{contract['id']}: {imp}")
        else:
            raise AssertionError(f"contract type {contract['type']} not read by this test")
    return sorted(set(broken))


def file_access(root: Path) -> list[str]:
    """Calls of the builtin ``open`` in the domain and the rules (no import to forbid)."""
    calls = []
    for package in ("planner/domain", "planner/rules"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "open"):
                    calls.append(f"{path.relative_to(root)}:{node.lineno}: open()")
    return calls


#: The six violations tests/test_architecture.py once let through (issue 15): the file they go
#: into, the lines added, and what the contracts must report.
VIOLATIONS: dict[str, tuple[str, str, str]] = {
    "builder in the TUI": (
        "tui/app.py", "from planner.domain import graph_builder\n",
        "tui.app -> planner.domain.graph_builder"),
    "sources in the domain": (
        "planner/domain/raw.py", "from planner import sources\n",
        "planner.domain.raw -> planner.sources"),
    "apply in the domain": (
        "planner/domain/journal.py", "from planner.apply import journal_file\n",
        "planner.domain.journal -> planner.apply.journal_file"),
    "os in the domain": (
        "planner/domain/addresses.py",
        "import os\n\n\ndef _listing() -> list[str]:\n    return os.listdir('.')\n",
        "planner.domain.addresses -> os"),
    "commands in a sink": (
        "planner/sinks/graph_json.py", "from planner.commands import common\n",
        "planner.sinks.graph_json -> planner.commands.common"),
    "relative import of sources in the domain": (
        "planner/domain/value.py", "from ..sources import kube\n",
        "planner.domain.value -> planner.sources.kube"),
}


def _copy(tmp_path: Path, *violations: str) -> Path:
    """A copy of the packages and pyproject.toml with the named violations added."""
    root = tmp_path / "tree"
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    for name in violations:
        file, lines, _ = VIOLATIONS[name]
        with (root / file).open("a", encoding="utf-8") as fh:
            fh.write("\n" + lines)
    return root


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages under ``root`` (found first on PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    script = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(script), "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def tree_imports() -> list[Import]:
    return imports(ROOT)


def test_the_tree_keeps_every_contract(tree_imports: list[Import]) -> None:
    assert broken_contracts(tree_imports) == []
    assert file_access(ROOT) == []


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_each_violation_breaks_a_contract(tmp_path: Path, tree_imports: list[Import],
                                          violation: str) -> None:
    # The tree's imports with the one changed file read again from a changed copy of it.
    file, lines, expected = VIOLATIONS[violation]
    changed = tmp_path / file
    changed.parent.mkdir(parents=True)
    changed.write_text((ROOT / file).read_text(encoding="utf-8") + "\n" + lines,
                       encoding="utf-8")
    found = [*(imp for imp in tree_imports if imp.path != file),
             *file_imports(tmp_path, changed)]
    broken = broken_contracts(found)
    assert [b for b in broken if b.endswith(expected)], broken


def test_open_in_the_domain_is_file_access(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    with (root / "planner/domain/raw.py").open("a", encoding="utf-8") as fh:
        fh.write("\n\ndef _read() -> str:\n    return open('x').read()\n")
    assert [c for c in file_access(root) if c.startswith("planner/domain/raw.py:")]


@pytest.mark.slow
def test_import_linter_keeps_the_tree_and_catches_each_violation(tmp_path: Path) -> None:
    clean = _lint_imports(_copy(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 broken" in clean.stdout
    broken = _lint_imports(_copy(tmp_path / "broken", *VIOLATIONS))
    assert broken.returncode != 0
    for name, (_, _, expected) in VIOLATIONS.items():
        assert expected in broken.stdout, f"{name}: {expected!r} not reported"


def test_core_modules_load_without_rich_textual_or_kubernetes() -> None:
    code = (
        "import sys, planner.domain.inventory_builder, planner.domain.graph\n"
        "import planner.rules.registry, planner.domain.plan_builder, planner.domain.fit\n"
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


@pytest.mark.parametrize("args", [
    ("plan", "-f", "sample_clusters/shop", "-R"),
    ("graph", "-f", "sample_clusters/shop", "-R", "--namespaces", "-o", "json"),
    ("report", "-f", "sample_clusters/shop", "-R", "--format", "html"),
    ("assess", "-f", "sample_clusters/shop", "-R"),
], ids=lambda args: args[0])
def test_commands_do_not_import_networkx(args: tuple[str, ...]) -> None:
    # Its import cost about 0.12 s, a third of a run on the shop sample, for work on a
    # graph of namespaces that plain dictionaries do (planner.domain.digraph).
    code = (
        "import sys\n"
        "from planner.cli import cli\n"
        f"try:\n    cli({list(args)!r}, prog_name='planner')\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('networkx loaded' if 'networkx' in sys.modules else 'clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.stderr.strip().endswith("clean"), out.stderr[-500:]
    assert out.stdout.strip(), "the command printed nothing: it did not run"


def _loaded_of(args: tuple[str, ...], modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` the command ``planner ARGS`` imported, run in a fresh process."""
    code = (
        "import sys\n"
        "from planner.cli import cli\n"
        f"try:\n    cli({list(args)!r}, prog_name='planner')\nexcept SystemExit:\n    pass\n"
        f"sys.stderr.write('\\nloaded:' + ','.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.stdout.strip(), "the command printed nothing: it did not run"
    loaded = out.stderr.rpartition("\nloaded:")[2].strip()
    return loaded.split(",") if loaded else []


@pytest.mark.parametrize("args", [
    ("plan", "-f", "sample_clusters/shop", "-R"),
    ("report", "-f", "sample_clusters/shop", "-R", "--json"),
], ids=lambda args: args[0])
def test_plans_without_authz_do_not_import_the_journal_or_authz_models(
        args: tuple[str, ...]) -> None:
    # Only apply needs the journal and only --authz the authorization models: together
    # ~15 ms of every other command's start.
    assert _loaded_of(args, ("planner.domain.journal", "planner.domain.authz",
                             "planner.domain.authz_rollout")) == []


@pytest.mark.parametrize("args", [
    ("plan", "-f", "sample_clusters/shop", "-R", "-o", "json"),
    ("report", "-f", "sample_clusters/shop", "-R", "--json"),
], ids=lambda args: args[0])
def test_json_plans_from_manifests_do_not_import_the_traffic_models(
        args: tuple[str, ...]) -> None:
    # Only observed traffic needs its model, its gates and their wire form: ~7 ms of the start
    # of a plan or report from manifests alone.
    assert _loaded_of(args, ("planner.domain.traffic", "planner.domain.observed",
                             "planner.sinks.traffic_json")) == []


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
