"""Distillation's teacher: a trained model opened as Keras generators, and the layers of a generator whose
activations a student learns to match (GAN Compression's mapping layers).

A teacher is anything translate opens that holds Keras generators: a training run folder of any model, a
.keras file, or an export that carries its generator as a .keras file (from_torch writes one). What it says
of itself (its model, directions and training data) is read without TensorFlow, for the command's defaults.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tf_cyclegan.core import layout
from tf_cyclegan.core.config import TEACHER_KINDS
from tf_cyclegan.core.directions import DIRECTIONS, direction_from
from tf_cyclegan.core.errors import RunError

HOLDS = "a training run folder, a .keras file, or a from_torch import (its versions hold a .keras file)"


@dataclasses.dataclass
class TeacherFacts:
    """What a teacher says of itself: its model (None when unknown: a bare .keras file), its directions, the
    config values it was trained with ({} when unknown), and {direction: .keras file} of an export."""

    kind: str | None
    directions: list[str]
    training: dict
    keras_files: dict[str, Path] = dataclasses.field(default_factory=dict)
    run: Path | None = None


def teacher_facts(path: str) -> TeacherFacts:
    """The facts of --teacher PATH, or one line saying why it cannot teach."""
    p = Path(path)
    if not p.exists():
        raise RunError(f"--teacher {p}: no such file or folder")
    if layout.RunFolder(p).exists():
        config = layout.RunFolder(p).read_config()
        values = dataclasses.asdict(config)
        kind = config.teacher_model if config.model == "distill" else config.model
        return TeacherFacts(kind, run_directions(values), values, run=p)
    if p.is_file() and p.suffix == ".keras":
        return TeacherFacts(None, ["a2b"], {}, {"a2b": p})
    if p.is_file() or (p / "saved_model.pb").exists() or p.is_dir():
        return _export_facts(p)
    raise RunError(f"--teacher {p}: not {HOLDS}")


def run_directions(values: dict) -> list[str]:
    """The directions a run's generators translate (a CycleGAN's both, other models' X -> Y)."""
    if values.get("model") == "distill":
        return values["teacher_directions"].split(",")
    if values.get("model", "cycle_gan") == "cycle_gan":
        return list(DIRECTIONS)
    return [direction_from("X", values.get("direction", "AtoB"))]


def _export_facts(p: Path) -> TeacherFacts:
    """An export folder, model folder or version folder whose versions carry a .keras file."""
    if p.is_file():
        raise RunError(f"--teacher {p}: a {p.suffix or 'plain'} file holds no Keras generator to distill from; "
                       f"pass {HOLDS}")
    if (p / "saved_model.pb").exists():
        versions = {"a2b": p}
    elif layout.export_directions(p):
        versions = {d: layout.latest_version(p / d) for d in layout.export_directions(p)}
    else:
        versions = {"a2b": layout.latest_version(p)}
    if None in versions.values():
        raise RunError(f"--teacher {p}: not {HOLDS}")
    files, contract = {}, {}
    for direction, version in versions.items():
        contract = layout.read_contract(version) if version else {}
        keras_file = contract.get("keras", {}).get("file")
        if not keras_file or not (version / keras_file).is_file():
            raise RunError(f"--teacher {p}: its SavedModel, TFLite and ONNX files hold no Keras generator to "
                           f"distill from; pass {HOLDS}")
        named = contract.get("direction", direction)
        files[named if named in DIRECTIONS else "a2b"] = version / keras_file
    training = contract.get("training_config") or {}
    kind = contract.get("model") or training.get("model")
    return TeacherFacts(kind if kind in TEACHER_KINDS else None, list(files), training, files)


def load_teacher(facts: TeacherFacts, mode: str = "train", log=print) -> dict:
    """{direction: the teacher's generator as it runs in `mode`, dropout off}: in train mode batch norm takes
    each image's own statistics, as translate runs it; dropout is the reference's test-time noise, which a
    student should not chase (GAN Compression's teacher runs without dropout too)."""
    from tf_cyclegan.models.modes import inference_generator
    from tf_cyclegan.models.restoring import load_generators, load_keras_file

    if facts.run is not None:
        generators = load_generators(facts.run, log=log)[1]
    else:
        generators = {d: load_keras_file(file) for d, file in facts.keras_files.items()}
    return {d: inference_generator(g, mode, dropout=False) for d, g in generators.items()}


def resnet_feature_layers(names: set[str]) -> list[str] | None:
    """GAN Compression's mapping layers of a network of the ResNet layout (its model.9, 12, 15, 18 at nine
    blocks): the downsampled input of the blocks, and the outputs of the blocks at a third, two thirds and
    the end. None when the network is not of that layout."""
    blocks = sum(1 for name in names if name.startswith("block") and name.endswith("_add"))
    if not blocks or "down1_relu" not in names:
        return None
    downsampled = "down1_blur" if "down1_blur" in names else "down1_relu"
    ends = sorted({blocks // 3, 2 * blocks // 3, blocks} - {0})
    return [downsampled] + [f"block{end - 1}_add" for end in ends]


def unet_feature_layers(names: set[str]) -> list[str] | None:
    """A U-Net's activations at a quarter of the input's side, where a ResNet student's blocks work: the
    output of the encoder's second level, and the decoder's at that side (level 2's skip concatenation)."""
    encoder = "level1_down_norm" if "level1_down_norm" in names else "level1_down_conv"
    return [encoder, "level2_skip"] if {encoder, "level2_skip"} <= names else None


def feature_layers(generator) -> list[str] | None:
    """The layers whose activations distillation matches, or None for a network of neither layout."""
    names = {layer.name for layer in generator.layers}
    return resnet_feature_layers(names) or unet_feature_layers(names)


def student_layers(student, count: int) -> list[str]:
    """`count` of a ResNet-layout student's mapping layers, matched in order to the teacher's: all four for
    a ResNet teacher; for a U-Net's two, the downsampled input and the last block's output."""
    own = resnet_feature_layers({layer.name for layer in student.layers})
    return own if count == len(own) else [own[0], own[-1]][:count]

