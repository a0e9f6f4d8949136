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

    def propose(self, images, rng: tf.random.Generator):
        """(images for the discriminator, the pool's next state) without changing the pool, so that a
        train step can drop the change when it skips a non-finite update."""
        stored, count = tf.identity(self.images), tf.identity(self.count)
        if self.pool_size == 0:
            return images, (stored, count)
        out = []
        for i in range(images.shape[0]):  # the batch size is static inside the train step
            image = images[i]
            filling = count < self.pool_size
            swap = tf.logical_and(tf.logical_not(filling), rng.uniform([]) > 0.5)
            slot = tf.where(filling, count, rng.uniform([], 0, self.pool_size, dtype=tf.int32))
            old = stored[slot]
            out.append(tf.where(swap, old, image))
            keep = tf.where(tf.logical_or(filling, swap), image, old)
            stored = tf.tensor_scatter_nd_update(stored, [[slot]], keep[None])
            count = tf.where(filling, count + 1, count)
        return tf.stack(out), (stored, count)

    def commit(self, state):
        stored, count = state
        self.images.assign(stored)
        self.count.assign(count)

    def query(self, images, rng: tf.random.Generator):
        """propose() and commit() in one: the reference's ImagePool.query."""
        out, state = self.propose(images, rng)
        self.commit(state)
        return out
