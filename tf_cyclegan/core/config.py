"""Every option of a training run, in one dataclass, with the paper's defaults.

Field names are the reference implementation's flag names (junyanz/pytorch-CycleGAN-and-pix2pix), so a
PyTorch user carries a command over unchanged. The CLI is generated from these fields; the resolved config
is written as JSON into the run folder and into every checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from tf_cyclegan.core.catalog import (CONTRASTIVE, FROM_DATA, GENERATORS_HELP, MODEL_DEFAULTS, MODELS,
                                      generator_family, residual_blocks, resnet_sequence, size_multiple)
from tf_cyclegan.core.directions import DIRECTIONS, RUN_DIRECTIONS
from tf_cyclegan.core.pixels import MAX_IMAGE_PIXELS

GAN_MODES = ("lsgan", "vanilla", "wgangp")
LR_POLICIES = ("linear", "step", "plateau", "cosine")
NET_D = ("basic", "n_layers", "pixel")
NORMS = ("instance", "batch", "none")
INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")
PREPROCESS = ("resize_and_crop", "scale_width_and_crop", "crop", "scale_width", "none")
# The fields that only CUT reads: other models refuse them when they differ from their defaults.
CONTRASTIVE_FIELDS = ("no_antialias", "no_antialias_up", "lambda_GAN", "lambda_NCE", "nce_idt", "nce_layers",
                      "nce_includes_all_negatives_from_minibatch", "netF_nc", "nce_T", "num_patches",
                      "flip_equivariance")
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")  # tf.distribute, see training/distribute.py
TEACHER_KINDS = FROM_DATA  # what a distillation teacher was trained as
# The fields that only distillation reads: other models refuse them when they differ from their defaults.
DISTILL_FIELDS = ("teacher", "teacher_model", "teacher_directions", "teacher_mode", "lambda_recon", "lambda_distill")
MIXED_PRECISION = {"off": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}  # -> Keras dtype policy
# --lr_policy plateau: the reference's ReduceLROnPlateau settings, PlateauDecay's defaults (models/schedules.py,
# which imports TensorFlow; tests/test_config.py checks that the two agree). The rate falls once `patience`
# + 1 epochs in a row have not improved on the best mean by `threshold`.
PLATEAU = dict(factor=0.2, threshold=0.01, patience=5)


def antialiasing(config) -> dict:
    """The networks' anti-aliasing switches for a run's config: CUT's default, never CycleGAN's or pix2pix's."""
    cut = getattr(config, "model", "cycle_gan") in CONTRASTIVE
    return dict(antialias=cut and not config.no_antialias, antialias_up=cut and not config.no_antialias_up)


def config_values(config) -> dict:
    """A run's config values, from its Config or from the dict of them (config.json, an export's contract)."""
    return config if isinstance(config, dict) else dataclasses.asdict(config)


def nce_layer_indices(text: str) -> list[int]:
    """--nce_layers '0,4,8,12,16' as indices (ValueError when it is not a list of integers)."""
    return [int(part) for part in text.split(",")]


def _opt(default, help, *, resumable=False, **extra):
    """A config field; `resumable` fields may change when a run is resumed (the others may not)."""
    return dataclasses.field(default=default, metadata={"help": help, "resumable": resumable, **extra})


