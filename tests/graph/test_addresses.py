"""Tokenising configuration strings into addresses."""

from __future__ import annotations

import pytest

from planner.domain.addresses import expand_vars, find_addresses


def hosts(value: str) -> list[tuple[str, int | None, str | None]]:
    return [(a.host, a.port, a.scheme) for a in find_addresses(value)]


@pytest.mark.parametrize(("value", "expected"), [
    ("cart:7070", [("cart", 7070, None)]),
    ("http://orders.orders:8080/api", [("orders.orders", 8080, "http")]),
    ("https://a.b.svc.cluster.local", [("a.b.svc.cluster.local", None, "https")]),
    ("grpc://x.y.svc:50051", [("x.y.svc", 50051, "grpc")]),
    ("dns:///checkout:5050", [("checkout", 5050, "dns")]),
    ("postgres://user:p%40ss@db.data:5432/app?sslmode=disable", [("db.data", 5432, "postgres")]),
    ("mongodb://a,b:27018,c/db", [("a", None, "mongodb"), ("b", 27018, "mongodb"),
                                  ("c", None, "mongodb")]),
    ("jdbc:mysql://mysql.data:3306/shop", [("mysql.data", 3306, "mysql")]),
    ("amqp://guest@rabbitmq:5672/", [("rabbitmq", 5672, "amqp")]),
    ("redis://redis.data.svc.cluster.local:6379/0", [("redis.data.svc.cluster.local", 6379,
                                                      "redis")]),
    ("k-0.k.ns.svc:9092,k-1.k.ns.svc:9092", [("k-0.k.ns.svc", 9092, None),
                                             ("k-1.k.ns.svc", 9092, None)]),
    ("Host=postgresql;Username=otelu", [("postgresql", None, None), ("otelu", None, None)]),
    ("10.0.0.1:80", []),
    ("http://[::1]:80", []),
])
def test_forms(value: str, expected: list[tuple[str, int | None, str | None]]) -> None:
    assert hosts(value) == expected


def test_words_joined_by_dashes_are_not_split() -> None:
    """``catalog-enabled=true`` must never yield ``catalog``."""
    assert "catalog" not in [a.host for a in find_addresses("catalog-enabled=true,x=1")]


def test_key_and_following_port_are_kept() -> None:
    found = find_addresses("until nc -z kafka 9092; do sleep 1; done")
    kafka = next(a for a in found if a.host == "kafka")
    assert kafka.next_port == 9092 and kafka.effective_port == 9092
    (host,) = find_addresses("Host=postgresql")
    assert host.key == "Host" and not host.explicit


def test_matched_text_is_the_one_address_of_a_list() -> None:
    texts = [a.text for a in find_addresses("voyages.fr;http://voyages.tp:8000,viaggi.it")]
    assert texts == ["voyages.fr", "http://voyages.tp:8000", "http://viaggi.it"]


def test_expand_vars_like_the_kubelet() -> None:
    env = {"NAME": "otel-collector"}
    assert expand_vars("http://$(NAME):4317", env) == "http://otel-collector:4317"
    assert expand_vars("$(MISSING) $$(NAME)", env) == "$(MISSING) $(NAME)"
