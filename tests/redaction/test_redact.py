"""The redaction rule, shape by shape (planner.domain.redact): what is replaced, what stays,
and that the addresses the call graph needs survive."""

from __future__ import annotations

import pytest

from planner.domain.addresses import find_addresses
from planner.domain.redact import (
    REDACTED,
    redact_map,
    redact_message,
    redact_strings,
    redact_text,
    redact_value,
    redact_words,
    says_secret,
)


@pytest.mark.parametrize(("text", "expected"), [
    # passwords in URLs; the user name and the address stay
    ("postgres://admin:S3cr3t@db.data:5432/app", "postgres://admin:REDACTED@db.data:5432/app"),
    ("redis://:hunter2@redis:6379/0", "redis://:REDACTED@redis:6379/0"),
    ("amqp://u:p@ss@rabbit:5672", "amqp://u:REDACTED@rabbit:5672"),  # "@" unencoded
    ("see mongodb://a:b@m1:27017,m2:27017/x?authSource=admin",
     "see mongodb://a:REDACTED@m1:27017,m2:27017/x?authSource=admin"),
    ("postgres://catalog@postgres.data.svc:5432/catalog",
     "postgres://catalog@postgres.data.svc:5432/catalog"),  # no password: nothing to hide
    # tokens in query strings
    ("http://api:8080/v1?access_token=abc123&page=2",
     "http://api:8080/v1?access_token=REDACTED&page=2"),
    ("https://acct.blob/c/f?sv=2022&sig=Zm9v%2Bbar&se=1", "https://acct.blob/c/f?sv=2022&sig=REDACTED&se=1"),
    ("https://s3/b/o?X-Amz-Credential=AK/x&X-Amz-Signature=dead",
     "https://s3/b/o?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"),
    ("jdbc:sqlserver://db:1433;user=sa;password=Pa55;database=x",
     "jdbc:sqlserver://db:1433;user=sa;password=REDACTED;database=x"),
    # config files: properties, YAML (spaces kept out), JSON, .env
    ("spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.password=hunter2",
     "spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.password=REDACTED"),
    ("auth:\n  password: correct horse battery  \n  user: bob",
     "auth:\n  password: REDACTED\n  user: bob"),
    ('{"user": "a", "password": "two words", "apiKey": "z", "port": 5432}',
     '{"user": "a", "password": "REDACTED", "apiKey": "REDACTED", "port": 5432}'),
    ("DB_PASS=x\nAPI_TOKEN='y'\nLOG=debug", "DB_PASS=REDACTED\nAPI_TOKEN='REDACTED'\nLOG=debug"),
    # HTTP credentials and command lines
    ("curl -H 'Authorization: Bearer eyJ.a.b' http://x", "curl -H 'Authorization: Bearer REDACTED' http://x"),
    ("wget --header 'Authorization: Basic dTpw' --password s3 -q http://x",
     "wget --header 'Authorization: Basic REDACTED' --password REDACTED -q http://x"),
    # names that point somewhere are not secrets
    ("TOKEN_URL=http://auth:8080/token KEYCLOAK_URL=http://kc:8080 TLS_KEY_FILE=/tls/key",
     "TOKEN_URL=http://auth:8080/token KEYCLOAK_URL=http://kc:8080 TLS_KEY_FILE=/tls/key"),
])
def test_text_shapes(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected, "redacting twice changes nothing"


@pytest.mark.parametrize("name", ["DB_PASSWORD", "dbPassword", "API_KEY", "apiKey", "SECRET_KEY",
                                  "GF_SECURITY_ADMIN_PASSWORD", "authToken", "access_token",
                                  "MYSQLPASSWORD", "tls.key", "X-Amz-Signature", "client-secret",
                                  "--db-password", "PASSPHRASE", "AWS_CREDENTIALS"])
def test_names_that_say_secret(name: str) -> None:
    assert says_secret(name)
    assert redact_value(name, "anything") == REDACTED


@pytest.mark.parametrize("name", ["DATABASE_URL", "TOKEN_URL", "AUTH_SERVICE_URL", "KEYCLOAK_URL",
                                  "MONKEY", "TLS_KEY_FILE", "SECRET_NAME", "secretName", "API_HOST",
                                  "LOG_LEVEL", "TOKEN_ENDPOINT"])
def test_names_that_do_not(name: str) -> None:
    assert not says_secret(name)
    assert redact_value(name, "http://u:pw@h:1/?token=t") == "http://u:REDACTED@h:1/?token=REDACTED"


def test_words_after_a_secret_flag_and_inside_words() -> None:
    assert redact_words(["--password", "x", "--token", "--verbose", "--db-password=y",
                         "--token-url", "http://auth:80", "-u", "bob"]) == (
        "--password", REDACTED, "--token", "--verbose", "--db-password=REDACTED",
        "--token-url", "http://auth:80", "-u", "bob")


def test_maps_and_specs() -> None:
    data = {"API_KEY": "k", "app.properties": "db.password=p\nurl=http://db:5432",
            "kubectl.kubernetes.io/last-applied-configuration":
                '{"env":[{"name":"DB_PASSWORD","value":"p"}]}', "plain": "x"}
    assert redact_map(data) == {"API_KEY": REDACTED,
                                "app.properties": "db.password=REDACTED\nurl=http://db:5432",
                                "kubectl.kubernetes.io/last-applied-configuration": REDACTED,
                                "plain": "x"}
    unchanged = {"a": "b", "c": "http://d:1"}
    assert redact_map(unchanged) is unchanged, "maps without secrets are shared, not copied"
    # In an API spec, field names are the API's: ``key`` is a field, only text is judged.
    spec = {"rules": [{"when": [{"key": "request.headers[x]", "values": ["v"]}]}],
            "url": "https://u:p@x"}
    assert redact_strings(spec) == {"rules": spec["rules"], "url": "https://u:REDACTED@x"}


@pytest.mark.parametrize("text", [
    "postgres://admin:S3cr3t@db.data:5432/app",
    "http://api.shop:8080/v1?access_token=abc&x=1",
    "amqp://u:p@ss@rabbit.q:5672",
    "--upstream=http://u:p@up.ns.svc:9000/?token=t",
    "key.front.svc.cluster.local:80",
    "http://keys.data:6379/0",
])
def test_addresses_survive(text: str) -> None:
    def hosts(value: str) -> list[tuple[str, int | None]]:
        return [(a.host, a.port) for a in find_addresses(value)]

    assert hosts(redact_text(text)) == hosts(text) and hosts(text)


def test_a_host_named_like_a_secret_keeps_its_port_but_a_secret_does_not() -> None:
    assert redact_text("token.auth:8443") == "token.auth:8443"
    assert redact_text("password:hunter2") == "password:REDACTED"
    assert redact_text("api_key: 8443") == "api_key: REDACTED"


@pytest.mark.parametrize(("message", "expected"), [
    # a file named like a secret is where the message is about, not a secret's name
    ("api-key.yaml: binary file (contains NUL bytes), not a manifest", None),
    ("error: secret.yaml:4 (document 2, item 3): Service default/a: spec.ports[0].port must "
     "be an integer, got string '80'", None),
    ("token.csv:2: requests 'x' is not a number", None),
    ("/srv/secret: cannot read: Permission denied", None),
    ("warning: db-password.yaml:1 (document 1): duplicate Service default/a", None),
    # what the message quotes is still redacted; so is a URL password wherever it stands
    ("app.yaml:3 (document 1): YAML syntax error near 'password: hunter2'",
     "app.yaml:3 (document 1): YAML syntax error near 'password: REDACTED'"),
    ("http://admin:hunter2@prom:9090: connection refused",
     "http://admin:REDACTED@prom:9090: connection refused"),
    ("no location here, token: abc", "no location here, token: REDACTED"),
])
def test_messages_keep_their_location(message: str, expected: str | None) -> None:
    assert redact_message(message) == (message if expected is None else expected)
