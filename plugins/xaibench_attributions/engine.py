"""Shared torch machinery of every method: split the model, run the body once, chunk the head's work.

The design that makes attributions fast: the body (everything before the explained
layer) runs once per sample without a graph; every method then differentiates or
perturbs only the head, for all classes of a chunk at once.  Chunks are sized from a
measurement of what one head forward keeps for backward, so a chunk stays under
``AttributionRequest.memory_budget_mb`` on CPU, or a share of the free memory of a GPU.  On a
GPU inputs go up through pinned memory and maps come down once, into one preallocated host
array (:func:`gather`), without a synchronisation per chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from xaibench.components import AttributionRequest

Head = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclass
class Prepared:
    """A request turned into tensors.

    ``feats``: the explained layer's features ``(N, D, H, W)`` (detached, float32);
    ``aux``: ``(N, A)`` or ``None``; ``head(feats, aux)`` -> logits ``(N, K)``;
    ``row_bytes``: measured bytes one head forward+backward of one sample holds;
    ``chunk_bytes``: what one chunk of head work may use (:func:`chunk_bytes`);
    ``offset``: the index in its split of the first sample (per-sample randomness is seeded
    by the index in the split, so that it does not depend on how the engine chunks the split).
    """

    head: nn.Module
    feats: torch.Tensor
    aux: torch.Tensor | None
    n_classes: int
    row_bytes: int
    chunk_bytes: int
    device: torch.device
    offset: int = 0
    _logits: torch.Tensor | None = None

    @property
    def n(self) -> int:
        return self.feats.shape[0]

    @property
    def logits(self) -> torch.Tensor:
        """``head(feats, aux)`` without graph, ``(N, K)`` float32 (computed once, on first use)."""
        if self._logits is None:
            size = self.rows_per_chunk(1)
            with torch.no_grad():
                self._logits = torch.cat([self.head(self.feats[s], take(self.aux, s)).float()
                                          for s in sample_chunks(self.n, size)])
        return self._logits

    def rows_per_chunk(self, rows_per_item: int = 1, extra_bytes_per_item: int = 0) -> int:
        """How many items fit in the budget when each item costs ``rows_per_item`` head rows."""
        per_item = rows_per_item * self.row_bytes + extra_bytes_per_item
        return max(1, self.chunk_bytes // max(per_item, 1))


def model_device(model: object) -> torch.device:
    """Device of the model's first parameter (CPU for a parameter-less model)."""
    params = getattr(model, "parameters", None)
    if params is not None:
        for p in params():
            return p.device
    return torch.device("cpu")


