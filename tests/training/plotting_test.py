import os

import numpy as np
import pytest

from keras_maskspec.training import plot_loss
from keras_maskspec.training import plot_reconstruction
from keras_maskspec.training import plot_reconstructions
from keras_maskspec.training import plotting
from keras_maskspec.training import reconstruction_figure
from keras_maskspec.training.plotting import figure_to_array
from keras_maskspec.training.plotting import read_step_losses


def _example():
    rng = np.random.default_rng(0)
    spec = rng.normal(size=(2, 96, 32)).astype("float32")
    mask = np.zeros_like(spec)
    mask[:, 16:48] = 1
    return spec, mask, 0.5 * spec


def test_plot_reconstruction_writes_png(tmp_path):
    spec, mask, recon = _example()
    path = plot_reconstruction(
        spec, mask, recon, 32000, 320, path=str(tmp_path / "r.png")
    )
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_reconstructions_stacks_every_example(tmp_path):
    import matplotlib.pyplot as plt

    spec, mask, recon = _example()
    path = plot_reconstructions(
        spec,
        mask,
        recon,
        32000,
        320,
        path=str(tmp_path / "all.png"),
        titles=["first", "second"],
    )
    one = plot_reconstruction(
        spec, mask, recon, 32000, 320, path=str(tmp_path / "one.png"), dpi=80
    )
    assert plt.imread(path).shape[0] == 2 * plt.imread(one).shape[0]


def test_figure_axes_share_scale_and_units():
    spec, mask, recon = _example()
    fig = reconstruction_figure(spec, mask, recon, 32000, 320, index=1)
    panels = fig.axes[:4]
    limits = {tuple(p.images[0].get_clim()) for p in panels}
    assert len(limits) == 1
    assert panels[-1].get_xlabel() == "time (s)"
    assert panels[0].get_ylabel() == "mel bin"
    # 96 frames of 10 ms.
    assert np.isclose(panels[0].get_xlim()[1], 0.96)
    image = figure_to_array(fig)
    assert image.dtype == np.uint8 and image.shape[-1] == 3


def _note(fig):
    return fig._supxlabel.get_text()


def _panel_title(fig, i):
    return " ".join(fig.axes[i].get_title(loc="left").split())


def test_denormalised_view_says_what_comes_from_the_input():
    spec, mask, recon = _example()
    fig = reconstruction_figure(spec, mask, recon, index=0)
    assert "TRUE patch's mean and spread" in _panel_title(fig, 2)
    note = " ".join(_note(fig).split())
    assert "From the input:" in note and "From the model:" in note
    assert "mean and spread of EVERY predicted patch" in note
    assert "view='raw'" in note


def test_raw_view_shows_prediction_beside_the_per_patch_target():
    rng = np.random.default_rng(1)
    # 4 x 2 patches of 16 x 16, each with its own level and spread.
    spec = rng.normal(size=(64, 32)) * rng.uniform(0.2, 3.0) + 5.0
    mask = np.zeros_like(spec)
    mask[:16] = 1
    recon = rng.normal(size=spec.shape)
    fig = reconstruction_figure(spec, mask, recon, view="raw")
    assert "raw prediction" in _panel_title(fig, 2)
    assert "nothing from the input" in _panel_title(fig, 2)
    assert "From the model: panel 3" in " ".join(_note(fig).split())
    # Panel 3 is the prediction as given, panel 4 the target normalised
    # per 16 x 16 patch (image data are (mel, time)).
    np.testing.assert_allclose(fig.axes[2].images[0].get_array().T, recon)
    target = np.asarray(fig.axes[3].images[0].get_array()).T
    patches = target.reshape(4, 16, 2, 16)
    np.testing.assert_allclose(patches.mean(axis=(1, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(patches.std(axis=(1, 3)), 1, atol=1e-5)
    # Model units get their own colour scale and bar.
    assert fig.axes[2].images[0].get_clim() == fig.axes[3].images[0].get_clim()
    assert fig.axes[0].images[0].get_clim() != fig.axes[2].images[0].get_clim()
    assert len(fig.axes) == 6


def test_without_normalised_targets_nothing_is_rescaled():
    spec, mask, recon = _example()
    for view in ("raw", "denormalised"):
        fig = reconstruction_figure(
            spec, mask, recon, view=view, normalize_targets=False
        )
        assert "nothing rescaled" in _panel_title(fig, 2)


def test_unknown_view_is_refused():
    spec, mask, recon = _example()
    with pytest.raises(ValueError, match="Received: view='normalised'"):
        reconstruction_figure(spec, mask, recon, view="normalised")


def test_loss_curve_from_a_run_folder(tmp_path):
    import matplotlib.pyplot as plt

    rows = ["epoch,step,loss,epoch_mean_loss"]
    rows += [f"1,{i},{2.0 / i},0" for i in range(1, 21)]
    (tmp_path / "steps.csv").write_text("\n".join(rows) + "\n")
    steps, losses = read_step_losses(str(tmp_path))
    np.testing.assert_allclose(losses, 2.0 / np.arange(1, 21))
    path = plot_loss(str(tmp_path), path=str(tmp_path / "loss.png"))
    assert plt.imread(path).shape[-1] in (3, 4)
    with pytest.raises(ValueError, match="steps.csv"):
        plot_loss(str(tmp_path / "nowhere"))


def test_augmented_batch_figure_draws_waveform_and_log_mel_per_clip(tmp_path):
    from keras_maskspec.layers import LogMelSpectrogram

    rng = np.random.default_rng(0)
    waves = rng.normal(size=(3, 8000)).astype("float32") * 0.1
    labels = np.array([[0.7, 0.3, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
    fig = plotting.augmented_batch_figure(
        waves, rng.normal(size=(3, 50, 16)), labels, 16000, 160,
        class_names=["dog", "cat", "bird"],
    )  # fmt: skip
    assert len(fig.axes) == 6
    titles = [ax.get_title(loc="left") for ax in fig.axes[::2]]
    assert titles[0] == "dog 0.70 + cat 0.30"
    assert titles[2] == "bird 1.00 + 1 unknown"
    frontend = LogMelSpectrogram(
        sample_rate=16000, num_mel_bins=16, window_length=400,
        hop_length=160, fft_length=512, fmax=None,
    )  # fmt: skip
    path = str(tmp_path / "batch.png")
    assert plotting.plot_augmented_batch(waves, frontend, labels, path) == path
    assert os.path.getsize(path) > 1000
    with pytest.raises(ValueError, match="waveforms.shape"):
        plotting.augmented_batch_figure(waves[0], rng.normal(size=(3, 5, 4)))
