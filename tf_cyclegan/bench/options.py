"""What python -m tf_cyclegan.bench can measure, and its options."""

from __future__ import annotations

import dataclasses

from tf_cyclegan.config import MIXED_PRECISION

PROG = "python -m tf_cyclegan.bench"
RESULT = "BENCH_RESULT "  # a worker's one line of JSON on stdout starts with this
SECTIONS = ("machine", "train", "reference", "pipeline", "inference")
DEFAULT_SECTIONS = ("machine", "train", "pipeline", "inference")  # the reference is slow: ask for it
INFERENCE = ("keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8_dynamic",
             "tflite_int8_selective")


@dataclasses.dataclass
class BenchOptions:
    size: int = dataclasses.field(default=128, metadata={"help": "training image size (crop_size)"})
    iters: int = dataclasses.field(default=5, metadata={"help": "timed iterations per measurement, after "
                                                                "the trace and one warm-up iteration"})
    batch_sizes: str = dataclasses.field(default="1,4", metadata={"help": "train batch sizes to time"})
    netG: str = dataclasses.field(default="resnet_9blocks", metadata={
        "help": "generator (the reference's default; the paper uses resnet_6blocks at 128)"})
    ngf: int = dataclasses.field(default=64, metadata={"help": "generator and discriminator filters"})
    jit_compile: bool = dataclasses.field(default=False, metadata={"help": "time the XLA-compiled train step"})
    low_memory: bool = dataclasses.field(default=False, metadata={"help": "time the train step with --low_memory"})
    mixed_precision: str = dataclasses.field(default="off", metadata={
        "help": "time the train step in this precision (the reference's under torch.autocast)",
        "choices": tuple(MIXED_PRECISION)})
    infer_size: int = dataclasses.field(default=256, metadata={"help": "inference image size"})
    dataset: str = dataclasses.field(default="seasons", metadata={"help": "dataset for the pipeline timing"})
    only: str = dataclasses.field(default="", metadata={
        "help": f"comma-separated sections to run ({', '.join(SECTIONS)}); default: all but reference, "
                "the PyTorch reference's iteration timed on this machine (needs PyTorch)"})
    json: bool = dataclasses.field(default=False, metadata={"help": "one JSON object per line"})
