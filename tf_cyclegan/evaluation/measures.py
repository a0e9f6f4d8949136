"""Image-quality measures: per-image L1, PSNR and SSIM; FID and KID over features (InceptionV3's,
tf_cyclegan.evaluation.inception).

Everything takes uint8 images [N, H, W, 3], because that is what a user sees and what the exports return.
FID and KID are computed from feature matrices with NumPy alone (no SciPy): the trace of the matrix
square root comes from symmetric eigendecompositions, which stay real and stable for the rank-deficient
covariances of small test sets.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tf_cyclegan.core.directions import DIRECTIONS, source_target
from tf_cyclegan.core.errors import EvaluateError
from tf_cyclegan.core.pixels import SCALE

BatchTranslator = Callable[[np.ndarray], np.ndarray]  # uint8 [N, H, W, 3] -> the same (runtime.translators)

MAX_PSNR = 100.0  # dB given to a pair of identical images (their MSE is 0), so that means stay finite


def _float(images) -> np.ndarray:
    return np.asarray(images, dtype=np.float64)


def l1(a, b) -> np.ndarray:
    """Mean absolute difference per image in the training loss's units ([-1, 1] images), so it reads like
    TensorBoard's loss_cycle_x / lambda_A."""
    return np.abs(_float(a) - _float(b)).mean(axis=(1, 2, 3)) / SCALE


