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


def pytest_collection_modifyitems(config, items):
    """Slow end-to-end (`large`) tests first, the benchmark smoke tests
    (collected last, 30-50 s each) at their head; otherwise the usual order.

    Made for `pytest -n 2 --dist worksteal` (the README's and CI's
    command): the first worker takes the front half, the slow tests at its
    head, and the other worker, once its half is done, steals short tests
    from the back of the first worker's queue, so only short tests are
    left to steal. (CI's TensorFlow step, where the slow tests run, did
    not get measurably shorter: 628 s -> 620 s, one run each.) The three smoke
    tests stay on one worker, so the real-audio corpus they share is built
    once, without the other waiting for it. Every worker sorts the same
    way, as xdist requires.
    """
    items.sort(
        key=lambda item: (
            item.get_closest_marker("large") is None,
            not item.nodeid.startswith("benchmarks/"),
        )
    )
