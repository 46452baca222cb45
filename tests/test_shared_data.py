"""tests/shared_data.py: a test that needs ../shared skips naming it on a fresh clone, fails
when MESHPLAN_REQUIRE_SHARED is set (as in CI), and runs when the folder is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import shared_data
from tests.shared_data import CORPUS_CASES, REQUIRE_ENV, require_shared

# Run by pytester: one test per way of needing ../shared, against a SHARED set by the outer test.
INNER = '''
import pytest
from tests.shared_data import corpus, require_shared

@pytest.mark.shared("corpus")
def test_marked():
    pass

def test_called():
    assert require_shared("schemas", "x.yaml").is_file()

@pytest.mark.parametrize("case", ["bookinfo"])
def test_case(case):
    assert corpus(case).is_dir()
'''

@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> pytest.Pytester:
    monkeypatch.setattr(shared_data, "SHARED", tmp_path / "shared")
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    # The project's conftest hooks (the `shared` marker), as the inner run's own conftest.
    pytester.makeconftest("from tests.conftest import pytest_configure, pytest_runtest_setup\n")
    pytester.makepyfile(test_inner=INNER)
    return pytester


def run(inner: pytest.Pytester, *args: str) -> pytest.RunResult:
    # In process: the snapshot plugin would delete the outer session's folder when it ends.
    return inner.runpytest("-p", "no:textual-snapshot", "-p", "no:cacheprovider", *args)


def test_missing_shared_skips_each_test_with_one_reason_naming_it(
        inner: pytest.Pytester) -> None:
    result = run(inner, "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines([
        "*../shared/corpus not present (extra test data, see README)*",
        "*../shared/schemas/x.yaml not present*",
        "*../shared/corpus/bookinfo not present*",
    ])


def test_require_env_turns_the_skips_into_failures(inner: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_ENV, "1")
    result = run(inner)
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == 0
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == 3
    result.stdout.fnmatch_lines([f"*../shared/corpus not present*{REQUIRE_ENV} is set*"])


def test_present_shared_runs_the_tests(inner: pytest.Pytester, tmp_path: Path) -> None:
    (tmp_path / "shared" / "corpus" / "bookinfo").mkdir(parents=True)
    (tmp_path / "shared" / "schemas").mkdir()
    (tmp_path / "shared" / "schemas" / "x.yaml").write_text("{}\n")
    run(inner).assert_outcomes(passed=3)


def test_corpus_cases_name_every_case_of_the_corpus() -> None:
    # The fixed list lets tests parametrize without reading ../shared; it must not go stale.
    folder = require_shared("corpus")
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == list(CORPUS_CASES)
