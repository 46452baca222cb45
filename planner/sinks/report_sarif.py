"""The report as SARIF 2.1.0 (``planner report --format sarif``), for GitHub code scanning and
other tools that read static-analysis results.

Rendered from the report document (:func:`planner.sinks.report_json.report_document`), so it
says what the JSON says: one result per blocker (MP2xx, plan findings MP3xx) and per fit factor
that points at objects (MP1xx, level ``note``). Each result has the rule's code as ``ruleId``,
a level from its severity, the message, and a location: the file and the line where the
object's document starts for manifests (``physicalLocation``), and the object itself
(``Kind/namespace/name``) as a logical location, which is all a live cluster gives. Suppressed
findings stay, with ``suppressions`` (``inSource`` for the annotation, ``external`` for
``--ignore`` and the profile). Rules carry name, short and full description and help text.

``helpUri`` and the driver's ``informationUri`` must be absolute URIs (SARIF 2.1.0 §3.49.12,
§3.19.7; the multitool's SARIF1005 refuses relative ones), and meshplan has no documentation
site of its own: they are written only when a ``docs_uri`` says where the project's ``docs/``
folder is published (``--help-base-uri``, or a ``Documentation`` URL in the package metadata),
each rule's ``helpUri`` then being its section of ``rules.md`` there. Without one they are left
out, never invented; the help text names the section (``MP213`` in docs/rules.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from planner.domain.findings import Level, RuleInfo
from planner.sinks.wire import dump_json

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: The rule catalogue inside the docs folder, one section per code (``#mp213``).
RULES_DOC = "rules.md"
_LEVEL = {Level.INFO: "note", Level.WARNING: "warning", Level.ERROR: "error",
          Level.CRITICAL: "error"}


def _rule_name(title: str) -> str:
    """``Caller outside the mesh`` -> ``CallerOutsideTheMesh`` (SARIF's identifier-like name)."""
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))


def check_docs_uri(uri: str) -> str:
    """``uri`` without a trailing slash if it can be the base of a ``helpUri``: absolute
    http(s), with a host, no query or fragment (one is added per rule); else ValueError."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query \
            or parts.fragment:
        raise ValueError(f"{uri!r}: expected an absolute http(s) URL of the published docs/ "
                         "folder, with no query or fragment (SARIF needs helpUri absolute)")
    return uri.rstrip("/")


def _rule(info: RuleInfo, docs_uri: str | None) -> dict[str, Any]:
    anchor = info.code.lower()
    where = f"{info.code} in docs/rules.md"
    rule: dict[str, Any] = {
        "id": info.code,
        "name": _rule_name(info.title),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.why},
        "help": {"text": f"{info.why}\n\nFix: {info.fix}\n\nSee {where} (planner rules "
                         "list).",
                 "markdown": f"{info.why}\n\n**Fix:** {info.fix}\n\n"
                             + (f"[{where}]({docs_uri}/{RULES_DOC}#{anchor})" if docs_uri
                                else f"See `{info.code}` in docs/rules.md "
                                     "(`planner rules list`).")},
        "defaultConfiguration": {"level": _LEVEL[info.severity]},
        "properties": {"category": info.category, "severity": info.severity.value},
    }
    if docs_uri:
        rule["helpUri"] = f"{docs_uri}/{RULES_DOC}#{anchor}"
    return rule


def _uri(path: str) -> str:
    """A file as a URI reference: relative paths stay relative (GitHub resolves them against
    the repository root); characters a URI cannot hold are percent-encoded."""
    if path.startswith("/"):
        return "file://" + quote(path)
    return quote(path.replace("\\", "/"))


def _logical(key: str) -> dict[str, Any]:
    name = key.rsplit("/", 1)[-1]
    return {"fullyQualifiedName": key, "name": name, "kind": "resource"}


def _location(finding: Mapping[str, Any], subject: str) -> dict[str, Any]:
    where: dict[str, Any] = {}
    found = finding.get("location")
    if found is not None and found["file"] != "-":
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(found["file"])}}
        if found["line"]:
            physical["region"] = {"startLine": found["line"]}
        where["physicalLocation"] = physical
        subject = found["object"]
    if subject:
        where["logicalLocations"] = [_logical(subject)]
    return where


def _fingerprint(code: str, subject: str, objects: Sequence[str], message: str) -> str:
    # Stable across runs and line moves: GitHub matches alerts between commits by it.
    text = "\x1f".join((code, subject, *objects, message))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _result(rules: Mapping[str, int], code: str, level: str, message: str, subject: str,
            objects: Sequence[str], finding: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": code,
        "level": level,
        "message": {"text": message},
        "locations": [_location(finding, subject)],
        "partialFingerprints": {"meshplanFinding/v1": _fingerprint(code, subject, objects,
                                                                  message)},
    }
    if code in rules:
        result["ruleIndex"] = rules[code]
    suppressed = finding.get("suppressed")
    if suppressed is not None:
        result["suppressions"] = [{
            "kind": "inSource" if suppressed["kind"] == "annotation" else "external",
            "status": "accepted",
            "justification": f"{suppressed['reason']} ({suppressed['origin']})",
        }]
    return result


def sarif_log(doc: Mapping[str, Any], catalogue: Sequence[RuleInfo], version: str,
              docs_uri: str | None = None) -> dict[str, Any]:
    """The SARIF log of a report document; ``catalogue`` is every rule the planner has (those
    with results are listed, in code order), ``version`` the planner's, ``docs_uri`` where
    its docs/ folder is published (checked by :func:`check_docs_uri`), if known."""
    infos = {info.code: info for info in catalogue}
    findings: list[tuple[str, str, str, str, tuple[str, ...], Mapping[str, Any]]] = []
    for blocker in doc["blockers"]:
        findings.append((blocker["code"], blocker["severity"], blocker["message"],
                         blocker["subject"], tuple(blocker["objects"]), blocker))
    for factor in (doc.get("assessment") or {}).get("factors", ()):
        if factor["evidence"]:  # a factor about the cluster as a whole has nowhere to point
            findings.append((factor["code"], "info", factor["message"], factor["evidence"][0],
                             tuple(factor["evidence"]), factor))
    used = sorted({code for code, *_ in findings if code in infos})
    rules = {code: i for i, code in enumerate(used)}
    results = [_result(rules, code, _LEVEL[Level(severity)], message, subject, objects, finding)
               for code, severity, message, subject, objects, finding in findings]
    driver: dict[str, Any] = {
        "name": "meshplan",
        "fullName": "meshplan (planner): service-mesh fit and STRICT mTLS rollout",
        "version": version,
        "semanticVersion": version,
        "rules": [_rule(infos[code], docs_uri) for code in used],
    }
    if docs_uri:
        driver["informationUri"] = docs_uri
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render_sarif(doc: Mapping[str, Any], catalogue: Sequence[RuleInfo], version: str,
                 docs_uri: str | None = None) -> str:
    """:func:`sarif_log` as JSON text (sorted keys, two-space indent, like every output)."""
    return dump_json(sarif_log(doc, catalogue, version, docs_uri))
