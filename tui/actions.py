"""The one action table. It feeds the key bindings, the footer, the ``?`` help screen, the ``:``
command line, the ``ctrl+p`` palette and the key table in docs/tui.md.

Dangerous actions (they change a cluster or write files) exist only with ``--write``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Screen names an action can be limited to.
ASSESS, GRAPH, NAMESPACE, EDGE, PLAN = "assess", "graph", "namespace", "edge", "plan"


@dataclass(frozen=True)
class ActionDef:
    """One user action.

    ``id`` is the App action (``action_<id>``); ``keys`` are Textual key names, comma-separated
    (empty: reachable only from ``:`` or the palette); ``command`` is its ``:`` command name;
    ``screens`` limits it to some screens (empty: everywhere); ``bind`` False means a widget
    handles the key itself (``enter`` in a table) and the table only documents it."""

    id: str
    keys: str
    description: str
    dangerous: bool = False
    command: str | None = None
    screens: tuple[str, ...] = ()
    bind: bool = True
    show: bool = True
    argument: str = ""
    #: The footer's short label (the description when empty).
    short: str = ""

    @property
    def footer(self) -> str:
        """The footer label."""
        return self.short or self.description

    @property
    def key_label(self) -> str:
        """The keys as people write them (``:``, ``/``, ``?``, ``ctrl+r``)."""
        names = {"colon": ":", "slash": "/", "question_mark": "?", "escape": "esc"}
        return " ".join(names.get(k, k) for k in self.keys.split(",") if k)


ACTIONS: tuple[ActionDef, ...] = (
    ActionDef("show_assess", "1", "Assessment: verdict, factors, data plane, cost", short="assess",
              command="assess"),
    ActionDef("show_graph", "2", "Graph: namespaces, mTLS status, inbound callers", short="graph",
              command="graph"),
    ActionDef("show_plan", "3", "Plan: the rollout steps and their state", command="plan",
              short="plan"),
    ActionDef("goto_namespace", "", "Open a namespace of the graph", command="ns",
              argument="NAME"),
    ActionDef("drill", "enter", "Drill in (namespace -> services and edges -> evidence)",
              bind=False),
    ActionDef("back", "escape", "Back (close a prompt, a drill-down or a dialog)",
              short="back"),
    ActionDef("filter", "slash", "Filter the list (/!text hides matches)", short="filter",
              screens=(GRAPH, NAMESPACE, PLAN)),
    # Not in the footer, which must fit 120 columns with the write keys; ? and ctrl+p list it.
    ActionDef("command_line", "colon", "Command line (:assess :graph :plan :ns NAME :q)",
              short="cmd", show=False),
    ActionDef("command_palette", "ctrl+p", "Command palette (every action here)", bind=False),
    ActionDef("help", "question_mark", "This help", command="help", short="help"),
    ActionDef("rescan", "ctrl+r", "Rescan the input and rebuild everything", command="rescan",
              short="rescan"),
    ActionDef("preview_step", "d", "Dry-run the selected step: diff and live checks",
              command="diff", screens=(PLAN,), short="dry-run"),
    ActionDef("verify_step", "v", "Verify the selected step (the cluster, or the --out files)",
              command="verify", screens=(PLAN,), short="verify"),
    ActionDef("apply_step", "a", "Apply the selected step (diff, gate, confirm, progress, "
              "post-apply check, verify)",
              dangerous=True, command="apply", screens=(PLAN,), short="APPLY"),
    ActionDef("rollback_step", "u", "Roll the selected step back (journal diff, confirm, "
              "progress)",
              dangerous=True, command="rollback", screens=(PLAN,),
              short="ROLLBACK"),
    ActionDef("quit", "q", "Quit", command="q", short="quit"),
)

BY_ID: dict[str, ActionDef] = {a.id: a for a in ACTIONS}
BY_COMMAND: dict[str, ActionDef] = {a.command: a for a in ACTIONS if a.command}
#: ``:quit`` and ``:help`` spellings people try.
COMMAND_ALIASES: dict[str, str] = {"quit": "q", "exit": "q", "h": "help", "namespace": "ns",
                                   "a": "assess", "g": "graph", "p": "plan"}


def available(write: bool) -> tuple[ActionDef, ...]:
    """The actions of this session: dangerous ones only with ``--write`` (k9s ``--readonly``)."""
    return tuple(a for a in ACTIONS if write or not a.dangerous)


def applies_to(action: ActionDef, screen: str) -> bool:
    """True when ``action`` is usable on ``screen``."""
    return not action.screens or screen in action.screens


def parse_command(line: str) -> tuple[ActionDef | None, str]:
    """``"ns shop"`` -> (the ``ns`` action, ``"shop"``); unknown -> (None, the word)."""
    text = line.strip().lstrip(":").strip()
    word, _, rest = text.partition(" ")
    word = COMMAND_ALIASES.get(word.lower(), word.lower())
    return BY_COMMAND.get(word), rest.strip()


def help_rows(write: bool) -> list[tuple[str, str, str, str]]:
    """(keys, ``:command``, description, where) for the help screen and the docs."""
    rows = []
    for a in available(write):
        command = f":{a.command}" + (f" {a.argument}" if a.argument else "") if a.command else ""
        where = ", ".join(a.screens) if a.screens else "everywhere"
        label = a.description + (" [write]" if a.dangerous else "")
        rows.append((a.key_label, command, label, where))
    return rows


def markdown_table(actions: Iterable[ActionDef] = ACTIONS) -> str:
    """The key table of docs/tui.md, generated from :data:`ACTIONS`."""
    lines = ["| keys | command | action | where | needs --write |",
             "|------|---------|--------|-------|---------------|"]
    for a in actions:
        command = f"`:{a.command}" + (f" {a.argument}" if a.argument else "") + "`" \
            if a.command else ""
        keys = " ".join(f"`{k}`" for k in a.key_label.split()) if a.keys else ""
        where = ", ".join(a.screens) if a.screens else "everywhere"
        lines.append(f"| {keys} | {command} | {a.description} | {where} | "
                     f"{'yes' if a.dangerous else ''} |")
    return "\n".join(lines) + "\n"
