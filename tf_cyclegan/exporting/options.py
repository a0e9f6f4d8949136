"""The options of an export (python -m tf_cyclegan.export's flags), free of TensorFlow so that the command
answers --help and flag errors at once."""

from __future__ import annotations

import dataclasses

from tf_cyclegan.core.extras import install_hint
from tf_cyclegan.core.pixels import MAX_EXPORT_PIXELS


@dataclasses.dataclass
class ExportOptions:
    run: str = dataclasses.field(default="", metadata={"help": "training run folder (has config.json)"})
    output: str = dataclasses.field(default="", metadata={"help": "export folder (TF Serving base path)"})
    checkpoint: int | None = dataclasses.field(
        default=None, metadata={"help": "checkpoint step N (ckpt-N) to export; default: the latest"})
    max_pixels: int = dataclasses.field(
        default=MAX_EXPORT_PIXELS, metadata={"help": "largest image (height x width) the SavedModel accepts"})
    no_tflite: bool = dataclasses.field(default=False, metadata={"help": "SavedModel only"})
    full_int8: bool = dataclasses.field(
        default=False, metadata={"help": "also try a full-integer int8 TFLite model, calibrated on "
                                         "training images (see docs/export.md for its measured error)"})
    int8_selective: bool = dataclasses.field(
        default=False, metadata={"help": "also an int8 TFLite model whose convolutions are int8 and whose "
                                         "instance norms stay float, calibrated on training images: the fast "
                                         "int8 (see docs/export.md for its speed and error)"})
    eval: bool = dataclasses.field(
        default=False, metadata={"help": "export the generator in eval mode (batch norm's running statistics, "
                                         "no dropout; PyTorch's model.eval()) instead of the reference's test "
                                         "mode (each image's own statistics, dropout on); the same for "
                                         "generators without batch norm or dropout (CycleGAN's)"})
    onnx: bool = dataclasses.field(
        default=False, metadata={"help": "also an ONNX model per direction (<direction>.onnx: uint8 in and out, "
                                         f"any batch and H x W) for onnxruntime; needs {install_hint('onnx')}"})
    keras: bool = dataclasses.field(
        default=False, metadata={"help": "also the generator as a Keras file per direction (<direction>.keras, "
                                         "as trained), which a distillation teacher or a Keras user can open"})
