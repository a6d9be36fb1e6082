"""Fixtures: tiny copies of each dataset (written once per session) and the plugin registered in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import writers as w


@pytest.fixture
def eo_session(session):
    """The plugin session with ``xaibench_eodata`` registered (whether or not its entry point is installed)."""
    import xaibench_eodata.plugin as plugin

    if "eodata" not in session.plugins and not session.pm.is_registered(plugin):
        session.add(plugin, name="eodata")
    return session


@pytest.fixture
def eo_cli(eo_session, cli):
    return cli


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="session")
def dfc_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dfc") / "DFC2020"
    w.make_dfc2020(root)
    return root


@pytest.fixture
def dfc_copy(dfc_root, tmp_path) -> Path:
    """A private copy to break."""
    return _copy(dfc_root, tmp_path)


@pytest.fixture(scope="session")
def sen12ms_roots(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("sen12ms")
    root, cr = base / "SEN12MS", base / "SEN12MS-CR"
    w.make_sen12ms(root, cr, cloudy=(("ROIs1158", "spring", 1, 30), ("ROIs1868", "summer", 5, 10)))
    return root, cr


@pytest.fixture(scope="session")
def ben_roots(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ben")
    s2, s1 = base / "BigEarthNet-v1.0", base / "BigEarthNet-S1-v1.0"
    w.make_bigearthnet(s2, s1)
    return s2, s1


@pytest.fixture
def ben_copy(ben_roots, tmp_path) -> tuple[Path, Path]:
    return _copy(ben_roots[0], tmp_path), _copy(ben_roots[1], tmp_path)


@pytest.fixture(scope="session")
def benge_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("benge") / "ben-ge-8k"
    w.make_benge(root)
    return root


@pytest.fixture(scope="session")
def eurosat_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eurosat") / "EuroSAT"
    w.make_eurosat(root)
    return root


@pytest.fixture(scope="session")
def worldclim_dir(tmp_path_factory) -> Path:
    return w.make_worldclim(tmp_path_factory.mktemp("worldclim"))


@pytest.fixture(scope="session")
def osu_root(tmp_path_factory) -> Path:
    from xaibench_eodata.tables import OPENSARURBAN_CLASSES

    return w.make_opensarurban(tmp_path_factory.mktemp("osu") / "OpenSARUrban", OPENSARURBAN_CLASSES)


@pytest.fixture(scope="session")
def earthnet_root(tmp_path_factory) -> Path:
    return w.make_earthnet(tmp_path_factory.mktemp("earthnet") / "earthnet2021")


@pytest.fixture(scope="session")
def ben2_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ben2") / "BigEarthNet-v2.0"
    w.make_bigearthnet_v2(root)
    return root


@pytest.fixture
def ben2_copy(ben2_root, tmp_path) -> Path:
    return _copy(ben2_root, tmp_path)
