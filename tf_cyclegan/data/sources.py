"""What --dataset names: the embedded dataset, an official pix2pix dataset, a folder or a TFDS dataset, as
unpaired domains (CycleGAN, CUT) or as pairs (pix2pix)."""

from __future__ import annotations

import os
from pathlib import Path

from tf_cyclegan.core.errors import DatasetError
from tf_cyclegan.data import embedded
from tf_cyclegan.data.paired import LAYOUT_HELP, Pairs, aligned_pairs, folder_pairs
from tf_cyclegan.data.unpaired import Domains, folder_domains

PIX2PIX_PREFIX = "pix2pix/"


def load_domains(dataset: str, data_dir: str | None = None) -> Domains:
    """'seasons', an existing folder, or a TFDS name, in that order."""
    if dataset == embedded.NAME:
        return embedded.seasons_domains()
    if dataset.startswith(PIX2PIX_PREFIX):
        raise DatasetError(f"--dataset {dataset}: a paired dataset; train it with --model pix2pix (CycleGAN's "
                           "unpaired datasets are cycle_gan/NAME)")
    if os.path.isdir(os.path.expanduser(dataset)) or dataset.startswith((".", "/", "~")):
        return folder_domains(dataset)
    from tf_cyclegan.data.tfds import tfds_domains

    return tfds_domains(dataset, data_dir)


def load_pairs(dataset: str, paired_folders: bool = False, need_train: bool = True) -> Pairs:
    """'seasons', pix2pix/NAME, or a folder (aligned; trainA/ trainB/ by name with --paired); without
    `need_train`, an aligned folder may hold test pairs only."""
    if paired_folders and (dataset == embedded.NAME or dataset.startswith(PIX2PIX_PREFIX)):
        raise DatasetError(f"--paired: only for a folder with trainA/ and trainB/; --dataset {dataset} is paired "
                           "already (leave --paired out)")
    if dataset == embedded.NAME:
        return embedded.seasons_pairs()
    if dataset.startswith(PIX2PIX_PREFIX):
        from tf_cyclegan.data.pix2pix_datasets import dataset_folder

        name = dataset[len(PIX2PIX_PREFIX):]
        return aligned_pairs(dataset_folder(name), description=f"pix2pix dataset {name}")
    root = Path(dataset).expanduser()
    if not root.is_dir():
        if "/" in dataset and not dataset.startswith((".", "/", "~")):  # a TFDS name such as cycle_gan/maps
            raise DatasetError(f"--dataset {dataset}: TFDS datasets hold unpaired domains; pix2pix needs pairs: "
                               + LAYOUT_HELP)
        raise DatasetError(f"--dataset {dataset}: no such folder; pix2pix needs " + LAYOUT_HELP)
    if paired_folders:
        return folder_pairs(root)
    if not (root / "train").is_dir() and (root / "trainA").is_dir():
        raise DatasetError(f"--dataset {dataset}: holds trainA/ and trainB/, not the aligned train/ folder: "
                           "pass --paired if their files pair up by name, or build the aligned layout with "
                           "python -m tf_cyclegan.datasets.combine")
    return aligned_pairs(root, need_train=need_train)


def is_paired_dataset(dataset: str) -> bool:
    """pix2pix/NAME, or a folder in the aligned layout (train/, val/ or test/, and no trainA/ or testA/)."""
    root = Path(dataset).expanduser()
    aligned = any((root / split).is_dir() for split in ("train", "val", "test"))
    return dataset.startswith(PIX2PIX_PREFIX) or (aligned and not any((root / s).is_dir() for s in ("trainA", "testA")))
