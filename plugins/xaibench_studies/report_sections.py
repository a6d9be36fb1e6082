"""Sections of the study metrics (``xaibench_studies``): SHAPE, generalization, efficiency, aux
shuffling and the shortcut check, CSP sensitivities.  Every number is the mean ± std across seeds."""

from __future__ import annotations

import re
from typing import Any

from xaibench_report import html
from xaibench_report.experiment import stat
from xaibench_report.sections import ReportContext, section
from xaibench_report.sections.summary import value_table

MODEL_COORDS = ("dataset", "model")


def _rows(ctx: ReportContext, component: str, pattern: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """``(alias, ok rows whose statistic matches pattern)`` for every alias of ``component``."""
    exp = ctx.experiment
    out = []
    for alias in exp.aliases("metric", component):
        rows = [r for r in exp.ok_rows([alias]) if re.fullmatch(pattern, r["statistic"])]
        if rows:
            out.append((alias, rows))
    return out


@section("shape", "Modality relevance (SHAPE)", metrics=("shape",), order=40)
def shape(ctx: ReportContext) -> str | None:
    parts = [html.paragraph(
        "Shapley value of each modality's availability (absent modality = baseline) on each performance "
        "measure, and the cross-modal interaction V(all) − V(none) − Σ single-modality gains.")]
    found = False
    for alias, rows in _rows(ctx, "shape", r"(shape|interaction)_.*"):
        found = True
        parts.append(html.heading(3, alias))
        parts.append(value_table(ctx, rows, MODEL_COORDS))
    for alias, rows in _rows(ctx, "shape", r"accuracy|f1_.*|f2_.*"):
        parts.append(html.heading(4, f"{alias}: performance per available modalities"))
        parts.append(value_table(ctx, rows, MODEL_COORDS))
    return "".join(parts) if found else None


@section("generalization", "Generalization and auxiliary data",
                  metrics=("generalization", "aux-shuffle", "efficiency", "shortcut-check"), order=41)
def generalization(ctx: ReportContext) -> str | None:
    parts = []
    for component, title, coords in (
        ("generalization", "Gen-ML, Gen-Geo", MODEL_COORDS),
        ("efficiency", "Eff-p: epochs until the validation accuracy reaches p", MODEL_COORDS),
        ("aux-shuffle", "aux vectors shuffled within the split", MODEL_COORDS),
        ("shortcut-check", "Pearson correlation of upsampled attribution maps with the reference model's; "
                           "high means no shortcut", (*MODEL_COORDS, "layer", "attribution")),
    ):
        for alias, rows in _rows(ctx, component, r".*"):
            parts.append(html.heading(3, f"{alias} ({title})"))
            parts.append(value_table(ctx, rows, coords))
    return "".join(parts) or None


@section("csp", "Weather sensitivity (CSP)", metrics=("csp",), order=42)
def csp(ctx: ReportContext) -> str | None:
    parts = []
    for alias, rows in _rows(ctx, "csp", r"sensitivity|sensitivity_std|sensitivity_per_pair|relative_sensitivity"):
        parts.append(html.heading(3, f"{alias}: marginal sensitivity (NDVI per physical unit)"))
        parts.append(_sensitivity_table(rows))
        curves = _rows(ctx, "csp", r"ndvi")
        ndvi = next((r for a, r in curves if a == alias), [])
        if ndvi:
            parts.append(ctx.figure(_curves_figure(ndvi), f"csp-{alias}", alt=f"mean forecast NDVI per shift ({alias})",
                                    caption="Mean forecast NDVI as one weather group is shifted (mean across seeds)."))
    return "".join(parts) or None


def _sensitivity_table(rows: list[dict[str, Any]]) -> str:
    """One row per (dataset, model, group): each statistic's mean ± std across seeds."""
    stats = ("sensitivity", "sensitivity_std", "sensitivity_per_pair", "relative_sensitivity")
    cells: dict[tuple, dict[str, list[float]]] = {}
    for r in rows:
        cells.setdefault((r["dataset"], r["model"], r["sub_key"]), {}).setdefault(r["statistic"], []).append(r["value"])
    body = []
    for key in sorted(cells, key=lambda k: (k[0], k[1], -_mean(cells[k].get("sensitivity", [])))):
        body.append([*key, *((s.format(4) if (s := stat(cells[key].get(name, []))) else "–") for name in stats)])
    header = ["dataset", "model", "group", "sensitivity (Eq. 15)", "spread over segments", "mean slope",
              "relative"]
    return html.table([header], body, label_columns=3)


def _mean(values: list[float]) -> float:
    s = stat(values)
    return s.mean if s else 0.0


def _curves_figure(rows: list[dict[str, Any]]):
    """One panel per group: mean NDVI against the shift, one line per (dataset, model)."""
    from matplotlib.figure import Figure

    series: dict[str, dict[tuple, dict[float, list[float]]]] = {}
    for r in rows:
        m = re.fullmatch(r"(.+?)([+-][0-9.e+-]+)", r["sub_key"])
        if not m:
            continue
        group, shift = m.group(1), float(m.group(2))
        series.setdefault(group, {}).setdefault((r["dataset"], r["model"]), {}).setdefault(shift, []).append(r["value"])
    fig = Figure(figsize=(3.2 * max(len(series), 1), 2.8))
    axes = fig.subplots(1, max(len(series), 1), squeeze=False)[0]
    for ax, (group, lines) in zip(axes, sorted(series.items())):
        for (dataset, model), points in lines.items():
            xs = sorted(points)
            ax.plot(xs, [sum(points[x]) / len(points[x]) for x in xs], marker="o", label=f"{dataset}/{model}")
        ax.set_title(group)
        ax.set_xlabel("shift (physical units)")
        ax.set_ylabel("mean NDVI")
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    return fig


SECTIONS = (shape, generalization, csp)
"""The sections of the study metrics, registered through ``register_report_sections``."""
