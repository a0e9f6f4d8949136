"""A distillation run's config: the student's flags over its teacher's data, discriminator and schedule
settings over the student's defaults, so that `distill --teacher RUN --output DIR` trains on what the teacher
trained on. The run itself is train()'s, with --model distill (tf_cyclegan.models.distiller)."""

from __future__ import annotations

from tf_cyclegan.core.catalog import MODEL_DEFAULTS
from tf_cyclegan.core.directions import DIRECTIONS
from tf_cyclegan.models.teacher import TeacherFacts

# What a student takes from its teacher's run unless a flag says otherwise: the data and how it is read,
# the discriminator and adversarial loss, and the schedule (a student trains as long as its teacher did).
TEACHER_SETTINGS = ("dataset", "data_dir", "max_dataset_size", "max_image_pixels", "max_bad_fraction",
                    "load_size", "crop_size", "preprocess", "no_flip", "serial_batches", "direction", "paired",
                    "netD", "n_layers_D", "ndf", "gan_mode", "lambda_L1", "lr", "beta1", "n_epochs",
                    "n_epochs_decay", "lr_policy", "lr_decay_iters", "batch_size")
# GAN Compression's weights: its CycleGAN recipe (scripts/cycle_gan/horse2zebra/distill.sh) for unpaired
# teachers, its defaults (distillers/base_resnet_distiller.py) for pix2pix, whose L1 to the truth is
# lambda_L1 (GAN Compression's lambda_recon, 100) with the L1 to the teacher beside it.
WEIGHTS = {"unpaired": dict(lambda_recon=10.0, lambda_distill=0.01, gan_mode="lsgan"),
           "pix2pix": dict(lambda_recon=10.0, lambda_distill=1.0, gan_mode="vanilla", lambda_L1=100.0)}


def student_defaults(facts: TeacherFacts, teacher_model: str | None = None) -> dict:
    """The defaults of a student of this teacher, under which the command's flags go. `teacher_model` names
    the model of a teacher that does not say (a bare .keras file); cycle_gan when neither says."""
    kind = facts.kind or teacher_model or "cycle_gan"
    taken = {name: facts.training[name] for name in TEACHER_SETTINGS if name in facts.training}
    if facts.directions != list(DIRECTIONS):  # one generator: X is its source domain
        taken["direction"] = "AtoB" if facts.directions == ["a2b"] else "BtoA"
    return {**MODEL_DEFAULTS["distill"], **WEIGHTS["pix2pix" if kind == "pix2pix" else "unpaired"], **taken,
            "model": "distill", "teacher_model": kind, "teacher_directions": ",".join(facts.directions)}
