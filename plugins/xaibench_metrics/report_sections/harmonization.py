"""How much post-processing changes each method's maps (the harmonization paper's Fig. 8)."""

from __future__ import annotations

from xaibench_report import html
from xaibench_report.experiment import stat
from xaibench_report.sections import ReportContext, section

COMPONENT = "original-vs-harmonized"


@section("original-vs-harmonized", "Original versus post-processed maps", metrics=(COMPONENT,), order=40)
def original_vs_harmonized(ctx: ReportContext) -> str | None:
    from xaibench_report.figures import grouped_bars

    exp = ctx.experiment
    parts = [html.paragraph(
        "Pearson correlation between each method's original and post-processed maps, mean ± standard deviation "
        "across seeds (error bars). Near 1: post-processing kept the map; near 0: it replaced it.", note=True)]
    for alias in exp.aliases("metric", COMPONENT):
        rows = exp.ok_rows([alias], "value")
        models = {m: i for i, m in enumerate(exp.order("model"))}
        for dataset, model in sorted({(r["dataset"], r["model"]) for r in rows},
                                     key=lambda dm: (models.get(dm[1], len(models)), dm)):
            sel = [r for r in rows if r["dataset"] == dataset and r["model"] == model]
            methods = exp.ordered("attribution", {r["attribution"] for r in sel})
            layers = exp.ordered("layer", {r["layer"] for r in sel})
            others = exp.ordered("postprocessor", {r["sub_key"] for r in sel})
            series = []
            for layer in layers:
                for other in others:
                    stats = [stat(r["value"] for r in sel if r["attribution"] == m and r["layer"] == layer
                                  and r["sub_key"] == other) for m in methods]
                    label = f"layer {layer}" + (f", {other}" if len(others) > 1 else "")
                    series.append((label, stats))
            if not series:
                continue
            nan = float("nan")
            bars = [(label, [s.mean if s else nan for s in stats], [s.std if s else 0.0 for s in stats])
                    for label, stats in series]
            low = min([0.0] + [m - s for _, ms, ss in bars for m, s in zip(ms, ss) if m == m])
            title = f"{model} ({dataset}): original vs {', '.join(others)}"
            parts.append(html.heading(3, f"{model} ({dataset})"))
            parts.append(ctx.figure(grouped_bars(methods, bars, "Pearson r", title, ylim=(min(-0.05, low - 0.05), 1.05)),
                                    f"original-vs-harmonized-{alias}-{dataset}-{model}",
                                    alt=f"bars of original versus post-processed correlation for {model}",
                                    caption=f"metric {alias}; reference post-processor "
                                            f"{sel[0]['postprocessor']!r}"))
            header = [["method", *(label for label, _ in series)]]
            body = [[m, *(stats[i].format() if stats[i] else "–" for _, stats in series)] for i, m in enumerate(methods)]
            parts.append(html.table(header, body))
    return "".join(parts)
