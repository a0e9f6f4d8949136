"""What a generator costs: multiply-accumulates (MACs) per image and parameters, counted as GAN Compression
and the issue tracker count them: TensorFlow's profiler statistics of the convolutions alone (regular,
depthwise and transposed), half their floating-point operations."""

from __future__ import annotations

CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput")


def generator_costs(generator, height: int = 256, width: int = 256) -> dict:
    """{"macs": multiply-accumulates for one height x width image, "parameters": the weights' count}."""
    import tensorflow as tf
    from tensorflow.python.framework import ops
    from tensorflow.python.util import deprecation

    traced = tf.function(lambda x: generator(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, height, width, generator.input.shape[-1]], tf.float32))
    with deprecation.silence():  # the profiler's statistics are TF1's API, and say so on every call
        flops = sum(int(ops.get_stats_for_node_def(traced.graph, op.node_def, "flops").value or 0)
                    for op in traced.graph.get_operations() if op.type in CONVOLUTIONS)
    return {"macs": flops // 2, "parameters": int(generator.count_params())}
