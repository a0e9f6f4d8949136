"""TF Serving: the models.config that export and from_torch write names exactly the export folder's models;
serve.sh and docker-compose.yml serve that file; an import records its training size for evaluate."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tf_cyclegan.core.layout import CONTRACT_FILE, latest_version
from tf_cyclegan.exporting.serving import MODELS_CONFIG, served_models, write_models_config

REPO = Path(__file__).resolve().parents[1]


def served(text: str) -> list[tuple[str, str, str]]:
    """(name, base_path, model_platform) of each model in a ModelServerConfig text, as TF Serving parses it."""
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    return [(c.name, c.base_path, c.model_platform) for c in config.model_config_list.config]


def expected(*names) -> list[tuple[str, str, str]]:
    return [(name, f"/models/{name}", "tensorflow") for name in names]


def model_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def training_config(model_dir: Path) -> dict:
    return json.loads((latest_version(model_dir) / CONTRACT_FILE).read_text())["training_config"]


def test_a_cyclegan_export_serves_both_directions(cyclegan):
    root = cyclegan["root"]
    assert model_folders(root) == ["a2b", "b2a"]
    assert served((root / MODELS_CONFIG).read_text()) == expected("a2b", "b2a")


def test_only_folders_with_a_complete_version_are_served(tmp_path):
    """A half-written version (no saved_model.pb), a hidden temporary folder and a plain file are not models:
    TF Serving would wait for them for ever."""
    for folder in ("a2b/1", "b2a/3", "b2a/unnumbered", "empty", "half/1", ".tmp-x/1"):
        (tmp_path / folder).mkdir(parents=True)
    for model in ("a2b/1", "b2a/3", ".tmp-x/1"):
        (tmp_path / model / "saved_model.pb").touch()
    (tmp_path / "notes.txt").write_text("")
    assert served_models(tmp_path) == ["a2b", "b2a"]
    assert served(write_models_config(tmp_path).read_text()) == expected("a2b", "b2a")
    assert served(write_models_config(tmp_path / "empty").read_text()) == []


# -- from_torch imports --------------------------------------------------------------------------------------
def reference_nets():
    """The reference's generators rebuilt in PyTorch (the test extra), to write .pth files from."""
    pytest.importorskip("torch", reason="PyTorch is in the test extra")
    from tf_cyclegan.bench import torch_reference

    return torch_reference


def pth(net, path: Path) -> str:
    import torch

    torch.save(net.state_dict(), path)
    return str(path)


def import_unet(folder: Path, tmp: Path, *flags) -> None:
    """A tiny unet_128 pix2pix generator (8 filters, batch norm) imported into `folder` without TFLite files."""
    from tf_cyclegan.from_torch import main

    nets = reference_nets()
    checkpoint = pth(nets.UnetGenerator(7, 8, nets.BATCH), tmp / "unet.pth")
    assert main([checkpoint, "--netG", "unet_128", "--ngf", "8", "--norm", "batch", "--model", "pix2pix",
                 "--no_tflite", "--output", str(folder), *flags]) == 0


@pytest.fixture(scope="module")
def imports(tmp_path_factory):
    """One export folder with a pix2pix import named b2a, then a CycleGAN generator named horse2zebra:
    {"root": the folder, "first": its models.config after the first import}."""
    from tf_cyclegan.from_torch import main

    tmp = tmp_path_factory.mktemp("imports")
    root = tmp / "exported"
    import_unet(root, tmp, "--name", "b2a", "--source", "label", "--target", "photo", "--eval")
    first = (root / MODELS_CONFIG).read_text()
    nets = reference_nets()
    checkpoint = pth(nets.ResnetGenerator(8, 2, nets.INSTANCE), tmp / "horse2zebra.pth")
    assert main([checkpoint, "--netG", "resnet_2blocks", "--ngf", "8", "--name", "horse2zebra", "--source", "horse",
                 "--target", "zebra", "--no_tflite", "--output", str(root)]) == 0
    return {"root": root, "first": first}


def test_a_one_model_export_serves_just_that_model(imports):
    assert served(imports["first"]) == expected("b2a")


