"""Run configurations: every knob of a pre-training or fine-tuning run.

A config is a plain dataclass: it is written as `config.json` in the run
folder, read back by `load_run`, and filled in by recipes. `RunConfig`
holds what every run has (schedule, optimizer, precision, strategy,
checkpoints); `PretrainConfig` and `FinetuneConfig` add the method's
knobs. Defaults are the paper's (see `shared/PAPER.md`): model sizes and
the recipe values come from `keras_maskspec.models.presets`.
`replace(**overrides)` returns a changed copy and rejects unknown names.
"""

import dataclasses
import inspect
import json

import keras

from keras_maskspec.layers import LogMelSpectrogram
from keras_maskspec.models import MaskSpecClassifier
from keras_maskspec.models import MaskSpecEncoder
from keras_maskspec.models import MaskSpecPretrainer
from keras_maskspec.models.presets import DECODER_KEYS
from keras_maskspec.models.presets import DEFAULT_PRESET
from keras_maskspec.models.presets import FINE_TUNING
from keras_maskspec.models.presets import PRETRAINER_KEYS
from keras_maskspec.models.presets import PRETRAINING
from keras_maskspec.models.presets import get_decoder_preset
from keras_maskspec.models.presets import get_encoder_preset
from keras_maskspec.models.presets import get_preset
from keras_maskspec.utils import atomic_write_text

MIXED_PRECISION = (None, "float32", "mixed_bfloat16", "mixed_float16")
# Fields added for parity with the authors (docs/parity.md), with the value
# that gives a config file written before them its old meaning.
_LEGACY = {
    "schedule_epochs": None,
    "frame_stats": None,
    "roll_samples": 0,
    "extra_augment": False,
    "container_seconds": None,
    "loss_normalize": "labelled",
}
CROPS = ("random", "start")
STRATEGIES = ("auto", "none", "mirrored", "multiworker", "tpu")


