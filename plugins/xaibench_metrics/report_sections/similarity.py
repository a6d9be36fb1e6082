"""Method x method similarity of the maps, original and post-processed (the harmonization paper's Fig. 7)."""

from __future__ import annotations

import numpy as np

from xaibench_report import html
from xaibench_report.experiment import CONTEXT, stat
from xaibench_report.sections import ReportContext, section

COMPONENT = "pearson-similarity"


def similarity_matrix(rows: list[dict], methods: list[str]) -> np.ndarray:
    """``(M, M)`` mean across seeds of the ``attribution`` x ``sub_key`` rows; 1 on the diagonal, NaN when missing."""
    idx = {m: i for i, m in enumerate(methods)}
    values: dict[tuple[int, int], list[float]] = {}
    for r in rows:
        if r["attribution"] in idx and r["sub_key"] in idx:
            values.setdefault((idx[r["attribution"]], idx[r["sub_key"]]), []).append(r["value"])
    matrix = np.full((len(methods), len(methods)), np.nan)
    np.fill_diagonal(matrix, 1.0)
    for (i, j), vals in values.items():
        s = stat(vals)
        if s is not None:
            matrix[i, j] = s.mean
    return matrix


def off_diagonal_mean(matrix: np.ndarray) -> float:
    mask = ~np.eye(len(matrix), dtype=bool) & np.isfinite(matrix)
    return float(matrix[mask].mean()) if mask.any() else float("nan")


@section("similarity", "Similarity between methods", metrics=(COMPONENT,), order=10)
def similarity(ctx: ReportContext) -> str | None:
    exp = ctx.experiment
    ref, _ = exp.postprocessor_roles()
    parts = [html.paragraph(
        "Pearson correlation between the attribution maps of every pair of methods (all test samples, classes "
        "and positions), mean across seeds. Post-processing that makes methods agree turns the middle panels "
        "red; the difference panels show post-processed minus original.", note=True)]
    for alias in exp.aliases("metric", COMPONENT):
        rows = exp.ok_rows([alias], "value")
        for context in exp.contexts(rows):
            sel = [r for r in rows if tuple(r[c] for c in CONTEXT) == context]
            methods = exp.ordered("attribution", {r["attribution"] for r in sel} | {r["sub_key"] for r in sel})
            mats = {pp: similarity_matrix([r for r in sel if r["postprocessor"] == pp], methods)
                    for pp in exp.ordered("postprocessor", {r["postprocessor"] for r in sel})}
            panels: list[tuple[str, np.ndarray]] = []
            if ref in mats:
                panels.append((f"original ({ref})", mats[ref]))
            for v in (p for p in mats if p != ref):
                panels.append((v, mats[v]))
                if ref in mats:
                    panels.append((f"{v} − {ref}", mats[v] - mats[ref]))
            dataset, model, layer = context
            seeds = sorted({r["seed"] for r in sel})
            means = ", ".join(f"{pp} {off_diagonal_mean(m):.3f}" for pp, m in mats.items())
            title = f"{model} at layer {layer} ({dataset})"
            fig_html = ctx.figure(
                _figure(methods, panels, title), f"similarity-{alias}-{dataset}-{model}-{layer}",
                alt=f"method by method correlation of {model} at {layer}",
                caption=f"{title}; metric {alias}; seeds {', '.join(map(str, seeds))}. "
                        f"Mean correlation between different methods: {means}.")
            parts.append(html.heading(3, title) + fig_html)
    return "".join(parts)


def _figure(methods, panels, title):
    from xaibench_report.figures import similarity_heatmaps

    return similarity_heatmaps(methods, panels, title)
