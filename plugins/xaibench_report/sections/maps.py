"""Attribution maps as predominant-class maps beside the image and its mask (the harmonization paper's Fig. 2)."""

from __future__ import annotations

from .. import html
from .registry import ReportContext, section


@section("maps", "Attribution maps", order=30)
def maps(ctx: ReportContext) -> str | None:
    from xaibench.cache import CorruptEntry

    from ..figures import map_grid
    from ..imagery import class_map, colorize
    from ..samples import first_test_samples

    exp = ctx.experiment
    groups = exp.first_seed_cells()
    if not groups:
        return None
    if exp.cache is None:
        return html.paragraph(f"Attribution maps are not shown: {exp.cache_problem}.", note=True)
    parts = [html.paragraph(
        f"The first {ctx.n_samples} test samples of the first seed: true-colour composite, ground truth, then for "
        "each method the predominant class of its attribution maps (argmax over the class maps, resized to the mask "
        "as the segmentation metric does), original and post-processed. White: no data, or positions where all "
        "classes have the same attribution.", note=True)]
    data_memo: dict[str, object] = {}
    for (dataset, model, layer), seed, group in groups:
        title = f"{model} at layer {layer} ({dataset}), seed {seed}"
        columns, missing = [], []
        samples = None
        for u in group:
            name = f"{u['coords']['attribution']}\n{u['coords']['postprocessor']}"
            try:
                a = exp.cache.get(u["stages"]["attributions"]).rows("attributions")[: ctx.n_samples]
                key = u["stages"]["data"]
                if key not in data_memo:
                    data_memo[key] = first_test_samples(exp.cache.get(key), ctx.n_samples, n_classes=a.shape[1])
                samples = data_memo[key]
            except (KeyError, CorruptEntry) as exc:
                missing.append(f"{name.replace(chr(10), ' ')} ({type(exc).__name__})")
                continue
            columns.append((name, colorize(class_map(a, samples.size), samples.lut)))
        parts.append(html.heading(3, title))
        if samples is None or samples.rgb is None or not columns:
            parts.append(html.paragraph("No maps or test images in the cache for this model and layer.", note=True))
            continue
        fig = map_grid(samples.rgb, samples.truth, columns, samples.class_names, samples.colors, title,
                       samples.rgb_title)
        parts.append(ctx.figure(fig, f"maps-{dataset}-{model}-{layer}", alt=f"attribution maps of {model} at {layer}"))
        if missing:
            parts.append(html.paragraph(f"Not in the cache: {', '.join(missing)}.", note=True))
    return "".join(parts)