def split_arrays(request: AttributionRequest, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``x`` ``(N, C, H, W)`` and ``aux`` ``(N, A)`` (or ``None``) of ``split`` as float32 tensors."""
    x = torch.from_numpy(np.ascontiguousarray(request.data[f"{split}/x"], dtype=np.float32))
    aux_name = f"{split}/aux"
    aux = None
    if aux_name in request.data:
        aux = torch.from_numpy(np.ascontiguousarray(request.data[aux_name], dtype=np.float32))
    return x, aux


def take(aux: torch.Tensor | None, index: torch.Tensor | slice) -> torch.Tensor | None:
    """``aux[index]`` that tolerates a missing aux."""
    return None if aux is None else aux[index]


def saved_bytes(fn: Callable[[], torch.Tensor]) -> tuple[int, torch.Tensor]:
    """Bytes autograd keeps for backward while running ``fn`` (plus its output), and the output
    (detached: the probe's graph is not for backward).

    Storage shared between saved tensors is counted once.  Used as the per-row cost
    of a head so that chunks can be sized without trial and error.
    """
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> None:
        try:
            key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            seen[key] = t.untyped_storage().nbytes()
        except (RuntimeError, NotImplementedError):  # tensors without storage (views of subclasses)
            seen[(id(t), 0)] = t.numel() * t.element_size()
        # Nothing is kept: a pack hook that returns the tensor itself makes a node that saves its
        # own output hold it, a reference cycle through C++ that Python's collector cannot free;
        # it leaked the probe's input, a view that pinned a whole chunk of samples per call.

    def unpack(_: None) -> torch.Tensor:
        raise RuntimeError("saved_bytes measures a graph; it cannot be differentiated")

    with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
        out = fn()
    return sum(seen.values()) + out.numel() * out.element_size(), out.detach()


@contextlib.contextmanager
def frozen_parameters(*modules: object) -> Iterator[None]:
    """Temporarily stop parameters from requiring grad.

    Attribution needs gradients with respect to features only; with parameters that
    require grad, autograd also saves and computes what weight gradients need (the
    head's class loop of UH-Net measured 1.5x slower).
    """
    params = []
    for m in modules:
        if isinstance(m, nn.Module):
            params.extend(p for p in m.parameters() if p.requires_grad)
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def run_body(body: nn.Module, x: torch.Tensor, aux: torch.Tensor | None, budget_bytes: int,
             device: torch.device) -> torch.Tensor:
    """Features of ``x`` at the layer, ``(N, D, H, W)``, in budget-sized chunks, without graph."""
    x0 = x[:1].clone().to(device).requires_grad_(True)  # a copy: the probe never pins the chunk
    a0 = None if aux is None else aux[:1].to(device)
    per_sample, _ = saved_bytes(lambda: body(x0, a0))
    chunk = max(1, budget_bytes // max(per_sample, 1))
    feats = None
    with torch.no_grad():
        for s in range(0, x.shape[0], chunk):
            out = body(to_device(x[s:s + chunk], device), None if aux is None else to_device(aux[s:s + chunk], device))
            if feats is None:  # filled in place: no second copy of the features as torch.cat would make
                feats = torch.empty((x.shape[0], *out.shape[1:]), dtype=torch.float32, device=out.device)
            feats[s:s + out.shape[0]] = out
    return feats


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``; to CUDA through pinned memory without blocking the host, so that the
    host prepares the next chunk while the GPU computes (on CPU: ``t`` itself)."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def device_free_bytes(device: torch.device) -> int:
    """Free memory of a CUDA ``device``: the driver's free bytes plus torch's cached, unused blocks."""
    free, _ = torch.cuda.mem_get_info(device)
    return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))


def prepare_features(request: AttributionRequest, layer: str, split: str) -> tuple[
        nn.Module, torch.Tensor, torch.Tensor | None]:
    """``(head, feats, aux)`` of ``split`` at ``layer``: the body runs once, without graph."""
    model = request.model
    body, head = model.split(layer)
    device = model_device(model)
    x, aux = split_arrays(request, split)
    with frozen_parameters(body):
        feats = run_body(body, x, aux, work_bytes(request), device)
    return head, feats, (None if aux is None else aux.to(device))


CPU_CHUNK_BYTES = 16 * 2**20
"""On CPU a chunk stays this small even under a larger budget.  Large chunks made glibc's malloc
hand out fresh mmaps (page faults) for most big tensors and missed the caches: on UH-Net (32
images, one core) Integrated Gradients took 1.8 s with 2 GiB chunks and 0.8 s with 16 MiB ones,
occlusion 1.1 s with 64 MiB chunks and 0.6 s.  Methods with one forward per chunk lose up to 10 %;
16 MiB gave the smallest summed time of nine methods, against 4, 8 and 32 MiB."""


DEVICE_FRACTION = 0.5
"""On a GPU a chunk may use this share of the device's free memory (torch's cached blocks included);
the rest covers what the per-row measurement misses (backward's temporaries).  The request's
``memory_budget_mb`` is a host budget, sized for a CPU: on a GPU it gave chunks too small to keep
the device busy, and a chunk's work lives in device memory anyway."""


def budget_bytes(request: AttributionRequest) -> int:
    """The request's memory budget in bytes."""
    return int(request.memory_budget_mb) * 2**20


def work_bytes(request: AttributionRequest) -> int:
    """Bytes one chunk of body work may use: the request's budget, or on CUDA
    :data:`DEVICE_FRACTION` of the device's free memory."""
    device = model_device(request.model)
    if device.type != "cuda":
        return budget_bytes(request)
    return int(DEVICE_FRACTION * device_free_bytes(device))


def chunk_bytes(request: AttributionRequest) -> int:
    """Bytes one chunk of head work may use: :func:`work_bytes`, capped at :data:`CPU_CHUNK_BYTES` on CPU."""
    budget = work_bytes(request)
    return min(budget, CPU_CHUNK_BYTES) if model_device(request.model).type == "cpu" else budget


def prepare(request: AttributionRequest, layer: str | None = None) -> Prepared:
    """Split the model at ``layer`` (default: the request's), run the body once, probe the head."""
    layer = request.layer if layer is None else layer
    head, feats, aux = prepare_features(request, layer, request.split)
    device = model_device(request.model)
    f0 = feats[:1].clone().requires_grad_(True)
    with frozen_parameters(head):
        row, logits = saved_bytes(lambda: head(f0, take(aux, slice(0, 1))))
    # one row also holds its input, the input's gradient and the attribution
    row += 3 * f0.numel() * f0.element_size()
    return Prepared(head, feats, aux, logits.shape[1], row, chunk_bytes(request), device, request.offset)


def sample_chunks(n: int, size: int) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` of at most ``size`` items."""
    for s in range(0, n, size):
        yield slice(s, min(n, s + size))


def reduce_channels(attr: torch.Tensor, keep_channels: bool) -> torch.Tensor:
    """``(..., D, H, W)`` per-element attributions -> summed over ``D`` unless kept."""
    return attr if keep_channels else attr.sum(dim=-3)


def class_gradients(head: Head, feats: torch.Tensor, aux: torch.Tensor | None, n_classes: int,
                    combine: Callable[[torch.Tensor, int], torch.Tensor] | None = None) -> torch.Tensor:
    """Gradients of every logit with respect to ``feats`` ``(R, D, H, W)``: ``(R, K, D, H, W)``.

    One forward, then one backward per class reusing the graph.  Summing a logit over
    the batch is exact because rows do not interact in an eval-mode model.  The loop is
    the clearest way and works with every op and module hook; ``is_grads_batched``
    (vmap over the backward) measured 2x slower on UH-Net's head on CPU.  ``combine(g, k)``
    maps class ``k``'s ``(R, D, H, W)`` gradient to what is kept (``(n, ...)``), so
    that all classes' raw gradients are never held at once.
    """
    f = feats.detach().requires_grad_(True)
    out = head(f, aux)
    grads = []
    for k in range(n_classes):
        (g,) = torch.autograd.grad(out[:, k].sum(), f, retain_graph=k < n_classes - 1)
        grads.append(g if combine is None else combine(g, k))
    return torch.stack(grads, dim=1)


def per_sample_gradient_chunks(p: Prepared, rows_per_sample: int = 1, keep_channels: bool = True) -> Iterator[slice]:
    """Sample chunks for :func:`class_gradients`-style work: a graph of ``rows_per_sample`` head
    rows per sample, plus the attributions kept for every class."""
    d, h, w = p.feats.shape[1:]
    kept_per_sample = p.n_classes * (d if keep_channels else 1) * h * w * 4
    return sample_chunks(p.n, p.rows_per_chunk(rows_per_sample, kept_per_sample))


def map_sample_chunks(p: Prepared, per_chunk: Callable[[slice], torch.Tensor], rows_per_sample: int = 1,
                      keep_channels: bool = True) -> np.ndarray:
    """Concatenate ``per_chunk(samples) -> (n, K, ...)`` over budget-sized sample chunks, with the
    head's parameters frozen; float32 numpy ``(N, K, ...)``."""
    with frozen_parameters(p.head):
        return gather(p.n, (per_chunk(sl) for sl in per_sample_gradient_chunks(p, rows_per_sample, keep_channels)))


def gather(n: int, parts: Iterable[torch.Tensor]) -> np.ndarray:
    """Chunks ``(n_i, ...)`` of ``n`` rows in all, in order, as one float32 numpy array ``(n, ...)``.

    The array is allocated once the first chunk's shape is known and filled chunk by chunk, rather
    than ``torch.cat`` of host copies (a second copy of every map).  From CUDA the chunks go into
    pinned host memory with asynchronous copies, the next chunk computing meanwhile, and the
    stream is synchronised once at the end: a copy into pageable memory blocks the host and ran at
    a fraction of the bus's speed (29 of Grad-CAM's 62 ms on an H200).  On CPU this is a plain copy,
    bit-identical to the concatenation.
    """
    out: torch.Tensor | None = None
    stream = None
    start = 0
    for part in parts:
        part = part.detach().float()
        if out is None:
            out = torch.empty((n, *part.shape[1:]), dtype=torch.float32, pin_memory=part.is_cuda)
        if part.is_cuda:
            stream = torch.cuda.current_stream(part.device)
        out[start:start + part.shape[0]].copy_(part, non_blocking=part.is_cuda)
        start += part.shape[0]
    if out is None or start != n:
        raise ValueError(f"attribution chunks hold {start} samples, expected {n}")
    if stream is not None:
        stream.synchronize()
    return out.numpy()


def baseline_indices(n_available: int, n_baselines: int, seed: int) -> np.ndarray:
    """Which training samples serve as SHAP baselines: ``min(n_baselines, n_available)`` distinct
    indices, sorted, drawn under ``seed``."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_available, size=min(n_baselines, n_available), replace=False))


def training_baselines(request: AttributionRequest, layer: str, n_baselines: int, split: str,
                       seed: int) -> torch.Tensor:
    """Features ``(B, D, H, W)`` at ``layer`` of ``B`` samples of ``split`` drawn under ``seed``.

    Drawn from the whole split, also when the request explains a chunk of it; only those samples
    are read (the split may be lazy: see ``Bundle.rows``)."""
    data = request.data.whole
    rows = data.rows(f"{split}/x")
    idx = baseline_indices(len(rows), n_baselines, seed)
    x = torch.from_numpy(np.ascontiguousarray(rows[idx], dtype=np.float32))
    aux_name = f"{split}/aux"
    aux = (torch.from_numpy(np.ascontiguousarray(data.rows(aux_name)[idx], dtype=np.float32))
           if aux_name in data else None)
    body, _ = request.model.split(layer)
    with frozen_parameters(body):
        return run_body(body, x, aux, work_bytes(request), model_device(request.model))
