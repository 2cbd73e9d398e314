"""How many CPU cores this process may run on."""

import os


def usable_cpu_count():
    """Cores this process may use: its CPU affinity, not the machine's.

    `os.cpu_count()` counts every core of the machine; a container or a
    `taskset`/Slurm allocation often allows fewer, and sizing thread pools
    or tf.data parallelism by the machine oversubscribes the allocation.

    Returns:
        int >= 1.

    Examples:
    >>> usable_cpu_count() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)
