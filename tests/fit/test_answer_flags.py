"""The profile's answers as flags on every command that assesses (docs/profile.md): ``assess``,
``plan``, ``report``, the step commands and ``tui`` take ``--platform-engineers``,
``--[no-]compliance-mtls``, ``--[no-]observability-needed`` and ``--nodes``; each means what
its profile key means and wins over the ``--profile`` file. On sample_clusters/tiny every answer
moves the assessment, and compliance moves the verdict (mesh-overkill -> mesh-optional)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from planner.cli import cli
from planner.exit_codes import ExitCode
from tests.fit.conftest import SAMPLES, write

TINY = str(SAMPLES / "tiny")

#: An answer as flags, and the profile file that gives the same answer.
ANSWERS = [
    (["--platform-engineers", "0"], "team:\n  platformEngineers: 0\n"),
    (["--compliance-mtls"], "compliance:\n  mtlsEverywhere: true\n"),
    (["--no-compliance-mtls"], "compliance:\n  mtlsEverywhere: false\n"),
    (["--observability-needed"], "observability:\n  needed: true\n"),
    (["--nodes", "3"], "cluster:\n  nodes: 3\n"),
]


def run(*args: str) -> str:
    """``planner ARGS``' stdout; the command must succeed."""
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == ExitCode.OK, result.output
    return result.stdout


def answered(doc: dict[str, Any]) -> dict[str, Any]:
    """A report without where its answers came from (``p.yaml`` or ``flags``): what the
    answers made of it."""
    assessment = {**doc["assessment"], "profile": {**doc["assessment"]["profile"]}}
    del assessment["profile"]["origin"]
    return {**doc, "assessment": assessment}


@pytest.mark.parametrize(("flags", "profile"), ANSWERS,
                         ids=[" ".join(flags) for flags, _ in ANSWERS])
def test_report_with_a_flag_is_the_report_with_the_profile_key(
        tmp_path: Path, flags: list[str], profile: str) -> None:
    """`planner assess --compliance-mtls` then `planner report --compliance-mtls`: the report's
    verdict, factors, plan and cost rest on the answer just given, as a profile file giving it
    would make them, and not on the answer left unknown."""
    file = str(write(tmp_path / "p.yaml", profile))
    by_flag = json.loads(run("report", "-f", TINY, "--json", *flags))
    by_file = json.loads(run("report", "-f", TINY, "--json", "--profile", file))
    unanswered = json.loads(run("report", "-f", TINY, "--json"))
    assert answered(by_flag) == answered(by_file) != answered(unanswered)
    assert by_flag["assessment"]["profile"]["origin"] == "flags"
    # The same assessment `planner assess` gives with the same flag.
    assessed = json.loads(run("assess", "-f", TINY, "-o", "json", *flags))
    for key in ("verdict", "score", "unknowns", "profile"):
        assert assessed[key] == by_flag["assessment"][key], key
    # The report adds each factor's location in the input; the rest is assess's.
    assert assessed["factors"] == [{k: v for k, v in f.items() if k != "location"}
                                   for f in by_flag["assessment"]["factors"]]


def test_compliance_flag_moves_the_verdict_of_plan_and_report() -> None:
    def fit(*flags: str) -> tuple[str, str, int]:
        plan = json.loads(run("plan", "-f", TINY, "-o", "json", *flags))["fit"]
        report = json.loads(run("report", "-f", TINY, "--json", *flags))["assessment"]
        assert (plan["verdict"], plan["score"]) == (report["verdict"], report["score"])
        table = run("plan", "-f", TINY, *flags)
        assert f"Verdict: {plan['verdict']}  score {plan['score']}/100" in table
        return plan["verdict"], report["verdict"], plan["score"]

    assert fit() == fit("--no-compliance-mtls") == ("mesh-overkill", "mesh-overkill", 10)
    assert fit("--compliance-mtls") == ("mesh-optional", "mesh-optional", 45)


