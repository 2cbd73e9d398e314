"""Packaging for keras-maskspec."""

import pathlib

from setuptools import find_packages
from setuptools import setup

HERE = pathlib.Path(__file__).parent
VERSION = {}
exec((HERE / "keras_maskspec" / "version.py").read_text(), VERSION)

setup(
    name="keras-maskspec",
    version=VERSION["__version__"],
    description=(
        "Masked spectrogram prediction (MaskSpec) self-supervised audio "
        "pre-training for Keras 3 (TensorFlow, JAX, PyTorch)."
    ),
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_maskspec", "keras_maskspec.*"]),
    install_requires=[
        # Keras 3.15 is the first release whose ops.stft/dot_product_attention
        # behave identically on all three backends for our shapes.
        "keras>=3.15,<4",
        # TF is the data and export backbone (tf.data, SavedModel); 2.21 is the
        # newest release and the one everything is tested on.
        "tensorflow>=2.21,<2.22",
        "numpy>=1.26",
        "scipy>=1.11",
        # libsndfile decodes FLAC/OGG/MP3: tensorflow-io's kernels do not load
        # on TF >= 2.18, see README "Dependencies".
        "soundfile>=0.12",
        # The file decoders resample with libsoxr (issue 14: half the CPU of
        # scipy's resample_poly); librosa depends on it too.
        "soxr>=0.3",
        "click>=8.1",
        "tensorboard>=2.21",
        "matplotlib>=3.8",
    ],
    extras_require={
        "jax": ["jax[cpu]>=0.4.30"],
        # 2.13.0 is the CPU build that lies on the CI machines' disk; a looser
        # range pulls a multi-GB CUDA build from PyPI.
        "torch": ["torch==2.13.0"],
        "tests": [
            "pytest>=8",
            "pytest-xdist>=3",
            "librosa>=0.10",
            "scikit-learn>=1.4",
            # The HEAR 2021 validator (needs torch: install with [torch]).
            "hearvalidator==2021.0.2",
            # Request protos for the TF Serving checks; same minor as TF.
            "tensorflow-serving-api==2.21.0",
            # Executing examples/quickstart.ipynb headless.
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
        ],
    },
    entry_points={"console_scripts": ["maskspec=keras_maskspec.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Multimedia :: Sound/Audio :: Analysis",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
