"""Tests for the procedural summer/winter "seasons" dataset."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tf_cyclegan.data.seasons import MARKER, SIZE, SPLITS, render_scene, split_seeds, write_dataset
from tf_cyclegan.data.seasons import dataset as seasons
from tf_cyclegan.data.seasons.scene import Conifer
from tf_cyclegan.data.seasons.scene import layout as scene_layout

TEST_SEEDS = split_seeds("testA", 8)


def _pair(seed, size=SIZE):
    return render_scene(seed, "summer", size), render_scene(seed, "winter", size)


def _green_fraction(img):
    a = img.astype(int)
    return float(((a[..., 1] > a[..., 0] + 12) & (a[..., 1] > a[..., 2] + 12)).mean())


def _affine_r2(x_img, y_img):
    """Per channel R^2 of the best affine map y = a * x + b."""
    out = []
    for c in range(3):
        x = x_img[..., c].ravel().astype(float)
        y = y_img[..., c].ravel().astype(float)
        A = np.stack([x, np.ones_like(x)], axis=1)
        coef = np.linalg.lstsq(A, y, rcond=None)[0]
        out.append(1.0 - np.mean((A @ coef - y) ** 2) / y.var())
    return np.array(out)


def _tone_curve_r2(x_img, y_img):
    """Per channel R^2 of the best arbitrary per-channel tone curve y = f(x)."""
    out = []
    for c in range(3):
        x = x_img[..., c].ravel()
        y = y_img[..., c].ravel().astype(float)
        count = np.bincount(x, minlength=256)
        mean = np.bincount(x, y, minlength=256) / np.maximum(count, 1)
        out.append(1.0 - np.mean((y - mean[x]) ** 2) / y.var())
    return np.array(out)


# ----------------------------------------------------------------- render_scene


@pytest.mark.parametrize("season", ["summer", "winter"])
@pytest.mark.parametrize("size", [32, 57, SIZE, 256])
def test_shape_and_dtype(season, size):
    img = render_scene(12345, season, size)
    assert img.shape == (size, size, 3)
    assert img.dtype == np.uint8
    assert img.std() > 10  # not a blank / flat picture


def test_default_size():
    assert render_scene(0, "summer").shape == (128, 128, 3)


def test_deterministic():
    for season in ("summer", "winter"):
        a = render_scene(77, season, 96)
        b = render_scene(77, season, 96)
        assert a.tobytes() == b.tobytes()
    # numpy integer seeds give the same picture as Python ints
    assert np.array_equal(render_scene(np.int64(77), "summer", 64), render_scene(77, "summer", 64))


def test_different_seeds_are_different_scenes():
    imgs = [render_scene(s, "summer", 64).astype(int) for s in range(6)]
    for i in range(len(imgs)):
        for j in range(i + 1, len(imgs)):
            assert np.abs(imgs[i] - imgs[j]).mean() > 8, (i, j)


def test_geometry_scales_with_size():
    small = render_scene(2024, "winter", 64).astype(float)
    big = render_scene(2024, "winter", 256).astype(float)
    down = big.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
    # Same layout at both sizes: the downsampled big render matches the small one
    # far better than a different scene does.
    other = render_scene(2025, "winter", 64).astype(float)
    assert np.abs(down - small).mean() < 0.5 * np.abs(other - small).mean()


@pytest.mark.parametrize("season", ["autumn", "Summer", "", None, "a"])
def test_bad_season(season):
    with pytest.raises(ValueError):
        render_scene(0, season)


def test_bad_size_and_seed():
    with pytest.raises(ValueError):
        render_scene(0, "summer", 16)
    with pytest.raises(ValueError):
        render_scene(-1, "summer")
    with pytest.raises(TypeError):
        render_scene(1.5, "summer")


def test_module_does_not_import_tensorflow():
    code = (
        "import sys; import tf_cyclegan.data.seasons, tf_cyclegan.datasets.seasons; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


# ----------------------------------------------------------- summer vs winter


def test_winter_differs_and_is_brighter_below():
    for seed in TEST_SEEDS:
        summer, winter = _pair(seed)
        assert np.abs(summer.astype(int) - winter).mean() > 30, seed
        lower = slice(SIZE // 2, None)
        # snow-covered ground is much brighter than grass
        assert winter[lower].mean() > summer[lower].mean() + 40, seed


def test_winter_is_not_a_global_colour_shift():
    for seed in TEST_SEEDS:
        summer, winter = _pair(seed)
        # A per-channel affine colour map fitted summer -> winter explains little ...
        assert _affine_r2(summer, winter).max() < 0.5, seed
        # ... and so does any per-channel tone curve: the change depends on
        # what each pixel *is* (grass, leaves, water, rock), not on its colour.
        assert _tone_curve_r2(summer, winter).max() < 0.6, seed


def test_foliage_and_grass_disappear_in_winter():
    for seed in TEST_SEEDS:
        summer, winter = _pair(seed)
        assert _green_fraction(summer) > 0.25, seed
        assert _green_fraction(winter) < 0.15, seed


def test_winter_sky_is_greyer():
    for seed in TEST_SEEDS:
        summer, winter = _pair(seed)

        def sat(img):
            top = img[: SIZE // 4].astype(int)
            return (top.max(axis=-1) - top.min(axis=-1)).mean()

        assert sat(winter) < 0.6 * sat(summer), seed


def test_deciduous_trees_lose_their_crowns():
    hits = []
    for seed in range(40):
        layout = scene_layout(seed)
        summer, winter = _pair(seed)
        for tree in layout.trees:
            if isinstance(tree, Conifer) or tree.height < 0.15:
                continue
            dx, dy, _ = max(tree.crown, key=lambda p: p[2])
            x, y = tree.x + dx * tree.height, tree.y + dy * tree.height
            if 0 <= x < 1 and 0 <= y < 1:
                px = (int(y * SIZE), int(x * SIZE))
                hits.append((_green_fraction(summer[px][None]), _green_fraction(winter[px][None])))
    hits = np.array(hits)
    assert len(hits) >= 10
    assert hits[:, 0].mean() > 0.8  # leafy crowns in summer
    assert hits[:, 1].mean() < 0.3  # bare (only nearer conifers can be green there)


def test_water_freezes():
    summer_px, winter_px = [], []
    for seed in range(60):
        lake = scene_layout(seed).water.lake
        if lake is None:
            continue
        summer, winter = _pair(seed)
        y0, y1 = int((lake.y - 0.3 * lake.half_height) * SIZE), int((lake.y + 0.3 * lake.half_height) * SIZE) + 1
        x0, x1 = int((lake.x - 0.3 * lake.half_width) * SIZE), int((lake.x + 0.3 * lake.half_width) * SIZE) + 1
        summer_px.append(summer[y0:y1, x0:x1].reshape(-1, 3).astype(int))
        winter_px.append(winter[y0:y1, x0:x1].reshape(-1, 3).astype(int))
    assert len(summer_px) >= 5
    s, w = np.concatenate(summer_px), np.concatenate(winter_px)
    # (trees never stand in a lake, but nearer trees can hide part of it)
    dark_blue = (s[:, 2] > s[:, 0] + 20) & (s.mean(axis=1) < 130)
    icy = (w.mean(axis=1) > 150) & (w[:, 2] > w[:, 0] + 20)
    assert dark_blue.mean() > 0.7  # open, dark blue water in summer
    assert icy[dark_blue].mean() > 0.95  # pale, bluish-white ice in winter
    assert (w.mean(axis=1) - s.mean(axis=1))[dark_blue].mean() > 80


# ------------------------------------------------------------------- splits


def test_split_seed_properties():
    n = 5000
    train_a, train_b = set(split_seeds("trainA", n)), set(split_seeds("trainB", n))
    test_a, test_b = split_seeds("testA", n), split_seeds("testB", n)
    assert len(train_a) == len(train_b) == len(test_a) == n
    assert not train_a & train_b
    assert test_a == test_b
    assert not set(test_a) & (train_a | train_b)
    # the full declared ranges are disjoint too
    ranges = {k: range(v.seed_start, v.seed_start + v.capacity) for k, v in SPLITS.items()}
    for a, b in [("trainA", "trainB"), ("trainA", "testA"), ("trainB", "testA")]:
        ra, rb = ranges[a], ranges[b]
        assert ra.stop <= rb.start or rb.stop <= ra.start
    assert ranges["testA"] == ranges["testB"]
    assert split_seeds("testB", 0) == []


def test_split_folders_hold_their_season(tmp_path):
    root = write_dataset(tmp_path / "ds", size=64, n_train=4, n_test=4)
    for split in ("trainA", "testA", "trainB", "testB"):
        for f in sorted((root / split).iterdir()):
            green = _green_fraction(np.asarray(Image.open(f)))
            assert green > 0.25 if split.endswith("A") else green < 0.15, (split, f.name, green)


def test_split_errors():
    with pytest.raises(ValueError):
        split_seeds("valA", 3)
    with pytest.raises(ValueError):
        split_seeds("trainA", -1)
    with pytest.raises(ValueError):
        split_seeds("trainA", SPLITS["trainA"].capacity + 1)


# ------------------------------------------------------------- write_dataset

_SMALL = dict(size=40, n_train=3, n_test=2)


def test_write_dataset_layout_and_content(tmp_path):
    root = write_dataset(str(tmp_path / "seasons"), **_SMALL)
    assert root == tmp_path / "seasons"
    counts = {"trainA": 3, "trainB": 3, "testA": 2, "testB": 2}
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(counts)
    for split, n in counts.items():
        files = sorted((root / split).iterdir())
        assert [f.name for f in files] == [f"{i:04d}.png" for i in range(n)]
        season = {"A": "summer", "B": "winter"}[split[-1]]  # domain A is summer, B is winter
        for f, seed in zip(files, split_seeds(split, n)):
            with Image.open(f) as im:
                assert im.mode == "RGB"
                arr = np.asarray(im)
            assert np.array_equal(arr, render_scene(seed, season, 40)), (split, f.name)
    marker = json.loads((root / MARKER).read_text())
    assert marker["size"] == 40 and marker["n_train"] == 3 and marker["n_test"] == 2
    # nothing but the dataset is left next to it (no temporary folder)
    assert [p.name for p in tmp_path.iterdir()] == ["seasons"]


def test_write_dataset_is_idempotent(tmp_path, monkeypatch):
    root = write_dataset(tmp_path / "ds", **_SMALL)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}

    def boom(*args, **kwargs):
        raise AssertionError("re-rendered a complete dataset")

    monkeypatch.setattr(seasons, "render_scene", boom)
    assert write_dataset(tmp_path / "ds", **_SMALL) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_write_dataset_replaces_stale_dataset(tmp_path):
    write_dataset(tmp_path / "ds", **_SMALL)
    root = write_dataset(tmp_path / "ds", size=40, n_train=2, n_test=1)
    assert len(list((root / "trainA").iterdir())) == 2
    assert len(list((root / "testB").iterdir())) == 1
    assert json.loads((root / MARKER).read_text())["n_train"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_interrupted_render_leaves_nothing(tmp_path, monkeypatch):
    real = seasons.render_scene
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(seasons, "render_scene", flaky)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(tmp_path / "ds", **_SMALL)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(seasons, "render_scene", real)
    root = write_dataset(tmp_path / "ds", **_SMALL)
    assert (root / MARKER).exists()


def test_write_dataset_refuses_foreign_folder(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        write_dataset(root, **_SMALL)
    assert (root / "notes.txt").read_text() == "keep me"
    # an existing empty folder is fine
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (write_dataset(empty, **_SMALL) / MARKER).exists()


def test_the_command_writes_the_dataset_or_a_preview_and_says_what_is_wrong_in_one_line(tmp_path, capsys):
    from tf_cyclegan.datasets.seasons import main

    assert main([str(tmp_path / "ds"), "--size", "32", "--n_train", "2", "--n-test", "1", "--paired"]) == 0
    assert sorted(p.name for p in (tmp_path / "ds" / "trainB").iterdir()) == ["0000.png", "0001.png"]
    assert json.loads((tmp_path / "ds" / MARKER).read_text())["paired"] is True
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "ds" / "trainB" / "0001.png")),
                                  render_scene(split_seeds("trainA", 2)[1], "winter", 32))  # trainA's scene
    assert main(["--preview", str(tmp_path / "p.png"), "--seeds", "3", "4", "--size", "32"]) == 0
    assert Image.open(tmp_path / "p.png").size == (2 * 32 + 3 * 4, 2 * 32 + 3 * 4)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / "mine"), "--size", "32"])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 1 and "\n" not in err and "refusing to overwrite it" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    for argv, message in (([], "give a dataset ROOT"), ([str(tmp_path / "x"), "--size", "16"], "at least 32"),
                          ([str(tmp_path / "x"), "--n_train", "0"], "must be at least 1")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and message in capsys.readouterr().err
