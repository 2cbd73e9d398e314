"""`maskspec embed`."""

import numpy as np

from tests.cli.helpers import run


def test_embed(exported, classifier_run, audio_dir, tmp_path):
    out = tmp_path / "emb.npz"
    result = run(
        "embed", "--model", exported, audio_dir, "--out", out,
        "--window-seconds", 2.0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = np.load(out)
    n = len(data["files"])
    assert n == 3 and data["scene"].shape == (3, 32)
    offsets = data["frame_offsets"]
    assert offsets[0] == 0 and offsets[-1] == len(data["frame_embeddings"])
    assert data["frame_embeddings"].shape[1] == 32
    long = list(data["files"]).index(str(audio_dir / "long.flac"))
    times = data["frame_times"][offsets[long] : offsets[long + 1]]
    assert np.all(np.diff(times) > 0) and times[-1] < 3.5

    from_run = tmp_path / "emb_run.npz"
    result = run(
        "embed", "--model", classifier_run, audio_dir, "--out", from_run,
        "--window-seconds", 2.0,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(
        np.load(from_run)["scene"], data["scene"], atol=1e-4
    )
    np.testing.assert_allclose(
        np.load(from_run)["frame_times"], data["frame_times"], atol=1e-9
    )
