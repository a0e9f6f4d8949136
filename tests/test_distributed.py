"""tf.distribute: MirroredStrategy over the two logical CPUs of conftest, MultiWorkerMirroredStrategy over two
processes on 127.0.0.1, the input pipeline's split, pools across replica counts, and the errors."""

import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from tf_cyclegan.core.config import Config
from tf_cyclegan.core.errors import RunError, StrategyError
from tf_cyclegan.data.pipeline import Unpaired
from tf_cyclegan.data.unpaired import folder_domains
from tf_cyclegan.models.image_pool import ImagePool
from tf_cyclegan.training.distribute import cpu_has_amx, make_strategy
from tf_cyclegan.training.run import train

NETWORKS = ("G/", "F/", "D_X/", "D_Y/", "optimizer_G/", "optimizer_D/")


@functools.cache
def mirrored():
    """One strategy for the whole module: as in a training process, collectives of several strategy
    objects in one process would share (and clash over) TensorFlow's collective instance keys."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def trained(prefix) -> dict:
    """Every weight and Adam moment of a checkpoint, by name."""
    reader = tf.train.load_checkpoint(str(prefix))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k.startswith(NETWORKS)}


LR = 1e-6


def assert_same_weights(a: dict, b: dict, steps=5):
    """Weights and Adam moments agree. Adam's first updates are +-lr whatever the gradient's size, so a
    gradient at float-noise level (a conv bias before instance norm has a true gradient of zero) may move
    by 2 lr a step the other way: hence the absolute tolerance, and the tiny LR, which keeps the two runs
    on the same trajectory. The moments (running means of the gradients) must agree to 0.1 percent: a
    replica's gradient in place of the mean, or a sum instead of a mean, is off by tens of percent."""
    assert a.keys() == b.keys() and len(a) > 20
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-3, atol=2 * LR * steps + 1e-7, err_msg=k)


def config_for(run, **overrides):
    # pool of 16: with 2 images a step, every pool is still filling after 5 steps, so what the
    # discriminators see does not depend on how the pool is split over replicas.
    values = dict(batch_size=2, pool_size=16, n_epochs=2, n_epochs_decay=2, n_samples=1, output=str(run), lr=LR)
    return tiny_config(**{**values, **overrides})


@pytest.fixture(scope="module")
def runs(tmp_path_factory, image_folder_module):
    """One device for 3 steps, then to 5; the same 3 steps on 2 replicas; each continued on the other count."""
    root = tmp_path_factory.mktemp("runs")
    domains = folder_domains(image_folder_module)
    logs = {}

    def go(name, steps, strategy):
        lines = logs.setdefault(name, [])
        train(config_for(root / name, max_steps=steps), domains, log=lines.append, strategy=strategy)

    go("one", 3, None)
    shutil.copytree(root / "one", root / "one_then_two")
    go("two", 3, mirrored())
    shutil.copytree(root / "two", root / "two_then_one")
    go("one", 5, None)
    go("one_then_two", 5, mirrored())
    go("two_then_one", 5, None)
    return root, logs


@pytest.fixture(scope="module")
def image_folder_module(tmp_path_factory):
    from conftest import write_images

    root = tmp_path_factory.mktemp("data")
    for split, n, seed in [("trainA", 6, 1), ("trainB", 4, 2), ("testA", 1, 3), ("testB", 1, 4)]:
        write_images(root / split, n, seed=seed)
    return root


@pytest.mark.slow
def test_two_replicas_give_the_weights_of_one_device_with_the_same_global_batch(runs):
    root, logs = runs
    assert any("MirroredStrategy: 2 replicas" in line and "1 image(s) per replica" in line for line in logs["two"])
    assert_same_weights(trained(root / "two/checkpoints/ckpt-3"), trained(root / "one/checkpoints/ckpt-3"), steps=3)


