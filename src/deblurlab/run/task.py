"""Run a task so that users see one-line errors and the W&B run is always closed."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from hydra.errors import InstantiationException
from omegaconf.errors import OmegaConfBaseException

from deblurlab.errors import DeblurlabError

log = logging.getLogger("deblurlab")

EXIT_USER_ERROR = 2


# Errors a constructor raises for a bad argument value; when Hydra built the object from the
# config, the config key is known and the error is the user's to fix.
_BAD_VALUE_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError)


def _config_value_error(exc: InstantiationException) -> str | None:
    """``<full_key>: <first line of the constructor's error>`` for a bad config value."""
    cause = exc.__cause__
    if cause is None or isinstance(cause, DeblurlabError):
        return None
    if not isinstance(cause, _BAD_VALUE_ERRORS) and type(cause).__name__ not in (
        "MisconfigurationException",
        "ValidationError",
    ):
        return None
    key = _instantiated_key(exc)
    detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return f"{key}: {detail}" if key else detail


# what to lower when memory runs out, named by the config keys that set it
_MEMORY_HINT = (
    "lower data.batch_size or data.crop_size (training), tile=<px> (eval, predict), "
    "or the network's width"
)
# ... when it ran out while the network itself was being built
_NETWORK_HINT = "the network's weights alone do not fit: use a narrower network"


def out_of_memory(exc: BaseException, hint: str = _MEMORY_HINT) -> str | None:
    """``out of memory on the GPU|CPU: tried to allocate <size>; <hint>`` when ``exc`` is an
    allocation that failed (CUDA's OutOfMemoryError, the CPU allocator's refusal), else None.
    A process the operating system kills for memory never gets here."""
    if "torch" not in sys.modules:  # nothing allocated yet (and the CLI starts without torch)
        return None
    import torch

    text = str(exc)
    if isinstance(exc, torch.OutOfMemoryError):
        found = re.search(r"[Tt]ried to allocate ([\d.]+ [KMGT]?i?B)", text)
        where = "GPU" if "CUDA" in text or "HIP" in text else "accelerator"
    elif isinstance(exc, RuntimeError) and "DefaultCPUAllocator" in text:
        found = re.search(r"allocate (\d+) bytes", text)
        where = "CPU"
    else:
        return None
    size = "" if found is None else found.group(1)
    if size.isdigit():
        size = f"{int(size) / 2**30:,.1f} GiB"
    tried = f": tried to allocate {size}" if size else ""
    return f"out of memory on the {where}{tried}; {hint}"


def _instantiated_key(exc: InstantiationException) -> str | None:
    """The config key of the object Hydra failed to build (its ``full_key:`` line)."""
    lines = str(exc).splitlines()
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("full_key:")), None)


def user_error(exc: BaseException) -> str | None:
    """The one-line message of a user-fixable error (also when Hydra wrapped it), else None."""
    seen: BaseException | None = exc
    building: str | None = None  # the config key of the object being built, if Hydra built it
    while seen is not None:
        building_net = building is not None and building.startswith("model")
        memory = out_of_memory(seen, _NETWORK_HINT if building_net else _MEMORY_HINT)
        if memory is not None:
            return f"{building}: {memory}" if building else memory
        if isinstance(seen, InstantiationException):
            building = _instantiated_key(seen) or building
        if isinstance(seen, DeblurlabError):
            return str(seen)
        if isinstance(seen, InstantiationException) and (found := _config_value_error(seen)):
            return found
        if isinstance(seen, OmegaConfBaseException) and not isinstance(
            seen, InstantiationException
        ):
            return str(seen).splitlines()[0]
        seen = seen.__cause__ or seen.__context__
    return None


def use_own_wandb_service() -> None:
    """Let this process start a W&B service of its own rather than use one a parent process
    named in ``WANDB_SERVICE`` (the variable reaches SLURM jobs, DDP ranks and sweep jobs
    through their environment).

    A shared service outlives the jobs that use it: when a job dies without finishing its W&B
    run (SIGKILL, a preemption), the service keeps that run open, and the requeued or resumed
    job that logs to the same run id is refused with "run ID ... is in use". A service of the
    job's own ends with the job. The token names the process that started the service
    (``<version>-<pid>-...``); a service this process started is kept.
    """
    token = os.environ.get("WANDB_SERVICE")
    if token is None:
        return
    fields = token.split("-")
    if len(fields) > 1 and fields[1] == str(os.getpid()):
        return
    del os.environ["WANDB_SERVICE"]


def close_wandb(failed: bool) -> None:
    """Finish the active W&B run, if any, marking it failed when the job failed."""
    if "wandb" not in sys.modules:
        return
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=1 if failed else 0)


def close_progress_bars() -> None:
    """Close the progress bars a failed job left open (Lightning's validation bar, eval's), so
    that their clean-up is not printed after the error line."""
    if "tqdm" not in sys.modules:
        return
    from tqdm import tqdm

    bars = list(getattr(tqdm, "_instances", ()))
    # inner bars first: each moves the cursor back up to the bar above it, and the outermost
    # one, closed last, ends its line
    for bar in sorted(bars, key=lambda b: abs(getattr(b, "pos", 0) or 0), reverse=True):
        bar.close()


def run_task(task: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``task``; on a user error print one line and exit non-zero; always close W&B.

    W&B logs through a service of this process's own (see :func:`use_own_wandb_service`).
    Files already written (checkpoints, logs, outputs) are left untouched.
    """
    use_own_wandb_service()
    failed = True
    try:
        result = task(*args, **kwargs)
        failed = False
        return result
    except Exception as exc:
        message = user_error(exc)
        if message is None:
            raise
        close_progress_bars()
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    finally:
        close_wandb(failed)
