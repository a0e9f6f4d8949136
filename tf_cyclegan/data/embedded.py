"""The embedded dataset, 'seasons' (tf_cyclegan.data.seasons): rendered on first use into the cache folder,
then read from there as any folder is; its test scenes are paired, so translations can be measured
against the truth."""

from __future__ import annotations

from pathlib import Path

from tf_cyclegan.core.files import cache_dir
from tf_cyclegan.data import seasons
from tf_cyclegan.data.paired import Pairs, folder_pairs
from tf_cyclegan.data.unpaired import Domains, folder_domains

NAME = "seasons"  # --dataset seasons


def seasons_root(paired: bool = False) -> Path:
    """The embedded dataset's cache folder; `paired`: its form for paired training (pix2pix)."""
    return cache_dir() / f"seasons-{'paired-' if paired else ''}v{seasons.RENDER_VERSION}-{seasons.SIZE}"


def seasons_domains() -> Domains:
    """Summer and winter as unpaired domains; testA[i] and testB[i] are one scene in both seasons."""
    root = seasons.write_dataset(seasons_root())
    domains = folder_domains(root)
    domains.name_a, domains.name_b = "summer", "winter"
    domains.paired = True
    domains.description = f"embedded seasons dataset ({root})"
    return domains


def seasons_pairs() -> Pairs:
    """The paired form, for pix2pix: each training scene rendered in both seasons."""
    root = seasons.write_dataset(seasons_root(paired=True), paired=True)
    pairs = folder_pairs(root, description=f"embedded seasons dataset, paired ({root})")
    pairs.name_a, pairs.name_b = "summer", "winter"
    return pairs
