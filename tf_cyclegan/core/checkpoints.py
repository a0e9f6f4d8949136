"""The run's checkpoint folder, made robust: it survives kills, corruption and full disks.

tf.train.CheckpointManager writes each checkpoint's data before its index and updates its state file
atomically, so a killed write leaves either no new checkpoint or an unreadable one. Here we clean what a
killed write leaves behind, restore the newest checkpoint that reads back (warning about each one that does
not), never start from scratch when checkpoints exist, and never write a checkpoint with non-finite weights.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from tf_cyclegan.core.errors import CheckpointError, RunError, first_line

_INDEX = re.compile(r"ckpt-(\d+)\.index$")


def candidates(folder: Path) -> list[str]:
    """Checkpoint prefixes on disk, newest first (the index files, not the state file, decide)."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), str(folder / f"ckpt-{m.group(1)}"))
             for p in folder.iterdir() if (m := _INDEX.match(p.name))]
    return [prefix for _, prefix in sorted(found, reverse=True)]


def restore_newest(folder: Path, restore, log=print, step: int | None = None,
                   advice: str = "nothing was changed: move the folder away to start over") -> str | None:
    """restore(prefix) with the newest checkpoint in folder that reads back, warning about each one that does
    not (or with ckpt-<step> alone); the prefix restored, None when the folder holds none. Training resumes
    and export reads through this one function, so a run that resumes also exports; `advice` ends the
    error when none reads back."""
    found = candidates(Path(folder))
    if step is not None:
        wanted = str(Path(folder) / f"ckpt-{step}")
        if wanted not in found:
            have = ", ".join(p.rsplit("-", 1)[1] for p in found) or "none"
            raise CheckpointError(f"--checkpoint {step}: {wanted} does not exist (available: {have})")
        found = [wanted]
    reason = ""
    for prefix in found:
        try:
            restore(prefix)
            return prefix
        except RunError:  # the checkpoint reads, but the run cannot go on from it (a distillation's teacher changed)
            raise
        except Exception as e:  # DataLossError, NotFoundError, AssertionError, ...
            reason = first_line(e)
            log(f"warning: checkpoint {prefix} is unreadable ({reason})"
                + ("; trying the previous one" if prefix != found[-1] else ""))
    if found:
        tried = f"{found[0]}: {reason}" if len(found) == 1 else f"tried {', '.join(found)}"
        raise CheckpointError(f"no readable checkpoint in {folder} ({tried}); {advice}")
    return None


class CheckpointFolder:
    """`restore`: how to load a checkpoint prefix into the run (default: checkpoint.restore, every object
    matched). `writer=False` (a multi-worker run's non-chief workers): read the folder, but write each
    checkpoint to a temporary folder and delete it, as TensorFlow's multi-worker recipe does."""

    def __init__(self, checkpoint: tf.train.Checkpoint, folder, max_to_keep: int, step_counter, log=print,
                 restore=None, writer: bool = True):
        self.checkpoint = checkpoint
        self.folder = Path(folder)
        self.log = log
        self.writer = writer
        self._restore = restore or (lambda prefix: checkpoint.restore(prefix).assert_existing_objects_matched())
        if not writer:
            self.scratch = tempfile.mkdtemp(prefix="tf_cyclegan_worker_checkpoint_")
            self.manager = tf.train.CheckpointManager(checkpoint, self.scratch, max_to_keep=1)
            return
        self.clean_stale()
        try:
            self.manager = tf.train.CheckpointManager(checkpoint, str(self.folder), max_to_keep=max_to_keep,
                                                      step_counter=step_counter)
        except Exception as e:  # an unparsable state file: the checkpoints themselves may be fine
            state = self.folder / "checkpoint"
            log(f"warning: {state} is unreadable ({first_line(e)}); set it aside as {state}.corrupt and "
                "looking at the checkpoint files themselves")
            state.replace(state.with_name("checkpoint.corrupt"))
            self.manager = tf.train.CheckpointManager(checkpoint, str(self.folder), max_to_keep=max_to_keep,
                                                      step_counter=step_counter)

    def clean_stale(self):
        """Remove what a killed checkpoint write leaves: TF's *_temp folders and state-file temporaries."""
        if not self.folder.is_dir():
            return
        stale = [*self.folder.glob("*_temp*"), *self.folder.glob("checkpoint.tmp*")]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        if stale:
            self.log(f"Removed {len(stale)} temporary file(s) left by an interrupted checkpoint write in "
                     f"{self.folder}")

    def candidates(self) -> list[str]:
        return candidates(self.folder)

    def restore(self) -> str | None:
        """Restore the newest readable checkpoint; None when there is none at all."""
        return restore_newest(self.folder, self._restore, self.log)

    @property
    def latest(self) -> str | None:
        if not self.writer:
            return (self.candidates() or [None])[0]
        return self.manager.latest_checkpoint

    def save(self, step: int, variables) -> str:
        """Write ckpt-<step>, refusing non-finite weights; disk errors become one clear message."""
        for v in variables:
            if not np.all(np.isfinite(np.asarray(v))):
                name = getattr(v, "path", None) or v.name
                raise CheckpointError(f"refusing to write a checkpoint at step {step}: {name} is not finite; "
                                      f"last good checkpoint: {self.latest or 'none'}")
        try:
            path = self.manager.save(checkpoint_number=step)
            if not self.writer:  # it took part in the save; the chief's copy is the one that counts
                shutil.rmtree(self.scratch, ignore_errors=True)
                return str(self.folder / f"ckpt-{step}")
            return path
        except (tf.errors.OpError, OSError) as e:
            self.clean_stale()
            raise CheckpointError(f"could not write a checkpoint in {self.folder} ({first_line(e)}); earlier "
                                  f"checkpoints are intact (latest: {self.latest or 'none'})") from None