@dataclasses.dataclass
class Config:
    # Data.
    dataset: str = _opt("seasons", "'seasons' (embedded), a TFDS name such as cycle_gan/horse2zebra, "
                        "or a folder with trainA/ trainB/ [testA/ testB/]")
    data_dir: str | None = _opt(None, "TFDS data directory (default: TFDS's, ~/tensorflow_datasets)",
                                resumable=True)
    max_dataset_size: int | None = _opt(None, "use at most this many images of each domain")
    max_image_pixels: int = _opt(MAX_IMAGE_PIXELS, "skip images with more pixels (read from the header, so "
                                 "decompression bombs are never decoded)")
    max_bad_fraction: float = _opt(0.05, "stop when more than this fraction of a training split is "
                                   "unreadable (the bad files are skipped and listed either way)", resumable=True)
    load_size: int = _opt(286, "resize images to this size (bicubic) ...")
    crop_size: int = _opt(256, "... then random-crop to this size")
    preprocess: str = _opt("resize_and_crop", "resize_and_crop: resize to load_size, crop; "
                           "scale_width_and_crop: width to load_size (aspect kept), crop; crop: crop only; "
                           "scale_width: width to load_size, no crop; none: as it is. Without a crop, sides "
                           "are rounded to a multiple of 4 (unet: 256 or 128), and images of different "
                           "sizes need --batch_size 1", choices=PREPROCESS)
    no_flip: bool = _opt(False, "no random horizontal flip")
    serial_batches: bool = _opt(False, "take images in order instead of at random (the reference's flag)")
    direction: str = _opt("AtoB", "AtoB: X=A, Y=B; BtoA swaps the domains", choices=RUN_DIRECTIONS)
    # Networks.
    netG: str = _opt("resnet_9blocks", "generator: resnet_<N>blocks (paper: resnet_9blocks at 256, "
                     "resnet_6blocks at 128), mobile_resnet_<N>blocks (GAN Compression's, about 1/16 of the "
                     "compute at --ngf 32: docs/mobile.md), unet_256 or unet_128")
    netD: str = _opt("basic", "discriminator: basic (70x70 PatchGAN), n_layers (uses --n_layers_D) or "
                     "pixel (1x1 PatchGAN)", choices=NET_D)
    n_layers_D: int = _opt(3, "discriminator conv layers (basic means 3)")
    ngf: int = _opt(64, "generator filters in the first conv layer")
    ndf: int = _opt(64, "discriminator filters in the first conv layer")
    norm: str = _opt("instance", "normalisation layers", choices=NORMS)
    init_type: str = _opt("normal", "weight initialisation", choices=INIT_TYPES)
    init_gain: float = _opt(0.02, "scale of the normal, xavier and orthogonal initialisations")
    use_dropout: bool = _opt(False, "dropout (0.5) in the generator; CycleGAN trains without it, as the "
                             "reference's --no_dropout default")
    # Objective.
    gan_mode: str = _opt("lsgan", "adversarial loss", choices=GAN_MODES)
    lambda_A: float = _opt(10.0, "weight of the cycle loss X -> Y -> X")
    lambda_B: float = _opt(10.0, "weight of the cycle loss Y -> X -> Y")
    lambda_identity: float = _opt(0.5, "identity loss weight, relative to lambda_A / lambda_B")
    pool_size: int = _opt(50, "image history pool size for the discriminators (0: no pool)")
    # Optimisation.
    lr: float = _opt(0.0002, "initial Adam learning rate")
    beta1: float = _opt(0.5, "Adam beta1")
    n_epochs: int = _opt(100, "epochs at the initial learning rate", resumable=True)
    n_epochs_decay: int = _opt(100, "epochs of linear decay of the learning rate to zero", resumable=True)
    epoch_count: int = _opt(1, "the epoch training starts at, as the reference's: epochs epoch_count .. "
                            "n_epochs + n_epochs_decay are trained, and the linear policy counts from it")
    lr_policy: str = _opt("linear", "learning-rate policy: linear (constant for n_epochs, then linear decay to "
                          "zero over n_epochs_decay), step, plateau (x{factor:g} once the epoch's mean generator "
                          "loss has not improved by {percent:g} percent for {epochs} epochs in a row) or cosine "
                          "(annealed to zero over n_epochs)".format(**PLATEAU, percent=PLATEAU["threshold"] * 100,
                                                                   epochs=PLATEAU["patience"] + 1),
                          choices=LR_POLICIES)
    lr_decay_iters: int = _opt(50, "--lr_policy step: multiply the rate by 0.1 every this many epochs")
    batch_size: int = _opt(1, "images per domain per step")
    seed: int = _opt(0, "seed of weights, data order, augmentation and image pools")
    deterministic: bool = _opt(False, "deterministic TF ops (bitwise-reproducible, a little slower)",
                               resumable=True)
    jit_compile: bool = _opt(False, "compile the train step with XLA (see docs/performance.md; not with "
                             "images of varying sizes)", resumable=True)
    low_memory: bool = _opt(False, "call each network once per image pass instead of once per network "
                            "where the maths allows: about 15 percent less peak memory, a few percent slower "
                            "(see docs/performance.md)", resumable=True)
    mixed_precision: str = _opt("off", "compute in bf16 or fp16, weights and losses in float32 (Keras "
                                "mixed precision; fp16 with dynamic loss scaling): for GPUs and AMX CPUs, see "
                                "docs/performance.md; correct but slower on other CPUs", choices=tuple(MIXED_PRECISION))
    strategy: str = _opt("auto", "tf.distribute strategy: auto (mirrored when more than one GPU is visible, "
                         "else default), default (one device), mirrored (every local GPU), multi_worker "
                         "(several machines, from TF_CONFIG) or tpu; --batch_size is the global batch, split "
                         "over the replicas (see docs/distributed.md)", resumable=True,
                         choices=STRATEGIES)
    tpu: str | None = _opt(None, "--strategy tpu: the TPU's name or grpc:// address (default: the TPU VM's "
                           "own)", resumable=True)
    # Run folder and logging.
    output: str | None = _opt(None, "run folder (default: runs/<dataset name>)", resumable=True)
    print_freq: int = _opt(100, "log losses to TensorBoard every N steps", resumable=True)
    save_latest_freq: int = _opt(5000, "also checkpoint every N steps (always at each epoch end)",
                                 resumable=True)
    keep_checkpoints: int = _opt(3, "checkpoints kept in the run folder", resumable=True)
    n_samples: int = _opt(4, "test images per domain in the sample grid", resumable=True)
    eval_every: int = _opt(0, "every N steps, measure the generators on fixed test images (cycle L1, PSNR, "
                           "SSIM; on paired test data also PSNR and SSIM against the truth) and log them to "
                           "TensorBoard under eval/ (0: never)", resumable=True)
    eval_images: int = _opt(16, "test images per domain that --eval_every measures", resumable=True)
    max_steps: int | None = _opt(None, "stop (with a checkpoint) after this many steps in all; "
                                 "running again resumes", resumable=True)
    max_nonfinite: int = _opt(10, "stop after this many consecutive steps with non-finite losses (each "
                              "is skipped without an update)", resumable=True)
    # The translation model (one module of tf_cyclegan.models each). Last, so that version 0.1's positional
    # Config(dataset, ...) still means what it meant.
    model: str = _opt("cycle_gan", "translation model: cycle_gan (Zhu et al. 2017: two generators, cycle "
                      "consistency, unpaired data); pix2pix (Isola et al. 2017: one conditional generator, "
                      "paired data; its defaults: --netG unet_256 --norm batch, dropout, --gan_mode vanilla, "
                      "--pool_size 0); cut or fastcut (Park et al. 2020: one generator, patchwise contrastive "
                      "loss, unpaired data; their defaults: --init_type xavier --pool_size 0, cut: --nce_idt "
                      "--lambda_NCE 1 --n_epochs 200 --n_epochs_decay 200, fastcut: --flip_equivariance "
                      "--lambda_NCE 10 --n_epochs 150 --n_epochs_decay 50). The defaults this help shows are those "
                      "of the --model on the command line: python -m tf_cyclegan.train --model cut --help shows "
                      "CUT's", choices=MODELS)
    # Fields added after 0.1 go below `model`, for the same reason.
    lambda_L1: float = _opt(100.0, "pix2pix: weight of the L1 loss between the translation and the truth")
    paired: bool = _opt(False, "pix2pix: --dataset is a folder with trainA/ trainB/ [testA/ testB/] whose "
                        "files pair up by name (x.jpg in trainA with x.jpg in trainB), not the aligned "
                        "layout (train/ val/ test/ of A|B images side by side)")
    # CUT and FastCUT (Park et al. 2020), with the flag names of taesungp/contrastive-unpaired-translation.
    no_antialias: bool = _opt(False, "cut, fastcut: plain stride-2 convolutions instead of CUT's blurred "
                              "downsampling, in the generator and the discriminator (CycleGAN's and pix2pix's "
                              "networks never blur)")
    no_antialias_up: bool = _opt(False, "cut, fastcut: transposed convolutions instead of CUT's bilinear "
                                 "upsampling and 3x3 convolution in the generator")
    lambda_GAN: float = _opt(1.0, "cut, fastcut, distill: weight of the adversarial loss GAN(G(x))")
    lambda_NCE: float = _opt(1.0, "cut, fastcut: weight of the PatchNCE loss NCE(G(x), x) (fastcut: 10)")
    nce_idt: bool = _opt(False, "cut, fastcut: also PatchNCE on (y, G(y)), averaged with the main term "
                         "(cut's default; --nce_idt false turns it off)", optional_bool=True)
    nce_layers: str = _opt("0,4,8,12,16", "cut, fastcut: the generator layers whose features PatchNCE "
                           "compares, as indices into the reference's layer sequence (0: the padded input, 4 "
                           "and 8: the down convolutions, 12 and 16: residual blocks 1 and 5)")
    nce_includes_all_negatives_from_minibatch: bool = _opt(
        False, "cut, fastcut: negatives from every image of the batch, not only the query's own (for "
        "single-image translation, whose batch is crops of one image)", optional_bool=True)
    netF_nc: int = _opt(256, "cut, fastcut: width of the MLP heads that project each layer's features")
    nce_T: float = _opt(0.07, "cut, fastcut: temperature of the PatchNCE logits")
    num_patches: int = _opt(256, "cut, fastcut: locations sampled per layer and image for PatchNCE")
    flip_equivariance: bool = _opt(False, "cut, fastcut: with probability 0.5 flip the generator's input and "
                                   "flip the query features back (fastcut's default; --flip_equivariance "
                                   "false turns it off)", optional_bool=True)

    # Distillation (GAN Compression, Li et al. 2020): python -m tf_cyclegan.distill sets these from --teacher.
    teacher: str | None = _opt(None, "distill: the trained model whose translations the student learns: a "
                               "training run folder, a .keras file or a from_torch import")
    teacher_model: str = _opt("cycle_gan", "distill: what the teacher was trained as (read from the teacher "
                              "where it says): pix2pix teachers teach on pairs, the others on unpaired domains",
                              choices=TEACHER_KINDS)
    teacher_directions: str = _opt("a2b,b2a", "distill: the teacher's directions, which the student learns "
                                   "(read from the teacher)")
    teacher_mode: str = _opt("train", "distill: the teacher's inference mode, without its dropout (train: batch "
                             "norm with each image's own statistics, as translate runs it; eval: the running "
                             "statistics)", choices=("train", "eval"))
    lambda_recon: float = _opt(10.0, "distill: weight of the L1 loss between the student's and the teacher's "
                               "translation")
    lambda_distill: float = _opt(0.01, "distill: weight of the feature loss (mean squared error between the "
                                 "student's activations, mapped by learned 1x1 convolutions, and the teacher's; "
                                 "pix2pix teachers: 1)")

    @classmethod
    def for_model(cls, model: str = "cycle_gan", **values) -> "Config":
        """A config of --model `model` with that model's defaults (MODEL_DEFAULTS) under `values`."""
        if model not in MODEL_DEFAULTS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
        return cls(**{**MODEL_DEFAULTS[model], **values, "model": model})

    # -- derived --------------------------------------------------------------------------------
    @property
    def crops(self) -> bool:
        """Whether --preprocess takes a random crop_size crop (else images keep their own size)."""
        return "crop" in self.preprocess

    @property
    def contrastive(self) -> bool:
        """CUT or FastCUT: one generator, PatchNCE."""
        return self.model in CONTRASTIVE

    @property
    def decay_resizes(self) -> bool:
        """CUT trains its decay epochs on images resized to crop_size (load_size = crop_size: no crop jitter),
        where --preprocess resizes to load_size and then crops."""
        return self.contrastive and self.preprocess in ("resize_and_crop", "scale_width_and_crop")

    @property
    def total_epochs(self) -> int:
        return self.n_epochs + self.n_epochs_decay - (self.epoch_count - 1)

    def errors(self) -> list[str]:
        """Every problem with the values, as '--flag: what is wrong' lines (empty when valid)."""
        errs = []
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                errs.append(f"--{f.name}: {getattr(self, f.name)!r} is not one of {', '.join(choices)}")
        if generator_family(self.netG) is None:
            errs.append(f"--netG: {self.netG!r} is not {GENERATORS_HELP}")
        positive = ["load_size", "crop_size", "n_layers_D", "ngf", "ndf", "batch_size", "print_freq",
                    "save_latest_freq", "keep_checkpoints", "n_epochs", "max_image_pixels", "max_nonfinite",
                    "epoch_count", "lr_decay_iters"]
        for name in positive:
            if getattr(self, name) < 1:
                errs.append(f"--{name}: must be at least 1, got {getattr(self, name)}")
        for name in ["n_epochs_decay", "pool_size", "n_samples", "eval_every", "lambda_A", "lambda_B",
                     "lambda_identity", "lambda_L1", "lr"]:
            if getattr(self, name) < 0:
                errs.append(f"--{name}: must not be negative, got {getattr(self, name)}")
        for name in ["max_dataset_size", "max_steps"]:
            if getattr(self, name) is not None and getattr(self, name) < 1:
                errs.append(f"--{name}: must be at least 1, got {getattr(self, name)}")
        if self.epoch_count > self.n_epochs + self.n_epochs_decay:
            errs.append(f"--epoch_count {self.epoch_count} is past the last epoch "
                        f"(--n_epochs + --n_epochs_decay = {self.n_epochs + self.n_epochs_decay})")
        if self.eval_images < 2:
            errs.append(f"--eval_images: must be at least 2, got {self.eval_images}")
        if self.eval_every and self.crop_size < 11:
            errs.append(f"--eval_every: the measures need --crop_size of at least 11 (SSIM's window), got "
                        f"{self.crop_size}")
        if not 0 <= self.max_bad_fraction <= 1:
            errs.append(f"--max_bad_fraction: must be between 0 and 1, got {self.max_bad_fraction}")
        if not 0 <= self.beta1 < 1:
            errs.append(f"--beta1: must be in [0, 1), got {self.beta1}")
        if self.preprocess in ("resize_and_crop", "scale_width_and_crop") and self.crop_size > self.load_size:
            errs.append(f"--crop_size {self.crop_size} is larger than --load_size {self.load_size}: "
                        f"with {self.preprocess} the crop must fit in the resized image")
        if self.jit_compile and self.strategy in ("mirrored", "multi_worker", "tpu"):
            errs.append(f"--jit_compile: not with --strategy {self.strategy} (XLA compiles the step on one "
                        "device; on TPUs every step is compiled anyway)")
        if self.tpu and self.strategy != "tpu":
            errs.append(f"--tpu {self.tpu}: only with --strategy tpu")
        if self.paired and self.model != "pix2pix":
            errs.append(f"--paired: only with --model pix2pix (--model {self.model} trains on unpaired domains)")
        errs += self._contrastive_errors() + self._distill_errors()
        if generator_family(self.netG) and self.crop_size % size_multiple(self.netG):
            errs.append(f"--crop_size: {self.netG} needs a multiple of {size_multiple(self.netG)}, got "
                        f"{self.crop_size}")
        return errs

    def _contrastive_errors(self) -> list[str]:
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        if not self.contrastive:
            return [f"--{name}: only with --model cut or fastcut" for name in CONTRASTIVE_FIELDS
                    if getattr(self, name) != defaults[name] and (name, self.model) != ("lambda_GAN", "distill")]
        errs = [] if residual_blocks(self.netG) else [f"--netG {self.netG}: CUT's features come from a ResNet "
                                                      "generator (resnet_<N>blocks or mobile_resnet_<N>blocks)"]
        try:
            layers = nce_layer_indices(self.nce_layers)
        except ValueError:
            layers = None
            errs.append(f"--nce_layers: {self.nce_layers!r} is not a comma-separated list of integers such as "
                        "0,4,8,12,16")
        if layers is not None and residual_blocks(self.netG):
            last = len(resnet_sequence(residual_blocks(self.netG),
                                       **antialiasing(self))) - 1
            if layers != sorted(set(layers)) or layers[0] < 0 or layers[-1] > last:
                errs.append(f"--nce_layers: {self.nce_layers!r} must be increasing indices from 0 to {last} "
                            f"(this {self.netG} has {last + 1} layers as the reference counts them)")
        for name in ("num_patches", "netF_nc"):
            if getattr(self, name) < 1:
                errs.append(f"--{name}: must be at least 1, got {getattr(self, name)}")
        if self.nce_T <= 0:
            errs.append(f"--nce_T: must be positive, got {self.nce_T}")
        errs += [f"--{name}: must not be negative, got {getattr(self, name)}" for name in ("lambda_GAN", "lambda_NCE")
                 if getattr(self, name) < 0]
        if self.pool_size:
            errs.append(f"--pool_size {self.pool_size}: CUT's discriminator sees the newest fakes only (no pool)")
        return errs

    def _distill_errors(self) -> list[str]:
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        if self.model != "distill":
            return [f"--{name}: only for distillation (python -m tf_cyclegan.distill)" for name in DISTILL_FIELDS
                    if getattr(self, name) != defaults[name]]
        errs = [] if self.teacher else ["--teacher: distillation needs a teacher (python -m tf_cyclegan.distill)"]
        directions = self.teacher_directions.split(",")
        if not directions or len(set(directions)) != len(directions) or not set(directions) <= set(DIRECTIONS):
            errs.append(f"--teacher_directions: {self.teacher_directions!r} is not a2b, b2a or a2b,b2a")
        if self.lambda_distill > 0 and not residual_blocks(self.netG):
            errs.append(f"--netG {self.netG}: a student's features come from the ResNet layout (mobile_resnet_<N>"
                        "blocks or resnet_<N>blocks); pass one, or --lambda_distill 0")
        errs += [f"--{name}: must not be negative, got {getattr(self, name)}"
                 for name in ("lambda_recon", "lambda_distill", "lambda_GAN") if getattr(self, name) < 0]
        if self.pool_size:
            errs.append(f"--pool_size {self.pool_size}: distillation's discriminator sees the newest translations "
                        "(no pool)")
        return errs

    # -- JSON round trip ------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> "Config":
        return cls.from_dict(json.loads(text))

    def incompatibilities(self, saved: "Config") -> list[str]:
        """Differences from a saved run's config that a resume cannot accept."""
        out = []
        for f in dataclasses.fields(self):
            if f.metadata["resumable"]:
                continue
            mine, theirs = getattr(self, f.name), getattr(saved, f.name)
            if mine != theirs:
                out.append(f"--{f.name}: the run has {theirs!r}, this command has {mine!r}")
        return out
