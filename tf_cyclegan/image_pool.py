"""History of generated images (Shrivastava et al.), so discriminators also see older fakes.

Unlike the reference's Python list, the pool lives in tf.Variables: it runs inside the compiled train step,
and a checkpoint saves and restores it, so a resumed run sees the same history it would have seen.
"""

from __future__ import annotations

import tensorflow as tf


class ImagePool(tf.Module):
    """query() semantics of the reference: while the pool is filling, store and return each image; once
    full, with probability 1/2 return a random stored image and store the new one in its place,
    otherwise return the new image.

    With `variable_size`, images may differ in size from step to step (--preprocess none or scale_width,
    batch size 1): each is stored padded to image_shape, the largest size, next to its own size, and
    comes back cut to that size, as the reference's list would return it.
    """

    def __init__(self, pool_size: int, image_shape, name: str | None = None, variable_size: bool = False):
        super().__init__(name=name)
        self.pool_size = int(pool_size)
        slots = max(self.pool_size, 1)
        self.images = tf.Variable(tf.zeros([slots, *image_shape]), trainable=False, name="images")
        self.count = tf.Variable(0, dtype=tf.int32, trainable=False, name="count")
        self.sizes = (tf.Variable(tf.zeros([slots, 2], tf.int32), trainable=False, name="sizes")
                      if variable_size else None)

    def propose(self, images, rng: tf.random.Generator):
        """(images for the discriminator, the pool's next state) without changing the pool, so that a
        train step can drop the change when it skips a non-finite update."""
        stored, count = tf.identity(self.images), tf.identity(self.count)
        sizes = None if self.sizes is None else tf.identity(self.sizes)
        if self.pool_size == 0:
            return images, (stored, count, sizes)
        out = []
        for i in range(images.shape[0]):  # the batch size is static inside the train step
            image = images[i]
            filling = count < self.pool_size
            swap = tf.logical_and(tf.logical_not(filling), rng.uniform([]) > 0.5)
            slot = tf.where(filling, count, rng.uniform([], 0, self.pool_size, dtype=tf.int32))
            store = tf.logical_or(filling, swap)
            if sizes is None:
                old = stored[slot]
                out.append(tf.where(swap, old, image))
                stored = tf.tensor_scatter_nd_update(stored, [[slot]], tf.where(store, image, old)[None])
            else:
                size, old_size = tf.shape(image)[:2], sizes[slot]
                old = stored[slot, :old_size[0], :old_size[1]]
                out.append(tf.cond(swap, lambda: old, lambda: image))
                padding = [[0, stored.shape[1] - size[0]], [0, stored.shape[2] - size[1]], [0, 0]]
                keep = tf.where(store, tf.pad(image, padding), stored[slot])
                stored = tf.tensor_scatter_nd_update(stored, [[slot]], keep[None])
                sizes = tf.tensor_scatter_nd_update(sizes, [[slot]], tf.where(store, size, old_size)[None])
            count = tf.where(filling, count + 1, count)
        return tf.stack(out), (stored, count, sizes)

    def commit(self, state):
        stored, count, sizes = state
        self.images.assign(stored)
        self.count.assign(count)
        if sizes is not None:
            self.sizes.assign(sizes)

    def query(self, images, rng: tf.random.Generator):
        """propose() and commit() in one: the reference's ImagePool.query."""
        out, state = self.propose(images, rng)
        self.commit(state)
        return out