@dataclasses.dataclass(kw_only=True)
class RunConfig:
    """What every training run needs: schedule, optimizer, precision, saving.

    `PretrainConfig` and `FinetuneConfig` extend it (and change a few
    defaults); it is not used on its own.

    Args:
        preset: str. Model size: `"maskspec_tiny"`, `"maskspec_small"`,
            `"maskspec_base"` (or the test-sized `"maskspec_test"`).
            Defaults to `"maskspec_base"`.
        encoder_overrides: dict. Encoder constructor overrides (e.g.
            `{"num_layers": 1}`, `{"frontend": {...}}`). Defaults to `{}`.
        sample_rate: int or `None`. The rate audio is read at, in Hz: the
            model's front end takes waveforms at its own rate, so a set
            value must equal it. `None`: the front end's (32000 for the
            MaskSpec presets, 16000 for `audiomae_base`); see
            `audio_sample_rate()`. Defaults to `None`.
        clip_seconds: float. Clip length. Defaults to `10.0`.
        epochs: int. Epochs trained (where the run stops). Defaults to
            `80`.
        schedule_epochs: int or `None`. Length of the warm-up + cosine
            schedule in epochs; `None` = `epochs`. The authors pre-train
            on a 400-epoch cosine and stop after 76 epochs. Defaults to
            `None`.
        warmup_epochs: float. Linear warm-up, then half-cosine to
            `min_learning_rate`.
        batch_size: int. Global batch size (all replicas).
        steps_per_epoch: int or `None`. `None`: one pass over the data.
        base_learning_rate: float. `lr = base_lr * batch_size / 256`.
            Defaults to `1e-3`.
        learning_rate: float or `None`. Overrides the scaling rule.
        min_learning_rate: float. Cosine floor. Defaults to `1e-6`.
        weight_decay: float. Defaults to `0.05`.
        beta_1: float. Defaults to `0.9`.
        beta_2: float. Adam's second-moment decay.
        clipnorm: float or `None`. Per-variable gradient norm clip.
        mixed_precision: `None`, `"float32"`, `"mixed_bfloat16"` or
            `"mixed_float16"` (the latter with dynamic loss scaling). The
            front end, loss and reconstruction stay float32.
        jit_compile: bool or `"auto"`. XLA. Defaults to `"auto"`.
        steps_per_execution: int. Defaults to `1`.
        strategy: `"auto"`, `"none"`, `"mirrored"`, `"multiworker"` or
            `"tpu"`; JAX uses `keras.distribution.DataParallel`.
        ema: bool. Keep an exponential moving average of the weights and
            finish on it. Defaults to `False`.
        ema_momentum: float. Defaults to `0.9999`.
        seed: int. Seeds weights, masking and the per-epoch data order.
            Defaults to `0`.
        image_every: int or `None`. Reconstruction pictures to TensorBoard
            every this many epochs (0/None = never).
        num_images: int. Examples per picture round.
        checkpoint_every: `"epoch"` or int: also keep every this many
            epochs' weights. Defaults to `"epoch"`.
        verbose: `"auto"`, 0, 1 or 2. Passed to `fit`.
        frame_stats: str or `None`. Per-mel-bin statistics stored in the
            front end (`LogMelSpectrogram.set_statistics`): `"audioset"`
            (the authors' AudioSet table), `"train"` (computed once from
            the training clips, one pass, cached as
            `<run>/frame_stats.npz`), a path (`.npy`/`.npz`/`.json`, read
            without executing code), or `None` (`(x + 4.5) / 5` only).
            Defaults to `"audioset"`.
        stats_max_clips: int. Clips read for `frame_stats="train"` (the
            authors: 10 000). Defaults to `10000`.
        stats_clip_seconds: float or `None`. `frame_stats="train"` reads
            the first this many seconds of each clip, zero-padded (the
            authors' statistics for Speech Commands, DCASE and OpenMIC use
            1 s); `None`: the whole `clip_seconds`. Defaults to `None`.
        crop: str. Which window of a file longer than `clip_seconds` is
            read: `"random"` (a random window for training clips, the
            centre one for evaluation) or `"start"` (the first
            `clip_seconds` everywhere: the authors' `pad_or_truncate`).
            Clips of at most `clip_seconds` (all of AudioSet, ESC-50,
            Speech Commands) read the same either way. Defaults to
            `"random"`.
    """

    preset: str = DEFAULT_PRESET
    encoder_overrides: dict = dataclasses.field(default_factory=dict)
    sample_rate: int = None
    clip_seconds: float = 10.0
    epochs: int = 80
    schedule_epochs: int = None
    warmup_epochs: float = 40
    batch_size: int = 512
    steps_per_epoch: int = None
    base_learning_rate: float = PRETRAINING["base_learning_rate"]
    learning_rate: float = None
    min_learning_rate: float = 1e-6
    weight_decay: float = PRETRAINING["weight_decay"]
    beta_1: float = 0.9
    beta_2: float = PRETRAINING["beta_2"]
    clipnorm: float = None
    mixed_precision: str = None
    jit_compile: object = "auto"
    steps_per_execution: int = 1
    strategy: str = "auto"
    ema: bool = False
    ema_momentum: float = 0.9999
    seed: int = 0
    image_every: int = 5
    num_images: int = 2
    checkpoint_every: object = "epoch"
    verbose: object = "auto"
    frame_stats: str = "audioset"
    stats_max_clips: int = 10000
    stats_clip_seconds: float = None
    crop: str = "random"

    def __post_init__(self):
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"`mixed_precision` must be one of {MIXED_PRECISION}. "
                f"Received: mixed_precision={self.mixed_precision!r}"
            )
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"`strategy` must be one of {STRATEGIES}. "
                f"Received: strategy={self.strategy!r}"
            )
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive int. "
                    f"Received: {name}={value!r}"
                )
        if self.schedule_epochs is not None and (
            not isinstance(self.schedule_epochs, int)
            or self.schedule_epochs < self.epochs
        ):
            raise ValueError(
                "`schedule_epochs` must be an int >= `epochs` or None. "
                f"Received: schedule_epochs={self.schedule_epochs!r}, "
                f"epochs={self.epochs}"
            )
        rate = self.audio_sample_rate()
        if self.sample_rate is not None and self.sample_rate != rate:
            raise ValueError(
                f"`sample_rate` must be the front end's rate ({rate} Hz for "
                f"preset {self.preset!r}; the model reads waveforms at it), "
                "or None for that rate. "
                f"Received: sample_rate={self.sample_rate!r}"
            )
        if self.crop not in CROPS:
            raise ValueError(
                f"`crop` must be one of {CROPS}. Received: crop={self.crop!r}"
            )
        if self.stats_clip_seconds is not None and not (
            self.stats_clip_seconds > 0
        ):
            raise ValueError(
                "`stats_clip_seconds` must be positive or None. Received: "
                f"stats_clip_seconds={self.stats_clip_seconds!r}"
            )
        if self.warmup_epochs < 0:
            raise ValueError(
                "`warmup_epochs` must be >= 0. "
                f"Received: warmup_epochs={self.warmup_epochs}"
            )
        if self.image_every is not None and self.image_every < 0:
            raise ValueError(
                "`image_every` must be >= 0 or None. "
                f"Received: image_every={self.image_every}"
            )

    # === JSON round trip ===

    def to_dict(self):
        """The config as a JSON-ready dict."""
        return dataclasses.asdict(self)

    def to_json(self, path=None):
        """The config as JSON text; also written (atomically) to `path`."""
        text = json.dumps(
            {"kind": type(self).__name__, **self.to_dict()},
            indent=2,
            sort_keys=True,
        )
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, data):
        """Builds a config from a dict, naming any unknown key."""
        data = dict(data)
        written = "kind" in data  # a whole file written by `to_json`
        kind = data.pop("kind", cls.__name__)
        if kind != cls.__name__:
            raise ValueError(
                f"This is a {kind} config, not a {cls.__name__}. "
                f"Received: kind={kind!r}"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"Unknown {cls.__name__} fields {unknown}. Known: "
                f"{sorted(names)}. Received: keys={sorted(data)}"
            )
        if written:
            # A config file from before a field existed keeps its meaning
            # (a resumed run must not change schedule, statistics or
            # augmentation).
            for name, value in _LEGACY.items():
                if name in names and name not in data:
                    data[name] = value
        return cls(**data)

    @classmethod
    def from_json(cls, text_or_path):
        """Reads a config from JSON text or a `.json` file path."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text) as f:
                text = f.read()
        return cls.from_dict(json.loads(text))

    def replace(self, **overrides):
        """A copy with some fields changed (unknown names are an error)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(
                f"Unknown {type(self).__name__} fields {unknown}. Received: "
                f"overrides={overrides}"
            )
        return dataclasses.replace(self, **overrides)

    # === Model ===

    @property
    def dtype_policy(self):
        """The layers' dtype policy name (`None` = the global policy)."""
        if self.mixed_precision in (None, "float32"):
            return None
        return self.mixed_precision

    def encoder_kwargs(self, **extra):
        """`MaskSpecEncoder` arguments: preset, overrides, dtype, seed."""
        kwargs = get_encoder_preset(self.preset)
        kwargs.update(self.encoder_overrides)
        kwargs.update(extra)
        if self.dtype_policy:
            kwargs["dtype"] = self.dtype_policy
        kwargs.setdefault("seed", self.seed)
        return kwargs

    def audio_sample_rate(self):
        """The rate in Hz that audio is read at: the model front end's.

        `sample_rate` when set (it must equal the front end's), else the
        rate of the front end that `preset` and `encoder_overrides` build.

        Examples:
        >>> PretrainConfig(preset="maskspec_test").audio_sample_rate()
        32000
        >>> PretrainConfig(preset="audiomae_base").audio_sample_rate()
        16000
        """
        frontend = self.encoder_kwargs().get("frontend")
        if frontend is None:
            parameters = inspect.signature(LogMelSpectrogram).parameters
            return int(parameters["sample_rate"].default)
        if isinstance(frontend, dict):
            frontend = keras.layers.deserialize(frontend)
        return int(frontend.sample_rate)

    def data_crop(self, training=True):
        """The `crop=` argument of this run's data pipelines.

        Examples:
        >>> PretrainConfig(crop="start").data_crop()
        'start'
        >>> PretrainConfig().data_crop(), PretrainConfig().data_crop(False)
        ('random', 'centre')
        """
        if self.crop == "start":
            return "start"
        return "random" if training else "centre"

    def resolved(self):
        """`to_dict()` with preset-filled values spelled out (what a run
        really uses; two configs that build the same run compare equal)."""
        return {**self.to_dict(), "sample_rate": self.audio_sample_rate()}

    def build_model(self):
        """The (untrained) model this config describes."""
        raise NotImplementedError


