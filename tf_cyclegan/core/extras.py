"""The optional parts of tf_cyclegan (setup.cfg's extras) and the one way to say that one is missing."""

from __future__ import annotations

import importlib

from tf_cyclegan.core.errors import Error

EXTRAS = {"onnx": "export to ONNX and run .onnx files (tf2onnx, onnx, onnxruntime)",
          "demo": "the demo page (Gradio)",
          "torch": "read PyTorch checkpoints of every format and time the PyTorch reference (PyTorch)"}


def install_hint(extra: str) -> str:
    """The pip command that installs an extra."""
    if extra not in EXTRAS:
        raise ValueError(f"no extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    return f"pip install 'tf_cyclegan[{extra}]'"


def require(module: str, extra: str, what: str, error: type[Error]):
    """The module, imported, or `error` saying that `what` needs it and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise error(f"{what}: {module} is not installed; {install_hint(extra)}") from None
