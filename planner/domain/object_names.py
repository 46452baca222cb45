"""Kubernetes' naming rules, as the API server applies them, for input no API server has seen.

A manifest is only text: a 3 MB namespace name or a kind of two million letters is syntactically
fine YAML, and it would flow into every table, report and graph node. The rules here are the
API server's (``k8s.io/apimachinery/pkg/util/validation``):

- ``kind``: a CamelCase identifier, a letter then letters and digits, at most 63 characters
  (a CRD's ``names.kind`` must lower-case to a DNS-1035 label);
- ``metadata.namespace`` and a Namespace's name: a DNS-1123 label;
- a Service's name: a DNS-1035 label (it becomes a DNS name and environment variable names);
- a CronJob's name: a DNS-1123 subdomain of at most 52 characters (its Jobs add 11);
- RBAC objects (Role, ClusterRole and their bindings): a path segment (``system:aggregate-to-
  admin`` is valid): not ``.`` or ``..``, no ``/`` or ``%``;
- every other kind: a DNS-1123 subdomain (at most 253 characters).

Each check returns what is wrong in user terms, or None.
"""

from __future__ import annotations

import re
from functools import lru_cache

_LABEL_MAX = 63
_SUBDOMAIN_MAX = 253
_CRONJOB_MAX = 52
#: Long values are shown this far in messages: a diagnostic stays one readable line.
_SHOWN = 40

_KIND = re.compile(r"[A-Z][A-Za-z0-9]*")
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})

_LABEL_RULE = ("a DNS-1123 label: at most 63 characters, lower-case letters, digits and '-', "
               "starting and ending with a letter or digit")
_DNS1035_RULE = ("a DNS-1035 label: at most 63 characters, lower-case letters, digits and '-', "
                 "starting with a letter and ending with a letter or digit")
_SUBDOMAIN_RULE = ("a DNS-1123 subdomain: at most {max} characters, lower-case letters, digits, "
                   "'-' and '.', each part starting and ending with a letter or digit")


def shown(value: str) -> str:
    """``value`` quoted for a message; a long one cut, with its length."""
    if len(value) <= _SHOWN:
        return repr(value)
    return f"{value[:_SHOWN]!r}... ({len(value)} characters)"


# A manifest set repeats a few kinds and namespaces in every document (28,252 documents,
# 6 kinds and 100 namespaces on the dense 10,000-service cluster): their checks are kept.
@lru_cache(maxsize=1024)
def kind_problem(kind: str) -> str | None:
    """What is wrong with ``kind``, or None."""
    if len(kind) <= _LABEL_MAX and _KIND.fullmatch(kind):
        return None
    return (f"kind {shown(kind)} is not a Kubernetes kind: a letter A-Z, then letters and "
            f"digits, at most {_LABEL_MAX} characters")


@lru_cache(maxsize=1024)
def namespace_problem(namespace: str) -> str | None:
    """What is wrong with ``namespace`` as a namespace's name, or None."""
    if len(namespace) <= _LABEL_MAX and _DNS1123_LABEL.fullmatch(namespace):
        return None
    return f"{shown(namespace)} is not a valid namespace name: it must be {_LABEL_RULE}"


def name_problem(kind: str, name: str) -> str | None:
    """What is wrong with ``name`` as the name of a ``kind`` object, or None."""
    if kind == "Namespace":
        return namespace_problem(name)
    if kind == "Service":
        if len(name) <= _LABEL_MAX and _DNS1035_LABEL.fullmatch(name):
            return None
        rule = _DNS1035_RULE
    elif kind in _RBAC_KINDS:
        if name not in (".", "..") and "/" not in name and "%" not in name:
            return None
        rule = "a path segment: not '.' or '..', without '/' or '%'"
    else:
        most = _CRONJOB_MAX if kind == "CronJob" else _SUBDOMAIN_MAX
        if len(name) <= most and _DNS1123_SUBDOMAIN.fullmatch(name):
            return None
        rule = _SUBDOMAIN_RULE.format(max=most)
    return f"{shown(name)} is not a valid {kind} name: it must be {rule}"