@pytest.mark.slow
def test_checkpoint_holds_every_replicas_pool(runs):
    root, _ = runs
    reader = tf.train.load_checkpoint(str(root / "two/checkpoints/ckpt-3"))
    counts = reader.get_tensor("pool_x/counts/.ATTRIBUTES/VARIABLE_VALUE")
    images = reader.get_tensor("pool_x/images/.ATTRIBUTES/VARIABLE_VALUE")
    assert counts.tolist() == [3, 3] and images.shape == (32, 32, 32, 3)  # 2 replicas x 16 slots
    assert np.all(np.abs(images[:3]).sum(axis=(1, 2, 3)) > 0)
    assert np.all(np.abs(images[16:19]).sum(axis=(1, 2, 3)) > 0)  # each block holds its own 3 fakes ...
    assert not np.abs(images[3:16]).any() and not np.abs(images[19:]).any()  # ... and nothing more
    assert not np.array_equal(images[:3], images[16:19])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["one_then_two", "two_then_one"])
def test_resume_on_another_replica_count_continues_the_same_run(runs, name):
    root, logs = runs
    assert any("Resuming from" in line and "ckpt-3" in line for line in logs[name])
    assert_same_weights(trained(root / name / "checkpoints/ckpt-5"), trained(root / "one/checkpoints/ckpt-5"))


def test_amx_is_read_from_the_cpu_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_tile amx_int8\n")
    assert not cpu_has_amx(str(info))
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 amx_tile\n")
    assert cpu_has_amx(str(info))
    assert not cpu_has_amx(str(tmp_path / "missing"))


def test_pool_load_deals_saved_blocks_to_any_replica_count(tmp_path):
    saved = ImagePool(2, (1, 1, 1), name="pool", replicas=2)
    saved.images.assign(np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1))
    saved.counts.assign([2, 1])
    path = tf.train.Checkpoint(pool=saved).write(str(tmp_path / "ckpt"))
    three = ImagePool(2, (1, 1, 1), replicas=3)
    three.load(tf.train.load_checkpoint(path), "pool")
    assert three.images.numpy().ravel().tolist() == [0, 1, 2, 3, 0, 1] and three.counts.numpy().tolist() == [2, 1, 2]
    with pytest.raises(ValueError, match="does not fit"):
        ImagePool(3, (1, 1, 1)).load(tf.train.load_checkpoint(path), "pool")


def test_each_input_pipeline_reads_its_share_of_every_global_batch(image_folder):
    config = tiny_config(batch_size=4, n_epochs=3, n_epochs_decay=0, output="unused")
    data = Unpaired.from_domains(folder_domains(image_folder), config)
    whole = [x.numpy() for x, _ in data.train_dataset(config, start_step=1).take(1)][0]
    shares = []
    for pipeline in range(2):  # 2 workers with 2 replicas each: one image per replica
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=4)
        batches = [x.numpy() for x, _ in data.train_dataset(config, start_step=1, input_context=context).take(2)]
        assert all(b.shape[0] == 1 for b in batches)
        shares += batches
    np.testing.assert_array_equal(np.concatenate(shares), whole)


def test_a_batch_that_does_not_split_over_the_replicas_is_refused(tmp_path, image_folder):
    with pytest.raises(RunError, match=r"--batch_size 3 does not split over 2 replicas; use a multiple of 2"):
        train(config_for(tmp_path / "run", batch_size=3), folder_domains(image_folder), strategy=mirrored())
    assert not (tmp_path / "run").exists()


def test_xla_under_a_strategy_is_refused_before_anything_is_built(tmp_path, image_folder):
    with pytest.raises(RunError, match=r"--jit_compile: not with MirroredStrategy \(--strategy auto\)"):
        train(config_for(tmp_path / "run", jit_compile=True), folder_domains(image_folder), strategy=mirrored())
    assert not (tmp_path / "run").exists()


def test_strategy_options_are_checked():
    errors = " ".join(Config(strategy="mirrored", jit_compile=True).errors())
    assert "--jit_compile: not with --strategy mirrored" in errors
    assert "--tpu x: only with --strategy tpu" in " ".join(Config(tpu="x").errors())
    assert make_strategy("default") is None and make_strategy("auto") is None  # no GPU here


