"""TF Serving's model config for an export folder: EXPORT/models.config names every model folder there.

TF Serving waits for each model its config names, so a fixed list (a2b and b2a) never serves a pix2pix or
CUT export, nor an import named horse2zebra. `export` and `from_torch` rewrite the file after each new
version; export/serve.sh and export/docker-compose.yml mount EXPORT at /models and pass it as
--model_config_file=/models/models.config.
"""

from __future__ import annotations

from pathlib import Path

from tf_cyclegan.core.errors import ExportError
from tf_cyclegan.core.files import atomic_write
from tf_cyclegan.core.layout import latest_version

MODELS_CONFIG = "models.config"
MOUNT = "/models"  # where serve.sh and docker-compose.yml mount the export folder inside the container
HEADER = f"""\
# TF Serving model config (ModelServerConfig text format), written by tf_cyclegan's export and from_torch:
# every model folder of this export folder. The folder is mounted at {MOUNT} (export/serve.sh EXPORT_DIR,
# or export/docker-compose.yml) and this file passed as --model_config_file={MOUNT}/{MODELS_CONFIG}.
# TF Serving loads the highest version of each model (<name>/<version>/) and picks up new versions.
"""


def served_models(export_dir: str | Path) -> list[str]:
    """The model folders TF Serving can load: those holding at least one complete numbered version."""
    root = Path(export_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and latest_version(p) is not None)


def _quoted(text: str) -> str:
    """A protobuf text-format string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def models_config_text(names) -> str:
    """The ModelServerConfig text that serves each of `names` from /models/<name>."""
    entries = "".join(f"  config {{\n    name: {_quoted(name)}\n    base_path: {_quoted(f'{MOUNT}/{name}')}\n"
                      f"    model_platform: \"tensorflow\"\n  }}\n" for name in names)
    return f"{HEADER}model_config_list {{\n{entries}}}\n"


def write_models_config(export_dir: str | Path) -> Path:
    """Rewrite EXPORT/models.config for the model folders it holds now (call it once a version is in place,
    so that a server never waits for a model that is not there)."""
    path = Path(export_dir) / MODELS_CONFIG
    try:
        return atomic_write(path, models_config_text(served_models(export_dir)))
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}; check that the export folder is writable") \
            from None
