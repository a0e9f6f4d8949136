import numpy as np
import tensorflow as tf

from tf_cyclegan.models.image_pool import ImagePool

SHAPE = (2, 2, 1)


def images(values):
    return tf.constant(np.asarray(values, "float32")[:, None, None, None] * np.ones((1, *SHAPE), "float32"))


def ids(batch):
    return [float(v) for v in np.asarray(batch)[:, 0, 0, 0]]


def test_pool_size_zero_returns_the_input():
    pool = ImagePool(0, SHAPE)
    x = images([1, 2])
    assert ids(pool.query(x, tf.random.Generator.from_seed(0))) == [1, 2]


def test_filling_returns_inputs_then_swaps_about_half_with_stored_images():
    pool, rng = ImagePool(3, SHAPE), tf.random.Generator.from_seed(1)
    assert ids(pool.query(images([1, 2]), rng)) == [1, 2]
    assert ids(pool.query(images([3]), rng)) == [3]
    assert int(pool.count) == 3 and sorted(ids(pool.images)) == [1, 2, 3]
    swapped = 0
    for new in range(10, 210):
        before = set(ids(pool.images))
        (out,) = ids(pool.query(images([new]), rng))
        after = set(ids(pool.images))
        if out == new:  # kept: the pool is unchanged
            assert after == before
        else:  # swapped: the returned image left the pool and the new one took its place
            swapped += 1
            assert out in before and out not in after and new in after and len(after) == 3
    assert 70 < swapped < 130


def test_pool_state_survives_a_checkpoint(tmp_path):
    pool, rng = ImagePool(2, SHAPE), tf.random.Generator.from_seed(2)
    pool.query(images([5, 6, 7]), rng)
    path = tf.train.Checkpoint(pool=pool, rng=rng).write(str(tmp_path / "ckpt"))
    restored, rng2 = ImagePool(2, SHAPE), tf.random.Generator.from_seed(99)
    tf.train.Checkpoint(pool=restored, rng=rng2).read(path).assert_consumed()
    assert ids(restored.images) == ids(pool.images) and int(restored.count) == int(pool.count) == 2
    assert ids(restored.query(images([8, 9]), rng2)) == ids(pool.query(images([8, 9]), rng))


def test_variable_size_pool_returns_each_image_at_its_own_size(tmp_path):
    pool, rng = ImagePool(2, (6, 8, 1), variable_size=True), tf.random.Generator.from_seed(3)
    shapes = [(4, 8), (6, 4), (2, 2)] + [(2 * (i % 3) + 2, 4 + 4 * (i % 2)) for i in range(60)]
    seen, swapped = {}, 0
    for value, (h, w) in enumerate(shapes, start=1):
        image = tf.fill([1, h, w, 1], float(value))
        seen[value] = (h, w)
        (out,) = pool.query(image, rng).numpy()
        (got,) = set(out.ravel())  # one image, never mixed with another's padding
        assert out.shape[:2] == seen[int(got)]
        swapped += int(got) != value
    assert 15 < swapped < 45
    stored = {int(pool.images[i, 0, 0, 0]): tuple(pool.sizes[i].numpy()) for i in range(2)}
    assert all(seen[v] == size for v, size in stored.items())
    path = tf.train.Checkpoint(pool=pool).write(str(tmp_path / "ckpt"))
    restored = ImagePool(2, (6, 8, 1), variable_size=True)
    tf.train.Checkpoint(pool=restored).read(path).assert_consumed()
    assert np.array_equal(restored.sizes, pool.sizes) and np.array_equal(restored.images, pool.images)
