"""Pictures of a run: masked reconstructions and the loss curve
(matplotlib, Agg backend)."""

import io
import os
import textwrap

import numpy as np

VIEWS = ("denormalised", "raw")

PANEL_TITLES = (
    "input log-mel",
    "mask: what the encoder sees (hidden patches grey)",
    "reconstruction (all patches)",
    "reconstruction pasted into the hidden patches",
)

# What each picture owes to the input and what to the model, said on the
# figure itself: (view, normalised targets) -> (panel 3, panel 4, note).
_PROVENANCE = {
    ("denormalised", True): (
        "model's prediction, each patch rescaled with the TRUE patch's "
        "mean and spread (from the input)",
        "input, hidden patches replaced by the rescaled prediction",
        "From the input: panels 1-2, the visible patches of 4 and the mean "
        "and spread of EVERY predicted patch (the targets are normalised "
        "per patch, so the model predicts only the pattern inside a patch; "
        "MAE's pictures rescale it the same way). From the model: the "
        "pattern inside each patch of 3 and the hidden patches of 4. "
        "view='raw' shows the prediction without the input's statistics.",
    ),
    ("raw", True): (
        "model's raw prediction, per-patch normalised units (nothing from "
        "the input)",
        "target in the same units: the true patches normalised per patch "
        "(what the loss compares the hidden patches with)",
        "From the model: panel 3, as it came out (each patch should have "
        "zero mean and unit spread). From the input: panels 1, 2 and 4. "
        "Panels 3-4 share their own colour scale.",
    ),
    ("denormalised", False): (
        "model's prediction (log-mel units; targets not normalised, "
        "nothing rescaled)",
        "input, hidden patches replaced by the prediction",
        "From the model: panel 3 and the hidden patches of 4, in log-mel "
        "units. From the input: panels 1-2 and the visible patches of 4.",
    ),
}
_PROVENANCE[("raw", False)] = _PROVENANCE[("denormalised", False)]


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


