"""SavedModel export, checked the way TF Serving would use it.

The exported folders are loaded in a fresh Python process that imports
only TensorFlow and numpy (never keras_maskspec), as a server would.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_maskspec import MaskSpecClassifier
from keras_maskspec import MaskSpecEncoder
from keras_maskspec.export import export_saved_model
from keras_maskspec.export import load_metadata
from keras_maskspec.export import saved_model_ops
from tests.test_case import tone_batch

CLASS_NAMES = ["dog", "rain", "siren"]

# Runs in a fresh process: loads the SavedModel with plain TensorFlow, checks
# every op is a stock TF op, and calls the signature on each input file.
SERVER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    export_dir, out_path = sys.argv[1], sys.argv[2]
    inputs = [np.load(p) for p in sys.argv[3:]]
    model = tf.saved_model.load(export_dir)
    serve = model.signatures["serving_default"]
    proto = saved_model_pb2.SavedModel()
    with open(export_dir + "/saved_model.pb", "rb") as f:
        proto.ParseFromString(f.read())
    ops = set()
    for graph in (m.graph_def for m in proto.meta_graphs):
        ops.update(n.op for n in graph.node)
        for fn in graph.library.function:
            ops.update(n.op for n in fn.node_def)
    results = {
        "unregistered_ops": sorted(
            op for op in ops if op_def_registry.get(op) is None
        ),
        "tfio_ops": sorted(op for op in ops if op.startswith("IO>")),
        "imported_keras_maskspec": any(
            m.startswith("keras_maskspec") for m in sys.modules
        ),
        "sample_rate": int(model.sample_rate.numpy()),
        "inputs": {
            k: [v.dtype.name, v.shape.as_list()]
            for k, v in serve.structured_input_signature[1].items()
        },
        "outputs": {},
    }
    for i, x in enumerate(inputs):
        out = serve(waveform=tf.constant(x))
        for k, v in out.items():
            results["outputs"].setdefault(k, []).append(v.numpy().tolist())
    with open(out_path, "w") as f:
        json.dump(results, f)
    """
)


def _serve_in_fresh_process(export_dir, inputs, tmp_path):
    paths = []
    for i, x in enumerate(inputs):
        paths.append(str(tmp_path / f"input_{i}.npy"))
        np.save(paths[-1], x)
    script = tmp_path / "server.py"
    script.write_text(SERVER_SCRIPT)
    out_path = tmp_path / "served.json"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run(
        [sys.executable, str(script), export_dir, str(out_path), *paths],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out_path.read_text())


@pytest.fixture(scope="module")
def classifier():
    encoder = MaskSpecEncoder.from_preset("maskspec_test", seed=1)
    model = MaskSpecClassifier(encoder, num_classes=3, seed=1)
    # Non-trivial head weights, so the check is not of near-zero logits.
    rng = np.random.default_rng(0)
    model.head.set_weights(
        [rng.normal(size=w.shape) for w in model.head.get_weights()]
    )
    return model


@pytest.fixture(scope="module")
def encoder():
    return MaskSpecEncoder.from_preset("maskspec_test", seed=2)


@pytest.fixture(scope="module")
def classifier_export(classifier, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("classifier") / "1")
    export_saved_model(classifier, out, class_names=CLASS_NAMES)
    return out


@pytest.fixture(scope="module")
def encoder_export(encoder, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("encoder") / "1")
    export_saved_model(encoder, out)
    return out


def test_classifier_serves_like_predict_in_fresh_process(
    classifier, classifier_export, tmp_path
):
    # Two batch sizes and lengths, one shorter than a patch (padded inside).
    inputs = [tone_batch(2, 1.0), tone_batch(3, 1.5, seed=1)[:, :40000]]
    served = _serve_in_fresh_process(classifier_export, inputs, tmp_path)
    assert not served["imported_keras_maskspec"]
    assert served["unregistered_ops"] == []
    assert served["tfio_ops"] == []
    assert served["sample_rate"] == 32000
    assert served["inputs"] == {"waveform": ["float32", [None, None]]}
    assert sorted(served["outputs"]) == [
        "embedding",
        "frame_embeddings",
        "probabilities",
        "scores",
    ]
    for i, x in enumerate(inputs):
        expected = classifier.predict(x, verbose=0)
        scores = np.asarray(served["outputs"]["scores"][i])
        probabilities = np.asarray(served["outputs"]["probabilities"][i])
        # The SavedModel graph is re-optimised by grappler in the serving
        # process (other matmul fusions and summation orders), so float32
        # logits of size ~7 differ in the sixth significant digit; CI saw
        # 2.6e-5 absolute (7.5e-6 relative) once. A real defect (wrong
        # weights, front end or padding) moves them by 1e-2 or more.
        np.testing.assert_allclose(scores, expected, rtol=5e-5, atol=1e-5)
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
        assert np.asarray(served["outputs"]["embedding"][i]).shape == (
            len(x),
            32,
        )


def test_encoder_embedding_is_mean_of_patch_tokens(
    encoder, encoder_export, tmp_path
):
    x = tone_batch(2, 1.0)
    served = _serve_in_fresh_process(encoder_export, [x], tmp_path)
    assert sorted(served["outputs"]) == ["embedding", "frame_embeddings"]
    tokens = encoder.predict(x, verbose=0)
    np.testing.assert_allclose(
        np.asarray(served["outputs"]["embedding"][0]),
        tokens[:, 1:].mean(axis=1),
        rtol=5e-5,
        atol=1e-5,
    )
    frames = np.asarray(served["outputs"]["frame_embeddings"][0])
    grid = tokens[:, 1:].reshape(2, frames.shape[1], encoder.mel_patches(), -1)
    np.testing.assert_allclose(frames, grid.mean(axis=2), rtol=5e-5, atol=1e-5)


