"""The options of an evaluation (python -m tf_cyclegan.evaluate's flags), free of TensorFlow so that the
command answers --help and flag errors at once."""

from __future__ import annotations

import dataclasses

from tf_cyclegan.core.layout import VARIANTS


@dataclasses.dataclass
class EvaluateOptions:
    model: str = dataclasses.field(default="", metadata={
        "help": "training run folder, export folder, SavedModel, or .tflite, .onnx or .keras file"})
    output: str = dataclasses.field(default="", metadata={"help": "folder for metrics.json, index.html, images/"})
    dataset: str = dataclasses.field(default="", metadata={
        "help": "'seasons', a TFDS name or a folder with testA/ testB/ (default: the one the model was trained on)"})
    data_dir: str | None = dataclasses.field(default=None, metadata={"help": "TFDS data directory"})
    variant: str = dataclasses.field(default="saved_model", metadata={
        "help": "export and version folders: the SavedModel, one of its TFLite files or its ONNX file (export "
                "--onnx)",
        "choices": VARIANTS})
    checkpoint: int | None = dataclasses.field(default=None, metadata={
        "help": "run folders: checkpoint step N (ckpt-N); default: the latest"})
    size: int | None = dataclasses.field(default=None, metadata={
        "help": "resize test images to SIZE x SIZE (bicubic; default: the training --crop_size)"})
    num_test: int = dataclasses.field(default=50, metadata={"help": "test images per domain, as the "
                                                            "reference's --num_test"})
    paired: bool = dataclasses.field(default=False, metadata={
        "help": "testA[i] and testB[i] (sorted by name) show the same scene: also measure translations "
                "against them (automatic for 'seasons')"})
    inception_weights: str | None = dataclasses.field(default=None, metadata={
        "help": "InceptionV3 notop weights file for FID/KID (default: the Keras cache, ~/.keras/models)"})
    no_fid: bool = dataclasses.field(default=False, metadata={"help": "skip FID and KID"})
    eval: bool = dataclasses.field(default=False, metadata={
        "help": "run folders: batch norm's running statistics, no dropout (PyTorch's model.eval()) instead of "
                "the reference's test mode (each image's own statistics, dropout on); exports are measured in "
                "the mode they were exported in"})
