"""The test images a model is measured on: a dataset's test split (its first training images when it has
none, said in the log), resized to one size; pairs for a model trained on pairs. Unreadable files are
skipped and named."""

from __future__ import annotations

from tf_cyclegan.core.errors import EvaluateError
from tf_cyclegan.core.pixels import MAX_IMAGE_PIXELS
from tf_cyclegan.data.pipeline import first_images, first_pairs
from tf_cyclegan.data.sources import load_domains, load_pairs


def load_test_images(dataset: str, data_dir: str | None, size: int, num_test: int, log=print):
    """(test_a, test_b uint8 [N, size, size, 3], paired, description). Unreadable files are skipped and
    counted; without a test split the first training images stand in (said in the log)."""
    domains = load_domains(dataset, data_dir)
    arrays = []
    for test, train in ((domains.test_a, domains.train_a), (domains.test_b, domains.train_b)):
        images = test
        if images is None:
            log(f"note: {domains.description} has no {train.name.replace('train', 'test')} split; using the first "
                f"{min(num_test, len(train))} images of {train.name} (seen in training, so the numbers flatter)")
            images = train
        images, bad = images.capped(num_test).checked(MAX_IMAGE_PIXELS)  # the training default
        for item, reason in bad:
            log(f"skipped {item}: {reason}")
        if not len(images):
            raise EvaluateError(f"--dataset {dataset}: no readable test image in {images.name}")
        arrays.append(first_images(images, len(images), size))
    return arrays[0], arrays[1], domains.paired, domains.description


def load_test_pairs(dataset: str, size: int, num_test: int, paired_folders: bool = False, log=print):
    """load_test_images for a model trained on pairs (pix2pix): the test pairs of an aligned folder, of
    folders paired by name, of pix2pix/NAME or of the embedded dataset's paired form; the training pairs
    when there is no test split (said in the log)."""
    pairs = load_pairs(dataset, paired_folders, need_train=False)
    images = pairs.test
    if images is None:
        log(f"note: {pairs.description} has no test or val split; using its first {min(num_test, len(pairs.train))} "
            "training pairs (seen in training, so the numbers flatter)")
        images = pairs.train
    images, bad = images.capped(num_test).checked(MAX_IMAGE_PIXELS)
    for item, reason in bad:
        log(f"skipped {item}: {reason}")
    if not len(images):
        raise EvaluateError(f"--dataset {dataset}: no usable test pair in {images.name}")
    test_a, test_b = first_pairs(images, len(images), size)
    return test_a, test_b, True, pairs.description