@dataclasses.dataclass(kw_only=True)
class PretrainConfig(RunConfig):
    """Everything a MaskSpec pre-training run needs, with paper defaults.

    Takes every `RunConfig` argument; the defaults that differ are the
    authors' schedule, `epochs=76` on a `schedule_epochs=400` cosine with
    `min_learning_rate=0.0` (their fine-tunes start from `checkpoint-75`,
    saved after 76 epochs), `warmup_epochs=40`, `batch_size=512`,
    `beta_2=0.95`, `image_every=5`, `num_images=2`.

    Args:
        decoder_hidden_dim: int or `None`. `None`: the preset's (512 for
            the paper's sizes). Defaults to `None`.
        decoder_num_layers: int or `None`. Defaults to `None` (preset).
        decoder_num_heads: int or `None`. Defaults to `None` (preset).
        decoder_intermediate_dim: int or `None`. Defaults to `None`
            (preset).
        mask_ratio: float or `None`. `None`: the preset's (0.75; 0.8 for
            `audiomae_base`). Defaults to `None`.
        masking: str or `None`. `MaskSpecPretrainer(masking=)`: "random",
            "time", "frequency", "time_frequency", "block",
            "inverse_block"; `None`: the preset's ("random"). Defaults to
            `None`.
        decoder_attention: `"global"`, `"local"` (shifted windows in ViT
            blocks), `"swinv2"` (Audio-MAE's own windowed blocks) or `None`
            (the preset's). Defaults to `None`.
        decoder_window: `[time, mel]` patches per local window, or `None`
            (the preset's). Defaults to `None`.
        decoder_shift: `[time, mel]` shift of every second local block, or
            `None` (the preset's). Defaults to `None`.
        normalize_targets: bool. Per-patch target normalisation. Defaults
            to `True`.
        **kwargs: `RunConfig` arguments.

    Examples:
    >>> config = PretrainConfig(preset="maskspec_tiny")
    >>> config.replace(epochs=2).epochs
    2
    >>> PretrainConfig.from_json(config.to_json()) == config
    True
    >>> PretrainConfig(preset="audiomae_base").pretrainer_kwargs()["mask_ratio"]
    0.8
    """

    decoder_hidden_dim: int = None
    decoder_num_layers: int = None
    decoder_num_heads: int = None
    decoder_intermediate_dim: int = None
    mask_ratio: float = None
    masking: str = None
    decoder_attention: str = None
    decoder_window: list = None
    decoder_shift: list = None
    normalize_targets: bool = True
    epochs: int = 76
    schedule_epochs: int = 400
    min_learning_rate: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        if self.mask_ratio is not None and not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(
                "`mask_ratio` must be in (0, 1). "
                f"Received: mask_ratio={self.mask_ratio}"
            )

    def decoder_kwargs(self):
        """The decoder sizes: the preset's, overridden by set fields."""
        kwargs = get_decoder_preset(self.preset)
        for key in DECODER_KEYS:
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        return kwargs

    def pretrainer_kwargs(self):
        """Masking and decoder-attention arguments: the preset's (else the
        pre-trainer's defaults, e.g. the paper's mask ratio), overridden by
        set fields."""
        preset = get_preset(self.preset)
        kwargs = {"mask_ratio": PRETRAINING["mask_ratio"]}
        kwargs.update({k: preset[k] for k in PRETRAINER_KEYS if k in preset})
        for key in PRETRAINER_KEYS:
            if getattr(self, key) is not None:
                kwargs[key] = getattr(self, key)
        for key in ("decoder_window", "decoder_shift"):
            if kwargs.get(key) is not None:
                kwargs[key] = tuple(kwargs[key])
        return kwargs

    def resolved(self):
        resolved = {**super().resolved(), **self.decoder_kwargs()}
        for key, value in self.pretrainer_kwargs().items():
            resolved[key] = list(value) if isinstance(value, tuple) else value
        return resolved

    def build_model(self):
        """The `MaskSpecPretrainer` this config describes."""
        return MaskSpecPretrainer(
            MaskSpecEncoder(**self.encoder_kwargs()),
            normalize_targets=self.normalize_targets,
            seed=self.seed,
            **self.decoder_kwargs(),
            **self.pretrainer_kwargs(),
        )


