"""The fit profile: what the manifests cannot tell (team, compliance, observability, nodes, costs).

Pure: :func:`parse_profile` takes the mapping a YAML file held (or ``{}``) plus flag answers and
returns a :class:`Profile`, raising :class:`ProfileError` that names the offending field. The
schema is documented in ``docs/profile.md``::

    team:          {platformEngineers: 2}
    compliance:    {mtlsEverywhere: true}
    observability: {needed: true}
    cluster:       {nodes: 6}
    costs:         {sidecar: {cpu: 100m, memory: 128Mi}, ztunnel: {...}, waypoint: {...},
                    istiod: {...}}
    plan:          {authz: true}    # the plan's authorization phases (docs/authz.md)

Every answer is optional; a missing one stays ``None`` ("unknown") and the assessment states
what it would change, instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field, replace
from typing import Any, Final

from planner.domain.suppressions import PROFILE, Suppression, SuppressionError, parse_ignore
from planner.domain.value import value_class


class ProfileError(ValueError):
    """A profile value is unusable. ``field`` is its dotted path (``costs.sidecar.cpu``)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}")
        self.field = field_path


@value_class
class ProxyCost:
    """Resources one proxy (or control-plane replica) asks for."""

    cpu_millicores: int
    memory_mib: float


#: Per-proxy defaults and where each figure comes from (shown beside the cost numbers).
#: Sidecar, ztunnel and istiod are Istio's chart default *requests*; the waypoint figure is the
#: measured use at 1000 rps from Istio 1.24's performance page, as no chart request is set.
DEFAULT_COSTS: Final[Mapping[str, ProxyCost]] = {
    "sidecar": ProxyCost(100, 128),
    "ztunnel": ProxyCost(200, 512),
    "waypoint": ProxyCost(250, 60),
    "istiod": ProxyCost(500, 2048),
}
COST_BASIS: Final[Mapping[str, str]] = {
    "sidecar": "Istio chart default request; measured ~0.20 vCPU/60 MB at 1000 rps, "
               "50-100 MB typical",
    "ztunnel": "Istio chart default request; measured ~0.06 vCPU/12 MB at 1000 rps",
    "waypoint": "measured use at 1000 rps, Istio 1.24 performance page",
    "istiod": "Istio chart default request",
}

#: ``apiVersion``/``kind``/``metadata`` are accepted so a profile can be shaped like the other
#: objects a team keeps in Git (``sample_clusters/profiles/shop.yaml``).
_TOP_LEVEL: Final = frozenset({"apiVersion", "kind", "metadata", "team", "compliance",
                               "observability", "cluster", "costs", "ignore", "plan"})
