"""notebooks/quickstart.ipynb runs from top to bottom (small settings), so it never rots."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes_and_shows_its_pictures(tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CYCLEGAN_NOTEBOOK_SMALL", "1")  # the kernel inherits this process's environment
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no InceptionV3 weights: FID is skipped
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on any failing cell
    work = tmp_path / "quickstart"
    assert sorted(p.name for p in (work / "run" / "checkpoints").glob("ckpt-*.index")) == ["ckpt-20.index"]
    assert (work / "exported" / "a2b" / "1" / "a2b_float32.tflite").is_file()
    report = json.loads((work / "eval" / "metrics.json").read_text())
    assert report["paired"] and report["a2b"]["images"] == 40
    pictures = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
                if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert len(pictures) == 4  # samples, the TFLite translation, the Translator's, the evaluation's results
    assert (work / "pair_translated.png").is_file()
    install = notebook.cells[1]  # where tf_cyclegan and LiteRT import, the install cell installs nothing
    assert "nothing to do" in "".join(o.get("text", "") for o in install.outputs)


def test_the_stored_notebook_installs_what_is_missing_and_shows_every_cells_output():
    """The notebook as GitHub and Colab show it: a first cell that installs tf_cyclegan where it is missing,
    and the output of every code cell, without this machine's working folders."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "importlib.util.find_spec" in code[0].source and "%pip install" in code[0].source
    assert [cell.source.splitlines()[0] for cell in code if not cell.outputs] == []
    stored = json.dumps([cell.outputs for cell in code])
    assert "/work/" not in stored and "notebooks/" not in stored
