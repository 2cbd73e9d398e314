import numpy as np

from keras_maskspec.training import plot_reconstruction
from keras_maskspec.training import plot_reconstructions
from keras_maskspec.training import reconstruction_figure
from keras_maskspec.training.plotting import figure_to_array


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
