"""Every error a user should read: one base class, one line each, and the formatter that makes TensorFlow's
many-line errors into that one line.

The command-line tools catch `Error` and print its message without a traceback; library callers catch the
kind they care about. A message says what is wrong and what to do, and names the flag or file.
"""

from __future__ import annotations


class Error(Exception):
    """A problem the user can fix, worded as one line that says how."""


class DatasetError(Error):
    """The user's data: a missing folder, an unknown dataset, too many unreadable images, an offline download."""


class RunError(Error):
    """The run folder or the run's options: an incompatible resume, an unreadable config, an unwritable folder."""


class CheckpointError(Error):
    """No usable checkpoint, or one that could not be written."""


class StrategyError(Error):
    """A tf.distribute strategy that cannot be set up here."""


class ExportError(Error):
    """An export that cannot be made from the given run, checkpoint or output folder."""


class TranslateError(Error):
    """A model, input or output that `translate` cannot use."""


class EvaluateError(Error):
    """A model, dataset or output that `evaluate` cannot use."""


class ModelError(TranslateError, EvaluateError):
    """A model path that cannot be opened: translate, evaluate, the demo and Translator open models alike,
    so this is both a TranslateError and an EvaluateError."""


class ConversionError(Error):
    """A PyTorch checkpoint that cannot be read or does not fit the chosen network."""


# What TensorFlow puts around the reason when an op fails inside a graph: these two lines, then the
# Python stack that defined the op (indented), the reason, and the node's name (indented).
_PREAMBLES = ("Graph execution error", "Detected at node")


def first_line(error: BaseException, limit: int = 300) -> str:
    """An exception as one short line for a user-facing message (TensorFlow's run to many lines): the first
    line that says something, past TensorFlow's graph-execution preamble and stack."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith(_PREAMBLES) and not line[0].isspace()]
    return (reasons or [line.strip() for line in lines] or [type(error).__name__])[0][:limit]