def test_imports_into_one_folder_are_all_served(imports):
    root = imports["root"]
    assert model_folders(root) == ["b2a", "horse2zebra"]
    text = (root / MODELS_CONFIG).read_text()
    assert served(text) == expected("b2a", "horse2zebra") and text.startswith("# TF Serving model config")


def test_from_torch_records_the_size_the_generator_was_trained_at(imports, tmp_path, capsys):
    assert training_config(imports["root"] / "b2a")["crop_size"] == 128  # unet_128's default
    assert training_config(imports["root"] / "horse2zebra")["crop_size"] == 256  # the published models'
    import_unet(tmp_path / "out", tmp_path, "--crop_size", "64")
    assert training_config(tmp_path / "out" / "a2b")["crop_size"] == 64
    assert served((tmp_path / "out" / MODELS_CONFIG).read_text()) == expected("a2b")
    from tf_cyclegan.from_torch import main

    with pytest.raises(SystemExit):
        main(["g.pth", "--output", str(tmp_path / "o"), "--crop_size", "0"])
    assert "--crop_size: must be at least 1, got 0" in capsys.readouterr().err


def test_evaluate_resizes_to_an_imports_recorded_size(imports, tmp_path):
    """docs/pix2pix.md's `evaluate --model exported/label2photo --dataset pix2pix/facades`, with no --size."""
    from PIL import Image

    from tf_cyclegan.evaluation.options import EvaluateOptions
    from tf_cyclegan.evaluation.report import evaluate

    (tmp_path / "facades" / "test").mkdir(parents=True)
    for i in range(2):
        pair = np.random.default_rng(i).integers(0, 256, (32, 64, 3), dtype=np.uint8)
        Image.fromarray(pair).save(tmp_path / "facades" / "test" / f"{i}.png")
    report = evaluate(EvaluateOptions(model=str(imports["root"]), output=str(tmp_path / "eval"),
                                      dataset=str(tmp_path / "facades"), no_fid=True), log=lambda _: None)
    assert report["size"] == 128 and report["paired"] and "truth_psnr" in report["b2a"]


# -- serve.sh and docker-compose.yml ---------------------------------------------------------------------------
def serve(export_dir: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """Run serve.sh with a PATH whose only docker is a stub that records its arguments."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "docker-calls"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {calls}\n')
    (bin_dir / "docker").chmod(0o755)
    result = subprocess.run([shutil.which("bash"), str(REPO / "export" / "serve.sh"), str(export_dir)],
                            env={**os.environ, "PATH": str(bin_dir)}, capture_output=True, text=True, check=False)
    return result, calls


def test_serve_sh_without_models_config_fails_in_one_line_before_docker(tmp_path):
    (tmp_path / "old-export" / "a2b" / "1").mkdir(parents=True)
    result, calls = serve(tmp_path / "old-export", tmp_path)
    assert result.returncode == 1 and not calls.exists() and result.stdout == ""
    assert result.stderr.count("\n") == 1 and f"{tmp_path / 'old-export'} has no models.config" in result.stderr


def test_serve_sh_serves_the_export_folders_own_config(tmp_path):
    write_models_config(tmp_path / "exported")
    result, calls = serve(tmp_path / "exported", tmp_path)
    assert result.returncode == 0, result.stderr
    args = calls.read_text().splitlines()
    assert f"{tmp_path / 'exported'}:/models:ro" in args and "--model_config_file=/models/models.config" in args
    assert args.count("-v") == 1  # the export folder only: its models.config comes with it


def test_compose_needs_an_absolute_export_dir_and_serves_its_config():
    yaml = pytest.importorskip("yaml")
    service = yaml.safe_load((REPO / "export" / "docker-compose.yml").read_text())["services"]["cyclegan"]
    assert service["volumes"] == [("${EXPORT_DIR:?set EXPORT_DIR to the export folder's absolute path, e.g. "
                                   'EXPORT_DIR="$PWD/exported"}:/models:ro')]
    assert "--model_config_file=/models/models.config" in service["command"]
    assert not (REPO / "export" / MODELS_CONFIG).exists()  # the old fixed a2b/b2a list
