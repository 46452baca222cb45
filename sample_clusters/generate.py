#!/usr/bin/env python3
"""Generate synthetic Kubernetes clusters with a known call graph.

The planner has to find call edges in manifests written in many styles. This
script writes N namespaces x M services whose calls are encoded in a rotating
variety of forms, together with ``ground-truth.json`` listing every edge, so
graph extraction can be measured for recall/precision and for speed (10,000
services in a few seconds).

Usage::

    python sample_clusters/generate.py --namespaces 3 --services 5 --seed 1 --out out/small
    python sample_clusters/generate.py --namespaces 100 --services 100 --format list-json \\
        --out out/big

Output formats:

* ``yaml``: one multi-document file per namespace, ``out/<namespace>.yaml``.
* ``list-json``: one ``kubectl get -A -o json``-style ``List``, ``out/cluster.json``.
* ``list-yaml``: the same ``List`` as YAML, ``out/cluster.yaml``.

Every format also writes ``out/ground-truth.json``: a list sorted by
(caller, callee, port) of ``{"caller": "Deployment/ns/name", "callee":
"Service/ns/name", "port": N, "form": "..."}``.

Identical arguments give byte-identical files: all randomness comes from one
``random.Random(seed)`` and nothing depends on time, hashing or the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Format = Literal["yaml", "list-json", "list-yaml"]
FORMATS: tuple[Format, ...] = ("yaml", "list-json", "list-yaml")

# Encoding forms of a call, in rotation order. Same-namespace calls may use the
# short name; cross-namespace calls need at least `svc.ns`, so they skip it.
FORM_ENV_SHORT = "env-short"  # X_ADDR=svc:port
FORM_ENV_URL_NS = "env-url-ns"  # X_URL=http://svc.ns:port
FORM_ENV_FQDN = "env-fqdn"  # X_ADDR=svc.ns.svc.cluster.local:port
FORM_CONFIGMAP_KEY_REF = "configmap-key-ref"  # env valueFrom.configMapKeyRef
FORM_ENVFROM_CONFIGMAP = "envfrom-configmap"  # envFrom.configMapRef
FORM_DB_URL = "db-url"  # postgres://user@svc.ns:5432/db, redis://svc.ns:6379/0
FORM_BROKER_LIST = "broker-list"  # KAFKA_BROKERS=a.ns.svc:9092,b.ns.svc:9092

SAME_NS_FORMS = (
    FORM_ENV_SHORT,
    FORM_ENV_URL_NS,
    FORM_ENV_FQDN,
    FORM_CONFIGMAP_KEY_REF,
    FORM_ENVFROM_CONFIGMAP,
)
CROSS_NS_FORMS = (FORM_ENV_URL_NS, FORM_ENV_FQDN, FORM_CONFIGMAP_KEY_REF, FORM_ENVFROM_CONFIGMAP)


@dataclass(frozen=True)
class _Kind:
    """What a generated service is: decides its port, port name and how callers address it."""

    name: str
    port: int
    port_name: str
    weight: int


# Weights give mostly HTTP/gRPC apps with some data stores; data stores are leaves.
KINDS = (
    _Kind("http", 8080, "http", 50),
    _Kind("grpc", 9090, "grpc", 20),
    _Kind("postgres", 5432, "tcp-postgres", 10),
    _Kind("redis", 6379, "tcp-redis", 10),
    _Kind("kafka", 9092, "tcp-kafka", 10),
)
LEAF_KINDS = frozenset({"postgres", "redis", "kafka"})
APP_WORDS = (
    "api", "web", "gateway", "checkout", "search", "users", "billing", "catalog",
    "inventory", "auth", "orders", "cart", "reviews", "pricing", "shipping", "notify",
)  # fmt: skip

# Label sets rotated over namespaces: sidecar injection, ambient, and outside the mesh.
NS_LABELS: tuple[dict[str, str], ...] = (
    {"istio-injection": "enabled"},
    {"istio.io/dataplane-mode": "ambient"},
    {},
)

# Hostile strings for --hostile: Rich markup, ANSI escapes, unicode, very long values.
# They go only into label/annotation/env values so object names stay DNS-1123.
HOSTILE_VALUES = (
    "[bold red]x[/bold red]",
    "[link=https://evil.example]click[/link] [/]",
    "\x1b[31mred\x1b[0m \x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "ünïcödé ✓ 日本語 🚀 \u202eevil",
    "line1\nline2\ttabbed",
)


@dataclass(frozen=True)
class Edge:
    """One generated call: ``caller`` workload -> ``callee`` Service on ``port``.

    ``address`` is the exact string written into the manifests (an env value,
    a ConfigMap value or one entry of a list), kept for tests; it is not part
    of ``ground-truth.json``.
    """

    caller: str
    callee: str
    port: int
    form: str
    address: str

    def to_json(self) -> dict[str, Any]:
        """The wire form written to ``ground-truth.json``."""
        return {"callee": self.callee, "caller": self.caller, "form": self.form, "port": self.port}


@dataclass(frozen=True)
class GroundTruth:
    """What a generated cluster contains, as ``Kind/namespace/name`` references."""

    namespaces: tuple[str, ...]
    services: tuple[str, ...]
    workloads: tuple[str, ...]
    edges: tuple[Edge, ...]
    files: tuple[Path, ...] = field(default=())

    def to_json(self) -> str:
        """Serialise the edges exactly as written to ``ground-truth.json``."""
        # One edge per line: compact, yet diffs stay readable.
        rows = [json.dumps(e.to_json(), sort_keys=True, ensure_ascii=False) for e in self.edges]
        return "[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n"


@dataclass
class _Service:
    """A service being generated: its Deployment, Service and outgoing calls."""

    ns: str
    name: str
    kind: _Kind
    replicas: int
    version: str
    env: list[dict[str, Any]] = field(default_factory=list)
    env_from_cm: dict[str, str] = field(default_factory=dict)
    key_ref_cm: dict[str, str] = field(default_factory=dict)
    brokers: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        """``Service/ns/name`` of this service."""
        return f"Service/{self.ns}/{self.name}"

    @property
    def workload_ref(self) -> str:
        """``Deployment/ns/name`` of this service's workload."""
        return f"Deployment/{self.ns}/{self.name}"