_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)$")
_MIB_PER_UNIT: Final = {"Ki": 1 / 1024, "Mi": 1.0, "Gi": 1024.0,
                        "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}


@value_class
class Profile:
    """Answers about the team and the cluster. ``None`` means unknown.

    ``costs`` maps ``sidecar``, ``ztunnel``, ``waypoint`` and ``istiod`` to per-proxy resources;
    ``costs_from_profile`` names the ones the user set (the rest are :data:`DEFAULT_COSTS`).
    ``origin`` says where the answers came from, for reports.
    """

    platform_engineers: int | None = None
    compliance_mtls: bool | None = None
    observability_needed: bool | None = None
    nodes: int | None = None
    costs: Mapping[str, ProxyCost] = field(default_factory=lambda: dict(DEFAULT_COSTS))
    costs_from_profile: tuple[str, ...] = ()
    origin: str = ""
    #: Accepted findings (``ignore:``), kept and marked in the report (docs/report.md).
    ignore: tuple[Suppression, ...] = ()
    #: ``plan.authz``: add the authorization phases to the plan (``--authz`` wins; None: no).
    plan_authz: bool | None = None


#: Profile questions that move the verdict, with the answers a what-if replays when one is
#: unknown: (field, question, ((answer, how it reads), ...)).
QUESTIONS: Final[tuple[tuple[str, str, tuple[tuple[Any, str], ...]], ...]] = (
    ("platform_engineers", "dedicated platform engineers",
     ((0, "none"), (1, "one or more"))),
    ("compliance_mtls", "compliance requires mTLS everywhere without code changes",
     ((True, "yes"), (False, "no"))),
    ("observability_needed", "golden metrics and tracing needed without instrumenting services",
     ((True, "yes"), (False, "no"))),
)

#: Flag answers ``parse_profile`` accepts as overrides (they win over the file).
OVERRIDE_FIELDS: Final = frozenset({"platform_engineers", "compliance_mtls",
                                    "observability_needed", "nodes"})


def parse_profile(data: Any, overrides: Mapping[str, Any] | None = None,
                  origin: str = "") -> Profile:
    """Validate a profile mapping (``None`` or ``{}`` for none) and apply flag ``overrides``.

    Raises :class:`ProfileError` naming the first bad field; unknown keys are errors so a typo
    (``platformEngineer``) is not silently read as "unknown".
    """
    if data is None:
        data = {}
    section = _mapping(data, "profile")
    for key in sorted(section, key=str):
        if key not in _TOP_LEVEL:
            raise ProfileError(str(key), "unknown field (expected one of "
                               f"{', '.join(sorted(_TOP_LEVEL))})")
    team = _section(section, "team", {"platformEngineers"})
    compliance = _section(section, "compliance", {"mtlsEverywhere"})
    observability = _section(section, "observability", {"needed"})
    cluster = _section(section, "cluster", {"nodes"})
    plan = _section(section, "plan", {"authz"})
    costs, from_profile = _costs(section.get("costs"))
    profile = Profile(
        platform_engineers=_count(team.get("platformEngineers"), "team.platformEngineers"),
        compliance_mtls=_bool(compliance.get("mtlsEverywhere"), "compliance.mtlsEverywhere"),
        observability_needed=_bool(observability.get("needed"), "observability.needed"),
        nodes=_count(cluster.get("nodes"), "cluster.nodes", minimum=1),
        costs=costs,
        costs_from_profile=from_profile,
        origin=origin,
        ignore=_ignore(section.get("ignore"), origin),
        plan_authz=_bool(plan.get("authz"), "plan.authz"),
    )
    return apply_overrides(profile, overrides or {})


def apply_overrides(profile: Profile, overrides: Mapping[str, Any]) -> Profile:
    """``profile`` with flag answers applied; ``None`` values leave the profile's answer."""
    changes: dict[str, Any] = {}
    for key in sorted(overrides):
        if key not in OVERRIDE_FIELDS:
            raise ProfileError(key, "not a profile override")
        value = overrides[key]
        if value is None:
            continue
        if key in ("platform_engineers", "nodes"):
            changes[key] = _count(value, f"--{key.replace('_', '-')}",
                                  minimum=1 if key == "nodes" else 0)
        else:
            changes[key] = _bool(value, f"--{key.replace('_', '-')}")
    if not changes:
        return profile
    origin = ", ".join(x for x in (profile.origin, "flags") if x)
    return replace(profile, origin=origin, **changes)


def parse_cpu(value: Any, where: str) -> int:
    """A Kubernetes CPU quantity (``100m``, ``0.25``, ``1``) in millicores."""
    text = str(value).strip() if isinstance(value, (str, int, float)) else ""
    match = _CPU.match(text) if not isinstance(value, bool) else None
    if match is None:
        raise ProfileError(where, f"not a CPU quantity: {value!r} (e.g. 100m or 0.25)")
    number = float(match.group(1))
    return round(number if match.group(2) else number * 1000)


def parse_memory(value: Any, where: str) -> float:
    """A Kubernetes memory quantity with a unit (``128Mi``, ``1Gi``, ``60M``) in MiB.

    A bare number means bytes to Kubernetes but is almost always meant as MiB in a profile, so
    it is refused rather than read either way."""
    match = _MEMORY.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ProfileError(where, f"not a memory quantity with a unit: {value!r} "
                           "(e.g. 128Mi, 1Gi, 60M)")
    return round(float(match.group(1)) * _MIB_PER_UNIT[match.group(2)], 1)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(where, f"expected a mapping, got {_type_name(value)}")
    return value


def _section(data: Mapping[str, Any], name: str, keys: set[str]) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    section = _mapping(value, name)
    for key in sorted(section, key=str):
        if key not in keys:
            raise ProfileError(f"{name}.{key}",
                               f"unknown field (expected {', '.join(sorted(keys))})")
    return section


def _count(value: Any, where: str, minimum: int = 0) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProfileError(where, f"expected a whole number >= {minimum}, got {value!r}")
    return value


def _bool(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ProfileError(where, f"expected true or false, got {value!r}")
    return value


def _costs(value: Any) -> tuple[dict[str, ProxyCost], tuple[str, ...]]:
    costs = dict(DEFAULT_COSTS)
    if value is None:
        return costs, ()
    section = _mapping(value, "costs")
    for name in sorted(section, key=str):
        where = f"costs.{name}"
        if name not in DEFAULT_COSTS:
            raise ProfileError(where,
                               f"unknown proxy (expected {', '.join(sorted(DEFAULT_COSTS))})")
        entry = _mapping(section[name], where)
        for key in sorted(entry, key=str):
            if key not in ("cpu", "memory"):
                raise ProfileError(f"{where}.{key}", "unknown field (expected cpu, memory)")
        default = DEFAULT_COSTS[name]
        costs[name] = ProxyCost(
            parse_cpu(entry["cpu"], f"{where}.cpu") if "cpu" in entry else default.cpu_millicores,
            parse_memory(entry["memory"], f"{where}.memory") if "memory" in entry
            else default.memory_mib,
        )
    return costs, tuple(sorted(str(k) for k in section))


def _ignore(value: Any, origin: str) -> tuple[Suppression, ...]:
    """``ignore:`` entries: ``CODE[:KIND/NS/NAME]`` strings or mappings with ``code``,
    optional ``object`` and ``reason``."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ProfileError("ignore", f"expected a list, got {_type_name(value)}")
    where = f"profile {origin}" if origin else "profile"
    found = []
    for index, entry in enumerate(value):
        path = f"ignore[{index}]"
        if isinstance(entry, Mapping):
            for key in sorted(entry, key=str):
                if key not in ("code", "object", "reason"):
                    raise ProfileError(f"{path}.{key}",
                                       "unknown field (expected code, object, reason)")
            code, target, reason = (entry.get("code"), entry.get("object", ""),
                                    entry.get("reason", ""))
            if not all(isinstance(v, str) for v in (code, target, reason)):
                raise ProfileError(path, "code, object and reason must be strings")
            text = f"{code}:{target}" if target else str(code)
        elif isinstance(entry, str):
            text, reason = entry, ""
        else:
            raise ProfileError(path, f"expected CODE[:KIND/NS/NAME] or a mapping, got "
                                     f"{_type_name(entry)}")
        try:
            found.append(parse_ignore(text, kind=PROFILE, origin=f"{where} {path}",
                                      reason=str(reason)))
        except SuppressionError as err:
            raise ProfileError(path, str(err)) from None
    return tuple(found)


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
