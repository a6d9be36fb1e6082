"""The studies' report sections on a hand-made results table."""

from __future__ import annotations

from pathlib import Path

from xaibench.plugins import PluginSession
from xaibench.results import to_table, write_parquet
from xaibench_report.build import build_report
from xaibench_report.experiment import Experiment
from xaibench_report.sections import collect_sections


def _row(**kw):
    base = {"experiment": "studies", "dataset": "d", "model": "m", "seed": 0, "layer": "input", "attribution": "",
            "postprocessor": "", "metric": "", "statistic": "", "sub_key": "", "value": None, "status": "ok",
            "message": None, "run_key": ""}
    return {**base, **kw}


def results(tmp_path: Path) -> Path:
    rows = []
    for seed in (0, 1):
        rows += [
            _row(seed=seed, metric="sh", statistic="shape_accuracy", sub_key="s2", value=0.3 + 0.1 * seed),
            _row(seed=seed, metric="sh", statistic="shape_accuracy", sub_key="s1", value=0.2),
            _row(seed=seed, metric="sh", statistic="interaction_accuracy", value=-0.05),
            _row(seed=seed, metric="sh", statistic="accuracy", sub_key="none", value=0.1),
            _row(seed=seed, metric="gen", statistic="gen_ml", value=0.125),
            _row(seed=seed, metric="gen", statistic="gen_geo", value=0.0625),
            _row(seed=seed, metric="csp", statistic="sensitivity", sub_key="precipitation", value=0.6),
            _row(seed=seed, metric="csp", statistic="sensitivity", sub_key="pressure", value=0.05),
            _row(seed=seed, metric="csp", statistic="relative_sensitivity", sub_key="precipitation", value=12.0),
        ]
        rows += [_row(seed=seed, metric="csp", statistic="ndvi", sub_key=f"precipitation{s:+g}", value=0.4 + 0.01 * s)
                 for s in (-2, 0, 2, 4)]
    components = {"dataset": {"d": "synth"}, "model": {"m": "net"},
                  "metric": {"sh": "shape", "gen": "generalization", "csp": "csp"}}
    table = to_table(rows, {"cache": str(tmp_path / "no-cache"), "units": [], "components": components})
    return write_parquet(table, tmp_path / "results" / "studies.parquet")


def test_study_sections_show_the_seed_means(tmp_path):
    sections = collect_sections(PluginSession(disabled=set()))
    assert {"shape", "generalization", "csp"} <= {s.key for s in sections}
    text = build_report(Experiment.load(results(tmp_path).parent, "studies"), tmp_path / "out", sections).read_text()
    for key in ("shape", "generalization", "csp"):
        assert f'id="{key}"' in text
    shape = text[text.index('id="shape"'):text.index('id="generalization"')]
    assert "0.350 ± 0.071" in shape and "shape_accuracy[s1]" in shape and "interaction_accuracy" in shape
    gen = text[text.index('id="generalization"'):text.index('id="csp"')]
    assert "0.125" in gen and "0.062" in gen
    csp = text[text.index('id="csp"'):]
    assert csp.index("precipitation") < csp.index("pressure")  # most sensitive group first
    assert "12.0000" in csp
    assert list((tmp_path / "out" / "figures").glob("csp-csp*.png"))
    summary = text[text.index('id="summary"'):] if 'id="summary"' in text else ""
    assert "(shape)" not in summary and "(csp)" not in summary  # claimed by the study sections