def _env_name(callee: _Service, caller_ns: str, suffix: str) -> str:
    """Env var name for a call; cross-namespace names carry the namespace to stay unique."""
    base = callee.name if callee.ns == caller_ns else f"{callee.name}-{callee.ns}"
    return re.sub(r"[^A-Z0-9]", "_", base.upper()) + "_" + suffix


def _encode_call(caller: _Service, callee: _Service, form: str) -> str:
    """Write one call into ``caller``'s env/ConfigMaps in ``form``; return the address string."""
    port = callee.kind.port
    host_ns = f"{callee.name}.{callee.ns}"
    scheme = "http://" if callee.kind.name == "http" else ""
    if form == FORM_ENV_SHORT:
        addr = f"{callee.name}:{port}"
        caller.env.append({"name": _env_name(callee, caller.ns, "ADDR"), "value": addr})
    elif form == FORM_ENV_URL_NS:
        addr = f"{scheme}{host_ns}:{port}"
        caller.env.append({"name": _env_name(callee, caller.ns, "URL"), "value": addr})
    elif form == FORM_ENV_FQDN:
        addr = f"{host_ns}.svc.cluster.local:{port}"
        caller.env.append({"name": _env_name(callee, caller.ns, "ADDR"), "value": addr})
    elif form == FORM_CONFIGMAP_KEY_REF:
        addr = f"{host_ns}.svc:{port}"
        key = f"{callee.name}.{callee.ns}.addr"
        caller.key_ref_cm[key] = addr
        caller.env.append(
            {
                "name": _env_name(callee, caller.ns, "ADDR"),
                "valueFrom": {"configMapKeyRef": {"name": f"{caller.name}-endpoints", "key": key}},
            }
        )
    elif form == FORM_ENVFROM_CONFIGMAP:
        addr = f"{scheme}{host_ns}.svc.cluster.local:{port}"
        caller.env_from_cm[_env_name(callee, caller.ns, "URL")] = addr
    elif form == FORM_DB_URL:
        if callee.kind.name == "postgres":
            user = caller.name.replace("-", "_")
            addr = f"postgres://{user}@{host_ns}:{port}/{user}"
        else:
            addr = f"redis://{host_ns}:{port}/0"
        caller.env.append({"name": _env_name(callee, caller.ns, "URL"), "value": addr})
    elif form == FORM_BROKER_LIST:
        # Collected here, joined into one KAFKA_BROKERS value when the manifest is built.
        addr = f"{host_ns}.svc:{port}"
        caller.brokers.append(addr)
    else:  # pragma: no cover - guarded by the form tables above
        raise ValueError(f"unknown form {form!r}")
    return addr


