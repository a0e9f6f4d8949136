"""Hostile files end in one line that names the file (or flag) and says what to do, never in a traceback: a
tampered export contract (tf_cyclegan.json), a .pth whose unpickling would run code, an image over Pillow's
own decompression-bomb limit."""

import io
import json
import pickle
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tf_cyclegan.core.errors import ConversionError, ModelError, TranslateError

EXPORT_050 = Path(__file__).parent / "fixtures" / "export_0.5.0"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# -- a tampered tf_cyclegan.json ------------------------------------------------------------------------
@pytest.fixture
def version(tmp_path) -> Path:
    """A copy of the 0.5.0 export's a2b version (SavedModel and contract, no TFLite or ONNX files)."""
    shutil.copytree(EXPORT_050, tmp_path / "export", ignore=shutil.ignore_patterns("*.tflite", "*.onnx"))
    return tmp_path / "export" / "a2b" / "1"


def _edited(version: Path, edit) -> Path:
    file = version / "tf_cyclegan.json"
    contract = json.loads(file.read_text())
    edit(contract)
    file.write_text(json.dumps(contract))
    return file


def _without_multiple(contract):
    del contract["tiling"]["multiple"]


TAMPERED = {  # name: (edit of the contract, or the file's whole text; what the line says)
    "a list": ("[1, 2, 3]", "holds a JSON list, not an object of fields; export the model again"),
    "invalid JSON": ('{"direction": "a2b",', "not valid JSON (Expecting property name"),
    "multiple abc": (lambda c: c["tiling"].update(multiple="abc"),
                     "field 'tiling.multiple' is 'abc', not a whole number from 1 to 1024; export the model again"),
    "multiple 1e30": (lambda c: c["tiling"].update(multiple=1e30),
                      "field 'tiling.multiple' is 1e+30, not a whole number from 1 to 1024"),
    "multiple missing": (_without_multiple, "field 'tiling.multiple' is missing, not a whole number"),
    "tiling a string": (lambda c: c.update(tiling="4"), "field 'tiling' is '4', not an object with norm_widths"),
    "direction a number": (lambda c: c.update(direction=7), "field 'direction' is 7, not a name such as a2b"),
    "source_domain a list": (lambda c: c.update(source_domain=["a"]), "field 'source_domain' is ['a']"),
    "inference_mode": (lambda c: c.update(inference_mode="fast"),
                       "field 'inference_mode' is 'fast', not train or eval"),
    "max_pixels": (lambda c: c.update(max_pixels=-5), "field 'max_pixels' is -5, not a whole number of pixels"),
    "tflite strings": (lambda c: c.update(tflite={"float32": "a2b_float32.tflite"}), "field 'tflite' is {'float32'"),
    "keras file a path": (lambda c: c.update(keras={"file": "../../G.keras"}), "field 'keras.file' is '../../G.keras'"),
    "training_config": (lambda c: c.update(training_config=[]), "field 'training_config' is [], not an object"),
}


def _tamper(version: Path, case: str) -> tuple[Path, str]:
    edit, says = TAMPERED[case]
    if isinstance(edit, str):
        (version / "tf_cyclegan.json").write_text(edit)
        return version / "tf_cyclegan.json", says
    return _edited(version, edit), says


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_contract_is_one_line_naming_file_and_field(version, case):
    from tf_cyclegan.runtime.translator import Translator

    file, says = _tamper(version, case)
    with pytest.raises(ModelError) as info:
        Translator.load(version)
    message = str(info.value)
    assert message.startswith(f"{file}: ") and says in message and "\n" not in message


