"""The image-quality measures against closed forms and hand-computed values."""

import numpy as np
import pytest

from tf_cyclegan.core.errors import EvaluateError
from tf_cyclegan.evaluation import inception, measures


def test_l1_and_psnr_on_known_differences():
    a = np.zeros((2, 8, 8, 3), np.uint8)
    b = a.copy()
    b[0] += 10  # MSE 100
    b[1, :4] = 255  # half the pixels at full scale: MSE 255^2 / 2
    np.testing.assert_allclose(measures.l1(a, b), [10 / 127.5, 1.0])
    np.testing.assert_allclose(measures.psnr(a, b), [10 * np.log10(255**2 / 100), 10 * np.log10(2)])
    assert measures.psnr(a, a).tolist() == [measures.MAX_PSNR] * 2


def test_ssim_is_one_for_equal_images_and_falls_with_noise():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    noisy = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    np.testing.assert_allclose(measures.ssim(a, a), 1.0, atol=1e-6)
    assert (measures.ssim(a, noisy) < 0.9).all()


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    # sum (mu1 - mu2)^2 + sum (s1 + s2 - 2 sqrt(s1 s2)) = 5 + (1 + 9 - 6) + (4 + 16 - 16)
    value = measures.frechet_distance([0, 0], np.diag([1.0, 4.0]), [1, 2], np.diag([9.0, 16.0]))
    assert value == pytest.approx(13.0, abs=1e-9)


def test_frechet_distance_of_non_commuting_covariances_is_the_closed_form():
    # For 2x2 positive definite S1, S2: Tr (S1 S2)^(1/2) = sqrt(Tr(S1 S2) + 2 sqrt(det S1 det S2)).
    rng = np.random.default_rng(1)
    for _ in range(5):
        m1, m2 = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
        s1, s2 = m1 @ m1.T + 0.1 * np.eye(2), m2 @ m2.T + 0.1 * np.eye(2)
        mu1, mu2 = rng.normal(size=2), rng.normal(size=2)
        trace_root = np.sqrt(np.trace(s1 @ s2) + 2 * np.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
        expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root
        assert measures.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert measures.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


def test_fid_of_gaussian_samples_approaches_the_closed_form_and_ignores_order():
    rng = np.random.default_rng(2)
    n, mu2 = 40_000, np.array([0.5, -1.0, 0.0])
    f1 = rng.normal(size=(n, 3))
    f2 = rng.normal(size=(n, 3)) * np.array([2.0, 1.0, 0.5]) + mu2
    expected = 1.25 + (1 + 4 - 4) + 0 + (1 + 0.25 - 1)  # diagonal case, as above
    assert measures.fid(f1, f2) == pytest.approx(expected, rel=0.03)
    shuffled = measures.fid(f1[rng.permutation(n)], f2[rng.permutation(n)])
    assert shuffled == pytest.approx(measures.fid(f1, f2), rel=1e-9)
    with pytest.raises(ValueError, match="at least 2"):
        measures.fid(f1[:1], f2)


def test_fid_handles_fewer_samples_than_dimensions():
    rng = np.random.default_rng(3)
    f1, f2 = rng.normal(size=(10, 64)), rng.normal(size=(12, 64)) + 1.0
    value = measures.fid(f1, f2)  # singular covariances: the eigenvalue route stays real and finite
    assert np.isfinite(value) and value > 0.5 * 64  # the means alone are ~64 apart (squared)


def test_mmd2_unbiased_matches_the_definition():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(6, 3)) + 0.3
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    yy = sum(k(y[i], y[j]) for i in range(6) for j in range(6) if i != j) / (6 * 5)
    xy = sum(k(a, b) for a in x for b in y) / (5 * 6)
    assert measures.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_is_near_zero_for_one_distribution_positive_for_two_and_order_invariant():
    rng = np.random.default_rng(5)
    a, b, c = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) + 0.5
    same, _ = measures.kid(a, b)
    shifted, _ = measures.kid(a, c)
    assert abs(same) < 0.02 < shifted
    assert measures.kid(a[::-1], c[rng.permutation(300)])[0] == pytest.approx(shifted, rel=1e-9)
    mean, std = measures.kid(a, np.concatenate([c, c]), subsets=20, subset_size=100)
    assert mean > 0.02 and std > 0


def test_missing_inception_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    weights, note = inception.inception_weights()
    file = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"  # keras.applications' name for it
    assert weights is None and "--inception_weights" in note
    assert f"https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/{file}" in note
    assert str(tmp_path / "models" / file) in note
    weights, note = inception.inception_weights(str(tmp_path / "nope.h5"))
    assert weights is None and note == f"--inception_weights {tmp_path / 'nope.h5'}: no such file"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / file).write_bytes(b"x")
    assert inception.inception_weights() == (tmp_path / "models" / file, "")


def test_measure_knows_the_identity_and_the_perfect_translation():
    """Translators whose answers are known: the input itself gains nothing over the identity baseline; the
    true other-domain image is perfect (PSNR capped at 100 dB, SSIM 1) and comes back exactly."""
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (3, 16, 16, 3), np.uint8) for _ in range(2))
    same, _ = measures.measure(lambda x: x, lambda x: x, a, b, paired=True)
    assert same["a2b"]["psnr_gain"] == 0 and same["a2b"]["cycle_psnr"] == 100.0 and same["a2b"]["cycle_l1"] == 0

    def swap(x):  # every A image to its B partner and back
        return b if np.array_equal(x, a) else a

    perfect, images = measures.measure(swap, swap, a, b, paired=True)
    for direction in ("a2b", "b2a"):
        assert perfect[direction]["truth_psnr"] == 100.0 and perfect[direction]["truth_ssim"] == pytest.approx(1.0)
        assert perfect[direction]["psnr_gain"] > 0 and perfect[direction]["identity_ssim"] < 0.2
    np.testing.assert_array_equal(images["a2b"]["fake"], b)
    with pytest.raises(EvaluateError, match="as many A as B images, got 3 and 2"):
        measures.measure(swap, swap, a, b[:2], paired=True)
