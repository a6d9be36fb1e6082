"""The attribution method components (light module: torch code is imported inside ``attribute``).

Every method explains all classes of ``request.split`` at ``request.layer`` and returns raw
float32 values (no ReLU, no normalisation) of shape ``(N, K, H_l, W_l)``, the sum over the
layer's ``D_l`` channels of the per-element attribution, or ``(N, K, D_l, H_l, W_l)`` with
``keep_channels: true``.  Defaults are the harmonization paper's settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from xaibench.capabilities import NO_MODULE_HOOKS
from xaibench.components import AttributionMethod, AttributionRequest, ModelInfo
from xaibench.components import Params as BaseParams

if TYPE_CHECKING:
    import numpy as np


class LayerMethod(AttributionMethod):
    """Base of the built-in methods: the ``keep_channels`` param and the common request plumbing."""

    class Params(BaseParams):
        keep_channels: bool = False
        """Return ``(N, K, D_l, H_l, W_l)`` instead of summing over the layer's channels."""

    module_hooks: ClassVar[bool] = False
    """Whether the method rewrites backward rules through module hooks (a TorchScript graph takes none)."""

    def incompatibility(self, model_info: ModelInfo, layer: str) -> str | None:
        if self.module_hooks and NO_MODULE_HOOKS in model_info.provides:
            return f"{self.name} hooks the model's modules, which this model does not allow ({NO_MODULE_HOOKS})"
        return None

    def _prepare(self, request: AttributionRequest, layer: str | None = None):
        from .engine import prepare

        return prepare(request, layer)


class SlidingWindowOcclusion(LayerMethod):
    """Occlusion of sliding windows set to a constant (default: 8 x 8 tiles set to 0)."""

    name: ClassVar[str] = "sliding-window-occlusion"

    class Params(LayerMethod.Params):
        windows: int = Field(8, ge=1)
        """Tiles per side when ``window`` is unset (8 -> 64 non-overlapping equal tiles)."""
        window: int | None = Field(None, ge=1)
        """Square window side in layer pixels (SAR paper: 15); switches to window/stride mode."""
        stride: int | None = Field(None, ge=1)
        """Step between windows (SAR paper: 5); default: ``window``."""
        value: float = 0.0
        """Occlusion value, in feature units."""

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .occlusion import sliding_window_occlusion

        q = self.params
        return sliding_window_occlusion(self._prepare(request), q.keep_channels, q.windows, q.window, q.stride,
                                        q.value)


class KMeansOcclusion(LayerMethod):
    """Occlusion of k-means clusters of each image's layer feature vectors."""

    name: ClassVar[str] = "kmeans-occlusion"

    class Params(LayerMethod.Params):
        n_clusters: int = Field(64, ge=1)
        n_init: int = Field(1, ge=1)
        """k-means restarts (sklearn ``n_init``)."""
        value: float = 0.0

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .occlusion import kmeans_occlusion

        q = self.params
        return kmeans_occlusion(self._prepare(request), q.keep_channels, q.n_clusters, request.seed, q.n_init,
                                q.value)


class GradCam(LayerMethod):
    """Grad-CAM at the layer: channel-averaged gradients times the feature map, no ReLU."""

    name: ClassVar[str] = "grad-cam"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .gradients import grad_cam

        return grad_cam(self._prepare(request), self.params.keep_channels)


class GuidedGradCam(LayerMethod):
    """Guided Backprop at the layer times Grad-CAM at ``cam_layer`` resized to the layer."""

    module_hooks = True

    name: ClassVar[str] = "guided-grad-cam"

    class Params(LayerMethod.Params):
        cam_layer: str = "deep"
        """Where Grad-CAM is computed (at the explained layer itself when they are the same)."""
        relu_cam: bool = False
        """ReLU on the CAM as in the original paper and Captum's ``GuidedGradCam``; off = raw values."""
        interpolate_mode: Literal["nearest", "bilinear", "bicubic", "area"] = "nearest"

    def incompatibility(self, model_info: ModelInfo, layer: str) -> str | None:
        if why := super().incompatibility(model_info, layer):
            return why
        if self.params.cam_layer != layer and self.params.cam_layer not in model_info.layers:
            return f"guided-grad-cam needs the Grad-CAM layer {self.params.cam_layer!r}, which the model lacks"
        return None

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .rule_methods import guided_grad_cam

        q = self.params
        p = self._prepare(request)
        cam = p if q.cam_layer == request.layer else self._prepare(request, q.cam_layer)
        return guided_grad_cam(p, cam, q.keep_channels, q.relu_cam, q.interpolate_mode)


class GuidedBackprop(LayerMethod):
    """Guided Backpropagation: gradients with negative signals stopped at every ReLU."""

    module_hooks = True

    name: ClassVar[str] = "guided-backprop"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .rule_methods import guided_backprop

        return guided_backprop(self._prepare(request), self.params.keep_channels)


