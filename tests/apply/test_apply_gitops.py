"""Manifest mode: ``apply`` writes the step's GitOps files into --out, journaled like a cluster
write, atomically; rollback removes or restores them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from planner.apply import journal_file
from planner.cli import cli
from planner.domain.journal import STEP_ANNOTATION
from planner.errors import ApplyError
from planner.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "sample_clusters" / "tiny")


def _run(tmp_path: Path, *args: str) -> object:
    return CliRunner().invoke(cli, [*args, "-f", TINY, "-R", "--out", str(tmp_path / "out"),
                                    "--journal", str(tmp_path / "journal.json")])


def test_gitops_apply_writes_files_and_rollback_removes_them(tmp_path: Path) -> None:
    result = _run(tmp_path, "apply", "20-mesh-permissive", "--write", "--yes")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    folder = tmp_path / "out" / "20-mesh-permissive"
    policy = yaml.safe_load((folder / "peerauthentication-istio-system-default.yaml").read_text())
    assert policy["metadata"]["annotations"][STEP_ANNOTATION] == "20-mesh-permissive"
    assert yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"] == [
        "peerauthentication-istio-system-default.yaml"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left
    status = json.loads(_run(tmp_path, "status", "-o", "json").stdout)  # type: ignore[attr-defined]
    # A folder's step is written, not applied to a cluster (nor ever verified).
    assert {s["id"]: s["state"] for s in status["steps"]}["20-mesh-permissive"] == "written"
    result = _run(tmp_path, "rollback", "20-mesh-permissive", "--write", "--yes")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert not folder.exists()


def test_gitops_needs_write_and_an_out_folder(tmp_path: Path) -> None:
    result = _run(tmp_path, "apply", "20-mesh-permissive", "--yes")
    assert result.exit_code == ExitCode.READ_ONLY  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli, ["apply", "20-mesh-permissive", "-f", TINY, "-R",
                                      "--write", "--yes", "--journal",
                                      str(tmp_path / "journal.json")])
    assert result.exit_code == ExitCode.APPLY_ERROR
    assert "--out DIR" in result.stderr


def test_journal_is_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "j" / "journal.json"
    journal_file.write_atomically(path, "first\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ApplyError, match="No space left"):
        journal_file.write_atomically(path, "second\n")
    assert path.read_text() == "first\n"
    assert os.listdir(path.parent) == ["journal.json"]  # the temp file was removed


def test_unreadable_journal_is_an_apply_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text("{not json")
    with pytest.raises(ApplyError, match="unusable"):
        journal_file.load_journals(path)


@pytest.mark.parametrize("command", ["apply", "verify", "rollback"])
def test_an_unknown_step_is_named_before_anything_else(tmp_path: Path, command: str) -> None:
    # No --out and no cluster: the unknown step id is still what the user hears about first.
    write = ["--write"] if command != "verify" else []
    result = CliRunner().invoke(cli, [command, "40-strict-nope", *write, "-f", TINY, "-R",
                                      "--journal", str(tmp_path / "j.json")])
    assert result.exit_code == 7
    assert "no step '40-strict-nope' in the plan" in result.stderr
    assert "20-mesh-permissive" in result.stderr
    assert not (tmp_path / "j.json").exists()


def test_status_in_manifest_mode_needs_the_out_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "-f", TINY, "-R", "--journal",
                                      str(tmp_path / "journal.json")])
    assert result.exit_code == ExitCode.APPLY_ERROR
    assert "give --out DIR, the folder that holds" in result.output
    result = CliRunner().invoke(cli, ["status", "-f", TINY, "-R", "--out",
                                      str(tmp_path / "out"), "--journal",
                                      str(tmp_path / "journal.json"), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"][0] == {"id": "10-prereq", "note": "",
                                                     "state": "pending"}


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_apply_works_on_the_tree_plan_out_wrote_and_its_dry_run_writes_nothing(
        tmp_path: Path) -> None:
    # One layout: `plan --out` and `apply --out` name a step's folder and files alike.
    planned = CliRunner().invoke(cli, ["plan", "-f", TINY, "-R", "--out", str(tmp_path / "out")])
    assert planned.exit_code == 0, planned.output
    before = _tree(tmp_path / "out")
    order = yaml.safe_load(before["steps.yaml"])["steps"]
    assert order[:2] == ["10-prereq", "20-mesh-permissive"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == sorted(order)
    dry = _run(tmp_path, "apply", "20-mesh-permissive", "--dry-run")
    assert dry.exit_code == 0, dry.output  # type: ignore[attr-defined]
    assert _tree(tmp_path / "out") == before  # nothing written, no second tree
    notes = dry.stderr.splitlines()  # type: ignore[attr-defined]
    assert "planner: 20-mesh-permissive: would update file "\
           "20-mesh-permissive/peerauthentication-istio-system-default.yaml" in notes, notes
    assert "planner: 20-mesh-permissive: unchanged: 20-mesh-permissive/kustomization.yaml" \
        in notes, notes
    assert not [n for n in notes if "write" in n.split(":", 2)[-1]], notes
    # A folder is no cluster: the diff starts from the file as it is, never from "live".
    assert ("--- in the folder: 20-mesh-permissive/peerauthentication-istio-system-default.yaml"
            in dry.stdout.splitlines())  # type: ignore[attr-defined]
    # The diff shows only what apply adds to the plan's file: its step and plan annotations.
    added = [line for line in dry.stdout.splitlines()  # type: ignore[attr-defined]
             if line.startswith("+") and not line.startswith("+++")]
    assert [line.split(":")[0].strip("+ ") for line in added] == [
        "annotations", "meshplan.io/plan-hash", "meshplan.io/step"]
    # The real apply updates the plan's file in place: still one folder for the step.
    applied = _run(tmp_path, "apply", "20-mesh-permissive", "--write", "--yes")
    assert applied.exit_code == 0, applied.output  # type: ignore[attr-defined]
    after = _tree(tmp_path / "out")
    assert set(after) == set(before)
    assert after["20-mesh-permissive/step.yaml"] == before["20-mesh-permissive/step.yaml"]


def test_a_dry_run_into_an_empty_folder_says_what_it_would_create(tmp_path: Path) -> None:
    dry = _run(tmp_path, "apply", "20-mesh-permissive", "--dry-run")
    assert dry.exit_code == 0, dry.output  # type: ignore[attr-defined]
    assert "would create file 20-mesh-permissive/kustomization.yaml" in dry.stderr  # type: ignore[attr-defined]
    assert not (tmp_path / "out").exists()


def test_each_out_folder_has_its_own_entries_in_one_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.json"

    def run(out: str, *args: str) -> Any:
        return CliRunner().invoke(cli, [*args, "-f", TINY, "-R", "--out", str(tmp_path / out),
                                        "--journal", str(journal)])

    assert run("prod", "apply", "20-mesh-permissive", "--write", "--yes").exit_code == 0
    staging = run("staging", "status", "-o", "json")
    assert staging.exit_code == 0
    states = {s["id"]: s["state"] for s in json.loads(staging.stdout)["steps"]}
    assert states["20-mesh-permissive"] == "pending"  # prod's entry is not staging's
    assert json.loads(staging.stdout)["target"] == {"folder": str((tmp_path / "staging")
                                                                  .resolve())}
    assert "also holds steps of other targets" in staging.stderr
    assert run("staging", "apply", "20-mesh-permissive", "--write", "--yes").exit_code == 0
    assert (tmp_path / "staging" / "20-mesh-permissive").is_dir()
    assert sorted(json.loads(journal.read_text())["targets"]) == [
        f"folder:{(tmp_path / name).resolve()}" for name in ("prod", "staging")]
    # The same folder named another way is the same target.
    other = CliRunner().invoke(cli, ["status", "-o", "json", "-f", TINY, "-R", "--out",
                                     str(tmp_path / "staging" / ".." / "prod"),
                                     "--journal", str(journal)])
    assert {s["id"]: s["state"] for s in json.loads(other.stdout)["steps"]}[
        "20-mesh-permissive"] == "written"


def _planner(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``planner ARGS`` in manifest mode with --out, as a subprocess."""
    return subprocess.run([sys.executable, "-m", "planner", *args, "-f", TINY, "-R", "--out",
                           str(tmp_path / "out"), "--journal", str(tmp_path / "journal.json")],
                          capture_output=True, text=True, timeout=120, check=False)