@dataclasses.dataclass(kw_only=True)
class FinetuneConfig(RunConfig):
    """Everything a MaskSpec fine-tuning run needs, with paper defaults.

    Defaults are the paper's shared fine-tuning recipe with the AudioSet
    row (527 classes, multi-label, 200 tokens dropped, mixup 0.3); recipes
    override them per dataset. Takes every `RunConfig` argument; the
    defaults that differ are `warmup_epochs=5`, `batch_size=64`,
    `beta_2=0.999`, `image_every=0` and `num_images=0` (classifiers draw no
    pictures; the fields are kept so both configs share the CLI's flags).

    Args:
        num_classes: int. Defaults to `527`.
        multi_label: bool. Sigmoid/BCE (labels < 0 ignored) vs softmax/CE.
            Defaults to `True`.
        drop_path_rate: float. Stochastic depth of the encoder. Defaults to
            `0.1`.
        head_dropout: float. Defaults to `0.0`.
        patchout: int. Patch tokens dropped while training. Defaults to
            `200`.
        freq_mask_param: int. SpecAugment mel mask. Defaults to `48`.
        time_mask_param: int. SpecAugment time mask (frames). Defaults to
            `192`.
        label_smoothing: float. Defaults to `0.0` (the authors' runs had
            none: timm 0.5.4's BCE ignores smoothing on multi-hot targets).
        mixup_alpha: float. Beta(alpha, alpha), folded to max(lam,
            1 - lam), of the classifier's spectrogram mixup on every
            training batch (`MaskSpecClassifier(mixup_alpha)`, 0 = off).
            Defaults to `0.3`.
        mixup_rate: float. Probability that a training clip is mixed, in
            the data pipeline, with a partner drawn uniformly from the whole
            training set (the authors' `MixupDataset`: 0.5; 0 = off).
            Defaults to `0.5`.
        wave_mixup_alpha: float. Beta(alpha, alpha) of that waveform mixup
            (the authors: 2). Defaults to `2.0`.
        class_balanced: bool. Sample clips by
            `keras_maskspec.data.class_balanced_weights` (sum over a clip's
            positive classes of 1 / class count). Defaults to `True`.
        samples_per_epoch: int or `None`. Clips per epoch when sampling
            (AudioSet: 100 000). `None`: the data size.
        replica_copies: int. Each training clip appears this many times in
            a row, each copy augmented independently (own gain, extra
            augment, roll, mixup partner), so a batch holds
            `batch_size / replica_copies` distinct clips and an epoch
            `samples_per_epoch * replica_copies / batch_size` steps. `8`
            with `batch_size=512` reproduces the literal reading of the
            authors' AS-2M run (`docs/parity.md`, "replica sharding
            quirk": 8 GPUs iterating the same 64 clips). Applied by the
            recipes' file pipelines (`classification_dataset(copies=)`);
            in-memory arrays refuse it. Defaults to `1`.
        gain_db: int. Random integer gain in `-gain_db..gain_db-1` dB
            (data pipeline; the authors: -7..6). Defaults to `7`.
        roll_samples: int. Random roll of `-roll_samples..roll_samples`
            samples on the `container_seconds` buffer (data pipeline).
            Defaults to `50`.
        roll_seconds: float. Circular roll range in seconds, used only
            when `roll_samples` is 0 (older configs). Defaults to `0.0`.
        extra_augment: bool. The authors' noise / volume / high-pass /
            low-pass chain (`keras_maskspec.data.augment.extra_augment`).
            Defaults to `True`.
        container_seconds: float. The authors' 10 s clip buffer that the
            roll and the mixup means act on. Defaults to `10.0`.
        loss_normalize: `"labelled"` or `"all"` (multi-label): the masked
            BCE's denominator (`MaskedBinaryCrossentropy(normalize=)`; the
            authors' OpenMIC loss: `"all"`). Defaults to `"labelled"`.
        layer_decay: float. Layer-wise lr decay. Defaults to `0.75`.
        position_embedding: `"sincos"` (the encoder's fixed codes) or
            `"learned"`: as the authors' fine-tuning (timm's trainable
            `pos_embed`, started from the sin-cos table), a trainable
            table of `clip_seconds`' patch grid (`docs/parity.md`, S8);
            inputs then may not be longer than `clip_seconds`. Defaults
            to `"sincos"`.
        **kwargs: `RunConfig` arguments.

    Examples:
    >>> config = FinetuneConfig(num_classes=50, multi_label=False)
    >>> config.replace(patchout=100).patchout
    100
    >>> FinetuneConfig.from_json(config.to_json()) == config
    True
    """

    num_classes: int = 527
    multi_label: bool = True
    drop_path_rate: float = 0.1
    head_dropout: float = 0.0
    patchout: int = 200
    freq_mask_param: int = FINE_TUNING["freq_mask_param"]
    time_mask_param: int = FINE_TUNING["time_mask_param"]
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.3
    mixup_rate: float = 0.5
    wave_mixup_alpha: float = 2.0
    class_balanced: bool = True
    samples_per_epoch: int = None
    replica_copies: int = 1
    gain_db: int = 7
    roll_samples: int = 50
    roll_seconds: float = 0.0
    extra_augment: bool = True
    container_seconds: float = 10.0
    loss_normalize: str = "labelled"
    layer_decay: float = FINE_TUNING["layer_decay"]
    position_embedding: str = "sincos"
    warmup_epochs: float = 5
    batch_size: int = 64
    beta_2: float = FINE_TUNING["beta_2"]
    image_every: int = 0
    num_images: int = 0

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ValueError(
                "`num_classes` must be a positive int. "
                f"Received: num_classes={self.num_classes!r}"
            )
        if not 0.0 <= self.mixup_rate <= 1.0:
            raise ValueError(
                "`mixup_rate` must be in [0, 1]. "
                f"Received: mixup_rate={self.mixup_rate}"
            )
        if not isinstance(self.replica_copies, int) or not (
            1 <= self.replica_copies <= self.batch_size
        ):
            raise ValueError(
                "`replica_copies` must be an int in [1, batch_size]. "
                f"Received: replica_copies={self.replica_copies!r}, "
                f"batch_size={self.batch_size}"
            )
        if self.loss_normalize not in ("labelled", "all"):
            raise ValueError(
                "`loss_normalize` must be 'labelled' or 'all'. "
                f"Received: loss_normalize={self.loss_normalize!r}"
            )
        if self.mixup_alpha < 0:
            raise ValueError(
                "`mixup_alpha` must be >= 0. "
                f"Received: mixup_alpha={self.mixup_alpha}"
            )
        if self.position_embedding not in ("sincos", "learned"):
            raise ValueError(
                "`position_embedding` must be 'sincos' or 'learned'. "
                f"Received: position_embedding={self.position_embedding!r}"
            )

    def build_encoder(self, encoder=None):
        """The encoder to fine-tune, with the run's drop-path and dtype.

        Args:
            encoder: a `MaskSpecEncoder` (its weights are copied into a
                rebuilt one) or `None` (a new one from the preset).
        """
        if encoder is None:
            return MaskSpecEncoder(
                **self.encoder_kwargs(drop_path_rate=self.drop_path_rate)
            )
        if not isinstance(encoder, MaskSpecEncoder):
            raise ValueError(
                "`encoder` must be a MaskSpecEncoder, a run folder or None. "
                f"Received: encoder={encoder!r}"
            )
        encoder_config = encoder.get_config()
        encoder_config["drop_path_rate"] = self.drop_path_rate
        if self.dtype_policy:
            encoder_config["dtype"] = self.dtype_policy
        rebuilt = MaskSpecEncoder.from_config(encoder_config)
        rebuilt.set_weights(encoder.get_weights())
        return rebuilt

    def build_model(self, encoder=None):
        """The `MaskSpecClassifier` this config describes.

        Args:
            encoder: see `build_encoder`. Defaults to `None`.
        """
        encoder = self.build_encoder(encoder)
        time_patches = None
        if self.position_embedding == "learned":
            frames = encoder.frontend.num_frames(
                int(round(self.clip_seconds * encoder.sample_rate))
            )
            time_patches = encoder.patch_embedding.grid_shape(
                frames, encoder.frontend.num_mel_bins
            )[0]
        return MaskSpecClassifier(
            encoder,
            num_classes=self.num_classes,
            position_embedding=self.position_embedding,
            position_time_patches=time_patches,
            multi_label=self.multi_label,
            patchout=self.patchout,
            freq_mask_param=self.freq_mask_param,
            time_mask_param=self.time_mask_param,
            mixup_alpha=self.mixup_alpha,
            dropout=self.head_dropout,
            seed=self.seed,
        )


CONFIG_KINDS = {
    "PretrainConfig": PretrainConfig,
    "FinetuneConfig": FinetuneConfig,
}


def load_config(path):
    """Reads a `config.json` of either kind (`PretrainConfig` or
    `FinetuneConfig`), going by its `"kind"` key.

    Examples:
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> _ = FinetuneConfig(num_classes=3).to_json(path)
    >>> type(load_config(path)).__name__
    'FinetuneConfig'
    """
    with open(path) as f:
        data = json.load(f)
    kind = data.get("kind")
    if kind not in CONFIG_KINDS:
        raise ValueError(
            f"{path} has no known config kind {sorted(CONFIG_KINDS)}. "
            f"Received: kind={kind!r}"
        )
    return CONFIG_KINDS[kind].from_dict(data)
