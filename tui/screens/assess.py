"""Assessment: the verdict, the factors with their evidence, the questions the manifests cannot
answer (answer them here and the verdict is recomputed), the data plane and the cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Label, Select, Static

from planner.domain.verdict import Verdict
from planner.untrusted import clean
from tui.actions import ASSESS
from tui.format import safe, wrapping
from tui.screens.base import MeshScreen

if TYPE_CHECKING:
    from planner.domain.fit import Assessment

VERDICT_STYLE = {Verdict.OVERKILL: "bold red", Verdict.OPTIONAL: "bold yellow",
                 Verdict.RECOMMENDED: "bold green"}

#: The profile questions a user can answer here: (field, label, choices).
QUESTIONS: tuple[tuple[str, str, tuple[tuple[str, int | bool], ...]], ...] = (
    ("platform_engineers", "Platform engineers",
     (("none", 0), ("1", 1), ("2", 2), ("3 or more", 3))),
    ("compliance_mtls", "Compliance needs mTLS",
     (("yes", True), ("no", False))),
    ("observability_needed", "Observability without code",
     (("yes", True), ("no", False))),
)


def cpu(millicores: int) -> str:
    """Millicores as vCPU."""
    return f"{millicores / 1000:g} vCPU"


def memory(mib: float) -> str:
    """MiB, or GiB from 1 GiB."""
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:g} MiB"


class AssessScreen(MeshScreen):
    """The mesh-fit verdict and everything behind it."""

    name_in_table = ASSESS
    title_text = "Assessment"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="assess-body"):
            yield Static(Text("assessing…", style="italic"), id="verdict")
            with Horizontal(id="questions"):
                for field, label, choices in QUESTIONS:
                    yield Label(label + ":", classes="question-label")
                    yield Select(list(choices), prompt="unknown", allow_blank=True,
                                 id=f"q-{field}", classes="question")
            yield Static("", id="unknowns")
            yield Label("Factors", classes="section")
            yield DataTable(id="factors", cursor_type="row", zebra_stripes=True)
            yield Static("", id="factor-detail")
            yield Label("Data plane per namespace", classes="section")
            yield DataTable(id="dataplane", cursor_type="row", zebra_stripes=True)
            yield Label("Resource cost (requests added)", classes="section")
            yield DataTable(id="costs", cursor_type="row", zebra_stripes=True)
            yield Static("", id="assumptions")

    def prepare(self) -> None:
        # Fixed widths whose text wraps (the rows grow) keep each table inside an 80-column
        # terminal, where a column past the edge would be cut off. A factor's evidence is in
        # the detail under the table (every object, not the first three).
        factors = self.query_one("#factors", DataTable)
        factors.add_columns("code", "weight")
        for label, width in (("factor", 22), ("value", 11), ("threshold", 11)):
            factors.add_column(label, width=width)
        planes = self.query_one("#dataplane", DataTable)
        planes.add_columns("namespace", "mode", "pods")
        for label, width in (("waypoint (ambient)", 18), ("reasons", 22)):
            planes.add_column(label, width=width)
        costs = self.query_one("#costs", DataTable)
        costs.add_columns("option", "component", "count", "CPU", "memory")
        costs.add_column("assumption", width=18)

    def focus_main(self) -> None:
        self.query_one("#factors", DataTable).focus()

    def refresh_data(self) -> None:
        assessment = self.mesh.assessment
        if assessment is None:
            return
        self._verdict(assessment)
        self._questions(assessment)
        factors = self.query_one("#factors", DataTable)
        factors.clear()
        for i, f in enumerate(assessment.factors):
            weight = Text(f"{f.weight:+g}", style="green" if f.weight > 0 else
                          "red" if f.weight < 0 else "dim")
            factors.add_row(f.code, weight, wrapping(f.title), wrapping(f.value),
                            wrapping(f.threshold), key=str(i), height=None)
        self._factor_detail(0)
        planes = self.query_one("#dataplane", DataTable)
        planes.clear()
        for c in assessment.namespaces:
            waypoint = "-"
            if c.waypoint is not None:
                waypoint = (f"per service account: {', '.join(c.waypoint.service_accounts)}"
                            if c.waypoint.service_accounts else "namespace")
            planes.add_row(safe(c.namespace), c.mode, str(c.pods), wrapping(waypoint),
                           wrapping("; ".join(c.reasons)), height=None)
        costs = self.query_one("#costs", DataTable)
        costs.clear()
        for option in assessment.costs.options:
            for line in option.lines:
                costs.add_row(option.name, line.component, str(line.count),
                              cpu(line.cpu_millicores), memory(line.memory_mib),
                              wrapping(line.assumption), height=None)
            costs.add_row(Text(option.name, style="bold"), Text("total", style="bold"),
                          str(option.proxies), cpu(option.cpu_millicores),
                          memory(option.memory_mib), "")
        self.query_one("#assumptions", Static).update(Text(
            "\n".join(f"assumption: {clean(a)}" for a in assessment.costs.assumptions),
            style="dim"))

    def _verdict(self, a: Assessment) -> None:
        text = Text()
        text.append("Verdict: ")
        text.append(a.verdict, style=VERDICT_STYLE.get(a.verdict, "bold"))
        text.append(f"   score {a.score}/100")
        if self.mesh.reassessing:
            text.append("   (recomputing…)", style="italic yellow")
        for alt in a.alternatives:
            text.append(f"\nLighter alternative: {clean(alt.name)}. {clean(alt.why)}",
                        style="dim")
        self.query_one("#verdict", Static).update(text)
        lines = [f"unknown: {clean(u.question)} — counted as no effect; if answered: "
                 f"{clean(u.effect)}" for u in a.unknowns]
        self.query_one("#unknowns", Static).update(Text("\n".join(lines), style="yellow"))

    def _questions(self, a: Assessment) -> None:
        for field, _, choices in QUESTIONS:
            select = self.query_one(f"#q-{field}", Select)
            value = getattr(a.profile, field, None)
            if field == "platform_engineers" and isinstance(value, int):
                value = min(value, 3)
            values = [v for _, v in choices]
            with select.prevent(Select.Changed):
                if value is None or value not in values:
                    select.clear()
                else:
                    select.value = value

    def _factor_detail(self, index: int) -> None:
        assessment = self.mesh.assessment
        detail = self.query_one("#factor-detail", Static)
        if assessment is None or not 0 <= index < len(assessment.factors):
            detail.update("")
            return
        f = assessment.factors[index]
        text = Text()
        text.append(f"{f.code} {clean(f.title)}: ", style="bold")
        text.append(clean(f.message))
        if f.objects:
            text.append("\nevidence: ", style="bold")
            text.append(", ".join(clean(o) for o in f.objects[:20]))
            if len(f.objects) > 20:
                text.append(f" … +{len(f.objects) - 20} more")
        if f.fix:
            text.append("\nfix: ", style="bold")
            text.append(clean(f.fix))
        detail.update(text)

    @on(DataTable.RowHighlighted, "#factors")
    def _factor_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._factor_detail(int(event.row_key.value))

    @on(Select.Changed, ".question")
    def _answered(self, event: Select.Changed) -> None:
        field = (event.select.id or "").removeprefix("q-")
        value = event.value if isinstance(event.value, int) else None  # bool is an int
        self.mesh.answer(field, value)

    def context(self) -> dict[str, str | None]:
        return {}
