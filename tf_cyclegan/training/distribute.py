"""Which tf.distribute strategy a run trains under, and which worker writes the run folder.

None stands for no distribution (one device, the step exactly as before); the strategies are TensorFlow's
own. Multi-worker training follows TensorFlow's recipe: every worker runs the same command with its own
TF_CONFIG, all of them take part in every step and every checkpoint, and only the chief writes to the run
folder (the others write their checkpoints to temporary folders and delete them).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tf_cyclegan.core.errors import StrategyError, first_line


def _check_tf_config() -> dict:
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise StrategyError("--strategy multi_worker needs the TF_CONFIG environment variable on every worker, "
                            'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": '
                            '"worker", "index": 0}} (see docs/distributed.md)')
    try:
        spec = json.loads(text)
        workers = spec["cluster"]["worker"]
        task = spec["task"]
        if not isinstance(workers, list) or task["type"] not in spec["cluster"] or int(task["index"]) < 0:
            raise ValueError("task.type must name a job of the cluster")
    except (ValueError, KeyError, TypeError) as e:
        raise StrategyError(f"TF_CONFIG is not a valid cluster description ({first_line(e)}): it needs "
                            '"cluster": {"worker": [...]} and "task": {"type": ..., "index": ...}') from None
    return spec


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy | None:
    """The strategy for --strategy NAME (None: no distribution). Call it before TensorFlow runs any op:
    MultiWorkerMirroredStrategy and TPU initialisation must come first."""
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"
    if name == "default":
        return None
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as e:
            raise StrategyError(f"--strategy tpu: no TPU found{f' at {tpu}' if tpu else ''} ({first_line(e)}); "
                                "run on a TPU VM, or pass --tpu with the TPU's name or grpc:// address") from None
        return tf.distribute.TPUStrategy(resolver)
    raise StrategyError(f"--strategy {name!r} is not one of auto, default, mirrored, multi_worker, tpu")


def is_multi_worker(strategy: tf.distribute.Strategy | None) -> bool:
    """A MultiWorkerMirroredStrategy whose cluster has more than one task (one task: a local run)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    spec = strategy.cluster_resolver.cluster_spec()
    return sum(spec.num_tasks(job) for job in spec.jobs) > 1


def worker(strategy: tf.distribute.Strategy | None) -> tuple[str, int]:
    """(task type, index) of this process: ('worker', 0) outside multi-worker training."""
    if not is_multi_worker(strategy):
        return "worker", 0
    resolver = strategy.cluster_resolver
    return resolver.task_type, int(resolver.task_id)


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """The chief writes the run folder: the 'chief' task, or worker 0 when the cluster has no chief."""
    task_type, index = worker(strategy)
    if task_type == "chief":
        return True
    has_chief = is_multi_worker(strategy) and "chief" in strategy.cluster_resolver.cluster_spec().jobs
    return task_type == "worker" and index == 0 and not has_chief


def describe(strategy: tf.distribute.Strategy | None) -> str:
    if strategy is None:
        return "one device (no tf.distribute strategy)"
    name = type(strategy).__name__  # as TensorFlow exports it (MWMS's class is CollectiveAllReduceStrategy)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "MultiWorkerMirroredStrategy"
    if is_multi_worker(strategy):
        task_type, index = worker(strategy)
        spec = strategy.cluster_resolver.cluster_spec()
        workers = sum(spec.num_tasks(job) for job in ("chief", "worker") if job in spec.jobs)
        return (f"{name}: {strategy.num_replicas_in_sync} replicas on {workers} workers; this is {task_type} "
                f"{index}{' (chief)' if is_chief(strategy) else ''}")
    devices = getattr(strategy.extended, "worker_devices", ())
    return f"{name}: {strategy.num_replicas_in_sync} replicas ({', '.join(devices)})"


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (avx2, avx512f, amx_bf16, ...); none where /proc/cpuinfo cannot be read."""
    try:
        with open(cpuinfo) as info:
            return next((set(line.split(":", 1)[1].split()) for line in info if line.startswith("flags")), set())
    except OSError:
        return set()


def cpu_has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU has AMX tile units for bfloat16 (Intel Xeon since Sapphire Rapids), where oneDNN
    runs bfloat16 convolutions several times faster than float32 ones."""
    return "amx_bf16" in cpu_flags(cpuinfo)