def test_verify_of_written_files_never_says_verified(tmp_path: Path) -> None:
    for step in ("10-prereq", "20-mesh-permissive"):
        done = _planner(tmp_path, "apply", step, "--write", "--yes")
        assert done.returncode == 0, done.stderr
        assert done.stdout.endswith(f"{step}: written\n")  # after the diff
    out = (tmp_path / "out").resolve()
    for step in ("10-prereq", "20-mesh-permissive"):
        # Was: "verified: N object(s) live as applied", for files nothing had read.
        checked = _planner(tmp_path, "verify", step)
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout == f"{step}: written\n"
        assert "verified" not in checked.stdout + checked.stderr
        assert checked.stderr.splitlines()[-1].endswith(
            f"file(s) as written to {out}; not checked against a cluster: once it has synced, "
            f"verify the step there (`planner verify {step} --context CONTEXT`)")
    steps = json.loads((tmp_path / "journal.json").read_text())["targets"][f"folder:{out}"][
        "steps"]
    assert {s: e["state"] for s, e in steps.items()} == {"10-prereq": "applied",
                                                         "20-mesh-permissive": "applied"}
    status = _planner(tmp_path, "status", "-o", "json")
    states = {s["id"]: s["state"] for s in json.loads(status.stdout)["steps"]}
    assert (states["10-prereq"], states["20-mesh-permissive"]) == ("written", "written")
    # A file changed since it was written is what the folder can tell: drifted, exit 12.
    policy = out / "20-mesh-permissive" / "peerauthentication-istio-system-default.yaml"
    policy.write_text(policy.read_text().replace("PERMISSIVE", "STRICT"))
    checked = _planner(tmp_path, "verify", "20-mesh-permissive")
    assert checked.returncode == ExitCode.NOT_READY, checked.stderr
    assert checked.stdout == "20-mesh-permissive: drifted\n"
