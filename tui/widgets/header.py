"""The k9s-style header: source, cluster, Istio, READ-ONLY/WRITE badge, "step n of m"."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.widgets import Static

from planner.untrusted import clean

if TYPE_CHECKING:
    from tui.app import MeshplanApp


class MeshHeader(Static):
    """One line, redrawn whenever the app's ``tick`` changes."""

    # One line that never wraps: a wrapped header shows its first line only, so a long source
    # path left "source:" dangling and hid the cluster and Istio labels; cut with an ellipsis.
    DEFAULT_CSS = """
    MeshHeader { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "tick", self._changed, init=True)

    def _changed(self, _tick: int) -> None:
        self.update(header_text(cast("MeshplanApp", self.app)))


def header_text(app: MeshplanApp) -> Text:
    """The header line for ``app``: every cluster string escaped."""
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    text.append(" meshplan ", style="bold reverse")
    text.append(f" {clean(app.screen_title, 20)} ", style="bold")
    if app.write:
        text.append(" WRITE ", style="bold white on dark_red")
    else:
        text.append(" READ-ONLY ", style="bold black on green")
    text.append("  ")
    text.append(app.progress_label, style="bold")
    unread = app.analysis.scan.unread if app.analysis is not None else ()
    if unread:
        # Early in the line: with the kinds it could not read, the scan is not the cluster.
        text.append("  PARTIAL: ", style="bold black on yellow")
        text.append(clean("unread " + ", ".join(unread), 48), style="bold yellow")
    text.append("  source: ", style="dim")
    text.append(clean(app.source_label, 40))
    text.append("  cluster: ", style="dim")
    text.append(clean(app.cluster_label, 32))
    text.append("  istio: ", style="dim")
    text.append(clean(app.istio_label, 24))
    if app.busy_label:
        text.append("  ⟳ " + clean(app.busy_label, 40), style="italic yellow")
    return text