@pytest.mark.parametrize("case", ["a list", "invalid JSON", "multiple abc", "multiple 1e30", "inference_mode"])
def test_translate_names_the_tampered_contract(version, case, tmp_path, capsys):
    from tf_cyclegan.translate import main

    file, says = _tamper(version, case)
    (tmp_path / "in").mkdir()
    Image.new("RGB", (16, 16), "blue").save(tmp_path / "in" / "a.png")
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["--model", str(version), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")])
    assert info.value.code != 0
    line = one_error_line(capsys)
    assert f"{file}: " in line and says in line and "Traceback" not in line
    assert not (tmp_path / "out" / "a.png").exists()


def test_a_missing_contract_is_an_export_by_another_tool(version):
    from tf_cyclegan.core.layout import read_contract

    (version / "tf_cyclegan.json").unlink()
    assert read_contract(version) == {}


def test_the_050_fixture_still_opens_and_translates():
    from tf_cyclegan.core.layout import read_contract
    from tf_cyclegan.runtime.translator import Translator

    for direction in ("a2b", "b2a"):
        assert read_contract(EXPORT_050 / direction / "1")["tiling"]["multiple"] == 4
    out = Translator.load(EXPORT_050 / "a2b" / "1")(np.full((20, 24, 3), 128, np.uint8))
    assert out.shape == (20, 24, 3) and out.dtype == np.uint8


def test_the_shared_export_still_opens(cyclegan):
    from tf_cyclegan.core.contract_file import check_contract
    from tf_cyclegan.core.layout import read_contract
    from tf_cyclegan.runtime.translator import Translator

    for direction, folder in cyclegan["folders"].items():
        contract = read_contract(folder)
        assert contract["direction"] == direction and check_contract(contract, folder) is contract
    assert Translator.load(cyclegan["root"], "b2a")(np.zeros((8, 8, 3), np.uint8)).shape == (8, 8, 3)


# -- a .pth that would run code ---------------------------------------------------------------------------
CODE_LINE = ("holds Python code besides weights and was not loaded (unpickling it could run anything): if you "
             "trust it, load it in a trusted environment with torch.load(..., weights_only=False), save its "
             "state_dict with torch.save, and convert that file")


class Exploit:
    """Unpickling it calls open() on a marker file: proof that the file's code ran."""

    marker = ""

    def __reduce__(self):
        return open, (self.marker, "w")


def _malicious(tmp_path: Path, kind: str) -> Path:
    Exploit.marker = str(tmp_path / "ran")
    path = tmp_path / f"{kind}.pth"
    if kind == "plain":
        path.write_bytes(pickle.dumps({"model.1.weight": Exploit()}))
    else:
        torch = pytest.importorskip("torch")
        torch.save({"model.1.weight": torch.zeros(2), "evil": Exploit()}, path)
    return path


@pytest.mark.parametrize("kind", ["plain", "torch_zip"])
@pytest.mark.parametrize("use_torch", [True, False])
def test_a_pth_holding_code_is_refused_with_one_line(tmp_path, kind, use_torch):
    from tf_cyclegan.models.torch_weights import read_state_dict

    if use_torch:
        pytest.importorskip("torch")
    path = _malicious(tmp_path, kind)
    with pytest.raises(ConversionError) as info:
        read_state_dict(path, use_torch=use_torch)
    assert str(info.value) == f"{path} {CODE_LINE}"
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("kind", ["plain", "torch_zip"])
@pytest.mark.parametrize("use_torch", [True, False])
def test_from_torch_refuses_a_pth_holding_code(tmp_path, kind, use_torch, monkeypatch, capsys):
    from tf_cyclegan.from_torch import main

    path = _malicious(tmp_path, kind)
    if not use_torch:
        monkeypatch.setitem(sys.modules, "torch", None)  # as on a machine without PyTorch
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main([str(path), "--output", str(tmp_path / "out"), "--netG", "resnet_1blocks", "--ngf", "4"])
    assert info.value.code != 0
    assert one_error_line(capsys) == f"python -m tf_cyclegan.from_torch: error: {path} {CODE_LINE}"
    assert not (tmp_path / "ran").exists() and not (tmp_path / "out").exists()


# -- an image over Pillow's decompression-bomb limit -------------------------------------------------------
def bomb_png(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """An 8x8 PNG whose header claims width x height (IHDR patched, its CRC recomputed): Pillow refuses to
    open it (over twice Image.MAX_IMAGE_PIXELS) before decoding a pixel."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    chunk = data[12:29]  # "IHDR" and its 13 bytes
    assert bytes(chunk[:4]) == b"IHDR"
    chunk[4:12] = struct.pack(">II", width, height)
    data[12:29] = chunk
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(chunk)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("width", [20000, 10000])  # over twice Pillow's limit (its error), between (its warning)
def test_a_bomb_gets_the_max_image_pixels_line(tmp_path, width, recwarn):
    from tf_cyclegan.data.images import check_image

    path = bomb_png(tmp_path / "bomb.png", width, width)
    assert check_image(str(path), 8192 * 8192) == f"too large: {width}x{width} pixels, over --max_image_pixels 67108864"
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


def test_a_bomb_is_listed_in_the_training_data_report(tmp_path):
    from tf_cyclegan.data.unpaired import folder_domains

    for split in ("trainA", "trainB"):
        for i in range(4):
            (tmp_path / "data" / split).mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (12, 12), (60 * i, 0, 0)).save(tmp_path / "data" / split / f"{i}.png")
    bomb = bomb_png(tmp_path / "data" / "trainA" / "bomb.png")
    domains, skipped = folder_domains(tmp_path / "data").checked(8192 * 8192, 0.5, tmp_path / "data_report.tsv")
    assert skipped == 1 and len(domains.train_a) == 4
    report = (tmp_path / "data_report.tsv").read_text()
    assert str(bomb) in report and "too large: 20000x20000 pixels, over --max_image_pixels 67108864" in report
    assert "decompression bomb" not in report


def test_translate_names_the_bomb_in_one_line(tmp_path, capsys):
    from tf_cyclegan.runtime.translator import Translator

    path = bomb_png(tmp_path / "bomb.png")
    translator = Translator.load(EXPORT_050 / "a2b" / "1")
    with pytest.raises(TranslateError) as info:
        translator(str(path))
    limit = 2 * Image.MAX_IMAGE_PIXELS
    assert str(info.value) == (f"{path}: cannot read it as an image (too large: 20000x20000 pixels, over the "
                               f"{limit:,} pixels Pillow decodes (PIL.Image.MAX_IMAGE_PIXELS x 2))")


def test_norm_widths_that_do_not_fit_the_saved_model_are_one_line(version):
    from tf_cyclegan.runtime.translator import Translator

    _edited(version, lambda c: c["tiling"].update(norm_widths=[4]))
    translator = Translator.load(version, tile=32, overlap=8, always_tile=True)
    with pytest.raises(ModelError, match=r"^the export's tf_cyclegan.json: field 'tiling.norm_widths' adds up to 8 "
                                         r"statistics, its SavedModel's translate_tile takes 144; export the model"):
        translator(np.zeros((64, 64, 3), np.uint8))


def test_translate_skips_the_bomb_with_one_line(tmp_path, capsys):
    from tf_cyclegan.translate import main

    bomb = bomb_png(tmp_path / "in" / "bomb.png")
    Image.new("RGB", (16, 16), "blue").save(tmp_path / "in" / "fine.png")
    assert main(["--model", str(EXPORT_050 / "a2b" / "1"), "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert (f"skipped {bomb}: cannot read it as an image (ImageTooLarge: too large: 20000x20000 pixels, over the "
            f"{2 * Image.MAX_IMAGE_PIXELS:,} pixels Pillow decodes (PIL.Image.MAX_IMAGE_PIXELS x 2))") in out
    assert (tmp_path / "out" / "fine.png").exists() and not (tmp_path / "out" / "bomb.png").exists()
