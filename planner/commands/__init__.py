"""Click commands: parse options, call :mod:`planner.service`, render. No domain logic here."""
