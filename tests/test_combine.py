"""datasets.combine: A | B pairs for pix2pix, as the reference's combine_A_and_B.py, with skips reported."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tf_cyclegan.data.combine import REPORT, combine
from tf_cyclegan.datasets.combine import main


def save(path, size=(8, 6), seed=0):
    """A random RGB image of size (w, h) at path; returns its pixels."""
    w, h = size
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def report_rows(folder):
    with open(folder / REPORT, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == ["file", "reason"]
    return rows[1:]


def leftovers(folder):
    """Temporary files or folders that an atomic write would leave behind if it failed."""
    return [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".part")]


@pytest.fixture
def folds(tmp_path):
    """A and B with train (3 pairs) and val (2 pairs) of PNGs; returns (A, B, AB, {path_AB: (A, B)})."""
    fold_A, fold_B = tmp_path / "A", tmp_path / "B"
    expected = {}
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            a = save(fold_A / split / f"{i}.png", seed=10 * i + len(split))
            b = save(fold_B / split / f"{i}.png", seed=10 * i + len(split) + 1)
            expected[f"{split}/{i}.png"] = (a, b)
    return fold_A, fold_B, tmp_path / "AB", expected


def test_pairs_are_a_left_b_right_exactly(folds):
    fold_A, fold_B, fold_AB, expected = folds
    lines = []
    written, skipped = combine(fold_A, fold_B, fold_AB, workers=2, log=lines.append)
    assert written == {"train": 3, "val": 2} and skipped == []
    for relative, (a, b) in expected.items():
        ab = pixels(fold_AB / relative)
        assert ab.shape == (6, 16, 3)
        np.testing.assert_array_equal(ab[:, :8], a)
        np.testing.assert_array_equal(ab[:, 8:], b)
    assert sorted(p.relative_to(fold_AB).as_posix() for p in fold_AB.rglob("*.png")) == sorted(expected)
    assert lines[-1] == f"Wrote 5 pairs to {fold_AB} (train 3, val 2)"
    assert report_rows(fold_AB) == []
    assert leftovers(fold_AB) == []


def test_jpeg_stays_jpeg_at_quality_95(tmp_path):
    a = np.full((16, 16, 3), 200, np.uint8)
    b = np.full((16, 16, 3), 40, np.uint8)
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    Image.fromarray(a).save(tmp_path / "A" / "x.jpg", quality=95)
    Image.fromarray(b).save(tmp_path / "B" / "x.jpg", quality=95)
    written, _ = combine(tmp_path / "A", tmp_path / "B", tmp_path / "AB", log=lambda line: None)
    assert written == {".": 1}  # flat folders: the images directly, no split subfolders
    with Image.open(tmp_path / "AB" / "x.jpg") as image:
        assert image.format == "JPEG" and image.size == (32, 16)
        ab = np.asarray(image.convert("RGB"), dtype=int)
    assert np.abs(ab[:, :16] - 200).max() <= 3 and np.abs(ab[:, 16:] - 40).max() <= 3


def test_use_ab_pairs_x_a_with_x_b_in_one_folder(tmp_path):
    both = tmp_path / "AB_halves"
    a = save(both / "train" / "0001_A.png", seed=1)
    b = save(both / "train" / "0001_B.png", seed=2)
    save(both / "train" / "0002_B.png", seed=3)  # no 0002_A
    written, skipped = combine(both, both, tmp_path / "out", use_AB=True, log=lambda line: None)
    assert written == {"train": 1}
    assert os.listdir(tmp_path / "out" / "train") == ["0001.png"]
    np.testing.assert_array_equal(pixels(tmp_path / "out" / "train" / "0001.png"), np.concatenate([a, b], 1))
    assert [(f.name, reason.split(":")[0]) for f, reason in skipped] == [("0002_B.png", "no partner")]


def test_num_imgs_caps_each_split(folds):
    fold_A, fold_B, fold_AB, _ = folds
    lines = []
    written, _ = combine(fold_A, fold_B, fold_AB, num_imgs=2, log=lines.append)
    assert written == {"train": 2, "val": 2}
    assert sorted(os.listdir(fold_AB / "train")) == ["0.png", "1.png"]  # the first, sorted by name
    assert "split train: 2 of 3 A images" in lines


def test_skips_are_listed_and_not_written(folds, capsys):
    fold_A, fold_B, fold_AB, _ = folds
    save(fold_A / "train" / "lonely.png")  # no partner in B
    save(fold_B / "val" / "orphan.png")  # no partner in A
    save(fold_A / "train" / "big.png", size=(8, 6))
    save(fold_B / "train" / "big.png", size=(9, 6))  # not resized: skipped
    (fold_A / "val" / "broken.png").write_bytes(b"not a png")
    save(fold_B / "val" / "broken.png")
    (fold_A / "train" / "notes.txt").write_text("hi")
    assert main(["--fold_A", str(fold_A), "--fold_B", str(fold_B), "--fold_AB", str(fold_AB)]) == 0
    expected = {
        fold_A / "train" / "lonely.png": "no partner",
        fold_B / "val" / "orphan.png": "no partner",
        fold_A / "train" / "big.png": "sizes differ",
        fold_A / "val" / "broken.png": "unreadable",
        fold_A / "train" / "notes.txt": "not an image",
    }
    rows = report_rows(fold_AB)
    assert {file: reason.split(":")[0] for file, reason in rows} == {str(f): k for f, k in expected.items()}
    assert "A 8x6, B 9x6" in dict(rows)[str(fold_A / "train" / "big.png")]
    for name in ("train/lonely.png", "train/big.png", "val/broken.png", "val/orphan.png", "train/notes.txt"):
        assert not (fold_AB / name).exists()
    out, err = capsys.readouterr()
    skip_lines = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(skip_lines) == 5 and all(str(f) in err for f in expected)
    summary = out.splitlines()[-1]
    assert summary.startswith(f"Wrote 5 pairs to {fold_AB} (train 3, val 2); skipped 5: ")
    assert "2 no partner" in summary and "1 sizes differ" in summary and "1 unreadable" in summary
    assert str(fold_AB / REPORT) in summary
    assert leftovers(fold_AB) == []


def test_a_file_name_cannot_break_or_forge_report_rows(folds):
    """Names with a tab, a line break and a quote are one row each, read back with csv."""
    fold_A, fold_B, fold_AB, _ = folds
    forged = ["tab\there.png", "line\nbreak.png", 'quote".png', "x.png\tnot an image\nfake.png"]
    for name in forged:
        save(fold_A / "train" / name)  # no partner in B
    main(["--fold_A", str(fold_A), "--fold_B", str(fold_B), "--fold_AB", str(fold_AB)])
    rows = report_rows(fold_AB)
    assert sorted(file for file, _ in rows) == sorted(str(fold_A / "train" / name) for name in forged)
    assert all(reason.startswith("no partner") for _, reason in rows)


def test_split_missing_in_b_is_one_skip(folds):
    fold_A, fold_B, fold_AB, _ = folds
    save(fold_A / "test" / "0.png")
    lines = []
    written, skipped = combine(fold_A, fold_B, fold_AB, log=lines.append)
    assert written == {"test": 0, "train": 3, "val": 2}
    assert [(f, r.split(":")[0]) for f, r in skipped] == [(fold_A / "test", "no partner")]
    assert "split test: 1 A images" in lines
    assert lines[-1].startswith(f"Wrote 5 pairs to {fold_AB} (test 0, train 3, val 2); skipped 1: 1 no partner")


def test_nothing_written_exits_1_with_one_line(tmp_path, capsys):
    save(tmp_path / "A" / "train" / "1.png")
    save(tmp_path / "B" / "train" / "2.png")
    fold_AB = tmp_path / "AB"
    assert_fails(["--fold_A", str(tmp_path / "A"), "--fold_B", str(tmp_path / "B"), "--fold_AB", str(fold_AB)],
                 capsys, 1, "no pairs written")
    assert len(report_rows(fold_AB)) == 2  # both files listed, nothing else written
    assert list(fold_AB.rglob("*.png")) == []


def assert_fails(argv, capsys, code, text):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and text in errors[0], err
    assert "Traceback" not in err
    return errors[0]


def test_missing_folders_and_bad_flags(tmp_path, capsys):
    save(tmp_path / "A" / "1.png")
    save(tmp_path / "B" / "1.png")
    a, b, ab = str(tmp_path / "A"), str(tmp_path / "B"), str(tmp_path / "AB")
    line = assert_fails(["--fold_A", str(tmp_path / "nope"), "--fold_B", b, "--fold_AB", ab], capsys, 1, "--fold_A")
    assert line == (f"python -m tf_cyclegan.datasets.combine: error: --fold_A {tmp_path / 'nope'}: no such folder; "
                    f"pass the folder of A images")
    assert_fails(["--fold_A", a, "--fold_B", str(tmp_path / "nope"), "--fold_AB", ab], capsys, 1, "--fold_B")
    assert_fails(["--fold_A", a, "--fold_B", b, "--fold_AB", a], capsys, 1, "is the --fold_A folder")
    (tmp_path / "empty").mkdir()
    assert_fails(["--fold_A", str(tmp_path / "empty"), "--fold_B", b, "--fold_AB", ab], capsys, 1, "no images")
    assert_fails(["--fold_A", a, "--fold_B", b], capsys, 2, "--fold_AB")
    assert_fails(["--fold_A", a, "--fold_B", b, "--fold_AB", ab, "--num_imgs", "0"], capsys, 2, "--num_imgs")
    assert_fails(["--fold_A", a, "--fold_B", b, "--fold_AB", ab, "--workers", "many"], capsys, 2, "not a whole number")
    assert not (tmp_path / "AB").exists()


def test_unwritable_output_is_one_line(tmp_path, capsys):
    save(tmp_path / "A" / "1.png")
    save(tmp_path / "B" / "1.png")
    (tmp_path / "AB").write_text("a file, not a folder")
    assert_fails(["--fold_A", str(tmp_path / "A"), "--fold_B", str(tmp_path / "B"), "--fold_AB",
                  str(tmp_path / "AB")], capsys, 1, "could not write")


def test_module_starts_without_tensorflow(folds):
    fold_A, fold_B, fold_AB, _ = folds
    code = ("import sys; from tf_cyclegan.datasets.combine import main; rc = main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, "--fold_A", str(fold_A), "--fold_B", str(fold_B),
                             "--fold_AB", str(fold_AB), "--workers", "1"], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(list(fold_AB.rglob("*.png"))) == 5
