import numpy as np
import pytest
import tensorflow as tf

from keras_maskspec.data import clips


def test_mix_channels_numpy_and_tf_agree():
    stereo = np.array([[1.0, 0.0], [0.5, -0.5]], np.float32)
    expected = {
        "mono": [0.5, 0.0],
        "left": [1.0, 0.5],
        "right": [0.0, -0.5],
        "mid": [0.5, 0.0],
        "side": [0.5, 0.5],
    }
    for mode, value in expected.items():
        np.testing.assert_allclose(clips.mix_channels(stereo, mode), value)
        np.testing.assert_allclose(
            clips.tf_mix_channels(stereo, mode).numpy(), value
        )
    mono = stereo[:, :1]
    assert clips.mix_channels(mono, "all", 2).shape == (2, 2)
    assert clips.tf_mix_channels(mono, "right").numpy().tolist() == [1.0, 0.5]
    with pytest.raises(ValueError, match="channels='both'"):
        clips.mix_channels(stereo, "both")


@pytest.mark.parametrize("count", [1, 2, 3, 6])
def test_mono_mix_equals_the_mean_of_the_channels(count):
    # Oracle: librosa.to_mono (the mean over channels, channels first).
    librosa = pytest.importorskip("librosa")
    audio = np.random.default_rng(count).uniform(-1, 1, (4801, count))
    audio = audio.astype(np.float32)
    mono = clips.mix_channels(audio, "mono")
    assert mono.dtype == np.float32 and mono.shape == (4801,)
    expected = librosa.to_mono(np.ascontiguousarray(audio.T))
    in_graph = clips.tf_mix_channels(audio, "mono").numpy()
    if count <= 2:  # a sum of two and a halving are exact
        np.testing.assert_array_equal(mono, expected)
        np.testing.assert_array_equal(in_graph, expected)
    np.testing.assert_allclose(mono, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(in_graph, expected, rtol=0, atol=1e-6)
    assert not np.shares_memory(mono, audio)  # never a view of the input


def test_crop_or_pad_random_is_seeded_and_in_range():
    x = tf.range(100)
    a = clips.crop_or_pad(x, 10, crop="random", seed=tf.constant([1, 2]))
    b = clips.crop_or_pad(x, 10, crop="random", seed=tf.constant([1, 2]))
    assert a.numpy().tolist() == b.numpy().tolist()
    assert a.numpy()[0] + 9 == a.numpy()[-1]
    starts = {
        int(clips.crop_or_pad(x, 10, "random", tf.constant([i, 0]))[0])
        for i in range(20)
    }
    assert len(starts) > 5 and min(starts) >= 0 and max(starts) <= 90
    assert clips.crop_or_pad(x, 10).numpy()[0] == 45
    # The authors' pad_or_truncate: the first samples, padded at the end.
    assert clips.crop_or_pad(x, 10, "start").numpy().tolist() == list(range(10))
    assert clips.crop_or_pad(x[:3], 5, "start").numpy().tolist() == [
        0, 1, 2, 0, 0,
    ]  # fmt: skip
    with pytest.raises(ValueError, match="crop='first'"):
        clips.crop_or_pad(x, 10, "first")


def test_sliding_windows_cover_the_clip():
    windows = clips.sliding_windows(np.arange(11.0), 4, 4).numpy()
    assert windows.shape == (3, 4)
    assert windows[-1].tolist() == [8.0, 9.0, 10.0, 0.0]
    assert clips.sliding_windows(np.arange(2.0), 4, 2).shape == (1, 4)
