"""python -m tf_cyclegan.from_torch CHECKPOINT.pth --netG resnet_9blocks --output DIR [--name a2b]

Brings a generator of the reference PyTorch implementation (junyanz/pytorch-CycleGAN-and-pix2pix; its
official pretrained models such as horse2zebra.pth, style_monet.pth, and the pix2pix ones such as
facades_label2photo.pth with --netG unet_256 --norm batch --dropout), or of CUT's
(taesungp/contrastive-unpaired-translation, e.g. horse2zebra_cut_pretrained/latest_net_G.pth with --model cut:
anti-aliased resampling, whose fixed filter buffers are checked) into TensorFlow
(tf_cyclegan.models.torch_weights) and writes the same artifacts as `tf_cyclegan.export`:
DIR/<name>/<version>/ with the SavedModel signatures and TFLite files, in the reference's test mode or, with
--eval, in eval mode (tf_cyclegan.models.modes), then DIR/models.config, which names every model folder of DIR
for TF Serving. .pth files are read without running any code they hold.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tf_cyclegan.cli import quiet_tensorflow, run_command
from tf_cyclegan.core.catalog import (CONTRASTIVE, GENERATOR_FAMILIES, GENERATORS_HELP, MODELS, generator_family,
                                      resnet_blocks)
from tf_cyclegan.core.config import NORMS, antialiasing
from tf_cyclegan.core.directions import DIRECTIONS
from tf_cyclegan.core.errors import ConversionError
from tf_cyclegan.core.moved import forwarding
from tf_cyclegan.core.pixels import MAX_EXPORT_PIXELS

PROG = "python -m tf_cyclegan.from_torch"
__getattr__ = forwarding("tf_cyclegan.from_torch")  # the library names this module held in 0.5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Convert a reference PyTorch CycleGAN, pix2pix or "
                                     "CUT generator and export it for TF Serving and LiteRT.")
    parser.add_argument("checkpoint", help="the reference's .pth file (e.g. latest_net_G_A.pth, horse2zebra.pth)")
    parser.add_argument("--netG", default="resnet_9blocks", help=GENERATORS_HELP + " (default: resnet_9blocks)")
    parser.add_argument("--ngf", type=int, default=64, help="generator filters (default: 64)")
    parser.add_argument("--norm", choices=NORMS, default="instance", help="default: instance")
    parser.add_argument("--dropout", action="store_true", help="the checkpoint was trained with dropout")
    parser.add_argument("--output", required=True, help="export folder (TF Serving base path)")
    parser.add_argument("--name", default="a2b", help="model name, the folder under --output (default: a2b)")
    parser.add_argument("--source", default="A", help="name of the input domain, recorded in the contract")
    parser.add_argument("--target", default="B", help="name of the output domain, recorded in the contract")
    parser.add_argument("--max_pixels", type=int, default=MAX_EXPORT_PIXELS,
                        help="largest image the SavedModel accepts")
    parser.add_argument("--no_tflite", action="store_true", help="SavedModel only")
    parser.add_argument("--crop_size", type=int, default=None,
                        help="the size the generator was trained at, recorded in the contract so that evaluate "
                             "resizes test images to it without --size (default: 256, as the reference's published "
                             "models; 128 for unet_128)")
    parser.add_argument("--model", choices=MODELS, default="cycle_gan",
                        help="the model the checkpoint comes from, recorded in the contract so that evaluate reads "
                             "its kind of test data (pix2pix: pairs); cut and fastcut: CUT's generator, anti-aliased "
                             "unless told otherwise below; default: cycle_gan")
    parser.add_argument("--no_antialias", action="store_true",
                        help="cut, fastcut: the checkpoint downsamples with plain stride-2 convolutions (CUT's "
                             "--no_antialias); default: CUT's blurred downsampling, as its published models")
    parser.add_argument("--no_antialias_up", action="store_true",
                        help="cut, fastcut: the checkpoint upsamples with transposed convolutions (CUT's "
                             "--no_antialias_up); default: CUT's blurred upsampling and 3x3 convolution")
    parser.add_argument("--eval", action="store_true",
                        help="export in eval mode: batch norm's running statistics from the checkpoint, no dropout "
                             "(PyTorch's model.eval()); default: the reference's test mode (each image's own "
                             "statistics, dropout on), which the pix2pix models were published with")
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if generator_family(args.netG) is None:
        parser.error(f"--netG: {args.netG!r} is not {GENERATORS_HELP}")
    if generator_family(args.netG)[0] not in (GENERATOR_FAMILIES["resnet"], GENERATOR_FAMILIES["unet"]):
        parser.error(f"--netG {args.netG}: from_torch converts the reference's generators (resnet_<N>blocks, "
                     "unet_256, unet_128); train a mobile generator here or distill one (docs/mobile.md)")
    if args.ngf < 1 or args.max_pixels < 1:
        parser.error("--ngf and --max_pixels must be at least 1")
    if args.crop_size is None:
        args.crop_size = 128 if args.netG == "unet_128" else 256
    if args.crop_size < 1:
        parser.error(f"--crop_size: must be at least 1, got {args.crop_size}")
    for flag in ("no_antialias", "no_antialias_up"):
        if getattr(args, flag) and args.model not in CONTRASTIVE:
            parser.error(f"--{flag}: only with --model cut or fastcut")
    if args.model in CONTRASTIVE and not resnet_blocks(args.netG):
        parser.error(f"--netG {args.netG}: CUT's generators are ResNets (resnet_<N>blocks)")
    resampling = antialiasing(args)  # CUT's default: both on
    quiet_tensorflow()

    def work():
        from tf_cyclegan.exporting.generator import export_generator
        from tf_cyclegan.exporting.serving import write_models_config
        from tf_cyclegan.exporting.tflite import TFLITE_VARIANTS
        from tf_cyclegan.models.torch_weights import convert

        try:
            generator = convert(args.checkpoint, args.netG, args.ngf, args.norm, args.dropout, **resampling)
            folder = export_generator(
                generator, Path(args.output) / args.name, args.name, args.source, args.target,
                os.path.abspath(args.checkpoint), {"model": args.model, "netG": args.netG, "ngf": args.ngf,
                                                   "norm": args.norm, "use_dropout": args.dropout, **resampling,
                                                   "crop_size": args.crop_size, "converted_from": "pytorch"},
                args.max_pixels, () if args.no_tflite else TFLITE_VARIANTS, mode="eval" if args.eval else "train",
                about={"model": args.model, **({"model_directions": [args.name]} if args.name in DIRECTIONS else {})},
                with_keras=True)
        except OSError as e:
            raise ConversionError(f"cannot write to {args.output}: {e.strerror or e}") from None
        print(f"{args.checkpoint} -> {folder}")
        print(f"TF Serving config: {write_models_config(args.output)}")

    return run_command(PROG, work)


if __name__ == "__main__":
    sys.exit(main())
