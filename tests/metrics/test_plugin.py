import subprocess
import sys

from xaibench.components import Metric
from xaibench_metrics import plugin


def test_registers_every_metric_once():
    registered = []
    plugin.register_metrics(lambda cls, name=None: registered.append(cls))
    names = [cls.name for cls in registered]
    assert sorted(names) == sorted(
        [
            "pearson-similarity",
            "segmentation-agreement",
            "original-vs-harmonized",
            "max-sensitivity",
            "xai-entropy",
            "model-randomization",
            "random-logit",
            "quantus",
            "deletion-insertion",
            "pixel-flipping",
            "region-perturbation",
            "irof",
            "road",
            "faithfulness-correlation",
            "faithfulness-estimate",
        ]
    )
    assert all(issubclass(cls, Metric) for cls in registered)
    scopes = {cls.name: cls.scope for cls in registered}
    assert scopes["pearson-similarity"] == "methods"
    assert scopes["original-vs-harmonized"] == "postprocessors"


def test_plugin_import_stays_light():
    code = (
        "import sys, xaibench_metrics.plugin; "
        "print(','.join(m for m in ('torch', 'sklearn', 'quantus') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
