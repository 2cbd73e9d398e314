"""Pictures of a masked reconstruction (matplotlib, Agg backend)."""

import io

import numpy as np

PANEL_TITLES = (
    "input log-mel",
    "mask: what the encoder sees (hidden patches grey)",
    "reconstruction (all patches)",
    "reconstruction pasted into the hidden patches",
)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _as_example(name, array, index):
    array = np.asarray(array, dtype="float32")
    if array.ndim == 3:
        array = array[index]
    if array.ndim != 2:
        raise ValueError(
            f"`{name}` must be (frames, mel) or (batch, frames, mel). "
            f"Received: {name}.shape={array.shape}"
        )
    return array


def reconstruction_figure(
    spectrogram,
    mask,
    reconstruction,
    sample_rate=32000,
    hop_length=320,
    index=0,
    title=None,
):
    """A 4-panel matplotlib figure of one masked reconstruction.

    Panels, top to bottom: the input log-mel, the input with the hidden
    patches greyed out (what the encoder sees), the reconstruction of all
    patches, and the input with the hidden patches replaced by their
    reconstruction. All panels share one colour scale (that of the input,
    2nd to 99.5th percentile) and one colour bar; the x axis is in
    seconds, the y axis in mel bins.

    Args:
        spectrogram: array `(frames, mel)` or `(batch, frames, mel)`.
        mask: array of the same shape, 1 = hidden, 0 = visible.
        reconstruction: array of the same shape (log-mel units).
        sample_rate: int. Hz, for the time axis. Defaults to `32000`.
        hop_length: int. Samples per frame. Defaults to `320`.
        index: int. Which example of a batch. Defaults to `0`.
        title: str or `None`. Figure title.

    Returns:
        A `matplotlib.figure.Figure`.

    Examples:
    >>> import numpy as np
    >>> spec = np.random.default_rng(0).normal(size=(64, 32))
    >>> mask = np.zeros_like(spec); mask[16:32] = 1
    >>> fig = reconstruction_figure(spec, mask, spec * 0.5)
    >>> len(fig.axes)
    5
    """
    plt = _pyplot()
    spec = _as_example("spectrogram", spectrogram, index)
    mask = _as_example("mask", mask, index)
    recon = _as_example("reconstruction", reconstruction, index)
    if not spec.shape == mask.shape == recon.shape:
        raise ValueError(
            "`spectrogram`, `mask` and `reconstruction` must have one shape. "
            f"Received: shapes={spec.shape}, {mask.shape}, {recon.shape}"
        )
    hidden = mask > 0.5
    visible_only = np.where(hidden, np.nan, spec)
    pasted = np.where(hidden, recon, spec)
    vmin, vmax = np.percentile(spec, [2.0, 99.5])
    if vmax <= vmin:
        vmax = vmin + 1.0
    frames, mels = spec.shape
    seconds = frames * hop_length / float(sample_rate)
    extent = (0.0, seconds, 0, mels)
    width = float(np.clip(3.0 + 6.0 * frames / 500.0, 6.0, 14.0))
    fig, axes = plt.subplots(
        4, 1, figsize=(width, 8.5), sharex=True, constrained_layout=True
    )
    cmap = plt.get_cmap("magma").copy()
    cmap.set_bad("#bdbdbd")
    ratio = hidden.mean()
    titles = list(PANEL_TITLES)
    titles[1] = f"mask: what the encoder sees ({ratio:.0%} hidden, grey)"
    image = None
    for ax, data, text in zip(
        axes, (spec, visible_only, recon, pasted), titles
    ):
        image = ax.imshow(
            data.T,
            origin="lower",
            aspect="auto",
            extent=extent,
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
        )
        ax.set_title(text, fontsize=10, loc="left")
        ax.set_ylabel("mel bin")
    axes[-1].set_xlabel("time (s)")
    bar = fig.colorbar(image, ax=list(axes), shrink=0.6, pad=0.01)
    bar.set_label("log-mel (normalised)")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def figure_to_array(figure, dpi=80):
    """RGB `uint8` array `(height, width, 3)` of a figure; closes it."""
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    plt.close(figure)
    buffer.seek(0)
    image = plt.imread(buffer, format="png")
    return (image[..., :3] * 255).round().astype("uint8")


def plot_reconstruction(
    spec,
    mask,
    recon,
    sample_rate=32000,
    hop_length=320,
    path="reconstruction.png",
    index=0,
    title=None,
    dpi=110,
):
    """Writes the 4-panel reconstruction picture to a PNG file.

    See `reconstruction_figure` for the panels. The arrays are what
    `MaskSpecPretrainer.reconstruct(waveforms)` returns.

    Args:
        spec: array `(frames, mel)` or `(batch, frames, mel)`. Input
            log-mel.
        mask: array, same shape, 1 = hidden.
        recon: array, same shape. Reconstruction in log-mel units.
        sample_rate: int. Defaults to `32000`.
        hop_length: int. Defaults to `320`.
        path: str. Output `.png` path. Defaults to `"reconstruction.png"`.
        index: int. Example of a batch to draw. Defaults to `0`.
        title: str or `None`.
        dpi: int. Defaults to `110`.

    Returns:
        The path written.

    Examples:
    >>> import os, tempfile
    >>> import numpy as np
    >>> spec = np.random.default_rng(0).normal(size=(64, 32))
    >>> mask = np.zeros_like(spec); mask[16:32] = 1
    >>> path = os.path.join(tempfile.mkdtemp(), "r.png")
    >>> plot_reconstruction(spec, mask, spec, path=path) == path
    True
    """
    plt = _pyplot()
    fig = reconstruction_figure(
        spec, mask, recon, sample_rate, hop_length, index=index, title=title
    )
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_reconstructions(
    spec,
    mask,
    recon,
    sample_rate=32000,
    hop_length=320,
    path="reconstruction.png",
    titles=None,
    dpi=80,
):
    """Writes one PNG: the 4-panel picture of every example, stacked.

    Args:
        spec: array `(batch, frames, mel)`. Input log-mel.
        mask: array, same shape, 1 = hidden.
        recon: array, same shape. Reconstruction in log-mel units.
        sample_rate: int. Defaults to `32000`.
        hop_length: int. Defaults to `320`.
        path: str. Output `.png` path. Defaults to `"reconstruction.png"`.
        titles: list of str (one per example) or `None`.
        dpi: int. Defaults to `80`.

    Returns:
        The path written.

    Examples:
    >>> import os, tempfile
    >>> import numpy as np
    >>> spec = np.random.default_rng(0).normal(size=(2, 64, 32))
    >>> mask = np.zeros_like(spec); mask[:, 16:32] = 1
    >>> path = os.path.join(tempfile.mkdtemp(), "r.png")
    >>> plot_reconstructions(spec, mask, spec, path=path) == path
    True
    """
    plt = _pyplot()
    spec = np.asarray(spec)
    titles = titles or [None] * len(spec)
    images = [
        figure_to_array(
            reconstruction_figure(
                spec,
                mask,
                recon,
                sample_rate,
                hop_length,
                index=i,
                title=titles[i],
            ),
            dpi=dpi,
        )
        for i in range(len(spec))
    ]
    width = max(image.shape[1] for image in images)
    panel = np.concatenate(
        [
            np.pad(
                image,
                [(0, 0), (0, width - image.shape[1]), (0, 0)],
                constant_values=255,
            )
            for image in images
        ]
    )
    plt.imsave(path, panel)
    return path
