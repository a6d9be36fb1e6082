"""The conformance checks accept well-behaved components and name each broken rule with its fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xaibench.testing import (
    ConformanceError,
    Scenario,
    check_attribution,
    check_dataset,
    check_metric,
    check_model,
    check_postprocessor,
    make_bundle,
    scenario,
)
from xaibench.testing.conformance.common import cuda_available

from . import broken

EXAMPLE_SRC = Path(__file__).parents[1] / "third_party_plugin"


def failures(excinfo) -> dict[str, str]:
    """check name -> message of a ConformanceError."""
    return {f.check: f.message + " | " + f.fix for f in excinfo.value.failures}


def checks_failing(excinfo) -> set[str]:
    return {name.split(": ")[-1] for name in failures(excinfo)}


# -- attribution -------------------------------------------------------------------------------
def test_well_behaved_method_passes_on_both_scenarios_and_layers():
    report = check_attribution(broken.GoodMethod)
    for tag in ("multiband/input", "multiband/deep", "multimodal/input", "multimodal/deep"):
        assert f"{tag}: layer size" in report.passed
        assert f"{tag}: deterministic under a seed" in report.passed
    assert not report.failures


@pytest.mark.skipif(cuda_available(), reason="checks the skip without CUDA")
def test_gpu_parity_is_skipped_without_cuda():
    report = check_attribution(broken.GoodMethod, scenarios=["multiband"])
    assert ("multiband/input: cpu/gpu parity", "CUDA not available") in report.skipped


@pytest.mark.skipif(not cuda_available(), reason="needs CUDA")
def test_gpu_parity_runs_with_cuda():
    report = check_attribution(broken.GoodMethod, scenarios=["multiband"])
    assert "multiband/input: cpu/gpu parity" in report.passed


def test_edge_detector_ignores_the_class_unless_declared(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    from xaibench_example.components import EdgeDetector

    class ClaimsClasses(EdgeDetector):
        """The edge detector, wrongly claiming to explain each class."""

        class_specific = True

    with pytest.raises(ConformanceError) as exc:
        check_attribution(ClaimsClasses)
    assert checks_failing(exc) == {"depends on the class"}
    assert "ignores the class" in str(exc.value) and "class_specific = False" in str(exc.value)
    # the example declares class_specific = False, and only explains the input: deep layers are skipped
    report = check_attribution(EdgeDetector)
    assert ("multiband/deep", "example-edge only explains the input layer") in report.skipped


@pytest.mark.parametrize(
    ("cls", "failing", "phrase"),
    [
        (broken.IgnoresLayer, {"layer size"}, "explained the input instead"),
        (broken.GlobalRng, {"deterministic under a seed"}, "request.seed"),
        (broken.NanOnZero, {"all-zero input"}, "NaN"),
        (broken.Float64, {"dtype"}, "float64"),
        (broken.OneClass, {"all classes at once"}, "1 map(s) per sample"),
        (broken.MutatesInput, {"input untouched"}, "in place"),
        (broken.AcceptsUnknownParams, {"params reject unknown keys"}, "extra='forbid'"),
        (broken.IncompatibleWithAll, {"capabilities"}, "incompatible with every layer"),
        (broken.NeedsClouds, {"capabilities"}, "incompatible with every layer"),
    ],
)
def test_broken_methods_are_named_with_a_fix(cls, failing, phrase):
    with pytest.raises(ConformanceError) as exc:
        check_attribution(cls, scenarios=["multiband"])
    assert checks_failing(exc) == failing, str(exc.value)
    assert phrase in str(exc.value)
    assert "fix:" in str(exc.value)


def test_a_custom_scenario_supplies_its_own_data():
    base = scenario("multiband", n_classes=3)
    data = make_bundle(base, n=2, size=8, seed=5)
    custom = Scenario.from_bundle("mine", data)
    report = check_attribution(broken.GoodMethod, scenarios=[custom])
    assert "mine/deep: layer size" in report.passed and custom.info.n_classes == 3


# -- metric --------------------------------------------------------------------------------------
def test_well_behaved_metric_passes():
    report = check_metric(broken.GoodMetric, scenarios=["multiband"])
    assert "multiband/deep: deterministic under a seed" in report.passed


@pytest.mark.parametrize(
    ("cls", "failing", "phrase"),
    [
        (broken.InfMetric, {"all-zero input"}, "inf"),
        (broken.NoisyMetric, {"deterministic under a seed"}, "ctx.seed"),
        (broken.TupleMetric, {"MetricValue records"}, "MetricValue"),
        (broken.WrongMemberMetric, {"group members"}, "not-in-group"),
        (broken.StringDirectionMetric, {"directions"}, "'lower'"),
    ],
)
def test_broken_metrics_are_named(cls, failing, phrase):
    with pytest.raises(ConformanceError) as exc:
        check_metric(cls, scenarios=["multiband"], layers=["input"])
    assert checks_failing(exc) == failing, str(exc.value)
    assert phrase in str(exc.value)


# -- dataset --------------------------------------------------------------------------------------
def test_well_behaved_dataset_passes():
    report = check_dataset(broken.GoodDataset)
    assert {"test: x layout", "test: mask", "varies_with_seed() matches the data"} <= set(report.passed)


@pytest.mark.parametrize(
    ("params", "failing", "phrase"),
    [
        ({"lie_about_seed": True}, {"varies_with_seed() matches the data"}, "are identical"),
        ({"drop_mask": True}, {"mask"}, "provides 'mask'"),
        ({"float64": True}, {"x layout"}, "float64"),
    ],
)
def test_broken_datasets_are_named(params, failing, phrase):
    with pytest.raises(ConformanceError) as exc:
        check_dataset(broken.GoodDataset, params)
    assert checks_failing(exc) == failing, str(exc.value)
    assert phrase in str(exc.value)


# -- model --------------------------------------------------------------------------------------
def test_well_behaved_model_passes():
    report = check_model(broken.GoodModel, size=16)
    assert "multimodal/deep: head(body(x)) == model(x)" in report.passed
    assert "multiband: deterministic under a seed" in report.passed


@pytest.mark.parametrize(
    ("flaw", "failing", "phrase"),
    [
        # dropout in train mode also makes head(body(x)) differ from a second model(x)
        ("dropout", {"eval mode", "head(body(x)) == model(x)"}, "net.eval()"),
        ("bad-head", {"head(body(x)) == model(x)"}, "differs from model(x, aux)"),
        ("global-rng", {"deterministic under a seed"}, "two trainings"),
        # the grid's Guided Backprop/LRP crashed on these ("... is a view and is being modified inplace")
        ("inplace-relu", {"module hooks"}, "nn.ReLU(inplace=False)"),
        ("shared-relu", {"module hooks"}, "the head calls ReLU more than once per forward pass"),
        ("scripted-head", {"module hooks"}, "declare xaibench.capabilities.NO_MODULE_HOOKS"),
    ],
)
def test_broken_models_are_named(flaw, failing, phrase):
    with pytest.raises(ConformanceError) as exc:
        check_model(broken.GoodModel, {"flaw": flaw}, scenarios=["multiband"], size=16)
    assert checks_failing(exc) == failing, str(exc.value)
    assert phrase in str(exc.value)


def test_a_model_without_module_hooks_that_declares_it_passes():
    report = check_model(broken.GoodModel, {"flaw": "scripted-declared"}, scenarios=["multiband"], size=16)
    assert "multiband/deep: head(body(x)) == model(x)" in report.passed


# -- post-processor -----------------------------------------------------------------------------
def test_well_behaved_postprocessor_passes():
    report = check_postprocessor(broken.GoodPost)
    assert {"per-channel: shape", "channel-summed: all-zero attributions"} <= set(report.passed)


@pytest.mark.parametrize(
    ("cls", "failing", "phrase"),
    [
        (broken.MaxNormalise, {"all-zero attributions"}, "NaN"),
        (broken.Pools, {"shape"}, "changed the shape"),
        (broken.InPlace, {"input untouched"}, "in place"),
        (broken.ChannelSummedOnly, {"apply()"}, "keep_channels"),
    ],
)
def test_broken_postprocessors_are_named(cls, failing, phrase):
    with pytest.raises(ConformanceError) as exc:
        check_postprocessor(cls)
    assert checks_failing(exc) == failing, str(exc.value)
    assert phrase in str(exc.value)


def test_conformance_error_is_an_assertion_error_naming_the_component():
    with pytest.raises(AssertionError, match=r"postprocessor 'pools' \(\S*broken\.Pools\)"):
        check_postprocessor(broken.Pools)


def test_kit_imports_no_builtin_plugin():
    import subprocess

    code = ("import sys, xaibench.testing, xaibench.testing.pytest_plugin; "
            "bad = [m for m in sys.modules if m.startswith(('xaibench_', 'torch'))]; print(bad); assert not bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
