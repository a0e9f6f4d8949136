"""History of generated images (Shrivastava et al.), so discriminators also see older fakes.

Unlike the reference's Python list, the pool lives in tf.Variables: it runs inside the compiled train step,
and a checkpoint saves and restores it, so a resumed run sees the same history it would have seen.
"""

from __future__ import annotations

import tensorflow as tf


class ImagePool(tf.Module):
    """query() semantics of the reference: while the pool is filling, store and return each image; once
    full, with probability 1/2 return a random stored image and store the new one in its place,
    otherwise return the new image."""

    def __init__(self, pool_size: int, image_shape, name: str | None = None):
        super().__init__(name=name)
        self.pool_size = int(pool_size)
        self.images = tf.Variable(tf.zeros([max(self.pool_size, 1), *image_shape]), trainable=False,
                                  name="images")
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name="count")

    def query(self, images, rng: tf.random.Generator):
        if self.pool_size == 0:
            return images
        out = []
        for i in range(images.shape[0]):  # the batch size is static inside the train step
            image = images[i]
            filling = self.count < self.pool_size
            swap = tf.logical_and(tf.logical_not(filling), rng.uniform([]) > 0.5)
            slot = tf.where(filling, self.count,
                            rng.uniform([], 0, self.pool_size, dtype=tf.int32))
            stored = self.images[slot]
            out.append(tf.where(swap, stored, image))
            keep = tf.where(tf.logical_or(filling, swap), image, stored)
            self.images.scatter_nd_update([[slot]], keep[None])
            self.count.assign(tf.where(filling, self.count + 1, self.count))
        return tf.stack(out)