class Deconvolution(LayerMethod):
    """Deconvolution: ReLUs applied to the backward signal instead of the forward one."""

    module_hooks = True

    name: ClassVar[str] = "deconvolution"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .rule_methods import guided_backprop

        return guided_backprop(self._prepare(request), self.params.keep_channels, deconvolution=True)


class Saliency(LayerMethod):
    """Saliency: gradient of each logit at the layer (absolute value per element by default)."""

    name: ClassVar[str] = "saliency"

    class Params(LayerMethod.Params):
        absolute: bool = True
        """Absolute gradient per element before the channel sum (Captum's ``Saliency`` default)."""

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .gradients import saliency

        return saliency(self._prepare(request), self.params.keep_channels, self.params.absolute)


class GradientsXFeatures(LayerMethod):
    """Gradients x Features: layer features times the gradient of each logit."""

    name: ClassVar[str] = "gradients-x-features"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .gradients import gradients_x_features

        return gradients_x_features(self._prepare(request), self.params.keep_channels)


class LRP(LayerMethod):
    """Layer-wise Relevance Propagation with the epsilon rule (Captum's rules on the head).

    Residual sums and skip concatenations are supported: at ``z = a + b`` relevance is split in
    proportion to each branch's contribution (``R_a = a / z * R_z``, zennit's canonizer ``Sum``
    with its ``Norm`` rule); a concatenation routes each part's relevance to its branch
    (:mod:`.backward_rules` says how).
    """

    module_hooks = True

    name: ClassVar[str] = "lrp"

    class Params(LayerMethod.Params):
        epsilon: float = Field(1e-9, gt=0)
        """Stabiliser of the epsilon rule (Captum's default)."""

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .rule_methods import lrp

        return lrp(self._prepare(request), self.params.keep_channels, self.params.epsilon)


class IntegratedGradients(LayerMethod):
    """Integrated Gradients from a zero baseline at the layer (10 Gauss-Legendre steps)."""

    name: ClassVar[str] = "integrated-gradients"

    class Params(LayerMethod.Params):
        n_steps: int = Field(10, ge=1)
        method: Literal["gausslegendre", "riemann_left", "riemann_right", "riemann_middle",
                        "riemann_trapezoid"] = "gausslegendre"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .gradients import integrated_gradients

        q = self.params
        return integrated_gradients(self._prepare(request), q.keep_channels, q.n_steps, q.method)


class DeepLift(LayerMethod):
    """DeepLift (rescale rule) from a zero baseline at the layer."""

    module_hooks = True

    name: ClassVar[str] = "deeplift"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .rule_methods import deeplift

        return deeplift(self._prepare(request), self.params.keep_channels)


class GradientShap(LayerMethod):
    """Gradient-SHAP with baselines drawn from training features at the same layer."""

    name: ClassVar[str] = "gradient-shap"

    class Params(LayerMethod.Params):
        n_baselines: int = Field(10, ge=1)
        """Training samples whose layer features form the baseline distribution."""
        n_samples: int = Field(5, ge=1)
        """Noisy draws per explained sample, each with a random baseline and path point."""
        stdev: float = Field(0.01, ge=0)
        """Standard deviation of the Gaussian noise added to the features, in feature units."""
        baseline_split: str = "train"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .engine import training_baselines
        from .gradients import gradient_shap

        q = self.params
        p = self._prepare(request)
        base = training_baselines(request, request.layer, q.n_baselines, q.baseline_split, request.seed)
        return gradient_shap(p, base, q.keep_channels, q.n_samples, q.stdev, request.seed)


class DeepLiftShap(LayerMethod):
    """DeepLift-SHAP: DeepLift averaged over training features at the same layer as baselines."""

    module_hooks = True

    name: ClassVar[str] = "deeplift-shap"

    class Params(LayerMethod.Params):
        n_baselines: int = Field(10, ge=2)
        """Training samples used as baselines (Captum needs at least 2)."""
        baseline_split: str = "train"

    def attribute(self, request: AttributionRequest) -> np.ndarray:
        from .engine import training_baselines
        from .rule_methods import deeplift_shap

        q = self.params
        p = self._prepare(request)
        base = training_baselines(request, request.layer, q.n_baselines, q.baseline_split, request.seed)
        return deeplift_shap(p, base, q.keep_channels)


METHODS: tuple[type[LayerMethod], ...] = (
    SlidingWindowOcclusion,
    KMeansOcclusion,
    GradCam,
    GuidedGradCam,
    GuidedBackprop,
    Deconvolution,
    Saliency,
    GradientsXFeatures,
    LRP,
    IntegratedGradients,
    DeepLift,
    GradientShap,
    DeepLiftShap,
)
"""Every built-in method, in the harmonization paper's order."""
