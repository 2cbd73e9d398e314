"""examples/quickstart.ipynb runs headless and draws its pictures."""

import pathlib

import pytest

NOTEBOOK = pathlib.Path(__file__).parents[2] / "examples" / "quickstart.ipynb"


@pytest.mark.large
def test_quickstart_notebook_executes_and_draws(tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(str(NOTEBOOK), as_version=4)
    # Runs in tmp_path (the notebook writes runs/quickstart/ there) under
    # the backend this test runs with (KERAS_BACKEND is inherited).
    nbclient.NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()

    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    # The loss curve and both reconstruction views.
    assert len(images) == 3
    runs = tmp_path / "runs" / "quickstart"
    for name in (
        "loss.png",
        "reconstruction_denormalised.png",
        "reconstruction_raw.png",
    ):
        assert (runs / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (runs / "export" / "1" / "saved_model.pb").exists()
    assert sorted(p.name for p in (runs / "preset").iterdir()) == [
        "config.json",
        "metadata.json",
        "model.weights.h5",
    ]
    text = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "held-out accuracy" in text
    for check in ("SavedModel vs Keras", "preset vs original"):
        line = next(x for x in text.splitlines() if x.startswith(check))
        assert float(line.rsplit(":", 1)[1]) < 1e-4, line
