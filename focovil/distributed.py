"""Several processes under torchrun (DDP): each process's place, the process group, and the
loss metrics averaged over processes. One process otherwise, with nothing to set up."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class Dist:
    """This process's place under torchrun (WORLD_SIZE, RANK, LOCAL_RANK); 1 process otherwise."""

    world: int = 1
    rank: int = 0
    local: int = 0

    @classmethod
    def from_env(cls) -> Dist:
        return cls(int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def start(self, device: str) -> torch.device:
        """The process group (NCCL on CUDA, gloo on the CPU) and this process's device."""
        if self.world == 1:
            return torch.device(device)
        import torch.distributed as td
        cuda = device.startswith("cuda")
        td.init_process_group("nccl" if cuda else "gloo")
        if cuda:
            torch.cuda.set_device(self.local)
            return torch.device("cuda", self.local)
        return torch.device("cpu")

    def mean(self, values: dict) -> dict:
        """Each value averaged over the processes."""
        if self.world == 1:
            return {k: float(v) for k, v in values.items()}
        import torch.distributed as td
        keys = sorted(values)
        t = torch.stack([torch.as_tensor(values[k], dtype=torch.float64) for k in keys])
        td.all_reduce(t)
        return {k: float(v) / self.world for k, v in zip(keys, t.tolist())}

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as td
            td.barrier()

    def end(self) -> None:
        if self.world > 1:
            import torch.distributed as td
            td.destroy_process_group()
