"""Rules: one file per rule, a stable code each, listed explicitly in :mod:`.registry`.

Codes: ``MP1xx`` mesh-fit factors, ``MP2xx`` STRICT blockers, ``MP3xx`` plan findings. A code is
never reused. Rules are pure functions of a :class:`~planner.domain.findings.RuleContext`.
"""
