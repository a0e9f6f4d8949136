"""A generator run on one tile with its normalisation statistics given from outside (tf_cyclegan.runtime.tiling).

The generator's own graph is run layer by layer (Keras' functional graph walk), each shared layer replaced
by the same normalisation with given statistics; the layer also reports the mean and variance of its input
over the tile's own region, from which tiling assembles the whole image's. Shared layers are parameter-free
instance norms and the reference's test-mode batch norm (tf_cyclegan.models.modes.ImageStatistics: each image's
statistics, then scale and shift); batch norm with running statistics already normalises alike everywhere.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tf_cyclegan.core.pixels import to_float
from tf_cyclegan.models.modes import ImageStatistics
from tf_cyclegan.models.networks import size_multiple_of
from tf_cyclegan.models.networks.layers import is_instance_norm


def shared_layers(generator: keras.Model) -> list[keras.layers.Layer]:
    """The layers whose statistics are an image's own, in graph order."""
    return [layer for layer in generator.layers if is_instance_norm(layer) or isinstance(layer, ImageStatistics)]


def widths(generator: keras.Model) -> list[int]:
    return [int(layer.input.shape[-1]) for layer in shared_layers(generator)]


def _region(x, core):
    """x's part inside core (top, left, bottom, right as fractions of its height and width)."""
    shape = tf.shape(x)
    size = tf.cast(tf.stack([shape[1], shape[2], shape[1], shape[2]]), tf.float32)
    box = tf.cast(tf.round(core * size), tf.int32)
    return x[:, box[0]:box[2], box[1]:box[3], :]


def _normalize(layer, x, given, core):
    """(normalised x, [mean, variance] of x: over the whole tile when given is None, else over core, or
    nothing when core is None). given: (mean, variance) [C] each, or None for the tile's own (the layer's
    usual maths). TF's fused batch-norm op normalises without the element-wise temporaries, the memory a
    thumbnail the size of a photo's megapixel needs."""
    x = tf.cast(x, tf.float32)
    c = tf.shape(x)[-1]
    scale, offset = (layer.gamma, layer.beta) if isinstance(layer, ImageStatistics) else (tf.ones([c]), tf.zeros([c]))
    scale, offset = tf.cast(scale, tf.float32), tf.cast(offset, tf.float32)
    if given is None:  # training mode over one image: its own statistics, which it also reports
        out = tf.raw_ops.FusedBatchNormV3(x=x, scale=scale, offset=offset, mean=tf.zeros([0]), variance=tf.zeros([0]),
                                          epsilon=layer.epsilon, is_training=True)
        n = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], tf.float32)
        # batch_variance is Bessel-corrected (for running averages); the normalisation used the biased one.
        return out.y, tf.concat([out.batch_mean, out.batch_variance * (n - 1.0) / tf.maximum(n, 2.0)], axis=0)
    mean, variance = given
    y = tf.raw_ops.FusedBatchNormV3(x=x, scale=scale, offset=offset, mean=mean, variance=variance,
                                    epsilon=layer.epsilon, is_training=False).y
    if core is None:
        return y, tf.zeros([0], tf.float32)
    return y, tf.concat(tf.nn.moments(_region(x, core), axes=[0, 1, 2]), axis=0)


def run_with_statistics(generator: keras.Model, images, statistics, core):
    """(generator(images) in [-1, 1], [mean, var] of each shared layer over core, concatenated; empty when
    core is None). images: float [1, h, w, 3]; statistics: the same layout as returned, or None for each
    tile's own (then reported over the whole tile)."""
    layers = shared_layers(generator)
    index = {id(layer): i for i, layer in enumerate(layers)}
    offsets = [0]
    for c in widths(generator):
        offsets.append(offsets[-1] + 2 * c)
    found = [None] * len(layers)

    def operation_fn(op):
        i = index.get(id(op))
        if i is None:
            return op
        c = (offsets[i + 1] - offsets[i]) // 2

        def normalize(x, *args, **kwargs):
            given = None if statistics is None else (statistics[offsets[i]:offsets[i] + c],
                                                     statistics[offsets[i] + c:offsets[i + 1]])
            y, found[i] = _normalize(op, x, given, core)
            return y
        return normalize

    # Function._run_through_graph is how Functional.call runs the graph; it lets one layer be swapped.
    y = generator._run_through_graph([images], operation_fn=operation_fn)
    return y, (tf.concat(found, axis=0) if found else tf.zeros([0], tf.float32))


