"""What every command-line tool shares: options generated from the config dataclasses (with the reference's
flag names), one-line errors, a quiet TensorFlow start, the tiling flags, and command modules that are also
the library function of their name (tf_cyclegan.train(config) beside python -m tf_cyclegan.train)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import types
import typing
from typing import Callable


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _field_type(field, owner):
    hint = typing.get_type_hints(owner)[field.name]
    if isinstance(hint, types.UnionType):  # `int | None`
        hint = next(t for t in typing.get_args(hint) if t is not type(None))
    return hint


def str2bool(text: str) -> bool:
    """CUT's boolean flags: `--nce_idt` alone means true, `--nce_idt false` turns a default of true off."""
    value = text.strip().lower()
    if value in ("true", "yes", "t", "y", "1"):
        return True
    if value in ("false", "no", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


class _Switch(argparse.Action):
    """A store_true flag whose help says when it is on by default (a --model's defaults can turn one on,
    pix2pix's --use_dropout), read at help time like %(default)s."""

    def __init__(self, option_strings, dest, default=False, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, True)

    @property
    def help(self):
        return self._help + (" (default: on)" if self.default else "")

    @help.setter
    def help(self, text):
        self._help = text


def add_dataclass_options(parser: argparse.ArgumentParser, cls, skip=()):
    """--name (and --hyphen-name) for every field; booleans are switches that default to off, except those
    marked optional_bool (CUT's), which also take a value: --flag, --flag true, --flag false. The help's
    "(default: ...)" is the parser's default when help is shown, so parser.set_defaults (a --model's
    defaults) changes what --help says too."""
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        flags = [f"--{field.name}"]
        if "_" in field.name:
            flags.append(f"--{field.name.replace('_', '-')}")
        kind = _field_type(field, cls)
        meta = field.metadata
        default_text = "" if field.default in (None, "") else " (default: %(default)s)"
        if kind is bool and meta.get("optional_bool"):
            parser.add_argument(*flags, dest=field.name, type=str2bool, nargs="?", const=True, default=field.default,
                                metavar="true|false", help=meta["help"] + " (default: %(default)s)")
        elif kind is bool:
            parser.add_argument(*flags, dest=field.name, action=_Switch, default=field.default, help=meta["help"])
        else:
            parser.add_argument(*flags, dest=field.name, type=kind, default=field.default,
                                choices=meta.get("choices"), metavar=None if meta.get("choices") else
                                field.name.upper(), help=meta["help"] + default_text)


def dataclass_from(args: argparse.Namespace, cls):
    """The dataclass instance that add_dataclass_options' flags describe."""
    return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})


def parse_options(prog: str, description: str, cls, argv=None, required=()):
    """(parser, the options dataclass) of a command whose flags are cls's fields; the `required` ones must be
    given (argparse's exit code 2 and one line otherwise)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_dataclass_options(parser, cls)
    options = dataclass_from(parser.parse_args(argv), cls)
    missing = [f"--{name}" for name in required if not getattr(options, name)]
    if missing:
        parser.error(" and ".join(missing) + (" are required" if len(missing) > 1 else " is required"))
    return parser, options


def fail(prog: str, message: str, code: int = 1):
    """One line on stderr, no traceback."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def run_command(prog: str, work: Callable[[], int | None]) -> int:
    """work()'s exit code; a tf_cyclegan.core.errors.Error ends the command with its one line and exit code 1."""
    from tf_cyclegan.core.errors import Error

    try:
        return work() or 0
    except Error as e:
        fail(prog, str(e))


# What TensorFlow's C++ runtime prints while it starts on a machine without a GPU driver. It reads like a
# failure and asks nothing of a CPU user.
STARTUP_NOISE = ("All log messages before absl::InitializeLog() is called", "cudart_stub.cc",
                 "Could not find cuda drivers", "failed call to cuInit", "cuda_platform.cc",
                 "oneDNN custom operations are on")  # said on CPUs with AVX-512: numerics, not a problem


# NVIDIA's device nodes: on a machine that has them, a failing CUDA start-up is news, not noise.
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia0")


def quiet_tensorflow():
    """Import TensorFlow and find its devices without the start-up lines above (and with warnings and info
    logs off: TF_CPP_MIN_LOG_LEVEL=2). A user's TF_CPP_MIN_LOG_LEVEL=0 (show everything) wins: then nothing
    is hidden; nor is anything on a machine with an NVIDIA device, where those lines say why the GPU is not
    used. Another level of the user's is kept, and the lines are still hidden: TensorFlow writes them before
    its logging reads the level, so on some builds they appear whatever it says."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0" or any(os.path.exists(path) for path in GPU_DEVICES):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def start():
        import tensorflow as tf

        tf.config.list_physical_devices()  # where the CUDA driver is looked for

    without_lines(STARTUP_NOISE, start)


def without_lines(noise: tuple[str, ...], fn: Callable[[], None]):
    """Run fn with the process's stderr (file descriptor 2, which C++ code writes to) captured, then pass on
    every captured line that contains none of the noise strings."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            fn()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines(keepends=True)
                    if not any(text in line for text in noise)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


# -- the tiling flags -------------------------------------------------------------------------------
def add_tile_arguments(parser: argparse.ArgumentParser):
    """The tiling flags (translate, and every command that translates images of any size)."""
    from tf_cyclegan.runtime import tiling

    group = parser.add_argument_group("large images (docs/translate.md#large-images)")
    group.add_argument("--tile", type=int, default=tiling.DEFAULT_TILE,
                       help="side of the tiles large images are translated in (default %(default)s)")
    group.add_argument("--overlap", type=int, default=tiling.DEFAULT_OVERLAP,
                       help="pixels neighbouring tiles share, blended (default %(default)s)")
    group.add_argument("--norm_stats", choices=tiling.NORM_STATS, default=tiling.DEFAULT_NORM_STATS,
                       help=tiling.NORM_STATS_HELP + " (default %(default)s)")
    group.add_argument("--max_pixels_untiled", type=int, default=None,
                       help="images with more pixels are tiled (default: what a quarter of this machine's "
                            f"memory translates untiled, now {tiling.untiled_pixel_limit():,})")
    group.add_argument("--thumbnail_pixels", type=int, default=tiling.DEFAULT_THUMBNAIL_PIXELS,
                       help="pixels of the shrunk copy that --norm_stats thumbnail takes statistics from "
                            "(default %(default)s)")
    group.add_argument("--always_tile", action="store_true", help="tile every image, however small")


def tile_options(args):
    """tiling.TileOptions from the flags, or a one-line TranslateError."""
    from tf_cyclegan.core.errors import TranslateError
    from tf_cyclegan.runtime import tiling

    try:
        return tiling.TileOptions(args.tile, args.overlap, args.norm_stats, args.max_pixels_untiled,
                                  args.always_tile, args.thumbnail_pixels)
    except ValueError as e:
        raise TranslateError(str(e)) from None


# -- command modules that are also functions ---------------------------------------------------------
class _CommandModule(types.ModuleType):
    """A command's module that is also the library function it runs. The package's public `train` (or
    `export`, `evaluate`) is the submodule of that name once Python has imported it, so the module itself
    calls the function: tf_cyclegan.train(config) works whether or not tf_cyclegan.train was imported."""

    def __call__(self, *args, **kwargs):
        from tf_cyclegan.core.catalog import resolve

        return resolve(self.__library__)(*args, **kwargs)


def callable_as(module_name: str, library: str):
    """Make the command module `module_name` callable as the library function `library` ("module:name")."""
    module = sys.modules[module_name]
    module.__class__ = _CommandModule
    module.__library__ = library

