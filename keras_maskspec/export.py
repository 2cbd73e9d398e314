"""SavedModel export for TensorFlow Serving: raw audio in, named outputs out.

The exported graph holds the whole model, log-mel front end included, and
only core TensorFlow ops (no tensorflow-io op), so a stock TF Serving
binary or `tf.saved_model.load` in a process that has never heard of
keras_maskspec serves it. Its `serving_default` signature is

    inputs:  waveform          float32 (batch, samples), at `sample_rate`
    outputs: scores            float32 (batch, classes)   classifier only:
                               exactly what `model.predict` returns
             probabilities     float32 (batch, classes)   classifier only:
                               softmax (or sigmoid if multi-label)
             embedding         float32 (batch, dim)
             frame_embeddings  float32 (batch, time_patches, dim)

Any clip length works (shorter than one patch is zero-padded to one). The
SavedModel also carries `sample_rate` and `min_num_samples` (int64
variables) and `class_names` (strings, when given), and the export folder
has `assets.extra/maskspec.json` with the same facts for non-TF readers.

Serve it with the stock container (TF Serving wants a numbered version
folder under the model's base path):

    maskspec export --model runs/finetune --out exports/maskspec/1
    docker run --rm -p 8501:8501 \\
        -v "$PWD/exports/maskspec:/models/maskspec" \\
        -e MODEL_NAME=maskspec tensorflow/serving
    curl -d '{"inputs": {"waveform": [[0.0, 0.1, ...]]}}' \\
        http://localhost:8501/v1/models/maskspec:predict

Export traces the model with TensorFlow. Under the JAX or PyTorch Keras
backends the model is saved to a temporary `.keras` file and exported by a
TensorFlow-backend Python subprocess (TensorFlow is a dependency of this
package), so `export_saved_model` works whatever the backend.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import keras

from keras_maskspec.inference import base_model
from keras_maskspec.inference import encoder_of
from keras_maskspec.inference import inference_model
from keras_maskspec.models.maskspec_classifier import MaskSpecClassifier
from keras_maskspec.utils import files
from keras_maskspec.version import __version__

METADATA_FILE = os.path.join("assets.extra", "maskspec.json")


def _check_out_dir(out_dir, overwrite):
    out_dir = os.fspath(out_dir)
    if os.path.isfile(out_dir):
        raise ValueError(
            f"`out_dir` is a file, not a folder. Received: out_dir={out_dir}"
        )
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise ValueError(
            "`out_dir` exists and is not empty; pass overwrite=True to "
            f"replace its SavedModel. Received: out_dir={out_dir}"
        )
    return out_dir


def export_saved_model(model, out_dir, class_names=None, overwrite=False):
    """Exports a classifier or encoder as a SavedModel for TF Serving.

    See the module docstring for the signature and the serving command.

    Args:
        model: a fine-tuned `MaskSpecClassifier`, a `MaskSpecEncoder`, or a
            `MaskSpecPretrainer` (its encoder is exported).
        out_dir: str. Folder to write (for TF Serving, a numbered version
            folder such as `exports/maskspec/1`).
        class_names: list of str or `None`. Label names of a classifier's
            outputs, stored with the model. Defaults to `None`.
        overwrite: bool. Replace an existing non-empty `out_dir`. Defaults
            to `False`.

    Returns:
        dict: the metadata written to `assets.extra/maskspec.json`.

    Examples:
    >>> import os, tempfile
    >>> from keras_maskspec import MaskSpecEncoder
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> out = os.path.join(tempfile.mkdtemp(), "1")
    >>> export_saved_model(encoder, out)["outputs"]
    ['embedding', 'frame_embeddings']
    """
    out_dir = _check_out_dir(out_dir, overwrite)
    base = base_model(model)
    if class_names is not None:
        class_names = [str(name) for name in class_names]
        if not isinstance(base, MaskSpecClassifier):
            raise ValueError(
                "`class_names` only applies to a MaskSpecClassifier. "
                f"Received: model={type(base).__name__}"
            )
        if len(class_names) != base.num_classes:
            raise ValueError(
                f"The model has {base.num_classes} classes but "
                f"{len(class_names)} class names were given. Received: "
                f"class_names={class_names}"
            )
    if keras.backend.backend() == "tensorflow":
        return _export_tensorflow(base, out_dir, class_names)
    return _export_in_subprocess(base, out_dir, class_names)


def _export_tensorflow(model, out_dir, class_names):
    import tensorflow as tf

    infer = inference_model(model)
    is_classifier = isinstance(model, MaskSpecClassifier)
    encoder = encoder_of(model)
    min_samples = encoder.min_num_samples()

    module = tf.Module()
    module.model = infer
    module.sample_rate = tf.Variable(
        encoder.sample_rate, dtype=tf.int64, trainable=False
    )
    module.min_num_samples = tf.Variable(
        min_samples, dtype=tf.int64, trainable=False
    )
    if class_names is not None:
        module.class_names = tf.Variable(
            class_names, dtype=tf.string, trainable=False
        )

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.float32, name="waveform")
        ]
    )
    def serve(waveform):
        short = tf.maximum(min_samples - tf.shape(waveform)[1], 0)
        waveform = tf.pad(waveform, [[0, 0], [0, short]])
        outputs = infer(waveform, training=False)
        return {k: tf.identity(v, name=k) for k, v in outputs.items()}

    module.serve = serve
    tf.saved_model.save(module, out_dir, signatures={"serving_default": serve})
    tfio_ops = [op for op in saved_model_ops(out_dir) if op.startswith("IO>")]
    if tfio_ops:  # a front end must never pull these in: TF Serving lacks them
        raise RuntimeError(
            f"The exported graph holds tensorflow-io ops {tfio_ops}, which "
            f"TF Serving cannot run. Received: out_dir={out_dir}"
        )
    metadata = {
        "keras_maskspec_version": __version__,
        "model": type(model).__name__,
        "sample_rate": int(encoder.sample_rate),
        "min_num_samples": int(min_samples),
        "embedding_dim": int(infer.output["embedding"].shape[-1]),
        "frame_seconds": float(
            encoder.patch_stride[0]
            * encoder.frontend.hop_length
            / encoder.sample_rate
        ),
        "inputs": {"waveform": "float32 (batch, samples)"},
        "outputs": sorted(infer.output),
        "class_names": class_names,
        "multi_label": bool(model.multi_label) if is_classifier else None,
    }
    os.makedirs(os.path.join(out_dir, "assets.extra"), exist_ok=True)
    files.atomic_write_text(
        os.path.join(out_dir, METADATA_FILE),
        json.dumps(metadata, indent=2) + "\n",
    )
    return metadata


def _export_in_subprocess(model, out_dir, class_names):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        command = [sys.executable, "-m", "keras_maskspec.export", path, out_dir]
        if class_names is not None:
            command += ["--class-names", json.dumps(class_names)]
        result = subprocess.run(
            command,
            env={**os.environ, "KERAS_BACKEND": "tensorflow"},
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(
            "SavedModel export traces the model with TensorFlow; the "
            f"TensorFlow-backend export subprocess (this process runs the "
            f"{keras.backend.backend()} backend) failed:\n"
            f"{result.stderr[-3000:]}"
        )
    return load_metadata(out_dir)


def load_metadata(export_dir):
    """Reads `assets.extra/maskspec.json` of an export folder.

    Args:
        export_dir: str. A folder written by `export_saved_model`.

    Returns:
        dict with `model`, `sample_rate`, `min_num_samples`, `outputs`,
        `class_names`, ...

    Examples:
    >>> import os, tempfile
    >>> from keras_maskspec import MaskSpecEncoder
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> out = tempfile.mkdtemp()
    >>> _ = export_saved_model(encoder, out, overwrite=True)
    >>> load_metadata(out)["sample_rate"]
    32000
    """
    path = os.path.join(os.fspath(export_dir), METADATA_FILE)
    if not os.path.isfile(path):
        raise ValueError(
            "Not a keras_maskspec export (no assets.extra/maskspec.json). "
            f"Received: export_dir={export_dir}"
        )
    with open(path) as f:
        return json.load(f)


def saved_model_ops(export_dir):
    """Names of all ops in a SavedModel's graphs, functions included.

    Args:
        export_dir: str. A SavedModel folder.

    Returns:
        sorted list of str.

    Examples:
    >>> import os, tempfile
    >>> from keras_maskspec import MaskSpecEncoder
    >>> encoder = MaskSpecEncoder.from_preset("maskspec_test")
    >>> out = tempfile.mkdtemp()
    >>> _ = export_saved_model(encoder, out, overwrite=True)
    >>> "RFFT" in saved_model_ops(out)
    True
    """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(os.fspath(export_dir), "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    ops = set()
    for meta_graph in proto.meta_graphs:
        graph = meta_graph.graph_def
        ops.update(node.op for node in graph.node)
        for function in graph.library.function:
            ops.update(node.op for node in function.node_def)
    return sorted(ops)


def _main(argv=None):
    """Entry point of the TF-backend export subprocess."""
    parser = argparse.ArgumentParser(prog="python -m keras_maskspec.export")
    parser.add_argument("model", help="a .keras file")
    parser.add_argument("out_dir")
    parser.add_argument("--class-names", default=None, help="JSON list")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "tensorflow":
        parser.error("run with KERAS_BACKEND=tensorflow")
    from keras_maskspec.training.run_dir import load_model

    model = load_model(args.model)
    class_names = None
    if args.class_names is not None:
        class_names = json.loads(args.class_names)
    export_saved_model(model, args.out_dir, class_names, overwrite=True)


__all__ = [
    "export_saved_model",
    "load_metadata",
    "saved_model_ops",
]

if __name__ == "__main__":
    _main()
