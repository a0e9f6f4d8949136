"""The checks an export's contract (tf_cyclegan.json) passes when it is read.

translate, evaluate, the demo, Translator and distill all read the contract's fields as the exports write
them; a tampered or hand-edited file would otherwise end in an AttributeError or TypeError deep inside.
Each field is checked here, once, against one declarative table, and the first that does not fit is one
ModelError line naming the file and the field. Fields the table does not know are left alone (a newer
export may add some), and a field that is absent is fine: older exports lack some.
"""

from __future__ import annotations

import json
from pathlib import Path

from tf_cyclegan.core.errors import ModelError

MAX_MULTIPLE = 1024  # the tile-size multiple: the U-Nets need 256, the ResNets 4; 1024 leaves room
MAX_WIDTH = 1 << 16  # channels of one normalised layer
_MISSING = object()


def _whole(low: int, high: int | None = None):
    return lambda v: type(v) is int and v >= low and (high is None or v <= high)


def _text(v) -> bool:
    return isinstance(v, str) and "\n" not in v


def _name(v) -> bool:
    return _text(v) and v.strip() != ""


def _file_name(v) -> bool:
    """A file of the version folder itself: a plain name, no folder in it."""
    return _name(v) and "/" not in v and "\\" not in v and v not in (".", "..")


def _files(v) -> bool:
    return isinstance(v, dict) and all(isinstance(e, dict) and _file_name(e.get("file")) for e in v.values())


# field (dotted for a field inside an object): (check, what it should be). A dotted field must be present
# when the object holding it is, because the readers index it.
SCHEMA = {
    "direction": (_name, "a name such as a2b or b2a"),
    "source_domain": (_text, "a domain name"),
    "target_domain": (_text, "a domain name"),
    "model": (_name, "a model name such as cycle_gan"),
    "model_directions": (lambda v: isinstance(v, list) and all(map(_name, v)), "a list of direction names"),
    "inference_mode": (lambda v: v in ("train", "eval"), "train or eval"),  # tf_cyclegan.models.modes.MODES
    "inference_mode_means": (_text, "a sentence"),
    "inference_modes_differ": (lambda v: isinstance(v, bool), "true or false"),
    "checkpoint": (lambda v: v is None or _text(v), "the checkpoint's path"),
    "exported_at": (_text, "a time"),
    "tf_cyclegan": (_text, "a version"),
    "tensorflow": (_text, "a version"),
    "signatures": (lambda v: isinstance(v, dict), "an object of signatures"),
    "max_pixels": (_whole(1), "a whole number of pixels from 1"),
    "tiling": (lambda v: isinstance(v, dict), "an object with norm_widths and multiple"),
    "tiling.norm_widths": (lambda v: isinstance(v, list) and all(map(_whole(1, MAX_WIDTH), v)),
                           f"a list of whole numbers from 1 to {MAX_WIDTH}"),
    "tiling.multiple": (_whole(1, MAX_MULTIPLE), f"a whole number from 1 to {MAX_MULTIPLE}"),
    "tflite": (_files, 'an object of TFLite variants, each {"file": a file name in the version folder}'),
    "onnx": (lambda v: isinstance(v, dict), 'an object with "file"'),
    "onnx.file": (_file_name, "a file name in the version folder"),
    "keras": (lambda v: isinstance(v, dict), 'an object with "file"'),
    "keras.file": (_file_name, "a file name in the version folder"),
    "training_config": (lambda v: v is None or isinstance(v, dict), "an object of the run's options"),
}


def _shown(value) -> str:
    if value is _MISSING:
        return "is missing"
    text = repr(value)
    return f"is {text if len(text) <= 60 else text[:57] + '...'}"


def check_contract(contract, file: Path) -> dict:
    """The contract, if every field the table knows fits; else ModelError naming the file and the field."""
    if not isinstance(contract, dict):
        raise ModelError(f"{file}: holds a JSON {type(contract).__name__}, not an object of fields; "
                         "export the model again")
    for field, (check, what) in SCHEMA.items():
        *parents, key = field.split(".")
        holder = contract
        for parent in parents:  # the parent itself is checked earlier in the table
            holder = holder.get(parent, _MISSING)
        if holder is _MISSING:
            continue
        value = holder.get(key, _MISSING)
        if (value is _MISSING and not parents) or (value is not _MISSING and check(value)):
            continue
        raise ModelError(f"{file}: field '{field}' {_shown(value)}, not {what}; export the model again")
    return contract


def read_contract_file(file: Path) -> dict:
    """A contract file read and checked; {} when it does not exist (an export made by another tool)."""
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise ModelError(f"{file}: cannot be read ({getattr(e, 'strerror', None) or e}); "
                         "export the model again") from None
    try:
        contract = json.loads(text)
    except ValueError as e:
        raise ModelError(f"{file}: not valid JSON ({str(e).splitlines()[0]}); export the model again") from None
    return check_contract(contract, file)