def test_a_flag_overrides_the_profile_file_and_the_report_says_so(tmp_path: Path) -> None:
    said_no = str(write(tmp_path / "no.yaml", "team:\n  platformEngineers: 2\n"
                                              "compliance:\n  mtlsEverywhere: false\n"))
    said_yes = str(write(tmp_path / "yes.yaml", "team:\n  platformEngineers: 2\n"
                                                "compliance:\n  mtlsEverywhere: true\n"))
    for command in (["report", "--json"], ["plan", "-o", "json"], ["assess", "-o", "json"]):
        overridden = run(command[0], "-f", TINY, *command[1:], "--profile", said_no,
                         "--compliance-mtls")
        expected = run(command[0], "-f", TINY, *command[1:], "--profile", said_yes)
        assert overridden.replace("no.yaml, flags", "yes.yaml") == expected, command
        assert overridden != run(command[0], "-f", TINY, *command[1:], "--profile", said_no)
    doc = json.loads(run("report", "-f", TINY, "--json", "--profile", said_no,
                         "--compliance-mtls"))
    # The file's other answers stand; the flag's wins.
    assert doc["assessment"]["profile"]["platformEngineers"] == 2
    assert doc["assessment"]["profile"]["complianceMtls"] is True
    markdown = run("report", "-f", TINY, "--format", "markdown", "--profile", said_no,
                   "--compliance-mtls")
    assert "Profile answers from no.yaml, flags." in markdown


def plan_hash(out: Path, *flags: str) -> str:
    """The plan hash ``planner apply --dry-run`` stamps on the objects of tiny's enrollment."""
    diff = run("apply", "30-enroll-tiny", "-f", TINY, "--dry-run", "--out", str(out),
               "--journal", str(out.parent / "journal.json"), *flags)
    [found] = re.findall(r"meshplan\.io/plan-hash: (\w+)", diff)
    return found


def test_step_commands_plan_with_the_flags(tmp_path: Path) -> None:
    """`planner apply` builds the plan `planner plan` shows with the same answers: the plan
    hash it stamps (the plan opens with the verdict) follows the flag as it follows the file."""
    file = str(write(tmp_path / "p.yaml", "compliance:\n  mtlsEverywhere: true\n"))
    out = tmp_path / "rollout"
    by_flag = plan_hash(out, "--compliance-mtls")
    assert by_flag == plan_hash(out, "--profile", file) != plan_hash(out)
    assert plan_hash(out, "--profile", file, "--no-compliance-mtls") == plan_hash(out)


#: Every command that assesses, with the arguments it needs before the flags.
COMMANDS = [["assess"], ["plan"], ["report"], ["apply", "30-enroll-tiny"],
            ["rollback", "30-enroll-tiny"], ["verify", "30-enroll-tiny"], ["status"], ["tui"]]
ANSWER_OPTIONS = ("platform_engineers", "compliance_mtls", "observability_needed", "nodes")


def options(command: str) -> dict[str, dict[str, Any]]:
    """The answer options of ``planner COMMAND``: flags, type, range, default, help."""
    assert isinstance(cli, click.Group)
    found = cli.get_command(click.Context(cli), command)
    assert found is not None
    return {p.name: p.to_info_dict() for p in found.params if p.name in ANSWER_OPTIONS}


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_command_refuses_a_bad_answer_as_assess_does(command: list[str]) -> None:
    """The same options (flags, type, range, help) everywhere, so the same usage errors."""
    assert options(command[0]) == options("assess")
    assert set(options("assess")) == set(ANSWER_OPTIONS)
    for bad, message in ((["--platform-engineers", "-1"],
                          "Invalid value for '--platform-engineers': -1 is not in the range "
                          "x>=0"),
                         (["--nodes", "0"],
                          "Invalid value for '--nodes': 0 is not in the range x>=1")):
        result = CliRunner().invoke(cli, [*command, "-f", TINY, *bad])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert message in result.output