def _build_model(
    namespaces: int, services_per_ns: int, rng: random.Random, density: float | None = None
) -> tuple[list[str], list[list[_Service]], list[Edge]]:
    """Choose services and the call graph, and encode each call into its caller.

    ``density`` (call edges per service, over all services) makes each caller draw more
    callees, retrying a callee it already has; ``None`` keeps the sparse default (0-3 draws per
    caller, about 1 edge per service), whose output never changes for a seed."""
    width = max(3, len(str(namespaces - 1)))
    ns_names = [f"ns-{i:0{width}d}" for i in range(namespaces)]
    weights = [k.weight for k in KINDS]
    by_ns: list[list[_Service]] = []
    for ns in ns_names:
        services = []
        for j in range(services_per_ns):
            kind = rng.choices(KINDS, weights)[0]
            word = rng.choice(APP_WORDS) if kind.name in ("http", "grpc") else kind.name
            services.append(
                _Service(
                    ns=ns,
                    name=f"{word}-{j}",
                    kind=kind,
                    replicas=rng.randint(1, 3),
                    version=f"v{rng.randint(1, 3)}",
                )
            )
        by_ns.append(services)

    callers = sum(s.kind.name not in LEAF_KINDS for services in by_ns for s in services)
    # Draws per caller: uniform on 0..2*mean, so callers vary as real ones do.
    mean = density * namespaces * services_per_ns / max(callers, 1) if density else 0.0
    edges: list[Edge] = []
    same_i = cross_i = 0
    for n, services in enumerate(by_ns):
        for j, caller in enumerate(services):
            if caller.kind.name in LEAF_KINDS:
                continue
            chosen: list[_Service] = []
            draws = rng.randint(0, round(2 * mean)) if density else rng.randint(0, 3)
            # A dense graph retries a callee drawn twice (up to twice the draws).
            for _ in range(draws * 2 if density else draws):
                if density and len(chosen) == draws:
                    break
                if namespaces > 1 and rng.random() < 0.2:
                    # Any service in another namespace: cycles between namespaces can form.
                    # (randrange draws as choice of the list of the other namespaces does.)
                    other = rng.randrange(namespaces - 1)
                    callee = rng.choice(by_ns[other + (other >= n)])
                else:
                    # Only later services of the same namespace: acyclic within a namespace.
                    if j + 1 >= len(services):
                        continue
                    callee = services[rng.randrange(j + 1, len(services))]
                if callee not in chosen:
                    chosen.append(callee)
            for callee in chosen:
                if callee.kind.name == "kafka":
                    form = FORM_BROKER_LIST
                elif callee.kind.name in ("postgres", "redis"):
                    form = FORM_DB_URL
                elif callee.ns == caller.ns:
                    form = SAME_NS_FORMS[same_i % len(SAME_NS_FORMS)]
                    same_i += 1
                else:
                    form = CROSS_NS_FORMS[cross_i % len(CROSS_NS_FORMS)]
                    cross_i += 1
                addr = _encode_call(caller, callee, form)
                edges.append(Edge(caller.workload_ref, callee.ref, callee.kind.port, form, addr))
    edges.sort(key=lambda e: (e.caller, e.callee, e.port))
    return ns_names, by_ns, edges


def _hostile_meta(rng: random.Random) -> tuple[dict[str, str], dict[str, str]]:
    """Hostile labels and annotations for one object."""
    labels = {"meshplan.example/note": rng.choice(HOSTILE_VALUES[:2])}
    annotations = {
        "meshplan.example/description": rng.choice(HOSTILE_VALUES),
        "meshplan.example/ansi": HOSTILE_VALUES[2],
        "meshplan.example/long": "[bold]" + "A" * 5000 + "[/bold]",
    }
    return labels, annotations


