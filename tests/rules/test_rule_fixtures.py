"""Every rule fires on its ``fail-*`` fixtures and stays quiet on its ``pass-*`` fixtures.

Layout (Polaris-style): ``tests/rules/<CODE>/pass-<case>.yaml`` and ``fail-<case>.yaml``; an
optional ``<same name>.profile.yaml`` beside a fixture supplies the fit profile. Every fail
fixture names what its findings are about, so a rule that fires on the wrong object fails: one
``# subject: Kind/ns/name`` line per finding (fit factors judge the ``cluster``) and, where the
subject is the cluster, ``# objects: A, B`` lines listing every object the findings cite. The
rule must report exactly those, not merely fire.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.rules.registry import ALL_RULES, rule
from planner.service import ManifestInput, analyse

HERE = Path(__file__).parent
CASES = sorted(
    (p.parent.name, p)
    for p in HERE.glob("MP*/*.yaml")
    if not p.name.endswith(".profile.yaml")
)


def test_every_rule_has_pass_and_fail_fixtures() -> None:
    codes = {r.info.code for r in ALL_RULES}
    for code in sorted(codes):
        names = [p.name for c, p in CASES if c == code]
        assert any(n.startswith("pass-") for n in names), f"{code} has no pass fixture"
        assert any(n.startswith("fail-") for n in names), f"{code} has no fail fixture"


def _header(path: Path, key: str) -> list[str]:
    """The values of the fixture's ``# key: value`` comment lines."""
    prefix = f"# {key}:"
    return [line.removeprefix(prefix).strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith(prefix)]


@pytest.mark.parametrize(("code", "path"), CASES, ids=[f"{c}/{p.name}" for c, p in CASES])
def test_rule_fixture(code: str, path: Path) -> None:
    profile = path.with_name(path.stem + ".profile.yaml")
    analysis = analyse(ManifestInput((str(path),), namespace="default"),
                       profile_path=str(profile) if profile.exists() else None)
    findings = rule(code).check(analysis.context)
    if path.name.startswith("fail-"):
        assert findings, f"{code} did not fire on {path.name}"
        assert all(f.code == code for f in findings)
        subjects = sorted(_header(path, "subject"))
        assert subjects, f"{path.name} names no '# subject:' for its findings"
        assert sorted(f.subject for f in findings) == subjects, findings
        objects = sorted(o for line in _header(path, "objects") for o in line.split(", "))
        cited = sorted({o for f in findings for o in f.objects})
        if objects or subjects == ["cluster"] * len(subjects):
            assert cited == objects, f"{path.name}: the findings cite {cited}"
    else:
        assert not findings, f"{code} fired on {path.name}: {findings}"


def test_what_rules_share_lives_and_dies_with_its_context() -> None:
    """The caller rules share what they derive from a context (the calls at risk, the
    enrollment) through the context itself: a module-level memo would keep the last context,
    with the whole inventory and graph, alive after the analysis is dropped (a TUI rescan), and
    is state the pure core must not hold."""
    import gc
    import weakref
    from dataclasses import replace

    path = HERE / "MP201" / "fail-ingress-nginx.yaml"
    context = analyse(ManifestInput((str(path),), namespace="default")).context
    assert rule("MP201").check(context)
    assert context.derived, "the caller rules share their work through the context"
    assert not replace(context, root_namespace="mesh-root").derived
    alive = weakref.ref(context)
    del context
    gc.collect()
    assert alive() is None