def test_multi_worker_without_tf_config_says_what_to_set(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(StrategyError, match="needs the TF_CONFIG environment variable"):
        make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(StrategyError, match="TF_CONFIG is not a valid cluster description"):
        make_strategy("multi_worker")


# -- several processes ------------------------------------------------------------------------------
WORKER = """
import json, os, sys
import numpy as np
from tf_cyclegan.core.config import Config
from tf_cyclegan.training.distribute import make_strategy
from tf_cyclegan.training.run import train
config = Config(**json.loads(sys.argv[1]))
strategy = make_strategy("multi_worker")
kept = []
train(config, log=lambda line: print(line, flush=True), strategy=strategy, model_ready=kept.append)
model = kept[0]
weights = {f"{net.name}/{i}": np.asarray(w) for net in (model.G, model.F, model.D_X, model.D_Y)
           for i, w in enumerate(net.weights)}
np.savez(sys.argv[2], step=model.step_count, **weights)
"""


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def launch(tmp, config: Config, tag: str):
    """Two worker processes on this machine, each with its TF_CONFIG; their stdout+stderr go to files."""
    script = tmp / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "CUDA_VISIBLE_DEVICES": ""}
        log = open(tmp / f"{tag}-worker{index}.log", "w")
        procs.append(subprocess.Popen([sys.executable, str(script), json.dumps(config.__dict__),
                                       str(tmp / f"{tag}-worker{index}.npz")], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, cwd=tmp))
    return procs


def wait(procs, tmp, tag, timeout=300):
    for index, p in enumerate(procs):
        try:
            code = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            code = "timeout"
        log = (tmp / f"{tag}-worker{index}.log").read_text()
        assert code == 0, f"worker {index} ended with {code}:\n{log[-3000:]}"


def weights(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


MW_STEPS = 30


@pytest.fixture(scope="module")
def multi_worker_run(tmp_path_factory, image_folder_module):
    tmp = tmp_path_factory.mktemp("multi_worker")
    config = config_for(tmp / "run", dataset=str(image_folder_module), max_steps=MW_STEPS, save_latest_freq=2,
                        strategy="multi_worker", n_epochs=20, n_epochs_decay=0)
    wait(launch(tmp, config, "straight"), tmp, "straight")
    return tmp, config


@pytest.mark.slow
def test_two_worker_processes_train_to_identical_weights(multi_worker_run):
    tmp, _ = multi_worker_run
    chief, other = weights(tmp / "straight-worker0.npz"), weights(tmp / "straight-worker1.npz")
    assert int(chief["step"]) == int(other["step"]) == MW_STEPS
    for k in chief:
        np.testing.assert_array_equal(chief[k], other[k], err_msg=k)
    log = (tmp / "straight-worker0.log").read_text()
    assert "MultiWorkerMirroredStrategy: 2 replicas on 2 workers; this is worker 0 (chief)" in log
    assert "this is worker 1" in (tmp / "straight-worker1.log").read_text()
    # Only the chief writes the run folder: checkpoints, config, samples.
    assert sorted(p.name for p in (tmp / "run").iterdir()) == ["checkpoints", "config.json", "data_report.tsv",
                                                                "domains.json", "logs", "samples"]
    assert (tmp / "run/checkpoints" / f"ckpt-{MW_STEPS}.index").exists()


@pytest.mark.slow
def test_the_chiefs_checkpoint_resumes_in_one_process(multi_worker_run, tmp_path):
    tmp, config = multi_worker_run
    shutil.copytree(tmp / "run", tmp_path / "run")
    lines = []
    kept = []
    resumed = Config(**{**config.__dict__, "output": str(tmp_path / "run"), "strategy": "default",
                        "max_steps": MW_STEPS + 2})
    train(resumed, log=lines.append, strategy=None, model_ready=kept.append)
    assert any(f"ckpt-{MW_STEPS} (step {MW_STEPS}" in line for line in lines), lines
    assert int(kept[0].step) == MW_STEPS + 2 and kept[0].replicas == 1
    assert (tmp_path / f"run/checkpoints/ckpt-{MW_STEPS + 2}.index").exists()


@pytest.mark.slow
def test_killing_a_worker_then_restarting_both_resumes_from_the_last_checkpoint(multi_worker_run):
    tmp, config = multi_worker_run
    config = Config(**{**config.__dict__, "output": str(tmp / "killed")})
    procs = launch(tmp, config, "killed")
    checkpoints = tmp / "killed/checkpoints"
    deadline = time.time() + 240
    while not list(checkpoints.glob("ckpt-*.index")) and time.time() < deadline:
        assert all(p.poll() is None for p in procs), (tmp / "killed-worker0.log").read_text()[-3000:]
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGKILL)
    procs[1].wait()
    try:
        survivor = procs[0].wait(timeout=120)
    except subprocess.TimeoutExpired:
        procs[0].kill()
        survivor = "hung"
    log0 = (tmp / "killed-worker0.log").read_text()
    assert survivor != 0, "the chief finished before the other worker was killed: make the run longer"
    assert "lost contact with another worker at step" in log0 and "start every worker again" in log0, log0[-2000:]
    assert "(  File" not in log0  # the reason, not a line of TensorFlow's stack
    last = max(int(p.name[5:-6]) for p in checkpoints.glob("ckpt-*.index"))
    assert last < MW_STEPS
    wait(launch(tmp, config, "restarted"), tmp, "restarted")
    log = (tmp / "restarted-worker0.log").read_text()
    assert f"Resuming from {checkpoints / f'ckpt-{last}'} (step {last}" in log
    assert "Resuming from" in (tmp / "restarted-worker1.log").read_text()
    chief, other = weights(tmp / "restarted-worker0.npz"), weights(tmp / "restarted-worker1.npz")
    straight = weights(tmp / "straight-worker0.npz")
    for k in chief:
        np.testing.assert_array_equal(chief[k], other[k], err_msg=k)
        np.testing.assert_allclose(chief[k], straight[k], rtol=0, atol=2e-6, err_msg=k)


