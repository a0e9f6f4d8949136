"""Unpaired datasets from TensorFlow Datasets, such as cycle_gan/horse2zebra, with a message that says what
to do when the download fails (offline: the official zip in TFDS's manual folder, or the unzipped folder)."""

from __future__ import annotations

import os

from tf_cyclegan.core.errors import DatasetError, first_line
from tf_cyclegan.data.downloads import unreachable
from tf_cyclegan.data.unpaired import SPLITS, Domains, ImageList, domain_names

CYCLE_GAN_CONFIGS = ("apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo",
                     "ukiyoe2photo", "vangogh2photo", "maps", "facades", "iphone2dslr_flower")
CYCLE_GAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{}.zip"


def _download_help(name: str, config: str, manual_dir: str, reason: str) -> str:
    url = CYCLE_GAN_URL.format(config)
    return (f"--dataset {name}: could not download it ({reason}). Offline? Put {config}.zip (from {url}) "
            f"into {manual_dir} and run again (TFDS checks it and builds from it), or unzip it and pass "
            f"--dataset /path/to/{config} (a folder with trainA/ trainB/ testA/ testB/)")


def _prepare(builder, name: str, manual_dir: str):
    """Download and build the dataset unless TFDS has it; a cycle_gan zip in the manual folder is used."""
    import tensorflow_datasets as tfds

    family, _, config = name.partition("/")
    zip_in_manual = family == "cycle_gan" and os.path.exists(os.path.join(manual_dir, f"{config}.zip"))
    if family == "cycle_gan" and not zip_in_manual:
        reason = unreachable(CYCLE_GAN_URL.format(config))
        if reason:
            raise DatasetError(_download_help(name, config, manual_dir, reason))
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    except Exception as e:
        reason = first_line(e, limit=200)
        if family == "cycle_gan":
            raise DatasetError(_download_help(name, config, manual_dir, reason)) from None
        raise DatasetError(f"--dataset {name}: TFDS could not prepare it ({reason})") from None


def _encoded_images(builder, split: str) -> list[bytes]:
    """A split's images as their encoded bytes (decoded later by Pillow, as every other source's)."""
    import tensorflow_datasets as tfds

    ds = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
    return [bytes(example["image"]) for example in ds.as_numpy_iterator()]


def tfds_domains(name: str, data_dir: str | None = None) -> Domains:
    """A TFDS dataset with trainA/trainB (and testA/testB) splits, such as cycle_gan/horse2zebra."""
    import tensorflow_datasets as tfds

    family, _, config = name.partition("/")
    if family == "cycle_gan" and config not in CYCLE_GAN_CONFIGS:
        raise DatasetError(f"--dataset {name}: unknown cycle_gan config {config!r}; choose one of "
                           + ", ".join(f"cycle_gan/{c}" for c in CYCLE_GAN_CONFIGS))
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # TFDS raises several types for unknown names
        raise DatasetError(f"--dataset {name}: not a folder, 'seasons', or a TFDS dataset "
                           f"({first_line(e)})") from None
    root = os.path.expanduser(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets")
    if not builder.is_prepared():
        _prepare(builder, name, os.path.join(root, "downloads", "manual"))
    known = set(builder.info.splits.keys()) if builder.info.splits else set(SPLITS)
    missing = [s for s in ("trainA", "trainB") if s not in known]
    if missing:
        raise DatasetError(f"--dataset {name}: has no split {', '.join(missing)} (it has "
                           f"{', '.join(sorted(known))}); a CycleGAN dataset needs trainA and trainB")
    lists = {}
    for split in SPLITS:
        items = _encoded_images(builder, split) if split in known else []
        if not items and split.startswith("train"):
            raise DatasetError(f"--dataset {name}: {split} is empty")
        lists[split] = ImageList(split, items) if items else None
    name_a, name_b = domain_names(config or family)
    return Domains(lists["trainA"], lists["trainB"], lists["testA"], lists["testB"], name_a, name_b,
                   description=f"TFDS {name}")
