"""The built-in plugins, by entry-point name and module.

They are found through the ``xaibench`` entry-point group like any third party's plugin
(``pyproject.toml`` declares the same names); this list is the fallback for a source
checkout whose installed metadata is missing or stale, so that ``xaibench plugins`` never
lists none.  A test pins it to ``pyproject.toml``.  The core imports none of these modules.
"""

from __future__ import annotations

BUILTIN_PLUGINS: dict[str, str] = {
    "attributions": "xaibench_attributions.plugin",
    "eodata": "xaibench_eodata.plugin",
    "executors": "xaibench_executors.plugin",
    "kit": "xaibench.kit",
    "metrics": "xaibench_metrics.plugin",
    "mlflow": "xaibench_mlflow.plugin",
    "postprocessors": "xaibench_postprocess.plugin",
    "ray": "xaibench_ray.plugin",
    "report": "xaibench_report.plugin",
    "studies": "xaibench_studies.plugin",
    "synth": "xaibench_synth.plugin",
    "torchmodule": "xaibench_torchmodule.plugin",
    "zoo": "xaibench_zoo.plugin",
}
