"""The embedded dataset, 'seasons': procedurally rendered summer and winter landscapes, so that everything
works offline. Each picture is a scene defined by an integer seed (scene.py) painted in a season
(painting.py); the same scene can be painted in both seasons, so the test splits are exact ground-truth
pairs while the training splits are unpaired (dataset.py). It imports only NumPy and Pillow."""

from tf_cyclegan.data.seasons.dataset import (MARKER, MIN_SIZE, RENDER_VERSION, SEASONS, SIZE, SPLITS, Split,
                                              preview_grid, render_scene, split_seeds, write_dataset)

__all__ = ["SIZE", "MIN_SIZE", "SEASONS", "SPLITS", "Split", "MARKER", "RENDER_VERSION", "render_scene",
           "split_seeds", "write_dataset", "preview_grid"]
