"""Every loader feeds the zoo: a model trains an epoch on it, and a tiny attribution grid runs on it end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xaibench.components import info_to_dict

CAPS = {"max_train": 2, "max_val": 1, "max_test": 2}
TINY = {"width": 0.0625, "train": {"epochs": 1, "batch_size": 2, "augment": False}}

# dataset component, fixture giving its root, extra params, zoo model, model params
CASES = {
    "dfc2020": ("dfc2020", "dfc_root", {"modalities": ["s2", "s1"]}, "fusion-resnet-18", TINY),
    "sen12ms": ("sen12ms", "sen12ms_roots", {"test_seasons": ["summer"]}, "resnet-18", TINY),
    "bigearthnet": ("bigearthnet", "ben_roots", {"modalities": ["s2", "s1"], "test_fraction": 0.4, "val_fraction": 0},
                    "resnet-18", TINY),
    "bigearthnet-v2": ("bigearthnet-v2", "ben2_root", {"modalities": ["s2", "s1"]}, "resnet-18", TINY),
    "ben-ge": ("ben-ge", "benge_root", {"test_fraction": 0.4, "val_fraction": 0}, "uh-net",
               {**TINY, "skip_pooling": [4]}),
    "eurosat": ("eurosat", "eurosat_root", {"aux": "csv", "metadata_csv": "{root}/eurosat_meta.csv"}, "resnet-18-cbn", TINY),
    "opensarurban": ("opensarurban", "osu_root", {}, "vgg-16", TINY),
    "earthnet2021": ("earthnet2021", "earthnet_root", {"size": 16, "crop": 8}, "convlstm", TINY),
}


def _params(request, case) -> dict:
    name, fixture, extra, _, _ = CASES[case]
    root = request.getfixturevalue(fixture)
    s1_root = None
    if isinstance(root, tuple):
        root, second = root
        s1_root = str(second) if name == "bigearthnet" else None
    params = {"root": str(root), **CAPS, **{k: (v.format(root=root) if isinstance(v, str) else v) for k, v in extra.items()}}
    if s1_root:
        params["s1_root"] = s1_root
    return params


@pytest.mark.parametrize("case", list(CASES))
def test_a_zoo_model_trains_an_epoch_and_predicts(case, request, eo_session):
    name, _, _, model_name, model_params = CASES[case]
    catalog = eo_session.catalog
    ds = catalog.create("dataset", name, _params(request, case))
    data = ds.load(0).collect()
    data.meta["info"] = info_to_dict(ds.info())
    torch.manual_seed(0)
    model = catalog.create("model", model_name, model_params)
    state = model.train(data, seed=0)
    assert state.meta["metrics"]["epochs"] == 1 and all(np.isfinite(a).all() for a in state.arrays.values())
    net = model.load(ds.info(), state)
    if ds.info().task == "forecast":
        return
    with torch.no_grad():
        aux = torch.from_numpy(data["test/aux"][:1]) if "test/aux" in data else None
        logits = net(torch.from_numpy(data["test/x"][:1]), aux)
    assert logits.shape == (1, ds.info().n_classes) and torch.isfinite(logits).all()


def test_a_tiny_attribution_grid_runs_on_every_loader(request, eo_session, eo_cli, workdir):
    """Every loader runs end to end; those with masks also run the harmonization study's F1
    (``segmentation-agreement``), on BigEarthNet v2 against its reference maps."""
    import yaml

    registry = {
        "experiment": "eodata-grid",
        "seeds": [0],
        "layers": ["deep"],
        "datasets": {c: {"component": CASES[c][0], "params": _params(request, c)} for c in CASES},
        "models": {"cnn": {"component": "resnet-18", "params": TINY}, "lstm": {"component": "convlstm", "params": TINY}},
        "exclude": [{"model": "cnn", "dataset": "earthnet2021"}],  # convlstm requires a forecast dataset: skipped elsewhere
        "attributions": {"gxf": "gradients-x-features"},
        "postprocessors": {"none": "none"},
        "metrics": {"entropy": "xai-entropy", "seg": "segmentation-agreement"},  # seg requires a mask: skipped elsewhere
        "tracking": {"uri": f"sqlite:///{workdir}/mlflow.db"},
    }
    (workdir / "real.yaml").write_text(yaml.safe_dump(registry))
    code, out, err = eo_cli("run", "real.yaml", "--quiet")
    assert code == 0, out + err
    import pyarrow.parquet as pq

    table = pq.read_table(workdir / "results" / "eodata-grid.parquet").to_pylist()
    entropy = {(r["dataset"], r["layer"]) for r in table if r["metric"] == "entropy" and r["status"] == "ok"}
    assert entropy == {(c, "deep") for c in CASES}
    seg = [r for r in table if r["metric"] == "seg" and r["status"] == "ok"]
    masked = {c for c in CASES if "mask" in eo_session.catalog.create("dataset", CASES[c][0], _params(request, c)).info().provides}
    assert {r["dataset"] for r in seg} == masked and "bigearthnet-v2" in masked
    ben2 = [r for r in seg if r["dataset"] == "bigearthnet-v2"]
    stats = {r["statistic"]: r["value"] for r in ben2 if not r["sub_key"]}
    assert {"accuracy", "f1_micro", "f1_macro", "iou_mean"} <= set(stats) and 0 <= stats["f1_micro"] <= 1
    from . import writers as w

    test_maps = {w.V2_CLC19[c] for n, (_, split, codes) in w.V2_PATCHES.items() if split == "test" for c in codes}
    per_class = {r["sub_key"] for r in ben2 if r["statistic"] == "f1"}
    assert test_maps - {None} <= per_class  # the test patches' reference-map classes are scored, by 19-class name
