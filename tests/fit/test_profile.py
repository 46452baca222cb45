"""The profile: schema, defaults, flag overrides, and one-line errors naming file and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from planner.domain.profile import (
    DEFAULT_COSTS,
    Profile,
    ProfileError,
    ProxyCost,
    parse_cpu,
    parse_memory,
    parse_profile,
)
from planner.errors import InputError
from planner.sources.profile import load_profile
from tests.fit.conftest import SAMPLES, write


def test_empty_profile_leaves_every_answer_unknown() -> None:
    profile = parse_profile(None)
    assert profile == Profile()
    assert profile.platform_engineers is None
    assert profile.compliance_mtls is None
    assert profile.observability_needed is None
    assert profile.costs == DEFAULT_COSTS


def test_full_profile() -> None:
    profile = parse_profile({
        "apiVersion": "meshplan.io/v1", "kind": "Profile",
        "team": {"platformEngineers": 3}, "compliance": {"mtlsEverywhere": True},
        "observability": {"needed": False}, "cluster": {"nodes": 5},
        "costs": {"sidecar": {"cpu": "0.05", "memory": "1Gi"}, "waypoint": {"memory": "100M"}},
    })
    assert profile.platform_engineers == 3
    assert profile.compliance_mtls is True
    assert profile.observability_needed is False
    assert profile.nodes == 5
    assert profile.costs["sidecar"] == ProxyCost(50, 1024)
    assert profile.costs["waypoint"] == ProxyCost(250, 95.4)
    assert profile.costs["istiod"] == DEFAULT_COSTS["istiod"]
    assert profile.costs_from_profile == ("sidecar", "waypoint")


def test_flags_override_the_file_and_none_keeps_it() -> None:
    profile = parse_profile({"team": {"platformEngineers": 3}},
                            {"platform_engineers": 0, "compliance_mtls": None, "nodes": 4},
                            origin="p.yaml")
    assert profile.platform_engineers == 0
    assert profile.compliance_mtls is None
    assert profile.nodes == 4
    assert profile.origin == "p.yaml, flags"


@pytest.mark.parametrize(("data", "field"), [
    ({"team": {"platformEngineer": 2}}, "team.platformEngineer"),
    ({"teams": {}}, "teams"),
    ({"team": {"platformEngineers": -1}}, "team.platformEngineers"),
    ({"team": {"platformEngineers": True}}, "team.platformEngineers"),
    ({"compliance": {"mtlsEverywhere": "yes"}}, "compliance.mtlsEverywhere"),
    ({"observability": []}, "observability"),
    ({"cluster": {"nodes": 0}}, "cluster.nodes"),
    ({"costs": {"envoy": {}}}, "costs.envoy"),
    ({"costs": {"sidecar": {"memory": 128}}}, "costs.sidecar.memory"),
    ({"costs": {"sidecar": {"cpu": "lots"}}}, "costs.sidecar.cpu"),
    ({"costs": {"sidecar": {"disk": "1Gi"}}}, "costs.sidecar.disk"),
    (["team"], "profile"),
])
def test_bad_values_name_the_field(data: object, field: str) -> None:
    with pytest.raises(ProfileError) as err:
        parse_profile(data)
    assert err.value.field == field
    assert str(err.value).startswith(field + ": ")


def test_quantities() -> None:
    assert parse_cpu("100m", "x") == 100
    assert parse_cpu(2, "x") == 2000
    assert parse_cpu("0.25", "x") == 250
    assert parse_memory("512Mi", "x") == 512
    assert parse_memory("2Gi", "x") == 2048
    with pytest.raises(ProfileError):
        parse_cpu(True, "x")


def test_sample_profiles_load() -> None:
    example = load_profile(str(SAMPLES / "profiles" / "example.yaml"), {})
    assert example.platform_engineers == 2 and example.nodes == 3
    assert example.origin == "example.yaml"
    shop = load_profile(str(SAMPLES / "profiles" / "shop.yaml"), {"compliance_mtls": False})
    assert shop.compliance_mtls is False
    assert shop.costs["sidecar"] == ProxyCost(100, 96)


def test_load_errors_are_one_line_naming_file_and_field(tmp_path: Path) -> None:
    bad = write(tmp_path / "p.yaml", "costs:\n  sidecar:\n    memory: 128\n")
    with pytest.raises(InputError, match=r"p\.yaml: costs\.sidecar\.memory: not a memory"):
        load_profile(str(bad), {})
    broken = write(tmp_path / "broken.yaml", "team: [\n")
    with pytest.raises(InputError, match=r"broken\.yaml: not valid YAML"):
        load_profile(str(broken), {})
    with pytest.raises(InputError, match="cannot read profile"):
        load_profile(str(tmp_path / "missing.yaml"), {})
    with pytest.raises(InputError, match=r"profile flags: --nodes"):
        load_profile(None, {"nodes": 0})


def test_no_file_and_no_flags_is_all_unknown() -> None:
    assert load_profile(None, {}) == Profile()


@pytest.mark.subprocess
def test_no_profile_file_does_not_import_yaml(tmp_path: Path) -> None:
    # PyYAML's import is ~10 ms of every plan and report; without --profile none is read.
    # Loading a profile file afterwards shows that the check would see the import.
    profile = write(tmp_path / "profile.yaml", "{}\n")
    code = ("import sys\n"
            "from planner.sources.profile import load_profile\n"
            "load_profile(None, {})\n"
            "before = 'yaml' in sys.modules\n"
            "load_profile(sys.argv[1], {})\n"
            "sys.stderr.write(f\"{before} {'yaml' in sys.modules}\")\n")
    out = subprocess.run([sys.executable, "-c", code, str(profile)], capture_output=True,
                         text=True, check=True)
    assert out.stderr == "False True"
