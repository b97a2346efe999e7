"""``unfuse_skip_layer_norm``: onnxruntime's fused SkipLayerNormalization rewritten as Add (+ bias Add) +
LayerNormalization computes the same values, including the residual sum output other nodes read."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from vecbridge.encoders.onnx_export import unfuse_skip_layer_norm  # noqa: E402
from vecbridge.encoders.onnx_runtime import DISABLED_OPTIMIZERS  # noqa: E402

LENGTH, HIDDEN = 7, 16


def graph(with_bias: bool) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(HIDDEN).astype(np.float32), n) for n in ("g", "b", "bias")]
    inputs = ["x", "s", "g", "b"] + (["bias"] if with_bias else [])
    nodes = [
        helper.make_node("SkipLayerNormalization", inputs, ["y", "", "", "sum"], domain="com.microsoft", epsilon=1e-5),
        helper.make_node("Mul", ["sum", "y"], ["z"]),  # a later node reads the residual sum
    ]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, LENGTH, HIDDEN]) for n in ("x", "s", "y", "z")]
    return helper.make_model(
        helper.make_graph(nodes, "skip", io[:2], io[2:], weights),
        ir_version=8,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
    )


def run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS
    )
    return session.run(None, feeds)


@pytest.mark.parametrize("with_bias", [True, False])
def test_unfused_graph_computes_the_same_outputs(with_bias: bool) -> None:
    rng = np.random.default_rng(1)
    feeds = {n: rng.standard_normal((1, LENGTH, HIDDEN)).astype(np.float32) for n in ("x", "s")}
    fused = graph(with_bias)
    want = run(fused, feeds)
    unfused = unfuse_skip_layer_norm(graph(with_bias))
    ops = [n.op_type for n in unfused.graph.node]
    assert "SkipLayerNormalization" not in ops and ops.count("Add") == (2 if with_bias else 1)
    onnx.checker.check_model(unfused)
    for got, expected in zip(run(unfused, feeds), want, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_a_graph_reading_mean_or_inv_std_is_refused_and_left_as_it_was() -> None:
    model = graph(with_bias=False)
    fused = model.graph.node[0]
    fused.output[1] = "mean"  # a later node would read the LayerNorm mean: Add + LayerNormalization cannot give it
    before = model.SerializeToString()
    with pytest.raises(ValueError, match="mean/inv_std outputs are used; not rewritten"):
        unfuse_skip_layer_norm(model)
    assert model.SerializeToString() == before