def test_tpu_without_a_tpu_says_what_to_do():
    with pytest.raises(StrategyError, match=r"--strategy tpu: no TPU found .*run on a TPU VM, or pass --tpu"):
        make_strategy("tpu")


@pytest.mark.slow
def test_the_command_line_reports_a_missing_tf_config_in_one_line(tmp_path, image_folder):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    result = subprocess.run([sys.executable, "-m", "tf_cyclegan.train", "--dataset", str(image_folder), "--output",
                             str(tmp_path / "run"), "--strategy", "multi_worker"], capture_output=True, text=True,
                            env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("python -m tf_cyclegan.train: error: --strategy multi_worker needs the TF_CONFIG"), last
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.slow
def test_pix2pix_batch_norm_is_synchronised_over_replicas(tmp_path):
    """Batch norm over 2 replicas of 1 image takes the statistics of both, as one device with the batch of 2
    does (the reference's DDP needs --norm syncbatch for this)."""
    from conftest import write_images

    from tf_cyclegan.core.config import Config
    from tf_cyclegan.data.paired import folder_pairs

    for split in ("trainA", "trainB"):
        write_images(tmp_path / "data" / split, 4, seed=len(split))
    pairs = folder_pairs(tmp_path / "data")
    built = {}

    def go(name, strategy):
        config = Config.for_model("pix2pix", netG="resnet_1blocks", ngf=8, ndf=8, load_size=36, crop_size=32,
                                  batch_size=2, use_dropout=False, n_epochs=2, n_epochs_decay=2, n_samples=1,
                                  output=str(tmp_path / name), lr=LR, max_steps=3)
        train(config, pairs, log=lambda _: None, strategy=strategy, model_ready=lambda m: built.setdefault(name, m))

    go("one", None)
    go("two", mirrored())
    norms = [layer for layer in built["two"].G.layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert norms and all(layer.synchronized for layer in norms)
    one, two = (tf.train.load_checkpoint(str(tmp_path / name / "checkpoints" / "ckpt-3")) for name in ("one", "two"))
    keys = [k for k in one.get_variable_to_shape_map() if k.startswith(("G/", "D/", "optimizer_"))]
    assert any("moving_mean" in k for k in keys)
    assert_same_weights({k: one.get_tensor(k) for k in keys}, {k: two.get_tensor(k) for k in keys}, steps=3)


def test_each_replica_draws_its_own_dropout_masks():
    """Keras' seed generator has the same state on every replica; ReplicaDropout folds the replica in."""
    from tf_cyclegan.models.networks.layers import ReplicaDropout

    strategy = mirrored()
    with strategy.scope():
        inputs = tf.keras.Input((64,))
        model = tf.keras.Model(inputs, ReplicaDropout(0.5)(inputs))

    @tf.function
    def step():
        return strategy.run(lambda: model(tf.ones([1, 64]), training=True))

    masks = [t.numpy() for t in strategy.experimental_local_results(step())]
    assert set(np.unique(masks[0])) <= {0.0, 2.0} and not np.array_equal(masks[0], masks[1])
