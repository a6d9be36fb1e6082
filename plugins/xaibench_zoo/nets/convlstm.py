"""ConvLSTM forecaster for EarthNet2021-like minicubes (context frames + daily weather -> future frames).

Stacked ConvLSTM cells (``hidden`` channels) then an output ConvLSTM cell with 4 channels
whose hidden state is the change of the B2, B3, B4, B8A reflectance from the previous
frame.  Each step's input is the frame (reflectance, static channels, cloud mask) and that
frame's weather, standardised per variable with the training split's mean and standard
deviation (``weather_mean``, ``weather_std``: normalised units, stored with the model),
either every day's values or, with ``weather_variables`` given, their mean over the frame's
days (EarthNet2021's weather resampled to the image steps, as the CSP study's ConvLSTM
has it), and upsampled (broadcast) to the image grid.  Without the standardisation the
weather's small normalised spread (pressure varies by ~0.03) leaves it nearly unused.  Context frames are read
in; target frames are predicted autoregressively from the model's own previous frame
(cloud-free, cloud mask 0), the first from each pixel's last cloud-free context reflectance
(the last context frame's where every context frame is cloudy there): starting from a cloud
the network would first have to undo it.

As a :class:`~.base.SplittableNet` it explains one scalar per cube: ``forward(x, aux)``
returns the mean NDVI of the predicted frames, ``(N, 1)``, with ``x`` the context
flattened to ``(N, T_c * C, H, W)`` and ``aux`` the weather flattened to
``(N, T_days * V)``.  Layer ``deep`` is the recurrent state after the context: every
cell's ``(h, c)``, the last cloud-free reflectance and the static channels, concatenated
along channels.  Gate activations are separate modules per cell and step (DeepLift hooks them);
convolutions are shared across steps, so rules that hook linear layers (LRP) do not apply.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import AuxModule, SplittableNet, Step

REFLECTANCE = 4  # B2, B3, B4, B8A come first in every frame
NDVI_EPS = 1e-2  # reflectance floor of the NDVI denominator: keeps near-zero baselines finite


def ndvi(frames: torch.Tensor) -> torch.Tensor:
    """``(N, T, 4, H, W)`` (B2, B3, B4, B8A) -> NDVI ``(N, T, H, W)``."""
    red, nir = frames[:, :, 2], frames[:, :, 3]
    return (nir - red) / (nir + red).abs().clamp_min(NDVI_EPS)


class _Gates(nn.Module):
    """The activations of one cell at one step (separate modules so hooks see each use once)."""

    def __init__(self) -> None:
        super().__init__()
        self.input = nn.Sigmoid()
        self.forget = nn.Sigmoid()
        self.output = nn.Sigmoid()
        self.candidate = nn.Tanh()
        self.cell = nn.Tanh()


class ConvLSTMCell(nn.Module):
    """``(x, h, c) -> (h', c')`` with one 3x3 convolution over ``[x, h]`` for the four gates."""

    def __init__(self, cin: int, hidden: int, steps: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(cin + hidden, 4 * hidden, 3, padding=1)
        self.gates = nn.ModuleList(_Gates() for _ in range(steps))

    def forward(
        self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        act = self.gates[step]
        i, f, o, g = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = act.forget(f) * c + act.input(i) * act.candidate(g)
        return act.output(o) * act.cell(c), c


class _Encode(AuxModule):
    def __init__(self, net: ConvLSTMForecaster) -> None:
        super().__init__()
        self.cells = net.cells
        self.net_ref = [net]

    def forward(self, x: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.net_ref[0].encode(x, aux)


class _Decode(AuxModule):
    def __init__(self, net: ConvLSTMForecaster) -> None:
        super().__init__()
        self.cells = net.cells
        self.net_ref = [net]

    def forward(self, state: torch.Tensor, aux: torch.Tensor | None = None) -> torch.Tensor:
        return self.net_ref[0].mean_ndvi(self.net_ref[0].decode(state, aux))


class ConvLSTMForecaster(SplittableNet):
    """``channels`` per frame (the first 4 reflectance, then ``static`` channels, cloud mask last)."""

    uses_aux = True

    def __init__(
        self,
        channels: int,
        context_frames: int,
        target_frames: int,
        weather_per_frame: int,
        hidden: int = 32,
        layers: int = 2,
        static: tuple[int, ...] = (4,),
        weather_mean: tuple[float, ...] | None = None,
        weather_std: tuple[float, ...] | None = None,
        weather_variables: int = 0,
    ) -> None:
        super().__init__()
        if channels < REFLECTANCE + 1:
            raise ValueError(f"frames need {REFLECTANCE} reflectance channels and a cloud mask, got {channels}")
        self.channels, self.context_frames, self.target_frames = channels, context_frames, target_frames
        self.weather_per_frame = weather_per_frame
        if weather_variables < 0 or (weather_variables and weather_per_frame % weather_variables):
            raise ValueError(f"weather_variables ({weather_variables}) must divide weather_per_frame ({weather_per_frame})")
        self.weather_variables = weather_variables
        self.static = tuple(static)
        steps = context_frames + target_frames
        cin = channels + (weather_variables or weather_per_frame)
        cells = []
        for _ in range(layers):
            cells.append(ConvLSTMCell(cin, hidden, steps))
            cin = hidden
        cells.append(ConvLSTMCell(cin, REFLECTANCE, steps))
        self.cells = nn.ModuleList(cells)
        # per-variable standardisation (identity when not given); not persistent: the model
        # component stores the statistics with its build arguments
        mean = torch.zeros(1) if weather_mean is None else torch.tensor(weather_mean, dtype=torch.float32)
        std = torch.ones(1) if weather_std is None else torch.tensor(weather_std, dtype=torch.float32)
        if mean.shape != std.shape or (weather_mean is not None and weather_per_frame % len(mean)):
            raise ValueError("weather_mean and weather_std need one value per weather variable")
        self.register_buffer("weather_mean", mean, persistent=False)
        self.register_buffer("weather_std", std.clamp_min(1e-3), persistent=False)

    # -- packing the recurrent state into one map ------------------------------------------
    def _state_widths(self) -> list[int]:
        return [w for cell in self.cells for w in (cell.hidden, cell.hidden)] + [REFLECTANCE, len(self.static)]

    def encode(self, x: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor:
        """Context ``(N, T_c * C, H, W)`` -> state map ``(N, D, H, W)`` (see module docstring)."""
        frames = x.reshape(x.shape[0], self.context_frames, self.channels, *x.shape[-2:])
        weather = self._weather(aux, x)
        n, _, _, hgt, wid = frames.shape
        hc = [x.new_zeros(n, cell.hidden, hgt, wid) for cell in self.cells for _ in (0, 1)]
        last = frames[:, -1, :REFLECTANCE]
        seen = frames.new_zeros(n, 1, hgt, wid)  # 1 where a cloud-free frame has been found (going backwards)
        for t in range(self.context_frames):
            hc = self._step(torch.cat([frames[:, t], weather[:, t]], dim=1), hc, t)
        for t in reversed(range(self.context_frames)):
            take = (1 - seen) * (1 - frames[:, t, -1:])  # the latest cloud-free frame of each pixel
            last = last + take * (frames[:, t, :REFLECTANCE] - last)
            seen = seen + take
        static = frames[:, -1, list(self.static)]
        return torch.cat(hc + [last, static], dim=1)

    def decode(self, state: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor:
        """State map -> predicted reflectance ``(N, T_t, 4, H, W)``."""
        parts = list(state.split(self._state_widths(), dim=1))
        hc, prev, static = parts[:-2], parts[-2], parts[-1]
        weather = self._weather(aux, state)
        cloud_free = state.new_zeros(state.shape[0], self.channels - REFLECTANCE - len(self.static), *state.shape[-2:])
        out = []
        for k in range(self.target_frames):
            t = self.context_frames + k
            frame = torch.cat([prev, static, cloud_free, weather[:, t]], dim=1)
            hc = self._step(frame, hc, t)
            prev = prev + hc[-2]  # the output cell's hidden state is the reflectance change
            out.append(prev)
        return torch.stack(out, dim=1)

    def forecast(self, x: torch.Tensor, aux: torch.Tensor | None) -> torch.Tensor:
        """``(N, T_c * C, H, W)``, ``(N, T_days * V)`` -> ``(N, T_t, 4, H, W)`` reflectance."""
        return self.decode(self.encode(x, aux), aux)

    @staticmethod
    def mean_ndvi(frames: torch.Tensor) -> torch.Tensor:
        """``(N, T, 4, H, W)`` (B2, B3, B4, B8A) -> mean NDVI ``(N, 1)``."""
        return ndvi(frames).mean(dim=(1, 2, 3)).unsqueeze(1)

    def _weather(self, aux: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """Weather ``(N, T_days * V)`` -> per frame on the grid ``(N, frames, days_per_frame * V, H, W)``, or
        ``(N, frames, V, H, W)`` (the frame's mean) with ``weather_variables``."""
        if aux is None:
            raise ValueError("the forecaster needs the weather as aux (N, days * variables)")
        frames = self.context_frames + self.target_frames
        days = aux.reshape(aux.shape[0], -1, self.weather_mean.shape[0])
        per_frame = ((days - self.weather_mean) / self.weather_std).reshape(aux.shape[0], frames, self.weather_per_frame)
        if self.weather_variables:  # the mean over each frame's days: (N, frames, V)
            per_frame = per_frame.reshape(aux.shape[0], frames, -1, self.weather_variables).mean(dim=2)
        return per_frame[:, :, :, None, None].expand(-1, -1, -1, *like.shape[-2:])

    def _step(self, frame: torch.Tensor, hc: list[torch.Tensor], t: int) -> list[torch.Tensor]:
        out, inp = [], frame
        for i, cell in enumerate(self.cells):
            h, c = cell(inp, hc[2 * i], hc[2 * i + 1], t)
            out += [h, c]
            inp = h
        return out

    def steps(self) -> list[tuple[str | None, Step]]:
        return [("deep", _Encode(self)), (None, _Decode(self))]
