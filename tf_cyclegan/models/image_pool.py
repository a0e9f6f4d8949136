"""History of generated images (Shrivastava et al.), so discriminators also see older fakes.

Unlike the reference's Python list, the pool lives in tf.Variables: it runs inside the compiled train step,
and a checkpoint saves and restores it, so a resumed run sees the same history it would have seen.

Under a tf.distribute strategy each replica keeps its own pool (as each process of a PyTorch DDP run
does): the variables hold one block of slots per replica and are synced on read, so a replica updates its
copy without talking to the others. gather() brings every replica's block into every copy before a
checkpoint, so the checkpoint holds all of them, and load() deals them out again on any replica count.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_PER_REPLICA = dict(trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)


class ImagePool(tf.Module):
    """query() semantics of the reference: while the pool is filling, store and return each image; once
    full, with probability 1/2 return a random stored image and store the new one in its place,
    otherwise return the new image.

    With `variable_size`, images may differ in size from step to step (--preprocess none or scale_width,
    batch size 1): each is stored padded to image_shape, the largest size, next to its own size, and
    comes back cut to that size, as the reference's list would return it.
    """

    def __init__(self, pool_size: int, image_shape, name: str | None = None, variable_size: bool = False,
                 replicas: int = 1):
        super().__init__(name=name)
        self.pool_size = int(pool_size)
        self.replicas = int(replicas)
        self.slots = max(self.pool_size, 1)  # per replica
        total = self.replicas * self.slots
        self.images = tf.Variable(tf.zeros([total, *image_shape]), name="images", **_PER_REPLICA)
        self.counts = tf.Variable(tf.zeros([self.replicas], tf.int32), name="counts", **_PER_REPLICA)
        self.sizes = (tf.Variable(tf.zeros([total, 2], tf.int32), name="sizes", **_PER_REPLICA)
                      if variable_size else None)

    @property
    def count(self):
        """Images stored, all replicas together (after gather(); else this replica's copy's view)."""
        return tf.reduce_sum(self.counts)

    def propose(self, images, rng: tf.random.Generator, replica=0):
        """(images for the discriminator, the pool's next state) without changing the pool, so that a
        train step can drop the change when it skips a non-finite update. `replica`: whose block."""
        stored, counts = tf.identity(self.images), tf.identity(self.counts)
        sizes = None if self.sizes is None else tf.identity(self.sizes)
        if self.pool_size == 0:
            return images, (stored, counts, sizes)
        first, count = replica * self.slots, counts[replica]
        out = []
        for i in range(images.shape[0]):  # the batch size is static inside the train step
            image = images[i]
            filling = count < self.pool_size
            swap = tf.logical_and(tf.logical_not(filling), rng.uniform([]) > 0.5)
            slot = first + tf.where(filling, count, rng.uniform([], 0, self.pool_size, dtype=tf.int32))
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
        counts = tf.tensor_scatter_nd_update(counts, [[replica]], [count])
        return tf.stack(out), (stored, counts, sizes)

    def commit(self, state):
        stored, counts, sizes = state
        self.images.assign(stored)
        self.counts.assign(counts)
        if sizes is not None:
            self.sizes.assign(sizes)

    def query(self, images, rng: tf.random.Generator, replica=0):
        """propose() and commit() in one: the reference's ImagePool.query."""
        out, state = self.propose(images, rng, replica)
        self.commit(state)
        return out

    def gather(self):
        """In a replica context: replace this replica's copy with every replica's own block."""
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group
        block = slice(replica * self.slots, (replica + 1) * self.slots)
        for variable, rows in ((self.images, block), (self.counts, slice(replica, replica + 1)),
                               (self.sizes, block)):
            if variable is not None:
                variable.assign(context.all_gather(variable[rows], axis=0))

    def load(self, reader: tf.train.CheckpointReader, key: str):
        """Restore from a checkpoint saved with any number of replicas: replica r gets the block of saved
        replica r modulo the saved count (checkpoints of earlier versions hold one block)."""
        def saved(name):
            full = f"{key}/{name}/.ATTRIBUTES/VARIABLE_VALUE"
            return reader.get_tensor(full) if reader.has_tensor(full) else None

        images, counts, sizes = saved("images"), saved("counts"), saved("sizes")
        if counts is None:
            counts = np.reshape(saved("count"), [1])  # one block, a scalar count
        n = len(counts)
        if images is None or images.shape[0] != n * self.slots or images.shape[1:] != tuple(self.images.shape[1:]):
            raise ValueError(f"{key}: the saved image pool ({None if images is None else images.shape}) does not "
                             f"fit this run's ({tuple(self.images.shape)} for {self.replicas} replicas)")
        order = [r % n for r in range(self.replicas)]
        blocks = lambda a: np.concatenate([a[r * self.slots:(r + 1) * self.slots] for r in order])  # noqa: E731
        self.images.assign(blocks(images))
        self.counts.assign(counts[order])
        if self.sizes is not None:
            self.sizes.assign(blocks(sizes if sizes is not None else np.zeros(self.sizes.shape, np.int32)))
