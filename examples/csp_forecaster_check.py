"""How well does the CSP example's forecaster answer the weather?  (trains as the example: about 6 min on 2 cores)

Trains the ConvLSTM of ``examples/csp.yaml`` (seed ``--seed``) and compares it with the
world's own simulator on natural weather, without CSP's shifts:

- *floor*: the masked L1 of the noise-free target against the observed one, the least any
  forecaster can reach, next to the model's test L1;
- *swap*: the forecast-period weather of each test cube replaced by another test cube's
  (natural weather, as the training cubes' spells show it: no extrapolation); the change of the model's
  mean forecast NDVI is regressed on the change the simulator gives (``forecast_vigour`` with
  the cube's NDVI amplitude).  Correlation 1 and slope 1 mean the model answers natural
  weather as the world does; CSP's ratios cannot be closer to the world's than this allows.

    python examples/csp_forecaster_check.py [--seed 0] [--swaps 3]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch
import yaml


def main() -> None:
    from xaibench_studies.scoring import predict
    from xaibench_synth import weather as w
    from xaibench_synth.forecast import SynthWeatherForecast
    from xaibench_zoo.components import ConvLSTMModel
    from xaibench_zoo.training import masked_l1

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--swaps", type=int, default=3, help="random permutations of the test cubes' weather")
    args = parser.parse_args()

    spec = yaml.safe_load(open(Path(__file__).with_name("csp.yaml")))
    params = spec["datasets"]["weather"]["params"]
    dataset = SynthWeatherForecast(SynthWeatherForecast.Params(**params))
    info, data = dataset.info(), dataset.load(0)
    data.meta["info"] = dataclasses.asdict(info)
    model = ConvLSTMModel(ConvLSTMModel.Params(**spec["models"]["lstm"]["params"]))
    state = model.train(data, args.seed)
    net = model.load(info, state)

    # test cubes do not depend on the other splits' sizes: generate only them, without the noise
    clean_params = {**params, "noise": 0.0, "n_train": 0, "n_val": 0}
    clean = SynthWeatherForecast(SynthWeatherForecast.Params(**clean_params)).load(0)
    floor = float(masked_l1(torch.from_numpy(clean["test/target"][:, :, :4]), torch.from_numpy(data["test/target"])))
    print(f"test L1 {state.meta['metrics']['test_loss']:.4f}, noise floor {floor:.4f}, "
          f"persistence {state.meta['metrics']['test_persistence_loss']:.4f}")

    p = dataset.params
    weather, context = data["test/weather"].astype(np.float32), data["test/context"]
    n = len(weather)
    x = context.reshape(n, -1, *context.shape[-2:])
    initial = data["test/initial_state"].astype(np.float64)
    amp = data["test/ndvi_amp"].reshape(n, -1).mean(axis=1)
    context_days = p.context_frames * p.days_per_frame
    target_days = np.asarray(p.observation_days()[p.context_frames:])
    seen = data["test/vigour"][:, context_days - 1].astype(np.float64)  # what the context frames show

    def answers(wx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model_ndvi = predict(net, x, wx.reshape(n, -1), 16)[:, 0].astype(np.float64)
        world_ndvi = amp * w.forecast_vigour(w.to_physical(wx), initial, seen, context_days, target_days)
        return model_ndvi, world_ndvi

    model0, world0 = answers(weather)
    rng = np.random.default_rng(0)
    dm, dw = [], []
    for _ in range(args.swaps):
        swapped = weather.copy()
        swapped[:, context_days:] = weather[rng.permutation(n), context_days:]
        m, wd = answers(swapped)
        dm.append(m - model0)
        dw.append(wd - world0)
    dm_all, dw_all = np.concatenate(dm), np.concatenate(dw)
    print(f"swapped forecast weather ({args.swaps} x {n} cubes): correlation {np.corrcoef(dm_all, dw_all)[0, 1]:.2f}, "
          f"slope (model on world) {np.polyfit(dw_all, dm_all, 1)[0]:.2f}, "
          f"std of the NDVI change: world {dw_all.std():.3f}, model {dm_all.std():.3f}")


if __name__ == "__main__":
    main()
