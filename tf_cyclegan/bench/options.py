"""What python -m tf_cyclegan.bench can measure, and its options."""

from __future__ import annotations

import dataclasses

from tf_cyclegan.config import MIXED_PRECISION, MODEL_DEFAULTS, Config

PROG = "python -m tf_cyclegan.bench"
RESULT = "BENCH_RESULT "  # a worker's one line of JSON on stdout starts with this
SECTIONS = ("machine", "train", "reference", "pipeline", "inference")
DEFAULT_SECTIONS = ("machine", "train", "pipeline", "inference")  # the reference is slow: ask for it
INFERENCE = ("keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8_dynamic",
             "tflite_int8_selective")
MODELS = ("cycle_gan", "pix2pix")  # the models bench times, ours and the reference's
# Each model's generator when --netG is not given: the reference's default for it.
DEFAULT_NETG = {model: MODEL_DEFAULTS[model].get("netG", Config.netG) for model in MODELS}


@dataclasses.dataclass
class BenchOptions:
    model: str = dataclasses.field(default="cycle_gan", metadata={
        "help": "the model whose train step (and PyTorch reference step) is timed: cycle_gan (two generators, "
                "two discriminators) or pix2pix (one U-Net generator, one 6-channel discriminator, vanilla GAN + "
                "L1); the inference section times its generator", "choices": MODELS})
    size: int = dataclasses.field(default=128, metadata={"help": "training image size (crop_size)"})
    iters: int = dataclasses.field(default=5, metadata={"help": "timed iterations per measurement, after "
                                                                "the trace and one warm-up iteration"})
    batch_sizes: str = dataclasses.field(default="1,4", metadata={"help": "train batch sizes to time"})
    netG: str = dataclasses.field(default="", metadata={
        "help": "generator; default: the reference's for the model (cycle_gan: resnet_9blocks, which the paper "
                "replaces by resnet_6blocks at 128; pix2pix: unet_256)"})
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

    def __post_init__(self):
        if not self.netG and self.model in DEFAULT_NETG:
            self.netG = DEFAULT_NETG[self.model]
