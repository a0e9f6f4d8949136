"""RUN/data_report.tsv, the skipped files of a run: tab-separated values with a header row, quoted where a
field needs it, so that no file name (tabs, line breaks and quotes are legal on Linux) can break or forge a
row: csv.reader gives back one row per skipped file."""

import csv
import os
import shutil

from conftest import tiny_config, write_images

from tf_cyclegan.data.paired import folder_pairs
from tf_cyclegan.training.run import train

# Legal Linux file names that would split or forge rows of a naively written TSV.
HOSTILE = ["tab\there.png", "new\nline.png", 'a "quoted" name.png', "cr\rlf\r\n.png", "x.png\ttrainB\tforged row.png"]


def read_report(path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


def test_hostile_file_names_read_back_as_one_row_each(tmp_path):
    root = tmp_path / "d"
    write_images(root / "trainA", 6)
    write_images(root / "trainB", 3, seed=1)
    for name in HOSTILE + ["plain.png"]:
        (root / "trainA" / name).write_bytes(os.urandom(200))  # garbage named .png: unreadable, skipped
    (root / "trainA" / os.fsdecode(b"latin1 \xe9.png")).write_bytes(b"not a png")  # not UTF-8
    lines = []
    run = train(tiny_config(dataset=str(root), output=str(tmp_path / "run"), max_steps=1, n_samples=0,
                            max_bad_fraction=0.6), log=lines.append)
    header, *rows = read_report(run / "data_report.tsv")
    assert header == ["split", "file", "reason"]
    assert sorted(os.path.basename(file) for _, file, _ in rows) == sorted(
        HOSTILE + ["plain.png", "latin1 \\udce9.png"])  # the byte that is not UTF-8, backslash-escaped
    assert all(split == "trainA" and file.startswith(str(root / "trainA")) and reason for split, file, reason in rows)
    listed = f": 7 unreadable, skipped and listed in {run / 'data_report.tsv'}"
    assert any(line.startswith("Checked 16 images") and line.endswith(listed) for line in lines), lines


def test_a_file_without_a_partner_is_one_row_whatever_its_name(tmp_path):
    root = tmp_path / "p"
    write_images(root / "trainA", 2)
    write_images(root / "trainB", 2)
    shutil.copy(root / "trainA" / "000.png", root / "trainA" / "lone\tfile\n.png")  # only in trainA
    pairs = folder_pairs(root)
    _, skipped = pairs.checked(10**8, 1.0, tmp_path / "report.tsv")
    header, *rows = read_report(tmp_path / "report.tsv")
    assert skipped == 1 and header == ["split", "file", "reason"]
    assert rows == [["trainA", str(root / "trainA" / "lone\tfile\n.png"),
                     "no partner of the same name in the other folder"]]
