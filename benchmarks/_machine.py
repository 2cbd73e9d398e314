"""What every benchmark prints about the machine, and the idle-box rule.

A figure taken while other jobs run measures the other jobs. Every script
in `benchmarks/` prints the load average before it starts and refuses to
print its markdown table when the box was busy (1-minute load above
`MAX_LOAD_PER_CORE` per core, i.e. 1.5 on 2 cores); the raw per-run lines
still go to stderr, marked as taken on a busy machine.

The load is read *before* the benchmark starts: its own threads raise the
load average while it runs, so the end-of-run value is printed for the
record only.
"""

import json
import os
import platform

MAX_LOAD_PER_CORE = 0.75


def cpu_flags():
    """The CPU feature flags (`/proc/cpuinfo`), an empty set elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_bf16():
    """Whether the CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX)."""
    flags = cpu_flags()
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def load_average():
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def describe():
    """One line: CPU, cores, bf16 support and the current load."""
    cores = os.cpu_count()
    load = load_average()
    return (
        f"{platform.machine()}, {cores} cores, "
        f"{'AVX-512 BF16' if has_bf16() else 'no native bf16'}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def worker_result(stdout, tag="RESULT"):
    """The JSON a benchmark's worker process printed as `TAG {...}`.

    Every script here runs its measurements in fresh subprocesses that
    print one such line on stdout; `None` when none was printed (the
    worker failed).

    Examples:
    >>> worker_result('log line\\nRESULT {"seconds": 1.5}\\n')
    {'seconds': 1.5}
    >>> worker_result("Traceback ...") is None
    True
    """
    prefix = tag + " "
    for line in stdout.splitlines():
        if line.startswith(prefix):
            return json.loads(line[len(prefix) :])
    return None


class IdleGuard:
    """Records the load before a run; says whether a table may be printed.

    Examples:
    >>> guard = IdleGuard(max_load=1e9)
    >>> guard.ok
    True
    """

    def __init__(self, max_load=None):
        self.cores = os.cpu_count() or 1
        self.max_load = (
            MAX_LOAD_PER_CORE * self.cores if max_load is None else max_load
        )
        self.start = load_average()
        self.ok = self.start[0] <= self.max_load

    def header(self):
        """Markdown-ready lines: machine, load before and after."""
        end = load_average()
        return (
            f"Machine: {describe()}. Load average (1 min) before the run "
            f"{self.start[0]:.2f}, after {end[0]:.2f} (the run's own "
            f"threads count in the latter); limit {self.max_load:.2f}."
        )

    def refusal(self):
        return (
            f"REFUSED: load average {self.start[0]:.2f} > {self.max_load:.2f} "
            f"on {self.cores} cores before the run; the box is busy, so no "
            "table is printed (raw lines above are not for the README)."
        )
