"""deblurlab's SLURM launcher (``launcher=slurm``), registered where Hydra looks for launchers:
Hydra instantiates launcher classes only from the ``hydra_plugins`` namespace. The work is in
:mod:`deblurlab.run.slurm`; this module only binds it to Hydra's submitit launcher, when the
``slurm`` extra is installed. Hydra imports it on every start, so it imports nothing heavy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        SlurmLauncher as _SubmititSlurmLauncher,
    )
except ImportError:  # no slurm extra: launcher=slurm cannot be chosen (no submitit_slurm config)
    _SubmititSlurmLauncher = None

if _SubmititSlurmLauncher is not None:
    from hydra.core.utils import JobReturn

    from deblurlab.run import slurm

    class SlurmLauncher(_SubmititSlurmLauncher):
        """Hydra's submitit SLURM launcher with deblurlab's pre-flight checks, SIGUSR1 as the
        time-limit warning and no submitit requeue (see :mod:`deblurlab.run.slurm`)."""

        def __init__(self, **params: Any) -> None:
            super().__init__(**params)
            slurm.set_job_parameters(self.params)

        def launch(
            self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
        ) -> Sequence[JobReturn]:
            assert self.config is not None
            with slurm.submitting(self.params, self.config):
                return super().launch(job_overrides, initial_job_idx)

        def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
            slurm.start_job()
            try:
                result = super().__call__(*args, **kwargs)
            except Exception as exc:
                slurm.end_job(exc)  # a stop signal: no result, whatever broke meanwhile
                raise
            failed = result.status.name == "FAILED"
            slurm.end_job(result._return_value if failed else None)
            return result

        def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
            """submitit's requeue hook: unused (deblurlab.lit.preemption.SlurmRequeue requeues)."""
            return None