def psnr(a, b) -> np.ndarray:
    """Peak signal-to-noise ratio per image in dB over 8-bit levels, capped at MAX_PSNR."""
    mse = ((_float(a) - _float(b)) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10 * np.log10(255.0 ** 2 / mse)
    return np.minimum(values, MAX_PSNR)


def ssim(a, b) -> np.ndarray:
    """Structural similarity per image (TensorFlow's: 11x11 Gaussian window, sigma 1.5, on each channel and
    averaged), so images need sides of at least 11 pixels."""
    import tensorflow as tf

    return tf.image.ssim(tf.constant(np.asarray(a, np.uint8)), tf.constant(np.asarray(b, np.uint8)), 255).numpy()


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)): the Fréchet (2-Wasserstein) distance of two Gaussians.
    Tr (S1 S2)^(1/2) = Tr (S1^(1/2) S2 S1^(1/2))^(1/2), whose argument is symmetric positive semi-definite."""
    mu1, mu2, sigma1, sigma2 = map(_float, (mu1, mu2, sigma1, sigma2))
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root)


def fid(features1, features2) -> float:
    """FID between two sets of feature vectors [N, D] (N >= 2 each); the order of the rows does not matter."""
    f1, f2 = _float(features1), _float(features2)
    if len(f1) < 2 or len(f2) < 2:
        raise ValueError(f"FID needs at least 2 images per set, got {len(f1)} and {len(f2)}")
    return frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))


def mmd2_unbiased(f1, f2) -> float:
    """Unbiased squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (Bińkowski et al.)."""
    f1, f2 = _float(f1), _float(f2)
    m, n, d = len(f1), len(f2), f1.shape[1]
    k11, k22, k12 = ((x @ y.T / d + 1) ** 3 for x, y in ((f1, f1), (f2, f2), (f1, f2)))
    return float((k11.sum() - np.trace(k11)) / (m * (m - 1)) + (k22.sum() - np.trace(k22)) / (n * (n - 1))
                 - 2 * k12.mean())


def kid(features1, features2, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """(mean, standard deviation) of the unbiased MMD^2 over random subsets, as in Bińkowski et al. With
    subsets no larger than the sets themselves and a fixed seed, a reordering of the rows only changes which
    subsets are drawn; when the subset is the whole set (small test sets) it changes nothing."""
    f1, f2 = _float(features1), _float(features2)
    size = min(subset_size, len(f1), len(f2))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(f1)} and {len(f2)}")
    if size == len(f1) == len(f2):
        value = mmd2_unbiased(f1, f2)
        return value, 0.0
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(f1[rng.choice(len(f1), size, replace=False)], f2[rng.choice(len(f2), size, replace=False)])
              for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


# -- the measures of a pair of translators -------------------------------------------------------------
def _mean(values) -> float:
    return round(float(np.mean(values)), 4)


def measure(a2b: BatchTranslator | None, b2a: BatchTranslator | None, test_a: np.ndarray, test_b: np.ndarray,
            paired: bool = False, features: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[dict, dict]:
    """(metrics, images): metrics per direction as in the module docstring; images per direction holds
    real, fake, cycled (and truth when paired) uint8 arrays and the per-image PSNRs, for the page. A model
    with one direction (pix2pix) passes None for the other: it has no cycle measures."""
    if paired and len(test_a) != len(test_b):
        raise EvaluateError(f"paired test data needs as many A as B images, got {len(test_a)} and {len(test_b)}")
    translators = {d: t for d, t in (("a2b", a2b), ("b2a", b2a)) if t is not None}
    inputs, targets = {"a2b": test_a, "b2a": test_b}, {"a2b": test_b, "b2a": test_a}
    fakes = {d: t(inputs[d]) for d, t in translators.items()}
    # Back again: each translation through the other direction's generator, when the model has both.
    cycled = {d: translators[other](fakes[d]) for d, other in (("a2b", "b2a"), ("b2a", "a2b"))
              if len(translators) == 2}
    feats, baseline = {}, {}
    if features is not None:
        feats = {"a": features(test_a), "b": features(test_b), **{d: features(f) for d, f in fakes.items()}}
        # The inputs against the other domain's real images: symmetric, so one baseline serves both directions.
        baseline = {"fid_identity": round(fid(feats["a"], feats["b"]), 3),
                    "kid_identity": round(kid(feats["a"], feats["b"])[0], 5)}
    results, images = {}, {}
    for direction in translators:
        real, fake, target = inputs[direction], fakes[direction], targets[direction]
        m, shown = {"images": len(real)}, {"real": real, "fake": fake}
        if direction in cycled:
            cycle_psnr = psnr(cycled[direction], real)
            m.update(cycle_l1=_mean(l1(cycled[direction], real)), cycle_psnr=_mean(cycle_psnr),
                     cycle_ssim=_mean(ssim(cycled[direction], real)))
            shown.update(cycled=cycled[direction], cycle_psnr=cycle_psnr)
        else:  # one generator (pix2pix, CUT): how much of its input's structure the translation keeps
            m["input_ssim"] = _mean(ssim(fake, real))
        if paired:
            truth_psnr, identity_psnr = psnr(fake, target), psnr(real, target)
            m.update(truth_psnr=_mean(truth_psnr), identity_psnr=_mean(identity_psnr),
                     psnr_gain=round(float(np.mean(truth_psnr) - np.mean(identity_psnr)), 4),
                     truth_ssim=_mean(ssim(fake, target)), identity_ssim=_mean(ssim(real, target)))
            shown.update(truth=target, truth_psnr=truth_psnr)
        if feats:
            dst = "b" if direction == "a2b" else "a"
            m["fid"] = round(fid(feats[direction], feats[dst]), 3)
            m["kid"], m["kid_std"] = (round(v, 5) for v in kid(feats[direction], feats[dst]))
            m.update(baseline)
        results[direction], images[direction] = m, shown
    return results, images


def summary_lines(report: dict) -> list[str]:
    """The headline numbers, one line per direction the report has."""
    lines = []
    for direction in (d for d in DIRECTIONS if d in report):
        m = report[direction]
        src, dst = source_target(report["domains"], direction)
        parts = []
        if "cycle_l1" in m:
            parts.append(f"cycle L1 {m['cycle_l1']:.4f}, PSNR {m['cycle_psnr']:.2f} dB, SSIM {m['cycle_ssim']:.3f}")
        if "truth_psnr" in m:
            parts.append(f"vs truth {m['truth_psnr']:.2f} dB (identity {m['identity_psnr']:.2f} dB, "
                         f"{m['psnr_gain']:+.2f} dB), SSIM {m['truth_ssim']:.3f} (identity {m['identity_ssim']:.3f})")
        if "fid" in m:
            parts.append(f"FID {m['fid']:.1f} (identity {m['fid_identity']:.1f}), KID {m['kid']:.4f}")
        if "input_ssim" in m:
            parts.append(f"SSIM to its input {m['input_ssim']:.3f}")
        lines.append(f"  {src} -> {dst}: " + ("; ".join(parts) or f"{m['images']} images translated"))
    return lines
