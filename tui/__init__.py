"""The meshplan terminal UI (``planner tui``), built with Textual on planner.service.

Nothing here decides anything about a cluster: screens call :mod:`planner.service` (in workers)
and render what it returns. Textual is imported only when ``planner tui`` runs.
"""
