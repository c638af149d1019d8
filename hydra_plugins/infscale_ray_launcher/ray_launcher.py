"""A Hydra launcher that runs each sweep point as a Ray task (`hydra/launcher=ray`).

Ours rather than hydra-ray-launcher: that plugin pins `cloudpickle<3` while joblib 1.6 (the
joblib launcher's) needs `cloudpickle>=3`, so the two cannot be installed together; and it
sets an object store size that `ray.init` refuses when joining a running cluster. This one uses Ray core only
(`pip install -e ".[ray]"`) and is the joblib launcher's shape: the driver composes each
job's config, a Ray task runs it (`hydra.core.utils.run_job`) and hands back its JobReturn.

`ray.init` gets `hydra.launcher.ray.init` (null values left out): with `address` null Ray
joins the cluster in RAY_ADDRESS, else starts a local one for the sweep (stopped after it);
`address: auto` or `host:port` joins a running cluster. Each task asks for
`hydra.launcher.ray.remote` (`num_cpus`, `num_gpus`, ...). A task starts in the driver's
working directory (`hydra.runtime.cwd`) where the node has it, as the local launchers' jobs
do, so relative paths and `hydra.sweep.dir` mean the same on every node of a shared file
system. The module imports Ray only when a sweep is launched: Hydra imports every plugin
module when it starts, with or without the Ray extra installed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


class RayLauncher(Launcher):
    def __init__(self, ray: DictConfig | dict[str, Any] | None = None) -> None:
        settings = OmegaConf.to_container(ray, resolve=True) if isinstance(ray, DictConfig) else dict(ray or {})
        self.init = {k: v for k, v in (settings.get("init") or {}).items() if v is not None}
        self.remote = {k: v for k, v in (settings.get("remote") or {}).items() if v is not None}
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        try:
            import ray
        except ImportError:
            raise ImportError('hydra/launcher=ray needs Ray: pip install -e ".[ray]"') from None
        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        started = not ray.is_initialized()
        if started:
            ray.init(**self.init)
        log.info(f"Ray ({ray.get_runtime_context().gcs_address}) is launching {len(job_overrides)} jobs")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        try:
            task = ray.remote(_run_job).options(**self.remote)
            singleton_state = Singleton.get_state()
            pending = []
            for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
                log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
                sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
                with open_dict(sweep_config):
                    sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
                    sweep_config.hydra.job.num = idx
                pending.append(task.remote(self.hydra_context, sweep_config, self.task_function, singleton_state))
            return ray.get(pending)
        finally:
            if started:
                ray.shutdown()


def _run_job(
    hydra_context: HydraContext, sweep_config: DictConfig, task_function: TaskFunction, singleton_state: dict[Any, Any]
) -> JobReturn:
    setup_globals()
    Singleton.set_state(singleton_state)
    cwd = str(sweep_config.hydra.runtime.cwd)
    if os.path.isdir(cwd):
        os.chdir(cwd)
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        config=sweep_config,
        task_function=task_function,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )
