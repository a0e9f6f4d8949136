"""Opening a model: one function for every kind of path a user has, so that translate, Translator, evaluate,
the demo and bench see a model the same way.

The kinds: a training run folder (its newest readable checkpoint, or ckpt-N), an export folder (a2b/ and/or
b2a/, each a TF Serving model folder: its newest version), a model folder or a SavedModel version folder, and
single files: .tflite (LiteRT), .onnx (onnxruntime) and .keras (Keras' safe mode). A run's generators and
.keras files run in the inference mode asked for (tf_cyclegan.models.modes; by default train, the
reference's test mode); an export runs in the mode it was exported in and refuses another.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Callable

import numpy as np

from tf_cyclegan.core import directions as naming
from tf_cyclegan.core import layout
from tf_cyclegan.core.errors import ModelError
from tf_cyclegan.core.pixels import to_float
from tf_cyclegan.models.restoring import load_generators, load_keras_file
from tf_cyclegan.runtime import translators
from tf_cyclegan.runtime.translators import BatchTranslator

LAYOUTS = ("a training run folder (config.json, checkpoints/), an export folder (a2b/ or b2a/), a SavedModel "
           "version or model folder, or a .tflite, .onnx or .keras file")


@dataclasses.dataclass
class Direction:
    """One direction of an opened model, loaded on first use: its batch translator, and tiled(), the
    tiling.TiledModel that translates large images in tiles (made when asked for, as it traces)."""

    name: str
    description: str
    load: Callable[[], tuple[BatchTranslator, Callable[[], object]]]

    @functools.cached_property
    def _loaded(self):
        return self.load()

    @property
    def translate(self) -> BatchTranslator:
        return self._loaded[0]

    def tiled(self):
        return self._loaded[1]()


@dataclasses.dataclass
class OpenedModel:
    """A model as a path holds it: its directions (a2b first; both for a CycleGAN, one for pix2pix, CUT and
    single files) and what is known of how it was made."""

    description: str  # what was opened, for logs and pages
    directions: dict[str, Direction]
    names: dict[str, str]  # {"A": domain name, "B": domain name}
    mode: str  # the inference mode it runs in
    mode_means: str
    training: dict = dataclasses.field(default_factory=dict)  # the run's config, when known
    checkpoint: str | None = None

    def direction(self, name: str | None = None) -> Direction:
        """The direction asked for, or the model's only one, or a2b."""
        return self.directions[pick_direction(list(self.directions), name, f"the {self.description}")]

    @property
    def translators(self) -> dict[str, BatchTranslator]:
        return {name: direction.translate for name, direction in self.directions.items()}

    def domains(self, direction: str) -> tuple[str, str]:
        """(source, target) domain names of a direction."""
        return naming.source_target(self.names, direction)


def pick_direction(available: list[str], direction: str | None, what: str) -> str:
    """The direction asked for, or the model's only one, or a2b."""
    if direction is None:
        return available[0] if len(available) == 1 else "a2b"
    if direction not in available:
        raise ModelError(f"--direction {direction}: {what} has only {', '.join(available)}")
    return direction


