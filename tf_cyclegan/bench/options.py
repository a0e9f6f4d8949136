"""What python -m tf_cyclegan.bench can measure, and its options."""

from __future__ import annotations

import dataclasses
import re

from tf_cyclegan.core.catalog import FROM_DATA, MODEL_DEFAULTS
from tf_cyclegan.core.config import MIXED_PRECISION, Config

PROG = "python -m tf_cyclegan.bench"
RESULT = "BENCH_RESULT "  # a worker's one line of JSON on stdout starts with this
SECTIONS = ("machine", "train", "reference", "pipeline", "inference")
DEFAULT_SECTIONS = ("machine", "train", "pipeline", "inference")  # the reference is slow: ask for it
INFERENCE = ("keras", "saved_model", "tflite_float32", "tflite_float16", "tflite_int8_dynamic",
             "tflite_int8_selective", "onnx")  # onnx: when tf2onnx and onnxruntime are installed (the onnx extra)
# The models bench times (catalog.FROM_DATA) and those the PyTorch reference timing covers (torch_reference.py).
REFERENCE_MODELS = ("cycle_gan", "pix2pix")
BASELINE = "cycle_gan"  # with several models, the others' step time and peak RSS are given as ratios of its
# Each model's generator when --netG is not given: the reference's default for it.
DEFAULT_NETG = {model: MODEL_DEFAULTS[model].get("netG", Config.netG) for model in FROM_DATA}
LIST_SEPARATORS = re.compile(r"[,|]")


def split_list(text: str) -> list[str]:
    """'cut,fastcut' or 'cut|fastcut' (spaces around the names allowed) as ['cut', 'fastcut']; each name once."""
    names = [name.strip() for name in LIST_SEPARATORS.split(text)]
    return list(dict.fromkeys(name for name in names if name))


@dataclasses.dataclass
class BenchOptions:
    model: str = dataclasses.field(default="cycle_gan", metadata={
        "help": f"the models whose train step is timed, comma-separated ({', '.join(FROM_DATA)}; `|` separates "
                "too), e.g. cut,fastcut,cycle_gan: cycle_gan (two generators, two discriminators), pix2pix (one "
                "U-Net generator, one 6-channel discriminator, vanilla GAN + L1), cut and fastcut (one generator, "
                "one discriminator, PatchNCE heads), each with its own defaults (Config.for_model). With cycle_gan "
                "among several, every other model's step time and worker peak RSS are also printed as ratios of "
                "cycle_gan's. The reference section times each model the PyTorch reference covers (cycle_gan, "
                "pix2pix; cut and fastcut are skipped with a note); the pipeline and inference sections time the "
                "first model only"})
    # --size on the command line takes a comma-separated list (cli.py); a worker's options hold one size.
    size: int = dataclasses.field(default=128, metadata={"help": "training image size (crop_size)"})
    iters: int = dataclasses.field(default=5, metadata={"help": "timed iterations per measurement, after "
                                                                "the trace and one warm-up iteration"})
    batch_sizes: str = dataclasses.field(default="1,4", metadata={"help": "train batch sizes to time"})
    netG: str = dataclasses.field(default="", metadata={
        "help": "generator of every model timed; default: the reference's for each model (cycle_gan, cut, "
                "fastcut: resnet_9blocks, which the CycleGAN paper replaces by resnet_6blocks at 128; pix2pix: "
                "unet_256)"})
    ngf: int = dataclasses.field(default=64, metadata={"help": "generator filters (and the discriminator's, "
                                                               "unless --ndf)"})
    ndf: int = dataclasses.field(default=0, metadata={"help": "discriminator filters (0: as --ngf); a mobile "
                                                              "generator's step beside the paper's: --ndf 64"})
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
        # One model: its default generator. Several: netG stays as given ("" for each one's own, see for_model).
        if not self.netG and self.model in DEFAULT_NETG:
            self.netG = DEFAULT_NETG[self.model]

    @property
    def models(self) -> list[str]:
        """The names --model lists, in its order."""
        return split_list(self.model)

    def for_model(self, model: str, size: int | None = None) -> "BenchOptions":
        """The options of one worker: one model (its default generator unless --netG named one) at one size."""
        netG = self.netG if self.netG and (self.model not in DEFAULT_NETG or self.netG != DEFAULT_NETG[self.model]) \
            else ""
        return dataclasses.replace(self, model=model, netG=netG, size=self.size if size is None else size)
