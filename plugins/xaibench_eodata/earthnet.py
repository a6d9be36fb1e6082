"""``earthnet2021``: minicube ``.npz`` files (train, and a test track's context / target pairs).

The arrays are named as those of ``synth-weather-forecast`` so the same forecasters run on both.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, model_validator

import xaibench.components as xc
from xaibench.capabilities import FORECAST, TIME
from xaibench_eo.capabilities import CLOUDS, WEATHER

from .base import Index, Problem, RealDataset, Record, Sources, suffix_filter
from .errors import BadFileError
from .params import RealParams
from .tables import EARTHNET_CHANNELS, EARTHNET_UNITS, EARTHNET_WEATHER, S2_BANDS

if TYPE_CHECKING:
    import numpy as np

FLOAT_KINDS = "f"


class EarthNetParams(RealParams):
    """Where the tracks are, how many frames, and how daily weather is pooled."""

    train_dir: str = Field("train", description="folder of training cubes under root: <tile>/<cube>.npz")
    test_track: str | None = Field(
        "iid_test_split", description="test track folder with context/ and target/ (None: test drawn from train)"
    )
    context_frames: int = Field(10, ge=1, le=200, description="frames given to the model (EarthNet2021 IID: 10)")
    target_frames: int = Field(20, ge=1, le=400, description="frames to forecast (EarthNet2021 IID: 20)")
    days_per_frame: int = Field(5, ge=1, le=30, description="days between frames (5 in EarthNet2021)")
    size: int = Field(128, ge=8, description="cube side in pixels (EarthNet2021: 128)")
    crop: int | None = Field(None, ge=8, description="centre crop of the cubes, in pixels (None: whole cube)")
    weather_pool: Literal["centre", "mean"] = Field(
        "centre", description="daily weather of the 2x2 mesoscale pixels under the cube, or the mean of the 80x80 grid"
    )
    model_inputs: bool = Field(
        True, description="also store x (context flattened) and aux (weather flattened), the inputs attribution methods explain"
    )

    @model_validator(mode="after")
    def _crop(self) -> EarthNetParams:
        if self.crop is not None and self.crop > self.size:
            raise ValueError("crop must be <= size")
        return self

    @property
    def side(self) -> int:
        return self.crop or self.size


class EarthNet2021(RealDataset):
    """EarthNet2021 minicubes: forecast Sentinel-2 frames from context frames and daily weather.

    ``root/<train_dir>/<tile>/<cube>.npz`` hold ``highresdynamic`` ``(128, 128, C, T)`` (B, G, R,
    NIR first, the cloud/quality mask last), ``highresstatic`` ``(128, 128, 1)`` (elevation),
    ``mesodynamic`` ``(80, 80, 5, T_daily)`` (precipitation, sea-level pressure, mean / min /
    max temperature, normalised) and ``mesostatic``; a test track has ``context/<tile>/
    context_<cube>.npz`` and ``target/<tile>/target_<cube>.npz``.  Arrays per split (as
    ``synth-weather-forecast``):

    - ``context (N, T_c, 6, S, S)`` / ``target (N, T_t, 6, S, S)`` float32: B2, B3, B4, B8A
      (reflectance, NaN -> 0 and masked), elevation (static, as published), cloud mask (0/1);
    - ``weather (N, T, 5)`` float32: the normalised daily mesodynamic variables pooled over the
      cube (``weather_pool``), ``T = (T_c + T_t) * days_per_frame``; physical units by
      ``info().extra["weather_units"]`` (precipitation 50 x mm, pressure 200 x + 900 hPa,
      temperature 50 (2 x - 1) degC);
    - ``id (N,)`` str (cube name).
    """

    name: ClassVar[str] = "earthnet2021"
    version: ClassVar[str] = "1"
    Params: ClassVar[type[EarthNetParams]] = EarthNetParams
    params: EarthNetParams
    layout = "<root>/train/<tile>/<cube>.npz and <root>/iid_test_split/{context,target}/<tile>/{context,target}_<cube>.npz"

    def info(self) -> xc.DatasetInfo:
        p = self.params
        s2 = {b.name: b for b in S2_BANDS}
        bands = (
            s2["B2"], s2["B3"], s2["B4"], s2["B8A"],
            xc.Band("elevation", 0.0, "static", "as published (highresstatic)"),
            xc.Band("cloud_mask", 0.0, "mask", "0/1"),
        )  # fmt: skip
        frames = p.context_frames + p.target_frames
        return xc.DatasetInfo(
            name=self.name,
            task="forecast",
            classes=("ndvi",),
            bands=bands,
            modalities=("s2", "static", "mask"),
            provides=frozenset({TIME, WEATHER, CLOUDS, FORECAST}),
            extra={
                "channels": list(EARTHNET_CHANNELS),
                "context_frames": p.context_frames,
                "target_frames": p.target_frames,
                "days_per_frame": p.days_per_frame,
                "observation_days": [(f + 1) * p.days_per_frame - 1 for f in range(frames)],
                "weather_variables": list(EARTHNET_WEATHER),
                "weather_units": dict(EARTHNET_UNITS),
                "weather_pool": p.weather_pool,
                "test_track": p.test_track,
            },
        )

    # -- indexing ------------------------------------------------------------------
    def index(self) -> Index:
        from .base import require_dir
        from .scan import walk_files

        self._cloud: dict[str, tuple[float, int]] = {}  # split -> (sum, count) of the cloud mask, from screen()
        p = self.params
        root = self.root()
        records: list[Record] = []
        problems: list[Problem] = []
        train = require_dir(root / p.train_dir, "EarthNet2021 train_dir")
        for f in walk_files(train, lambda n: n.endswith(".npz")):
            records.append(Record(key=f.stem, paths={"cube": f}, group=f.parent.name, split="train" if p.test_track else None))
        if p.test_track:
            track = require_dir(root / p.test_track, "EarthNet2021 test_track")
            context = {f.stem.removeprefix("context_"): f for f in walk_files(require_dir(track / "context", "context folder"),
                                                                                lambda n: n.endswith(".npz"))}  # fmt: skip
            target = {f.stem.removeprefix("target_"): f for f in walk_files(require_dir(track / "target", "target folder"),
                                                                              lambda n: n.endswith(".npz"))}  # fmt: skip
            for cube in sorted(set(context) | set(target)):
                if cube not in target:
                    problems.append(Problem(str(context[cube]), "has no target_ counterpart", "pair", cube))
                elif cube not in context:
                    problems.append(Problem(str(target[cube]), "has no context_ counterpart", "pair", cube))
                else:
                    records.append(Record(key=cube, paths={"context": context[cube], "target": target[cube]},
                                          group=context[cube].parent.name, split="test"))  # fmt: skip
        if not any(r.split != "test" for r in records):
            raise self.nothing_found(train, "EarthNet2021 training cubes (<tile>/<cube>.npz)")
        return Index(records, problems)

    def sources(self) -> Sources:
        p = self.params
        root = Path(p.root).expanduser()
        roots = [root / p.train_dir] + ([root / p.test_track] if p.test_track else [])
        return Sources(tuple(roots), suffix_filter(".npz"), self.split_side_files())

    # -- reading -------------------------------------------------------------------
    # numpy parses .npy headers with ast.literal_eval, which CPython before 3.11.8 cannot run in
    # several threads at once ("SystemError: AST constructor recursion depth mismatch",
    # python/cpython#106905); the loader's reading threads take turns opening NPZ files.
    _npz_lock: ClassVar[threading.Lock] = threading.Lock()

    def _arrays(self, path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        import zipfile

        import numpy as np

        try:
            with self._npz_lock, np.load(path, allow_pickle=False) as z:
                missing = [n for n in names if n not in z.files]
                if missing:
                    raise BadFileError(path, f"lacks array {', '.join(missing)} (has: {', '.join(z.files)})")
                out = {n: z[n] for n in names}
        except BadFileError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise BadFileError(path, f"cannot read NPZ: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        for n, a in out.items():
            if a.dtype.kind not in FLOAT_KINDS:
                raise BadFileError(path, f"{n} has dtype {a.dtype}, expected floats")
        return out

    def _frames(self, hrd: np.ndarray, path: Path, first: int, count: int) -> np.ndarray:
        """``highresdynamic`` ``(S, S, C, T)`` frames ``first .. first + count - 1`` as ``(count, 5, s, s)``:
        B, G, R, NIR (reflectance, NaN -> 0) and the mask (1 where flagged or any band is NaN)."""
        import numpy as np

        p = self.params
        if hrd.ndim != 4 or hrd.shape[:2] != (p.size, p.size) or hrd.shape[2] < 5:
            raise BadFileError(path, f"highresdynamic has shape {hrd.shape}, expected ({p.size}, {p.size}, >=5, T)")
        if hrd.shape[3] < first + count:
            raise BadFileError(path, f"highresdynamic has {hrd.shape[3]} frames, {first + count} needed")
        lo = (p.size - p.side) // 2
        cube = hrd[lo : lo + p.side, lo : lo + p.side, :, first : first + count].astype(np.float32)
        cube = np.transpose(cube, (3, 2, 0, 1))  # (T, C, s, s)
        bgrn, flag = cube[:, :4], cube[:, -1]
        nan = np.isnan(bgrn).any(axis=1)
        mask = ((np.nan_to_num(flag, nan=1.0) > 0) | nan).astype(np.float32)
        refl = np.clip(np.nan_to_num(bgrn, nan=0.0), 0.0, 1.0)
        return np.concatenate([refl, mask[:, None]], axis=1)

    def _static(self, hrs: np.ndarray, path: Path) -> np.ndarray:
        import numpy as np

        p = self.params
        if hrs.ndim != 3 or hrs.shape[:2] != (p.size, p.size):
            raise BadFileError(path, f"highresstatic has shape {hrs.shape}, expected ({p.size}, {p.size}, 1)")
        lo = (p.size - p.side) // 2
        return np.nan_to_num(hrs[lo : lo + p.side, lo : lo + p.side, 0].astype(np.float32), nan=0.0)

    def _weather(self, meso: np.ndarray, path: Path, first_day: int, days: int) -> np.ndarray:
        import numpy as np

        if meso.ndim != 4 or meso.shape[2] != len(EARTHNET_WEATHER):
            raise BadFileError(path, f"mesodynamic has shape {meso.shape}, expected (80, 80, 5, T_daily)")
        if meso.shape[3] < first_day + days:
            raise BadFileError(path, f"mesodynamic has {meso.shape[3]} days, {first_day + days} needed")
        if self.params.weather_pool == "centre":
            cy, cx = meso.shape[0] // 2, meso.shape[1] // 2
            meso = meso[cy - 1 : cy + 1, cx - 1 : cx + 1]
        window = meso[:, :, :, first_day : first_day + days].astype(np.float64)
        with np.errstate(all="ignore"):
            pooled = np.nanmean(window, axis=(0, 1))  # (5, days)
        if np.isnan(pooled).any():
            raise BadFileError(path, "mesodynamic has days with no value under the cube")
        return pooled.T.astype(np.float32)

    def read(self, record: Record) -> dict[str, np.ndarray]:
        import numpy as np

        p = self.params
        tc, tt, dpf = p.context_frames, p.target_frames, p.days_per_frame
        if "cube" in record.paths:
            path = record.paths["cube"]
            a = self._arrays(path, ("highresdynamic", "highresstatic", "mesodynamic"))
            frames = self._frames(a["highresdynamic"], path, 0, tc + tt)
            context, target = frames[:tc], frames[tc:]
            weather = self._weather(a["mesodynamic"], path, 0, (tc + tt) * dpf)
        else:
            cpath, tpath = record.paths["context"], record.paths["target"]
            a = self._arrays(cpath, ("highresdynamic", "highresstatic", "mesodynamic"))
            t = self._arrays(tpath, ("highresdynamic",))
            available = a["highresdynamic"].shape[-1]
            start = available - tc  # the last tc context frames, then the first tt target frames
            if start < 0:
                raise BadFileError(cpath, f"highresdynamic has {available} frames, {tc} context frames needed")
            context = self._frames(a["highresdynamic"], cpath, start, tc)
            target = self._frames(t["highresdynamic"], tpath, 0, tt)
            weather = self._weather(a["mesodynamic"], cpath, start * dpf, (tc + tt) * dpf)
        elevation = self._static(a["highresstatic"], record.paths.get("cube", record.paths.get("context")))

        def channels(frames: np.ndarray) -> np.ndarray:
            t = frames.shape[0]
            elev = np.broadcast_to(elevation, (t, 1, p.side, p.side))
            return np.concatenate([frames[:, :4], elev, frames[:, 4:]], axis=1).astype(np.float32)

        out = {"context": channels(context), "target": channels(target), "weather": weather}
        if p.model_inputs:  # what a forecaster's split(layer) explains: (T_c * C, S, S) and (T * V,)
            out["x"] = out["context"].reshape(-1, p.side, p.side)
            out["aux"] = weather.reshape(-1)
        return out

    def screen(self, split: str, ids: list[str], fields: dict[str, np.ndarray]) -> np.ndarray | None:
        """Running sums of the target frames' cloud mask (the last channel), for ``meta["cloudy_share"]``."""
        import numpy as np

        mask = fields["target"][:, :, -1]
        total, count = self._cloud.get(split, (0.0, 0))
        self._cloud[split] = (total + float(mask.sum(dtype=np.float64)), count + mask.size)
        return None

    def finish(self, splits: dict[str, dict[str, Any]], meta: dict[str, Any]) -> None:
        meta["cloudy_share"] = {s: total / count for s, (total, count) in self._cloud.items() if count}
        self._cloud = {}
