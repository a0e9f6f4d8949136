"""Model files that are not whole models (empty, cut short by a copy, random bytes): every way in (the library's
Translator.load, translate, evaluate and the demo) ends with one line that names the file and says what to do,
never a traceback."""

import shutil

import numpy as np
import pytest
from PIL import Image

import tf_cyclegan
from tf_cyclegan import demo
from tf_cyclegan import evaluate as evaluate_command
from tf_cyclegan import translate as translate_command
from tf_cyclegan.core.errors import ModelError

KINDS = ("empty", "truncated", "random")
ADVICE = "copy the whole file again, or export it again (python -m tf_cyclegan.export)"


@pytest.fixture(scope="module")
def bad_models(cyclegan, tmp_path_factory):
    """{kind: a bad a2b_float32.tflite}, each in a folder of its own beside a copy of the export's contract
    (tf_cyclegan.json), as a half-copied export would be."""
    real = cyclegan["folders"]["a2b"] / "a2b_float32.tflite"
    data = real.read_bytes()
    contents = {"empty": b"", "truncated": data[:len(data) // 2],
                "random": np.random.default_rng(0).integers(0, 256, len(data), np.uint8).tobytes()}
    files = {}
    for kind, content in contents.items():
        folder = tmp_path_factory.mktemp(kind)
        shutil.copy(real.parent / "tf_cyclegan.json", folder)
        files[kind] = folder / real.name
        files[kind].write_bytes(content)
    return files


def one_line(capsys, prog: str) -> str:
    """The command's whole stderr, which must be one error line of `prog` and no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"python -m tf_cyclegan.{prog}: error: "), err
    return lines[0]


def check_message(line: str, file):
    assert f"--model {file}: LiteRT cannot load it (" in line and line.endswith(ADVICE), line


@pytest.mark.parametrize("kind", KINDS)
def test_translator_load_raises_one_line_naming_the_file(bad_models, kind):
    with pytest.raises(ModelError) as info:
        tf_cyclegan.Translator.load(str(bad_models[kind]))
    message = str(info.value)
    assert "\n" not in message
    check_message(message, bad_models[kind])
    if kind == "empty":
        assert "LiteRT cannot load it (the file is empty: 0 bytes); " in message
    else:
        assert "(The model is not a valid Flatbuffer buffer)" in message


@pytest.mark.parametrize("kind", KINDS)
def test_translate_says_which_file_and_writes_nothing(bad_models, kind, tmp_path, capsys):
    Image.fromarray(np.zeros([32, 32, 3], np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(SystemExit) as info:
        translate_command.main(["--model", str(bad_models[kind]), "--input", str(tmp_path / "x.png"),
                                "--output", str(tmp_path / "out")])
    assert info.value.code == 1
    check_message(one_line(capsys, "translate"), bad_models[kind])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("kind", KINDS)
def test_evaluate_says_which_file_and_writes_no_page(bad_models, kind, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        evaluate_command.main(["--model", str(bad_models[kind]), "--output", str(tmp_path / "eval"), "--no_fid",
                               "--num_test", "2"])
    assert info.value.code == 1
    err = capsys.readouterr()
    lines = [line for line in err.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err.err, err.err
    assert lines[0].startswith("python -m tf_cyclegan.evaluate: error: ")
    check_message(lines[0], bad_models[kind])
    assert "Evaluating" not in err.out, err.out  # refused when opened, before the test images are read
    assert not (tmp_path / "eval" / "metrics.json").exists()


@pytest.mark.parametrize("suffix", [".tflite", ".onnx"])
def test_evaluate_names_a_broken_file_before_asking_for_its_dataset(bad_models, suffix, tmp_path, capsys):
    """A broken file alone (no tf_cyclegan.json beside it): the line is about the file, not a missing --dataset
    that would not help."""
    file = tmp_path / f"a2b{suffix}"
    file.write_bytes(bad_models["random"].read_bytes())
    with pytest.raises(SystemExit) as info:
        evaluate_command.main(["--model", str(file), "--output", str(tmp_path / "eval"), "--no_fid"])
    assert info.value.code == 1
    line = one_line(capsys, "evaluate")
    runtime = "LiteRT" if suffix == ".tflite" else "onnxruntime"
    assert f"--model {file}: {runtime} cannot load it (" in line and line.endswith(ADVICE), line
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_the_demo_says_which_file_and_does_not_start(bad_models, kind, capsys):
    with pytest.raises(SystemExit) as info:
        demo.main(["--model", str(bad_models[kind]), "--port", "7861"])
    assert info.value.code == 1
    check_message(one_line(capsys, "demo"), bad_models[kind])


def test_an_empty_onnx_file_says_it_is_empty(tmp_path):
    (tmp_path / "a2b.onnx").write_bytes(b"")
    with pytest.raises(ModelError) as info:
        tf_cyclegan.Translator.load(str(tmp_path / "a2b.onnx"))
    assert str(info.value) == (f"--model {tmp_path / 'a2b.onnx'}: onnxruntime cannot load it (the file is empty: "
                               f"0 bytes); {ADVICE}")
