"""PatchNCE (Park, Efros, Zhang, Zhu 2020): a patch of the translation should be more like the patch of the
input at the same place than like the input's other patches.

For each chosen generator layer l, features of x (the keys) and of G(x) (the queries) are taken at the same
random locations, projected by a small MLP H_l and L2-normalised; each query's logits are its similarity
to its own key and to the keys at the image's other locations, over a temperature, and the loss is the
cross-entropy of picking its own key. A query's similarity to itself among the negatives is meaningless
and set to -10 before the temperature, as the reference does.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_cyclegan.models.networks.layers import conv_init

DIAGONAL = -10.0  # the reference's logit for a query against its own key among the negatives


def build_heads(channels: list[int], width: int = 256, init_type: str = "xavier", init_gain: float = 0.02,
                name: str = "H") -> keras.Model:
    """H: per layer, Linear(C_l, width) - ReLU - Linear(width, width) on [batch, patches, C_l] features. Made
    from the layers' channel counts when the model is made (the reference makes them on its first step), so
    that a checkpoint restores into them and their optimizer at once."""
    inputs, outputs = [], []
    for i, c in enumerate(channels):
        x = keras.Input((None, c), name=f"layer{i}")
        h = keras.layers.Dense(width, activation="relu", kernel_initializer=conv_init(init_type, init_gain),
                               name=f"mlp{i}_0")(x)
        outputs.append(keras.layers.Dense(width, kernel_initializer=conv_init(init_type, init_gain),
                                          name=f"mlp{i}_2")(h))
        inputs.append(x)
    return keras.Model(inputs, outputs, name=name)


def sample_locations(features: list[tf.Tensor], num_patches: int, rng: tf.random.Generator) -> list[tf.Tensor]:
    """For each layer's [B, H, W, C] features, min(num_patches, H*W) distinct flat locations, drawn without
    replacement; the same for every image of the batch, as the reference."""
    ids = []
    for f in features:
        count = tf.shape(f)[1] * tf.shape(f)[2]
        ids.append(tf.argsort(rng.uniform(tf.reshape(count, [1])))[:num_patches])
    return ids


def gather_patches(features: list[tf.Tensor], ids: list[tf.Tensor]) -> list[tf.Tensor]:
    """[B, H, W, C] features at flat locations ids: [B, P, C], in float32."""
    out = []
    for f, i in zip(features, ids):
        flat = tf.reshape(f, [tf.shape(f)[0], -1, f.shape[-1]])
        out.append(tf.cast(tf.gather(flat, i, axis=1), tf.float32))
    return out


def project(H: keras.Model, patches: list[tf.Tensor]) -> list[tf.Tensor]:
    """H_l of each layer's patches, L2-normalised as the reference (x / (|x| + 1e-7))."""
    projected = H(patches, training=True)
    projected = projected if isinstance(projected, (list, tuple)) else [projected]
    projected = [tf.cast(p, tf.float32) for p in projected]
    return [p / (tf.norm(p, axis=-1, keepdims=True) + 1e-7) for p in projected]


def patch_nce(query: tf.Tensor, key: tf.Tensor, temperature: float = 0.07,
              all_negatives: bool = False) -> tf.Tensor:
    """The per-patch loss, [B * P], of [B, P, D] queries against their keys (no gradient through the keys).
    Negatives are the other patches of the same image, or of the whole batch with all_negatives."""
    query, key = tf.cast(query, tf.float32), tf.stop_gradient(tf.cast(key, tf.float32))
    positive = tf.reshape(tf.reduce_sum(query * key, axis=-1), [-1, 1])
    if all_negatives:
        query, key = tf.reshape(query, [1, -1, query.shape[-1]]), tf.reshape(key, [1, -1, key.shape[-1]])
    negative = tf.matmul(query, key, transpose_b=True)  # [b, n, n]
    n = tf.shape(negative)[-1]
    negative = tf.where(tf.eye(n, dtype=tf.bool)[None], DIAGONAL, negative)
    logits = tf.concat([positive, tf.reshape(negative, [-1, n])], axis=1) / temperature
    return tf.reduce_logsumexp(logits, axis=1) - logits[:, 0]


def patch_nce_loss(queries: list[tf.Tensor], keys: list[tf.Tensor], weight: float, temperature: float = 0.07,
                   all_negatives: bool = False) -> tf.Tensor:
    """λ_NCE times the mean over patches, averaged over layers: the reference's calculate_NCE_loss."""
    per_layer = [tf.reduce_mean(patch_nce(q, k, temperature, all_negatives)) for q, k in zip(queries, keys)]
    return weight * tf.add_n(per_layer) / len(per_layer)