def open_model(path: str | os.PathLike, mode: str | None = None, variant: str = "saved_model",
               checkpoint: int | None = None, log=lambda line: None) -> OpenedModel:
    """Any model path (see the module's docstring). `mode` (train or eval) for run folders and .keras files;
    `variant` picks an export's SavedModel, one of its TFLite files or its ONNX file; `checkpoint` a run's
    ckpt-N (default: the newest readable one, as training resumes). Directions load on first use, except a
    .tflite or .onnx file given as the path, which loads here (it has one direction, always used)."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"--model {p}: no such file or folder")
    run = layout.RunFolder(p).exists()
    if checkpoint is not None and not run:
        raise ModelError(f"--checkpoint {checkpoint}: only for training run folders; {p} is not one")
    if variant not in layout.VARIANTS:
        raise ModelError(f"--variant {variant}: choose one of {', '.join(layout.VARIANTS)}")
    if run:
        if variant != "saved_model":
            raise ModelError(f"--variant {variant}: a run folder has no TFLite or ONNX files; export it first "
                             "(python -m tf_cyclegan.export) and pass the export folder")
        return _open_run(p, mode, checkpoint, log)
    if p.is_file() and p.suffix == ".keras":
        return _open_keras(p, mode)
    if p.is_file() and p.suffix in (".tflite", ".onnx"):
        opened = _open_exported(p, p.parent, {_file_direction(p): p}, mode, variant)
        opened.translators  # its one direction, loaded now: a broken file says so before any data is read
        return opened
    if p.is_dir():
        versions = _versions(p)
        return _open_exported(p, next(iter(versions.values())), versions, mode, variant)
    raise ModelError(f"--model {p}: not {LAYOUTS}")


def open_translator(path: str | os.PathLike, direction: str | None = None,
                    mode: str | None = None) -> tuple[BatchTranslator, str]:
    """(batch translator, what was loaded) of one direction of any model path."""
    chosen = open_model(path, mode).direction(direction)
    return chosen.translate, chosen.description


# -- run folders and Keras files ------------------------------------------------------------------
def _open_run(run: Path, mode: str | None, checkpoint: int | None, log) -> OpenedModel:
    from tf_cyclegan.models.modes import describe_mode, inference_generator

    config, generators, names, path = load_generators(run, checkpoint, log)
    mode = mode or "train"
    found = {d: keras_direction(d, inference_generator(g, mode), f"run {run} ({path}, {d}, {mode} mode)")
             for d, g in generators.items()}
    return OpenedModel(f"run {run} ({Path(path).name}, {mode} mode)", found, names, mode,
                       describe_mode(next(iter(generators.values())), mode)["inference_mode_means"],
                       dataclasses.asdict(config), path)


def _open_keras(file: Path, mode: str | None) -> OpenedModel:
    from tf_cyclegan.models.modes import describe_mode, inference_generator

    mode = mode or "train"
    generator = load_keras_file(file)
    what = f"Keras model {file} ({mode} mode)"
    return OpenedModel(what, {"a2b": keras_direction("a2b", inference_generator(generator, mode), what)},
                       {"A": "A", "B": "B"}, mode, describe_mode(generator, mode)["inference_mode_means"])


def keras_direction(name: str, generator, description: str) -> Direction:
    """A direction of a Keras generator already in its inference mode."""
    def load():
        from tf_cyclegan.runtime import shared_norm

        return translators.keras_translator(generator), lambda: shared_norm.keras_tiled_model(generator)

    return Direction(name, description, load)


# -- exports ------------------------------------------------------------------------------------------
def _versions(folder: Path) -> dict[str, Path]:
    """{direction: SavedModel version} of an export folder (newest versions), of a model folder or of a
    version folder."""
    if (folder / "saved_model.pb").exists():
        return {layout.read_contract(folder).get("direction", "a2b"): folder}
    present = layout.export_directions(folder)
    if not present:
        version = layout.latest_version(folder)
        if version is None:
            raise ModelError(f"--model {folder}: not {LAYOUTS}")
        return {layout.read_contract(version).get("direction", folder.name if folder.name in naming.DIRECTIONS
                                                   else "a2b"): version}
    versions = {d: layout.latest_version(folder / d) for d in present}
    missing = [d for d, version in versions.items() if version is None]
    if missing:
        raise ModelError(f"--model {folder}: {missing[0]}/ holds no exported version")
    return versions


def _file_direction(file: Path) -> str:
    return layout.read_contract(file.parent).get("direction", file.stem.split("_")[0] if
                                                 file.stem.split("_")[0] in naming.DIRECTIONS else "a2b")


def _open_exported(path: Path, first: Path, found: dict[str, Path], mode: str | None, variant: str) -> OpenedModel:
    """An export's directions ({direction: version folder, or a single file}), with what its contract says."""
    from tf_cyclegan.models.modes import MODE_MEANS

    contract = layout.read_contract(first if first.is_dir() else first.parent)
    check_mode(contract, mode, f"--model {path}")
    directions = {d: _exported_direction(d, where, variant) for d, where in found.items()}
    made = contract.get("inference_mode", mode or "train")
    names = {"A": "A", "B": "B"}
    if contract:  # an export of ours: the domains of its direction
        ab = (contract.get("source_domain", "?"), contract.get("target_domain", "?"))
        names = dict(zip(("A", "B"), ab if contract.get("direction", "a2b") == "a2b" else ab[::-1]))
    description = next(iter(directions.values())).description
    if layout.export_directions(path):
        kind = {"saved_model": "SavedModel", "onnx": "ONNX"}.get(variant, f"TFLite {variant}")
        how = f", {contract['inference_mode']} mode" if "inference_mode" in contract else ""
        description = f"export {path} ({kind}{how}, versions {'/'.join(v.name for v in found.values())})"
    return OpenedModel(description, directions, names, made, contract.get("inference_mode_means", MODE_MEANS[made]),
                       contract.get("training_config") or {}, contract.get("checkpoint"))


def _exported_direction(name: str, where: Path, variant: str) -> Direction:
    """A direction of an export: its SavedModel, or its file of the variant, or the file given."""
    if where.is_file():
        kind = "TFLite" if where.suffix == ".tflite" else "ONNX"
        return Direction(name, f"{kind} model {where}", lambda: _file_model(where))
    if variant == "saved_model":
        return Direction(name, f"SavedModel {where}", lambda: _saved_model(where))
    file = where / (layout.onnx_file(name) if variant == "onnx" else layout.tflite_file(name, variant))
    if not file.is_file():
        raise ModelError(f"--variant {variant}: {file} does not exist (export with "
                         f"{'--onnx' if variant == 'onnx' else '--int8_selective or --full_int8'} to write it)")
    return _exported_direction(name, file, variant)


def _file_model(file: Path):
    translate = translators.tflite_translator(file) if file.suffix == ".tflite" else translators.onnx_translator(file)
    return translate, lambda: whole_image_tiles(translate, layout.read_contract(file.parent))


def _saved_model(version: Path):
    """A SavedModel version; its tile signatures (exports since tf_cyclegan 0.5) share statistics."""
    loaded = translators.load_saved_model(version)
    translate = translators.signature_translator(loaded)
    contract = layout.read_contract(version)
    if "tile_statistics" not in loaded.signatures or "tiling" not in contract:
        return translate, lambda: whole_image_tiles(translate, contract)
    from tf_cyclegan.runtime import shared_norm

    return translate, lambda: shared_norm.saved_model_tiled_model(loaded, contract)


def whole_image_tiles(translate: BatchTranslator, contract: dict):
    """tiling.TiledModel of a model that takes no statistics in (TFLite, ONNX, SavedModels from before the
    tile signatures): each tile normalised by its own statistics."""
    from tf_cyclegan.runtime.tiling import GRID, TiledModel

    def run(tile, statistics, core):
        return to_float(translate(tile[None])[0]), np.zeros([0], np.float32)

    return TiledModel(run, [], int(contract.get("tiling", {}).get("multiple", GRID)), shares=False)


def check_mode(contract: dict, mode: str | None, what: str):
    """Refuse an inference mode that an export was not made in (the mode is fixed when exporting)."""
    made = contract.get("inference_mode")
    if mode and made and made != mode and contract.get("inference_modes_differ", True):
        flag = "with --eval" if mode == "eval" else "without --eval"
        raise ModelError(f"{what} was exported in {made} mode; export the run again {flag} for {mode} mode")
