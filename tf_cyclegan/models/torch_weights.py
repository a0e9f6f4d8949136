"""The reference's generators in ours: a PyTorch state dict (junyanz/pytorch-CycleGAN-and-pix2pix's, or
CUT's, taesungp/contrastive-unpaired-translation) read safely and copied into the generator we build for it.

Reading .pth files: with PyTorch installed (the `torch` extra) through torch.load(weights_only=True), which
unpickles nothing but tensors; without it, PyTorch's zip format is read here by an unpickler that knows only
tensors and dicts and refuses every other object, so a crafted file cannot run code. (Files in PyTorch's
pre-1.6 legacy format need PyTorch.)
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np

from tf_cyclegan.core.catalog import downsamplings, resnet_blocks, resnet_sequence
from tf_cyclegan.core.errors import ConversionError, first_line
from tf_cyclegan.core.extras import install_hint
from tf_cyclegan.models.networks import build_generator

# -- reading the state dict --------------------------------------------------------------------------
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
           "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class _StorageType:
    def __init__(self, name):
        self.dtype = _DTYPES[name]


def _rebuild_tensor(storage, offset, size, stride, *unused):
    itemsize = storage.dtype.itemsize
    return np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride)).copy()


class _CodeInPickle(pickle.UnpicklingError):
    """A global beyond a state dict of tensors: unpickling would import it, and perhaps call it."""


def _holds_code(path: Path) -> str:
    return (f"{path} holds Python code besides weights and was not loaded (unpickling it could run anything): "
            "if you trust it, load it in a trusted environment with torch.load(..., weights_only=False), save "
            "its state_dict with torch.save, and convert that file")


class _SafeUnpickler(pickle.Unpickler):
    """Only what a state dict of tensors needs; any other global is refused."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict  # state dicts carry a _metadata attribute, which it accepts
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise _CodeInPickle(f"{module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return np.frombuffer(raw, dtype=storage_type.dtype, count=numel)


class _Scanner(_SafeUnpickler):
    """Walks a pickle only to learn whether it names a global beyond a state dict; builds no tensor."""

    def __init__(self, stream):
        pickle.Unpickler.__init__(self, stream)

    def find_class(self, module, name):
        found = super().find_class(module, name)  # _CodeInPickle for anything else
        return found if found is collections.OrderedDict else (lambda *args, **kwargs: None)

    def persistent_load(self, pid):
        return None


def _names_code(path: Path) -> bool:
    """Whether a file's pickles (data.pkl of a zip, else the first few of a plain or legacy file) name code;
    a file that is not a pickle at all names none."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith("/data.pkl")]
                if names:
                    _Scanner(io.BytesIO(archive.read(names[0]))).load()
            return False
        with open(path, "rb") as stream:
            for _ in range(5):  # the legacy format pickles a magic number, a version, sys info, then the data
                _Scanner(stream).load()
    except _CodeInPickle:
        return True
    except Exception:  # noqa: BLE001 (EOF, or not a pickle: something else is wrong with it)
        return False
    return False


def read_state_dict(path: str | os.PathLike, use_torch: bool | None = None) -> dict[str, np.ndarray]:
    """{name: array} from a .pth file; a 'module.' prefix (nn.DataParallel saves) is removed."""
    path = Path(path)
    if not path.is_file():
        raise ConversionError(f"{path}: no such file")
    if use_torch is None:
        try:
            import torch  # noqa: F401

            use_torch = True
        except ImportError:
            use_torch = False
    try:
        if use_torch:
            import torch

            try:
                with warnings.catch_warnings():  # its unpickler's note on a protocol it was not written for
                    warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
                    raw = torch.load(path, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:  # torch's many lines end in advice to drop weights_only
                if _names_code(path):
                    raise ConversionError(_holds_code(path)) from None
                raise ConversionError(f"{path}: cannot read it as a state dict (damaged, or not a PyTorch "
                                      "checkpoint)") from None
            raw = {k: v.numpy() for k, v in raw.items() if hasattr(v, "numpy")}
        else:
            if not zipfile.is_zipfile(path):
                if _names_code(path):
                    raise ConversionError(_holds_code(path))
                raise ConversionError(f"{path}: PyTorch's legacy (pre-1.6) format; install PyTorch "
                                      f"({install_hint('torch')}) to read it")
            with zipfile.ZipFile(path) as archive:
                pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
                if not pickles:
                    raise ConversionError(f"{path}: not a PyTorch checkpoint (no data.pkl inside)")
                prefix = pickles[0][: -len("/data.pkl")]
                raw = _SafeUnpickler(archive.read(pickles[0]), archive, prefix).load()
    except ConversionError:
        raise
    except _CodeInPickle:
        raise ConversionError(_holds_code(path)) from None
    except Exception as e:  # pickle, zip and torch errors
        raise ConversionError(f"{path}: cannot read it as a state dict ({type(e).__name__}: {first_line(e)})") from None
    if not isinstance(raw, dict):
        raise ConversionError(f"{path}: holds a {type(raw).__name__}, not a state dict")
    return {k.removeprefix("module."): np.asarray(v) for k, v in raw.items()}


# -- mapping reference names to our layers --------------------------------------------------------------
def _resnet_names(n_blocks: int, use_dropout: bool, antialias: bool = False,
                  antialias_up: bool = False) -> dict[str, str]:
    """Our layer name -> the module path in the reference's (or CUT's) ResnetGenerator, read off
    resnet_sequence so that weights and CUT's --nce_layers count the same modules. A block's convolutions
    and norms sit inside its conv_block; a transposed conv's output is our crop's."""
    names, conv2 = {}, 6 if use_dropout else 5
    for k, layer in enumerate(resnet_sequence(n_blocks, antialias, antialias_up)):
        if layer.startswith("block"):
            b, block = layer.removesuffix("_add"), f"model.{k}.conv_block"
            names.update({f"{b}_conv1": f"{block}.1", f"{b}_norm1": f"{block}.2",
                          f"{b}_conv2": f"{block}.{conv2}", f"{b}_norm2": f"{block}.{conv2 + 1}"})
        else:
            names.setdefault(layer.replace("_crop", "_conv"), f"model.{k}")
    return names


def _unet_names(num_downs: int) -> dict[str, str]:
    """The reference's UnetSkipConnectionBlocks nest: level k's Sequential sits at index 1 (outermost) or 3
    of the level above."""
    names, prefix = {}, "model.model."
    for level in range(num_downs):
        if level == 0:
            names.update({"level0_down_conv": prefix + "0", "level0_up_conv": prefix + "3"})
        elif level == num_downs - 1:
            names.update({f"level{level}_down_conv": prefix + "1", f"level{level}_up_conv": prefix + "3",
                          f"level{level}_up_norm": prefix + "4"})
        else:
            names.update({f"level{level}_down_conv": prefix + "1", f"level{level}_down_norm": prefix + "2",
                          f"level{level}_up_conv": prefix + "5", f"level{level}_up_norm": prefix + "6"})
        prefix += ("1" if level == 0 else "3") + ".model."
    return names


# -- CUT's anti-aliasing buffers --------------------------------------------------------------------------
# CUT's Downsample and Upsample keep their fixed filters as buffers (model.<i>.filt, one copy per channel):
# get_filter's binomial taps, normalised, and Upsample's times stride² = 4. Our layers doing their work are
# named so by networks.py (whatever their class): {down,up}<i>_blur and up<i>_upsample.
_FILTERS = {"_blur": ("Downsample", (1.0, 2.0, 1.0), 1.0), "_upsample": ("Upsample", (1.0, 3.0, 3.0, 1.0), 4.0)}


def _fixed_filter(layer) -> tuple[str, np.ndarray] | None:
    """(CUT's module, the buffer it must hold) for our blur or upsampling layer; None for other layers."""
    suffix = next((s for s in _FILTERS if layer.name.endswith(s)), None)
    if suffix is None:
        return None
    module, taps, gain = _FILTERS[suffix]
    kernel = np.outer(taps, taps) / np.sum(np.outer(taps, taps)) * gain
    return module, np.tile(kernel[None, None], (int(layer.output.shape[-1]), 1, 1, 1)).astype(np.float32)


def _check_filter(state: dict[str, np.ndarray], key: str, module: str, expected: np.ndarray) -> str:
    """The buffer holds no weights, but a checkpoint whose buffer differs is not the network we build."""
    value = state.get(key)
    if value is None:
        raise ConversionError(f"the checkpoint has no {key} (CUT's {module} filter): check --netG and "
                              "--no_antialias / --no_antialias_up")
    if tuple(value.shape) != expected.shape:
        raise ConversionError(f"{key} has shape {tuple(value.shape)}, CUT's {module} of {expected.shape[0]} "
                              f"channels holds {expected.shape}: check --netG and --ngf")
    if not np.allclose(value, expected, rtol=0, atol=1e-6):
        raise ConversionError(f"{key} is not CUT's fixed {module} filter ({expected.shape[-1]}x"
                              f"{expected.shape[-1]} binomial per channel): the checkpoint is damaged or not CUT's")
    return key


def _check_antialiasing(state: dict[str, np.ndarray], names: dict[str, str]):
    """A CUT generator converted as CycleGAN's (or the other way) fails on its first differing key; its
    .filt buffers say which flag is wrong, so say that instead."""
    sizes = {"downsampling": (3, "_blur", "--no_antialias"), "upsampling": (4, "_upsample", "--no_antialias_up")}
    has = {what: sorted((k for k, v in state.items() if k.endswith(".filt") and v.ndim == 4 and v.shape[-1] == size),
                        key=lambda k: (len(k), k)) for what, (size, _, _) in sizes.items()}
    wants = {what: any(n.endswith(suffix) for n in names) for what, (_, suffix, _) in sizes.items()}
    omit = [what for what in sizes if has[what] and not wants[what]]
    if omit:
        raise ConversionError(f"the checkpoint is a CUT generator with anti-aliased {' and '.join(omit)} (it has "
                              f"{has[omit[0]][0]}): convert it with --model cut or fastcut, without "
                              f"{' and '.join(sizes[w][2] for w in omit)}")
    add = [what for what in sizes if wants[what] and not has[what]]
    if add:
        raise ConversionError(f"the checkpoint has no anti-aliasing buffers for {' and '.join(add)} (CUT's "
                              f"model.<i>.filt): it was trained with {' and '.join(sizes[w][2] for w in add)}; "
                              "pass that (or --model cycle_gan for a CycleGAN generator)")


def _copy_weights(layer, state: dict[str, np.ndarray], torch_name: str, netG: str) -> list[str]:
    """One layer's tensors from the state dict; the keys it used."""
    if isinstance(layer, keras.layers.BatchNormalization):
        keys = ["weight", "bias", "running_mean", "running_var"]
        values = [state.get(f"{torch_name}.{k}") for k in keys]
    else:
        keys = ["weight", "bias"][:len(layer.weights)]
        values = [state.get(f"{torch_name}.{k}") for k in keys]
        if values[0] is not None:
            values[0] = values[0].transpose(2, 3, 1, 0)  # both conv kinds: to (kh, kw, ., .)
    for key, value, variable in zip(keys, values, layer.weights):
        if value is None:
            raise ConversionError(f"the checkpoint has no {torch_name}.{key}: is it a {netG} generator "
                                  "(--netG, --ngf, --norm)?")
        if tuple(value.shape) != tuple(variable.shape):
            raise ConversionError(f"{torch_name}.{key} has shape {tuple(value.shape)}, {layer.name} needs "
                                  f"{tuple(variable.shape)}: check --netG, --ngf and --norm")
        variable.assign(value.astype(np.float32))
    return [f"{torch_name}.{key}" for key in keys]


def _has_layer(generator, name: str) -> bool:
    return any(layer.name == name for layer in generator.layers)


def load_reference_weights(generator, state: dict[str, np.ndarray], netG: str, use_dropout: bool = False,
                           antialias: bool | None = None, antialias_up: bool | None = None):
    """Copy a reference state dict into our generator: NCHW kernels to NHWC, transposed-conv kernels from
    (in, out, kh, kw) to (kh, kw, out, in), batch-norm statistics included; CUT's filter buffers are checked.
    Every tensor must be used. `antialias`, `antialias_up`: CUT's resampling; None: as the generator has it."""
    antialias = _has_layer(generator, "down0_blur") if antialias is None else antialias
    antialias_up = _has_layer(generator, "up0_upsample") if antialias_up is None else antialias_up
    blocks = resnet_blocks(netG)
    names = (_resnet_names(blocks, use_dropout, antialias, antialias_up) if blocks
             else _unet_names(downsamplings(netG)))
    if blocks:
        _check_antialiasing(state, names)
    used = set()
    for layer in generator.layers:
        if layer.name not in names:
            continue
        if (fixed := _fixed_filter(layer)) is not None:
            used.add(_check_filter(state, f"{names[layer.name]}.filt", *fixed))
        elif layer.weights:
            used.update(_copy_weights(layer, state, names[layer.name], netG))
    unused = sorted(k for k in state if k not in used and not k.endswith("num_batches_tracked"))
    if unused:
        raise ConversionError(f"the checkpoint has tensors this {netG} does not use ({', '.join(unused[:5])}"
                              f"{', …' if len(unused) > 5 else ''}): check --netG, --ngf and --norm")
    return generator


def convert(checkpoint, netG="resnet_9blocks", ngf=64, norm="instance", use_dropout=False, antialias=False,
            antialias_up=False):
    """Our Keras generator holding the reference checkpoint's weights; `antialias`, `antialias_up` for CUT's
    (its published generators have both)."""
    generator = build_generator(netG, ngf, norm=norm, use_dropout=use_dropout, name="G", antialias=antialias,
                                antialias_up=antialias_up)
    return load_reference_weights(generator, read_state_dict(checkpoint), netG, use_dropout, antialias,
                                  antialias_up)