def _normalise_patches(spec, patch_size):
    """`(frames, mel)` with every patch at zero mean and unit spread."""
    pt, pf = patch_size
    frames, mels = spec.shape
    if frames % pt or mels % pf:
        raise ValueError(
            "The spectrogram must hold whole patches for view='raw'. "
            f"Received: shape={spec.shape}, patch_size={tuple(patch_size)}"
        )
    grid = spec.reshape(frames // pt, pt, mels // pf, pf)
    mean = grid.mean(axis=(1, 3), keepdims=True)
    std = np.sqrt(grid.var(axis=(1, 3), keepdims=True) + 1e-6)
    return ((grid - mean) / std).reshape(frames, mels)


def _colour_limits(values):
    low, high = np.nanpercentile(values, [2.0, 99.5])
    if high <= low:
        high = low + 1.0
    return low, high


def reconstruction_figure(
    spectrogram,
    mask,
    reconstruction,
    sample_rate=32000,
    hop_length=320,
    index=0,
    title=None,
    view="denormalised",
    normalize_targets=True,
    patch_size=(16, 16),
):
    """A 4-panel matplotlib figure of one masked reconstruction.

    Panels, top to bottom: the input log-mel, the input with the hidden
    patches greyed out (what the encoder sees), the reconstruction of all
    patches, and the input with the hidden patches replaced by their
    reconstruction. A note under the panels says what comes from the input
    and what from the model.

    Two views (`MaskSpecPretrainer.reconstruct(..., view=...)` gives the
    matching arrays):

    - `"denormalised"`: with normalised targets every predicted patch has
      been rescaled with the mean and spread of the TRUE patch, so the
      picture takes each patch's level and contrast from the input and
      only the pattern inside it from the model. All panels share the
      input's colour scale (2nd to 99.5th percentile).
    - `"raw"`: panel 3 is the model's output as it is (per-patch
      normalised units under normalised targets) and panel 4 the true
      patches normalised the same way, the pair the loss compares; they
      share their own colour scale and colour bar.

    The x axis is in seconds, the y axis in mel bins.

    Args:
        spectrogram: array `(frames, mel)` or `(batch, frames, mel)`.
        mask: array of the same shape, 1 = hidden, 0 = visible.
        reconstruction: array of the same shape.
        sample_rate: int. Hz, for the time axis. Defaults to `32000`.
        hop_length: int. Samples per frame. Defaults to `320`.
        index: int. Which example of a batch. Defaults to `0`.
        title: str or `None`. Figure title.
        view: str. `"denormalised"` or `"raw"`. Defaults to
            `"denormalised"`.
        normalize_targets: bool. Whether the model was trained on per-patch
            normalised targets (`MaskSpecPretrainer.normalize_targets`).
            Defaults to `True`.
        patch_size: pair `(time, mel)`. The model's patch size, used to
            normalise the target in the `"raw"` view. Defaults to
            `(16, 16)`.

    Returns:
        A `matplotlib.figure.Figure`.

    Examples:
    >>> import numpy as np
    >>> spec = np.random.default_rng(0).normal(size=(64, 32))
    >>> mask = np.zeros_like(spec); mask[16:32] = 1
    >>> fig = reconstruction_figure(spec, mask, spec * 0.5)
    >>> len(fig.axes)
    5
    >>> "TRUE patch" in fig.axes[2].get_title(loc="left")
    True
    >>> fig = reconstruction_figure(spec, mask, spec, view="raw")
    >>> "raw prediction" in fig.axes[2].get_title(loc="left")
    True
    """
    if view not in VIEWS:
        raise ValueError(
            f"`view` must be one of {VIEWS}. Received: view={view!r}"
        )
    plt = _pyplot()
    spec = _as_example("spectrogram", spectrogram, index)
    mask = _as_example("mask", mask, index)
    recon = _as_example("reconstruction", reconstruction, index)
    if not spec.shape == mask.shape == recon.shape:
        raise ValueError(
            "`spectrogram`, `mask` and `reconstruction` must have one shape. "
            f"Received: shapes={spec.shape}, {mask.shape}, {recon.shape}"
        )
    normalize_targets = bool(normalize_targets)
    raw = view == "raw" and normalize_targets
    hidden = mask > 0.5
    visible_only = np.where(hidden, np.nan, spec)
    if raw:
        fourth = _normalise_patches(spec, patch_size)
    else:
        fourth = np.where(hidden, recon, spec)
    third_title, fourth_title, note = _PROVENANCE[(view, normalize_targets)]
    input_limits = _colour_limits(spec)
    model_limits = _colour_limits(np.stack([recon, fourth])) if raw else None
    frames, mels = spec.shape
    seconds = frames * hop_length / float(sample_rate)
    extent = (0.0, seconds, 0, mels)
    width = float(np.clip(3.0 + 6.0 * frames / 500.0, 6.0, 14.0))
    fig, axes = plt.subplots(
        4, 1, figsize=(width, 10.0), sharex=True, constrained_layout=True
    )
    cmap = plt.get_cmap("magma").copy()
    cmap.set_bad("#bdbdbd")
    ratio = hidden.mean()
    titles = [
        PANEL_TITLES[0],
        f"mask: what the encoder sees ({ratio:.0%} hidden, grey)",
        f"3: {third_title}",
        f"4: {fourth_title}",
    ]
    images = []
    for i, (ax, data, text) in enumerate(
        zip(axes, (spec, visible_only, recon, fourth), titles)
    ):
        low, high = model_limits if raw and i >= 2 else input_limits
        images.append(
            ax.imshow(
                data.T,
                origin="lower",
                aspect="auto",
                extent=extent,
                cmap=cmap,
                vmin=low,
                vmax=high,
                interpolation="nearest",
            )
        )
        ax.set_title(
            "\n".join(textwrap.wrap(text, width=int(width * 11))),
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel("mel bin")
    axes[-1].set_xlabel("time (s)")
    if raw:
        bar = fig.colorbar(images[0], ax=list(axes[:2]), shrink=0.8, pad=0.01)
        bar.set_label("log-mel (normalised)")
        model_bar = fig.colorbar(
            images[2], ax=list(axes[2:]), shrink=0.8, pad=0.01
        )
        model_bar.set_label("per-patch normalised")
    else:
        bar = fig.colorbar(images[0], ax=list(axes), shrink=0.6, pad=0.01)
        bar.set_label("log-mel (normalised)")
    # A figure-level label, so the layout keeps room for the note.
    fig.supxlabel(
        "\n".join(textwrap.wrap(note, width=int(width * 16))),
        x=0.01,
        ha="left",
        fontsize=7.5,
    )
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
    view="denormalised",
    normalize_targets=True,
    patch_size=(16, 16),
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
        view: str. `"denormalised"` or `"raw"` (see
            `reconstruction_figure`). Defaults to `"denormalised"`.
        normalize_targets: bool. The model's `normalize_targets`.
            Defaults to `True`.
        patch_size: pair. The model's patch size. Defaults to `(16, 16)`.

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
        spec, mask, recon, sample_rate, hop_length, index=index, title=title,
        view=view, normalize_targets=normalize_targets, patch_size=patch_size,
    )  # fmt: skip
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
    view="denormalised",
    normalize_targets=True,
    patch_size=(16, 16),
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
        dpi: int. Resolution of each example's picture. Defaults to `80`.
        view: str. `"denormalised"` or `"raw"`, for every example (see
            `reconstruction_figure`). Defaults to `"denormalised"`.
        normalize_targets: bool. The model's `normalize_targets`.
            Defaults to `True`.
        patch_size: pair. The model's patch size. Defaults to `(16, 16)`.

    Returns:
        The path written (one PNG for the whole batch).

    Examples:
    >>> import os, tempfile
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> spec = np.random.default_rng(0).normal(size=(2, 64, 32))
    >>> mask = np.zeros_like(spec); mask[:, 16:32] = 1
    >>> folder = tempfile.mkdtemp()
    >>> both = plot_reconstructions(
    ...     spec, mask, spec, path=os.path.join(folder, "both.png"))
    >>> one = plot_reconstruction(
    ...     spec, mask, spec, path=os.path.join(folder, "one.png"), dpi=80)
    >>> plt.imread(both).shape[0] == 2 * plt.imread(one).shape[0]
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
                view=view,
                normalize_targets=normalize_targets,
                patch_size=patch_size,
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


def read_step_losses(path):
    """Steps and losses from a run's `steps.csv` (`StepLossLogger`).

    Args:
        path: str. The CSV file, or the run folder holding `steps.csv`.

    Returns:
        `(steps, losses)`, two float arrays.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "steps.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("epoch,step,loss,epoch_mean_loss\\n1,1,2.0,2.0\\n")
    >>> read_step_losses(path)
    (array([1.]), array([2.]))
    """
    import csv

    if os.path.isdir(path):
        path = os.path.join(path, "steps.csv")
    if not os.path.isfile(path):
        raise ValueError(
            "No per-step losses: expected a run folder with `steps.csv` or "
            f"the CSV file itself. Received: path={path!r}"
        )
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    steps = np.array([float(r["step"]) for r in rows])
    losses = np.array([float(r["loss"]) for r in rows])
    return steps, losses


def plot_loss(steps, losses=None, path="loss.png", title=None, dpi=110):
    """Writes the training loss curve to a PNG file.

    Every step's loss is drawn faintly, with a moving average over about a
    tenth of the run on top; the title gives the mean loss of the first
    and of the last tenth of the steps.

    Args:
        steps: array of step numbers, or a run folder / `steps.csv` path
            (then `losses` is read from it).
        losses: array of the same length, or `None` with a path.
        path: str. Output `.png` path. Defaults to `"loss.png"`.
        title: str or `None`. Defaults to `"training loss"`.
        dpi: int. Defaults to `110`.

    Returns:
        The path written.

    Examples:
    >>> import os, tempfile
    >>> import numpy as np
    >>> out = os.path.join(tempfile.mkdtemp(), "loss.png")
    >>> steps = np.arange(1, 51)
    >>> plot_loss(steps, 1.0 / np.sqrt(steps), path=out) == out
    True
    """
    if losses is None:
        steps, losses = read_step_losses(os.fspath(steps))
    steps = np.asarray(steps, dtype="float64")
    losses = np.asarray(losses, dtype="float64")
    if steps.shape != losses.shape or steps.ndim != 1 or not len(steps):
        raise ValueError(
            "`steps` and `losses` must be non-empty 1-D arrays of one "
            f"length. Received: shapes={steps.shape}, {losses.shape}"
        )
    plt = _pyplot()
    tenth = max(1, len(losses) // 10)
    first, last = losses[:tenth].mean(), losses[-tenth:].mean()
    fig, ax = plt.subplots(figsize=(6.0, 3.6), constrained_layout=True)
    ax.plot(steps, losses, color="#9ecae1", linewidth=1, label="per step")
    if len(losses) >= 3:
        window = max(1, tenth)
        kernel = np.ones(window) / window
        smooth = np.convolve(losses, kernel, mode="valid")
        ax.plot(
            steps[window - 1 :],
            smooth,
            color="#08519c",
            linewidth=2,
            label=f"mean of {window} steps",
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(
        f"{title or 'training loss'}: {first:.3f} (first {tenth} steps) -> "
        f"{last:.3f} (last {tenth})",
        fontsize=9,
    )
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_model_reconstructions(
    model, waveforms, path="reconstruction.png", titles=None, view=None
):
    """Writes a pre-trainer's reconstructions of `waveforms` to one PNG.

    Runs `model.reconstruct(waveforms, view=view)` and draws every clip
    with `plot_reconstructions`, with the model's `normalize_targets`,
    patch size and front end.

    Args:
        model: a `MaskSpecPretrainer`.
        waveforms: array `(batch, samples)` at the model's sample rate.
        path: str. Output `.png` path. Defaults to `"reconstruction.png"`.
        titles: list of str (one per clip) or `None`.
        view: `"denormalised"`, `"raw"` or `None` (`"denormalised"`).

    Returns:
        The path written.

    Examples:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_maskspec.models import MaskSpecPretrainer
    >>> model = MaskSpecPretrainer.from_preset("maskspec_test", seed=0)
    >>> audio = np.random.default_rng(0).normal(size=(1, 16000))
    >>> out = os.path.join(tempfile.mkdtemp(), "r.png")
    >>> plot_model_reconstructions(model, audio.astype("float32"), out) == out
    True
    """
    view = view or "denormalised"
    encoder = model.encoder
    spec, mask, recon = model.reconstruct(waveforms, view=view)
    return plot_reconstructions(
        spec,
        mask,
        recon,
        encoder.sample_rate,
        encoder.frontend.hop_length,
        path=path,
        titles=titles,
        view=view,
        normalize_targets=model.normalize_targets,
        patch_size=encoder.patch_size,
    )


def _label_text(label, class_names):
    label = np.asarray(label, dtype="float64").reshape(-1)
    if label.size == 1:
        index = int(label[0])
        return class_names[index] if class_names else f"class {index}"
    order = [i for i in np.argsort(-label) if label[i] > 0][:3]
    names = [class_names[i] if class_names else str(i) for i in order]
    parts = [f"{name} {label[i]:.2f}" for name, i in zip(names, order)]
    unknown = int((label < 0).sum())
    if unknown:
        parts.append(f"{unknown} unknown")
    return " + ".join(parts) if parts else "no label"


def augmented_batch_figure(
    waveforms,
    spectrograms,
    labels=None,
    sample_rate=32000,
    hop_length=320,
    class_names=None,
    max_clips=8,
    title=None,
):
    """What the model is fed: one row per clip, waveform and log-mel.

    Draws a training batch after the data pipeline's augmentation (gain,
    extra augment, roll, waveform mixup): the waveform on the left, its
    log-mel (the model's front end, inference mode) on the right, the
    (mixed) label as the row title.

    Args:
        waveforms: array `(batch, samples)`.
        spectrograms: array `(batch, frames, mel)`.
        labels: optional array `(batch, num_classes)` (soft or multi-hot,
            -1 = unknown) or `(batch,)` class ids.
        sample_rate: int. Hz, for the time axes. Defaults to `32000`.
        hop_length: int. Samples per frame. Defaults to `320`.
        class_names: optional list of class names.
        max_clips: int. Rows drawn at most. Defaults to `8`.
        title: str or `None`. Figure title.

    Returns:
        A `matplotlib.figure.Figure`.

    Examples:
    >>> import numpy as np
    >>> waves = np.random.default_rng(0).normal(size=(2, 3200))
    >>> specs = np.random.default_rng(1).normal(size=(2, 10, 8))
    >>> fig = augmented_batch_figure(waves, specs, np.eye(2), 3200, 320)
    >>> len(fig.axes)
    4
    """
    plt = _pyplot()
    waveforms = np.asarray(waveforms, dtype="float32")
    spectrograms = np.asarray(spectrograms, dtype="float32")
    if waveforms.ndim != 2 or spectrograms.ndim != 3:
        raise ValueError(
            "`waveforms` must be (batch, samples) and `spectrograms` "
            f"(batch, frames, mel). Received: waveforms.shape="
            f"{waveforms.shape}, spectrograms.shape={spectrograms.shape}"
        )
    rows = min(len(waveforms), int(max_clips))
    fig, axes = plt.subplots(
        rows, 2, figsize=(11, 1.9 * rows), squeeze=False,
        gridspec_kw={"width_ratios": [1, 1.4]},
    )  # fmt: skip
    low, high = np.percentile(spectrograms[:rows], [2, 99.5])
    for i in range(rows):
        wave_ax, spec_ax = axes[i]
        seconds = np.arange(waveforms.shape[1]) / sample_rate
        wave_ax.plot(seconds, waveforms[i], linewidth=0.4)
        wave_ax.set_xlim(0, seconds[-1] if len(seconds) > 1 else 1)
        wave_ax.set_ylabel("amplitude", fontsize=7)
        spec = spectrograms[i]
        spec_ax.imshow(
            spec.T, origin="lower", aspect="auto", vmin=low, vmax=high,
            extent=[0, len(spec) * hop_length / sample_rate, 0,
                    spec.shape[1]],
        )  # fmt: skip
        spec_ax.set_ylabel("mel bin", fontsize=7)
        if labels is not None:
            wave_ax.set_title(
                _label_text(np.asarray(labels)[i], class_names), fontsize=8,
                loc="left",
            )  # fmt: skip
        for ax in (wave_ax, spec_ax):
            ax.tick_params(labelsize=6)
    axes[-1][0].set_xlabel("seconds", fontsize=7)
    axes[-1][1].set_xlabel("seconds", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_augmented_batch(
    waveforms, frontend, labels=None, path="augmented_batch.png", **kwargs
):
    """Writes `augmented_batch_figure` of a batch to a PNG file.

    Args:
        waveforms: array `(batch, samples)`.
        frontend: the model's `LogMelSpectrogram` (run in inference mode).
        labels: optional labels (see `augmented_batch_figure`).
        path: str. Output `.png`. Defaults to `"augmented_batch.png"`.
        **kwargs: `augmented_batch_figure` arguments (`class_names`,
            `max_clips`, `title`).

    Returns:
        The path written.

    Examples:
    >>> import os, tempfile
    >>> import numpy as np
    >>> from keras_maskspec.layers import LogMelSpectrogram
    >>> frontend = LogMelSpectrogram(sample_rate=16000, num_mel_bins=16,
    ...     window_length=400, hop_length=160, fft_length=512, fmax=None)
    >>> waves = np.random.default_rng(0).normal(size=(2, 4000)) * 0.1
    >>> path = os.path.join(tempfile.mkdtemp(), "batch.png")
    >>> plot_augmented_batch(waves, frontend, np.eye(2), path) == path
    True
    """
    plt = _pyplot()
    fig = augmented_batch_figure(
        waveforms,
        np.asarray(frontend(np.asarray(waveforms, "float32"), training=False)),
        labels,
        frontend.sample_rate,
        frontend.hop_length,
        **kwargs,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