def _objects(
    ns_names: list[str], by_ns: list[list[_Service]], hostile: bool, rng: random.Random
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(namespace, object)`` for every manifest of the cluster, in file order."""
    for n, (ns, services) in enumerate(zip(ns_names, by_ns, strict=True)):
        ns_meta: dict[str, Any] = {"name": ns}
        labels = dict(NS_LABELS[n % len(NS_LABELS)])
        if hostile and n % 2 == 0:
            hl, ha = _hostile_meta(rng)
            labels.update(hl)
            ns_meta["annotations"] = ha
        if labels:
            ns_meta["labels"] = labels
        yield ns, {"apiVersion": "v1", "kind": "Namespace", "metadata": ns_meta}
        for j, svc in enumerate(services):
            yield from ((ns, obj) for obj in _service_objects(svc, hostile and j % 3 == 0, rng))


def _service_objects(svc: _Service, hostile: bool, rng: random.Random) -> list[dict[str, Any]]:
    """ConfigMaps, Deployment and Service of one generated service."""
    objs: list[dict[str, Any]] = []
    labels = {"app": svc.name, "version": svc.version}
    short = svc.name.split("-")[0]
    container: dict[str, Any] = {
        "name": short,
        "image": f"registry.example.com/{svc.kind.name}/{short}:1.{svc.replicas}.0",
        "ports": [{"name": svc.kind.port_name, "containerPort": svc.kind.port}],
    }
    env = list(svc.env)
    if svc.brokers:
        env.append({"name": "KAFKA_BROKERS", "value": ",".join(svc.brokers)})
    # Lookalikes that must never become edges: the service's own name, a log level.
    env.append({"name": "SERVICE_NAME", "value": svc.name})
    env.append({"name": "LOG_LEVEL", "value": "info"})
    if hostile:
        env.append({"name": "BANNER", "value": rng.choice(HOSTILE_VALUES)})
    container["env"] = env
    if svc.env_from_cm:
        name = f"{svc.name}-env"
        objs.append(_configmap(svc.ns, name, svc.env_from_cm))
        container["envFrom"] = [{"configMapRef": {"name": name}}]
    if svc.key_ref_cm:
        objs.append(_configmap(svc.ns, f"{svc.name}-endpoints", svc.key_ref_cm))
    container["resources"] = {"requests": {"cpu": "100m", "memory": "128Mi"}}

    meta: dict[str, Any] = {"name": svc.name, "namespace": svc.ns, "labels": dict(labels)}
    pod_meta: dict[str, Any] = {"labels": dict(labels)}
    if hostile:
        hl, ha = _hostile_meta(rng)
        meta["labels"].update(hl)
        meta["annotations"] = ha
        pod_meta["annotations"] = dict(ha)
    objs.append(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": {
                "replicas": svc.replicas,
                "selector": {"matchLabels": {"app": svc.name}},
                "template": {"metadata": pod_meta, "spec": {"containers": [container]}},
            },
        }
    )
    objs.append(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": svc.name, "namespace": svc.ns, "labels": {"app": svc.name}},
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": svc.name},
                "ports": [
                    {
                        "name": svc.kind.port_name,
                        "port": svc.kind.port,
                        "targetPort": svc.kind.port,
                        "protocol": "TCP",
                    }
                ],
            },
        }
    )
    return objs


def _configmap(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap object."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": dict(data),
    }


# --- YAML emission -----------------------------------------------------------
# A small block-style emitter: PyYAML's pure-Python dumper is far too slow for
# 10,000 services, and every value we emit is a str/int/bool/dict/list.

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
# Words YAML 1.1 (PyYAML) would read as booleans/null, so they must be quoted.
_RESERVED = frozenset(
    w
    for base in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
    for w in (base, base.capitalize(), base.upper())
) | {"~"}
# Characters YAML forbids or treats as line breaks, escaped inside double quotes.
_YAML_UNSAFE = re.compile("[\x7f-\x84\x86-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")


def _scalar(value: Any) -> str:
    """Render a scalar; strings are plain when unambiguous, else JSON-quoted (valid YAML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    s = str(value)
    if _PLAIN.match(s) and s not in _RESERVED:
        return s
    quoted = json.dumps(s, ensure_ascii=False)
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _emit(value: Any, indent: str, out: list[str], sort_keys: bool) -> None:
    """Append the block-YAML lines of a dict or list (at ``indent``) to ``out``."""
    if isinstance(value, dict):
        if not value:
            out.append(indent + "{}")
            return
        items = sorted(value.items()) if sort_keys else value.items()
        for k, v in items:
            key = _scalar(k)
            if isinstance(v, dict) and v:
                out.append(f"{indent}{key}:")
                _emit(v, indent + "  ", out, sort_keys)
            elif isinstance(v, list) and v:
                out.append(f"{indent}{key}:")
                _emit(v, indent, out, sort_keys)
            else:
                out.append(f"{indent}{key}: {_flow_empty(v)}")
    else:
        for item in value:
            if isinstance(item, dict | list) and item:
                sub: list[str] = []
                _emit(item, indent + "  ", sub, sort_keys)
                # The first line of the item goes after the dash.
                sub[0] = f"{indent}- {sub[0][len(indent) + 2 :]}"
                out.extend(sub)
            else:
                out.append(f"{indent}- {_flow_empty(item)}")


def _flow_empty(value: Any) -> str:
    """A scalar, or ``{}``/``[]`` for an empty container."""
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def to_yaml(obj: dict[str, Any], sort_keys: bool = False) -> str:
    """Render one object as a YAML document body (no ``---``)."""
    lines: list[str] = []
    _emit(obj, "", lines, sort_keys)
    return "\n".join(lines) + "\n"


# --- entry points ------------------------------------------------------------


def generate(
    namespaces: int,
    services_per_ns: int,
    seed: int,
    out: Path,
    fmt: Format = "yaml",
    hostile: bool = False,
    density: float | None = None,
) -> GroundTruth:
    """Write a synthetic cluster to ``out`` and return its ground truth.

    ``density``: call edges per service (real shapes have about 3.5); ``None`` keeps the sparse
    default of about 1.
    Raises ``ValueError`` on non-positive sizes or an unknown ``fmt``.
    """
    if namespaces < 1 or services_per_ns < 1:
        raise ValueError("namespaces and services_per_ns must be >= 1")
    if density is not None and not 0 < density <= 20:
        raise ValueError("density must be > 0 and <= 20 call edges per service")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}")
    rng = random.Random(seed)
    ns_names, by_ns, edges = _build_model(namespaces, services_per_ns, rng, density)
    # Manifests go in their own folder so `planner scan -f OUT/manifests` (or kubectl apply)
    # never meets the ground-truth file, which is not a Kubernetes object.
    manifests = out / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []

    objects = _objects(ns_names, by_ns, hostile, rng)
    if fmt == "yaml":
        current: str | None = None
        docs: list[str] = []

        def flush() -> None:
            if current is not None:
                path = manifests / f"{current}.yaml"
                path.write_text("---\n".join(docs), encoding="utf-8")
                files.append(path)

        for ns, obj in objects:
            if ns != current:
                flush()
                current, docs = ns, []
            docs.append(to_yaml(obj))
        flush()
    else:
        listing = {
            "apiVersion": "v1",
            "items": [obj for _, obj in objects],
            "kind": "List",
            "metadata": {"resourceVersion": ""},
        }
        if fmt == "list-json":
            path = manifests / "cluster.json"
            text = json.dumps(listing, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        else:
            # kubectl -o yaml sorts keys; do the same.
            path = manifests / "cluster.yaml"
            text = to_yaml(listing, sort_keys=True)
        path.write_text(text, encoding="utf-8")
        files.append(path)

    truth = GroundTruth(
        namespaces=tuple(ns_names),
        services=tuple(s.ref for services in by_ns for s in services),
        workloads=tuple(s.workload_ref for services in by_ns for s in services),
        edges=tuple(edges),
        files=tuple(files),
    )
    gt_path = out / "ground-truth.json"
    gt_path.write_text(truth.to_json(), encoding="utf-8")
    return GroundTruth(
        truth.namespaces, truth.services, truth.workloads, truth.edges, (*files, gt_path)
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        description="Generate a synthetic Kubernetes cluster with a known call graph."
    )
    parser.add_argument("--namespaces", type=int, default=3, help="number of namespaces")
    parser.add_argument(
        "--services", type=int, default=5, help="services (Deployment+Service) per namespace"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--format", choices=FORMATS, default="yaml", dest="fmt")
    parser.add_argument(
        "--hostile",
        action="store_true",
        help="put Rich markup, ANSI escapes, unicode and very long strings into "
        "label, annotation and env values",
    )
    parser.add_argument(
        "--density",
        type=float,
        default=None,
        help="call edges per service (real shapes: about 3.5; default: sparse, about 1)",
    )
    args = parser.parse_args(argv)
    try:
        truth = generate(
            args.namespaces, args.services, args.seed, args.out, args.fmt, args.hostile,
            args.density,
        )
    except ValueError as exc:
        parser.error(str(exc))
    # Diagnostics on stderr, so stdout stays free for callers that pipe.
    print(
        f"wrote {len(truth.services)} services, {len(truth.edges)} edges "
        f"in {len(truth.namespaces)} namespaces to {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
