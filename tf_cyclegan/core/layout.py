"""Where things live on disk: the run folder that training writes and the export folder that export writes.

Every path of either is spelled here, so that train, export, translate, evaluate and the tests agree.

    RUN/                              EXPORT/
      config.json    the options        a2b/<version>/   a TF Serving version: saved_model.pb, variables/,
      domains.json   {"X": .., "Y": ..}                  a2b_<variant>.tflite, a2b.onnx, tf_cyclegan.json (contract)
      checkpoints/   ckpt-<step>.*      b2a/<version>/
      samples/       epoch_<NNN>.png
      logs/          TensorBoard
      data_report.tsv  unreadable images
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

from tf_cyclegan.core.contract_file import read_contract_file
from tf_cyclegan.core.errors import RunError
from tf_cyclegan.core.files import atomic_write, make_temp_dir

CONTRACT_FILE = "tf_cyclegan.json"
# What a version of an export holds: the SavedModel, TFLite files of these variants, an ONNX file.
VARIANTS = ("saved_model", "float32", "float16", "int8_dynamic", "int8_selective", "int8_full", "onnx")


def default_output(dataset: str) -> str:
    """runs/<the dataset's last path component>."""
    name = dataset.rstrip("/\\").replace("\\", "/").split("/")[-1] or "run"
    return os.path.join("runs", name)


@dataclasses.dataclass(frozen=True)
class RunFolder:
    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    config = property(lambda self: self.root / "config.json")
    domains = property(lambda self: self.root / "domains.json")
    checkpoints = property(lambda self: self.root / "checkpoints")
    samples = property(lambda self: self.root / "samples")
    logs = property(lambda self: self.root / "logs")
    data_report = property(lambda self: self.root / "data_report.tsv")
    lock = property(lambda self: self.root / ".lock")

    def sample(self, epoch: int) -> Path:
        return self.samples / f"epoch_{epoch:03d}.png"

    def exists(self) -> bool:
        """Whether this is a training run folder (as opposed to an export folder or anything else)."""
        return self.config.is_file() and self.checkpoints.is_dir()

    def read_config(self):
        """The run's Config (RunError when config.json is missing or unreadable)."""
        from tf_cyclegan.core.config import Config

        if not self.config.is_file():
            raise RunError(f"{self.root}: no config.json there; pass the folder a training run wrote")
        try:
            return Config.from_json(self.config.read_text())
        except (ValueError, TypeError) as e:
            raise RunError(f"{self.config}: unreadable run config ({e})") from None

    def read_domain_names(self) -> dict[str, str]:
        """{"X": name, "Y": name}; {"X": "A", "Y": "B"} for a run that did not record them."""
        if self.domains.is_file():
            return json.loads(self.domains.read_text())
        return {"X": "A", "Y": "B"}

    def write(self, path: Path, text: str):
        try:
            atomic_write(path, text)
        except OSError as e:
            raise RunError(f"cannot write {path}: {e.strerror or e}") from None


# -- export folders --------------------------------------------------------------------------------
def tflite_file(direction: str, variant: str) -> str:
    return f"{direction}_{variant}.tflite"


def onnx_file(direction: str) -> str:
    return f"{direction}.onnx"


def keras_file(direction: str) -> str:
    return f"{direction}.keras"


def versions(model_dir: Path) -> list[Path]:
    """The complete SavedModel versions in a TF Serving model folder, oldest first."""
    if not model_dir.is_dir():
        return []
    found = [p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").exists()]
    return sorted(found, key=lambda p: int(p.name))


def latest_version(model_dir: Path) -> Path | None:
    return (versions(Path(model_dir)) or [None])[-1]


def next_version(model_dir: Path) -> int:
    numbers = [int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()] \
        if model_dir.is_dir() else []
    return max(numbers, default=0) + 1


def write_version(model_dir: Path, build) -> tuple[int, Path]:
    """Let build(tmp) fill a temporary folder, then rename it to the next version number, so that TF Serving
    (which loads any numbered folder it sees) never loads a half-written version."""
    model_dir.mkdir(parents=True, exist_ok=True)
    for stale in model_dir.glob(".tmp-*"):  # left by an export that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = make_temp_dir(model_dir, ".tmp-")
    try:
        build(tmp)
        while True:
            version = next_version(model_dir)
            try:
                os.rename(tmp, model_dir / str(version))
                return version, model_dir / str(version)
            except OSError:
                if not (model_dir / str(version)).exists():
                    raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def export_directions(folder: Path) -> list[str]:
    """The directions (a2b, b2a) an export folder has a model folder for: both for CycleGAN, one for pix2pix."""
    from tf_cyclegan.core.directions import DIRECTIONS

    return [d for d in DIRECTIONS if (Path(folder) / d).is_dir()]


def read_contract(version: Path) -> dict:
    """A version's tf_cyclegan.json with its fields checked (ModelError naming the file and the field when one
    does not fit), or {} when there is none (an export made by another tool)."""
    return read_contract_file(Path(version) / CONTRACT_FILE)
