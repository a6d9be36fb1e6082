"""fingerprint(): the data stage's cache key follows the files a loader reads (relative paths, sizes, mtimes)."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from xaibench.config import load_registry
from xaibench.planning import build_plan
from xaibench_eodata.eurosat import EuroSAT

from . import writers as w
from .test_models import CASES, _params


@pytest.mark.parametrize("case", list(CASES))
def test_every_loader_fingerprints_the_files_it_reads(case, request, eo_session):
    params = _params(request, case)
    cls = eo_session.catalog.get("dataset", CASES[case][0]).cls
    fp = cls(cls.Params(**params)).fingerprint()
    mode, files, digest = fp.split(":")
    assert mode == "files" and int(files) >= 4 and len(digest) == 24
    assert cls(cls.Params(**params)).fingerprint() == fp  # the same copy: the same key, in any process
    assert cls(cls.Params(**{**params, "fingerprint": "off"})).fingerprint() is None
    assert cls(cls.Params(**{**params, "root": str(request.getfixturevalue("tmp_path") / "none")})).fingerprint() is None


def test_changes_to_the_copy_change_the_fingerprint(eurosat_root, tmp_path):
    root = tmp_path / "e"
    shutil.copytree(eurosat_root, root)

    def fp(**params):
        return EuroSAT(EuroSAT.Params(root=str(root), **params)).fingerprint()

    first = fp()
    (root / "notes.txt").write_text("not read by the loader")
    assert fp() == first
    tif = root / w.EUROSAT_DIR / "Forest" / "Forest_2.tif"
    stat = tif.stat()
    w.write_eurosat_tif(tif, 1, *w.eurosat_centre(1, 2), order=tuple(reversed(w.EUROSAT_FILE_ORDER)))  # replaced in place
    os.utime(tif, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert tif.stat().st_size == stat.st_size and fp() != first
    names = fp(fingerprint="names")
    os.utime(tif, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fp() == first  # size and mtime as before: the digest is a pure function of them
    assert fp(fingerprint="names") == names  # names mode: a file overwritten in place goes unnoticed ...
    shutil.copy(tif, tif.with_name("Forest_4.tif"))
    assert fp() != first and fp(fingerprint="names") != names  # ... an added (or removed, renamed) one does not
    metadata = root / "eurosat_meta.csv"
    with_csv = fp(metadata_csv=str(metadata))
    metadata.write_text(metadata.read_text() + "\n")
    assert fp(metadata_csv=str(metadata)) != with_csv  # side files (metadata, split lists) count too


def test_the_data_stage_is_recomputed_when_the_copy_changes(eurosat_root, tmp_path, eo_session, workdir):
    root = tmp_path / "e"
    shutil.copytree(eurosat_root, root)
    registry = {
        "experiment": "fp", "seeds": [0], "layers": ["input"],
        "datasets": {"eurosat": {"component": "eurosat", "params": {"root": str(root)}}},
        "models": {"cnn": {"component": "resnet-18", "params": {"width": 0.0625}}},
        "attributions": {"gxf": "gradients-x-features"}, "postprocessors": {"none": "none"},
        "metrics": {"entropy": "xai-entropy"}, "tracking": {"uri": f"sqlite:///{workdir}/mlflow.db"},
    }  # fmt: skip
    path = workdir / "fp.yaml"
    path.write_text(yaml.safe_dump(registry))

    def keys() -> dict[str, set[str]]:
        plan = build_plan(load_registry(path, eo_session.catalog), eo_session.catalog)
        out: dict[str, set[str]] = {}
        for stage in plan.stages():
            out.setdefault(stage.kind, set()).add(stage.key)
        return out

    before = keys()
    assert keys() == before  # unchanged copy: every stage keeps its key, so a re-run computes nothing
    shutil.copy(root / w.EUROSAT_DIR / "River" / "River_1.tif", root / w.EUROSAT_DIR / "River" / "River_9.tif")
    after = keys()
    assert after["data"].isdisjoint(before["data"]) and after["train"].isdisjoint(before["train"])
