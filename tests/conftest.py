import os

# The tests check numbers, not speed: XLA's LLVM back end at -O0 compiles
# the suite's many small graphs (JAX, and TensorFlow with jit_compile)
# faster. Measured: tests/models/maskspec_pretrainer_test.py under JAX,
# 112 s -> 96 s wall. Set before Keras (and so JAX or TensorFlow) loads;
# an optimisation level the caller put in XLA_FLAGS is kept.
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _flags:
    os.environ["XLA_FLAGS"] = (
        f"{_flags} --xla_backend_optimization_level=0".strip()
    )

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    keras.utils.set_random_seed(0)
    yield