def test_short_clip_is_padded_to_one_patch(encoder, encoder_export, tmp_path):
    x = tone_batch(1, 0.05)  # 1600 samples < 4802
    served = _serve_in_fresh_process(encoder_export, [x], tmp_path)
    padded = np.pad(x, [(0, 0), (0, encoder.min_num_samples() - x.shape[1])])
    expected = encoder.predict(padded, verbose=0)[:, 1:].mean(axis=1)
    np.testing.assert_allclose(
        np.asarray(served["outputs"]["embedding"][0]),
        expected,
        rtol=5e-5,
        atol=1e-5,
    )


def test_metadata_and_ops(classifier_export):
    metadata = load_metadata(classifier_export)
    assert metadata["class_names"] == CLASS_NAMES
    assert metadata["sample_rate"] == 32000
    assert metadata["model"] == "MaskSpecClassifier"
    ops = saved_model_ops(classifier_export)
    assert "RFFT" in ops  # the front end is inside the graph
    assert not [op for op in ops if op.startswith("IO>")]


def test_saved_model_cli_lists_the_signature(classifier_export):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    if not os.path.exists(cli):
        pytest.skip("saved_model_cli is not installed beside this Python")
    result = subprocess.run(
        [cli, "show", "--dir", classifier_export, "--all"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert "signature_def['serving_default']" in text
    serving = text.split("signature_def['serving_default']")[1]
    assert "inputs['waveform'] tensor_info:" in serving
    assert "dtype: DT_FLOAT" in serving
    assert "shape: (-1, -1)" in serving
    for name in ("scores", "probabilities", "embedding", "frame_embeddings"):
        assert f"outputs['{name}'] tensor_info:" in serving


def _signature(export_dir):
    import tensorflow as tf

    model = tf.saved_model.load(export_dir)
    return model.signatures["serving_default"]


def _decode_rest_body(body, signature):
    """What TF Serving's REST handler does with a predict request body."""
    import tensorflow as tf

    request = json.loads(body)
    specs = signature.structured_input_signature[1]
    if "instances" in request:  # row format: one entry per example
        rows = request["instances"]
        if isinstance(rows[0], dict):
            columns = {k: [row[k] for row in rows] for k in rows[0]}
        else:  # a single named input may be given bare
            (name,) = specs
            columns = {name: rows}
    else:  # columnar format
        columns = request["inputs"]
        if not isinstance(columns, dict):
            (name,) = specs
            columns = {name: columns}
    assert sorted(columns) == sorted(specs)
    tensors = {}
    for name, value in columns.items():
        tensor = tf.constant(value, dtype=specs[name].dtype)
        assert specs[name].shape.is_compatible_with(tensor.shape)
        tensors[name] = tensor
    return tensors


@pytest.mark.parametrize("layout", ["instances", "inputs"])
def test_rest_request_body_matches_signature(
    classifier, classifier_export, layout
):
    x = tone_batch(2, 0.5)
    if layout == "instances":
        body = json.dumps(
            {
                "signature_name": "serving_default",
                "instances": [{"waveform": row.tolist()} for row in x],
            }
        )
    else:
        body = json.dumps({"inputs": {"waveform": x.tolist()}})
    signature = _signature(classifier_export)
    outputs = signature(**_decode_rest_body(body, signature))
    np.testing.assert_allclose(
        outputs["scores"].numpy(),
        classifier.predict(x, verbose=0),
        rtol=5e-5,
        atol=1e-5,
    )
    # The response is JSON-serialisable, as TF Serving returns it.
    json.dumps({k: v.numpy().tolist() for k, v in outputs.items()})


def test_grpc_predict_request_matches_signature(classifier, classifier_export):
    predict_pb2 = pytest.importorskip("tensorflow_serving.apis.predict_pb2")
    import tensorflow as tf

    x = tone_batch(2, 0.5)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "maskspec"
    request.model_spec.signature_name = "serving_default"
    request.inputs["waveform"].CopyFrom(tf.make_tensor_proto(x))
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    signature = _signature(classifier_export)
    specs = signature.structured_input_signature[1]
    assert sorted(request.inputs) == sorted(specs)
    feed = {}
    for name, proto in request.inputs.items():
        assert tf.dtypes.as_dtype(proto.dtype) == specs[name].dtype
        feed[name] = tf.constant(tf.make_ndarray(proto))
    outputs = signature(**feed)
    np.testing.assert_allclose(
        outputs["scores"].numpy(),
        classifier.predict(x, verbose=0),
        rtol=5e-5,
        atol=1e-5,
    )


def test_refuses_to_overwrite(encoder, encoder_export):
    with pytest.raises(ValueError, match="not empty"):
        export_saved_model(encoder, encoder_export)


def test_class_names_must_match(classifier, tmp_path):
    with pytest.raises(ValueError, match="3 classes"):
        export_saved_model(classifier, str(tmp_path / "x"), class_names=["a"])


def test_rejects_other_models(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="MaskSpecClassifier"):
        export_saved_model(model, str(tmp_path / "x"))
