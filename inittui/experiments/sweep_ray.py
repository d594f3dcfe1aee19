"""``--ray``: each experiment one Ray task, on a local Ray started for the sweep or on a cluster (``--ray ADDRESS``).

A task asks for ``num_cpus`` = its torch threads and ``num_gpus`` = ``--gpus-per-experiment`` (default 1 where
the cluster has GPUs; fractions let small experiments share one). Ray's own retries are off: the sweep runner
retries, so that each attempt is counted in ``sweep.json`` and starts its log afresh.

The local Ray is started with its web dashboard off, its usage statistics off and Ray's token authentication on,
with a fresh random token held only in this process's environment (and so in the Ray processes it starts). Ray 2.x still has its
gRPC servers listen on every interface, so the token is what keeps others out.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import secrets
import time
from concurrent.futures import Future

from inittui.core.errors import ConfigError
from inittui.experiments.sweep_runner import Execution
from inittui.experiments.sweep_task import ExperimentTask

INSTALL_HINT = "--ray needs Ray, which is not installed: python3 -m pip install 'inittui[ray]'"


def require_ray() -> None:
    """A one-line ConfigError saying how to install Ray where it is not installed (Ray itself not imported)."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(INSTALL_HINT)


def start_local_ray() -> None:
    """A Ray for this process alone: 127.0.0.1, token authentication with a fresh token, no dashboard."""
    # Ray reads its authentication mode once, when it is imported: set it first
    os.environ["RAY_AUTH_MODE"] = "token"
    # one token for the process: Ray keeps the first it reads, and a second local Ray must take the same
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray would otherwise report usage to its makers
    import ray

    try:
        ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="warning")
    except Exception as error:  # noqa: BLE001 - Ray raises several kinds; each is one line here
        raise ConfigError(f"--ray: cannot start a local Ray: {error}".splitlines()[0]) from None


class RayBackend:
    """Ray tasks; the slots are as many tasks as the cluster's CPUs and GPUs hold at once."""

    def __init__(self, execution: Execution) -> None:
        require_ray()
        started = time.perf_counter()
        if execution.ray_address is None:
            start_local_ray()
        import ray

        self.ray = ray
        if execution.ray_address is not None:
            try:
                ray.init(address=execution.ray_address, log_to_driver=False, logging_level="warning")
            except Exception as error:  # noqa: BLE001 - Ray raises several kinds; each is one line here
                raise ConfigError(f"--ray {execution.ray_address}: cannot connect: {error}".splitlines()[0]) from None
        self.startup_s = time.perf_counter() - started
        from inittui.experiments.sweep_task import run_task

        resources = ray.cluster_resources()
        gpus = execution.gpus_per_experiment
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) > 0 else 0.0
        self.cpus = execution.threads or 1
        # a task asking for more than any one node has would wait for ever: refuse it before the sweep starts
        nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
        largest_gpus = max((node.get("GPU", 0) for node in nodes), default=0)
        largest_cpus = max((node.get("CPU", 0) for node in nodes), default=0)
        if gpus > largest_gpus:
            ray.shutdown()
            raise ConfigError(f"--gpus-per-experiment {gpus:g}: the cluster has {resources.get('GPU', 0):g} GPUs, "
                              f"at most {largest_gpus:g} on one node")
        if self.cpus > largest_cpus:
            ray.shutdown()
            raise ConfigError(f"--threads {self.cpus}: each experiment would ask for {self.cpus} CPUs, and no node of "
                              f"the cluster has more than {largest_cpus:g}")
        by_cpu = resources.get("CPU", 1) / self.cpus
        by_gpu = resources["GPU"] / gpus if gpus > 0 else math.inf
        self.slots = max(1, math.floor(min(by_cpu, by_gpu)))
        self.remote = ray.remote(run_task).options(num_cpus=self.cpus, num_gpus=gpus, max_retries=0)
        self.refs: dict[Future, object] = {}

    def submit(self, task: ExperimentTask) -> Future:
        ref = self.remote.remote(dataclasses.replace(task, threads=self.cpus))
        future = ref.future()
        self.refs[future] = ref
        return future

    def cancel(self) -> None:
        for future, ref in self.refs.items():
            if not future.done():
                self.ray.cancel(ref, force=True)

    def close(self) -> None:
        self.ray.shutdown()
