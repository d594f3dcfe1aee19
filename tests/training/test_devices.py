"""The CPU training process's memory: what a step frees stays for the next one (glibc's mallopt)."""

from __future__ import annotations

import subprocess
import sys

import pytest

KEPT_MEMORY_PROBE = """
import re, sys, torch
from inittui.training.devices import keep_freed_cpu_memory
def rss_mb():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
kept = keep_freed_cpu_memory() if sys.argv[1] == "keep" else False
before = rss_mb()
block = torch.ones(50_000_000)  # 200 MB, touched
del block
print(kept, rss_mb() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_training_process_keeps_what_a_step_frees_for_the_next_to_reuse():
    def probe(mode: str) -> tuple[str, float]:
        out = subprocess.run([sys.executable, "-c", KEPT_MEMORY_PROBE, mode], capture_output=True, text=True,
                             check=True).stdout.split()
        return out[0], float(out[1])

    kept, held = probe("keep")
    assert kept == "True" and held > 150  # freed, and still the process's, for the next step's tensors
    default, returned = probe("default")
    assert default == "False" and returned < 50  # glibc's default hands it back at once