FULL = (0.0, 0.0, 1.0, 1.0)  # a core that is the whole tile


def tile_endpoints(generator: keras.Model) -> dict:
    """{name: (function, input signature)} of the two tile functions, on one uint8 tile [h, w, 3]:
    tile_statistics(tile) translates it with its own statistics and returns them (the thumbnail's run);
    translate_tile(tile, statistics, core) translates it with the given statistics and returns its own over
    core (top, left, bottom, right as fractions). Both give "translated" as float32 [h, w, 3] in [-1, 1],
    for blending before rounding. The SavedModel exports them under these names."""
    size = sum(2 * c for c in widths(generator))

    def tile_statistics(tile):
        y, stats = run_with_statistics(generator, to_float(tile[None]), None,
                                       tf.constant(FULL))
        return {"translated": y[0], "statistics": stats}

    def translate_tile(tile, statistics, core):
        y, stats = run_with_statistics(generator, to_float(tile[None]), statistics, core)
        return {"translated": y[0], "statistics": stats}

    tile = tf.TensorSpec([None, None, 3], tf.uint8, name="tile")
    return {"tile_statistics": (tile_statistics, [tile]),
            "translate_tile": (translate_tile, [tile, tf.TensorSpec([size], tf.float32, name="statistics"),
                                                tf.TensorSpec([4], tf.float32, name="core")])}


def tiling_contract(generator: keras.Model) -> dict:
    """What a client of the tile endpoints needs: each shared layer's channel count, in the order of the
    statistics vector ([mean, variance] per layer), and the multiple the tile sides must be."""
    return {"norm_widths": widths(generator), "multiple": size_multiple_of(generator),
            "statistics": "float32 [sum of 2 x norm_widths]: per shared layer, its channels' means then variances"}


def _tiled(own, shared, norm_widths, multiple):
    from tf_cyclegan.runtime.tiling import TiledModel

    def run(tile, statistics, core):
        out = own(tile) if statistics is None else shared(tile, statistics, core)
        return np.asarray(out["translated"]), np.asarray(out["statistics"])

    return TiledModel(run, list(norm_widths), multiple)


def keras_tiled_model(generator: keras.Model):
    """tiling.TiledModel of a Keras generator (already in its inference mode); the blending pass, which
    needs no statistics back, runs a third function that computes none."""
    endpoints = tile_endpoints(generator)
    fns = {name: tf.function(fn, input_signature=spec) for name, (fn, spec) in endpoints.items()}

    @tf.function(input_signature=endpoints["translate_tile"][1][:2])
    def translate_only(tile, statistics):
        y, _ = run_with_statistics(generator, to_float(tile[None]), statistics, None)
        return {"translated": y[0], "statistics": tf.zeros([0], tf.float32)}

    return _tiled(fns["tile_statistics"], lambda t, s, c: translate_only(t, s) if c is None else
                  fns["translate_tile"](t, s, c), widths(generator), size_multiple_of(generator))


def saved_model_tiled_model(loaded, contract: dict):
    """tiling.TiledModel of an exported SavedModel, through its tile signatures; ModelError when the contract's
    layer widths do not add up to the statistics its translate_tile signature takes (a tampered file)."""
    from tf_cyclegan.core.errors import ModelError

    signatures = loaded.signatures
    own, shared = signatures["tile_statistics"], signatures["translate_tile"]
    spec = shared.structured_input_signature[1].get("statistics")
    size, widths = spec.shape[0] if spec is not None else None, contract["tiling"]["norm_widths"]
    if size is not None and size != 2 * sum(widths):
        raise ModelError(f"the export's tf_cyclegan.json: field 'tiling.norm_widths' adds up to {2 * sum(widths)} "
                         f"statistics, its SavedModel's translate_tile takes {size}; export the model again")
    return _tiled(lambda t: own(tile=tf.constant(t)),
                  lambda t, s, c: shared(tile=tf.constant(t), statistics=tf.constant(s),
                                         core=tf.constant(FULL if c is None else c, tf.float32)),
                  contract["tiling"]["norm_widths"], contract["tiling"]["multiple"])
