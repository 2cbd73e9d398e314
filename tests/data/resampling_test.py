import numpy as np
import pytest
import scipy.signal
import soxr
import tensorflow as tf

from keras_maskspec.data import resampling


@pytest.mark.parametrize(
    "orig,target", [(44100, 32000), (48000, 32000), (16000, 32000),
                    (22050, 32000), (8000, 16000), (96000, 32000)]
)  # fmt: skip
def test_tf_resample_matches_scipy_resample_poly(orig, target):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(orig // 10 + 7, 2)).astype(np.float32)
    g = np.gcd(orig, target)
    ref = scipy.signal.resample_poly(x, target // g, orig // g, axis=0)
    out = resampling.tf_resample(x, orig, target).numpy()
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=2e-5)
    mono = resampling.tf_resample(x[:, 0], orig, target).numpy()
    np.testing.assert_allclose(mono, ref[:, 0], atol=2e-5)


def test_tf_resample_inside_tf_function_with_dynamic_length(sine):
    fn = tf.function(
        lambda x: resampling.tf_resample(x, 44100, 32000),
        input_signature=[tf.TensorSpec([None], tf.float32)],
    )
    x = sine(0.1, 44100)
    np.testing.assert_allclose(
        fn(x).numpy(), resampling.resample(x, 44100, 32000), atol=2e-5
    )


def test_resample_agrees_with_soxr_and_removes_aliases(sine):
    x = sine(1.0, 44100, freq=1000.0)
    ours = resampling.resample(x, 44100, 32000)
    ref = soxr.resample(x, 44100, 32000, quality="VHQ")
    # Compare away from the edges, where both filters have settled.
    np.testing.assert_allclose(ours[500:-500], ref[500:-500], atol=2e-3)
    # A 20 kHz tone is above the new Nyquist (16 kHz): it must vanish.
    alias = resampling.resample(sine(1.0, 44100, freq=20000.0), 44100, 32000)
    assert np.abs(alias[500:-500]).max() < 1e-2


def test_soxr_method_matches_polyphase_and_checks_method(sine):
    x = sine(1.0, 44100, freq=1000.0)
    fast = resampling.resample(x, 44100, 32000, method="soxr")
    ref = resampling.resample(x, 44100, 32000)
    assert fast.dtype == np.float32 and fast.shape == ref.shape
    np.testing.assert_allclose(fast[500:-500], ref[500:-500], atol=2e-3)
    with pytest.raises(ValueError, match="Received: method='sinc'"):
        resampling.resample(x, 44100, 32000, method="sinc")
