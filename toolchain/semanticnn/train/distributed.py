"""Data-parallel training under ``torchrun`` (one or many nodes), a no-op otherwise.

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; ``DistContext.from_env`` joins the process group from them
(``nccl`` on CUDA, ``gloo`` on CPU). Without ``WORLD_SIZE`` (or with 1) it is the
single-process context and nothing is initialised.

How a step equals the single-process step at the same global batch ``B``:

* every rank holds the whole in-memory dataset and the same seeded generator, so
  all ranks draw the same shuffled order, augmentation, per-sample BER and channel
  noise for the whole global batch; each rank then keeps its own contiguous shard
  (``shard``), the way ``DistributedSampler`` splits indices over ranks.
* a rank's loss is its shard's mean times ``world * n_rank / B`` (``loss_scale``);
  DDP averages gradients over ranks, so the update is that of the mean over ``B``.
* BatchNorm: the codec stages keep every BN (stem, tail) in eval mode, so they are
  exact. The base stage trains BN: on CUDA its BNs become ``SyncBatchNorm``; on CPU
  (gloo, where SyncBatchNorm is not supported) each rank normalises with its own
  shard's statistics, so the base stage is close to, not equal to, one process.
"""

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from semanticnn.errors import ConfigError

__all__ = ["DistContext", "resolve_device"]


def resolve_device(name, local_rank=0):
    """``auto`` -> ``cuda:<local_rank>`` if CUDA is available else ``cpu``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for but CUDA is not available (use --device cpu)")
    return torch.device(name)


@dataclass
class DistContext:
    """Rank, world size and device of this process; see the module docstring."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @classmethod
    def from_env(cls, device="auto"):
        """Join the process group if ``WORLD_SIZE`` > 1, else a single-process context."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        dev = resolve_device(device, local_rank)
        if world > 1 and not dist.is_initialized():
            if dev.type == "cuda":
                torch.cuda.set_device(dev)
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", init_method="env://")
        return cls(rank, world, local_rank, dev)

    @property
    def is_main(self):
        """True on rank 0: the only rank that logs, shows progress and writes files."""
        return self.rank == 0

    @property
    def distributed(self):
        """True when more than one process trains."""
        return self.world > 1

    def shard(self, n):
        """``slice`` of this rank's contiguous share of a global batch of ``n``."""
        bounds = [n * r // self.world for r in range(self.world + 1)]
        return slice(bounds[self.rank], bounds[self.rank + 1])

    def loss_scale(self, n_local, n_global):
        """Factor that makes DDP's gradient average equal the global-batch mean."""
        return self.world * n_local / n_global

    def wrap(self, module, sync_bn=False):
        """DDP around ``module`` (SyncBatchNorm first if asked and on CUDA); as is when alone."""
        if not self.distributed:
            return module
        if sync_bn and self.device.type == "cuda":
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)

    def sum(self, *values):
        """Sum floats over ranks (for logging the global epoch loss)."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.distributed:
            dist.all_reduce(t)
        return t.tolist()

    def barrier(self):
        """Wait for every rank (no-op when alone)."""
        if self.distributed:
            dist.barrier()

    def close(self):
        """Leave the process group."""
        if self.distributed and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
