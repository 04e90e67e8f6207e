"""One optimisation step, run eagerly or replayed from a captured CUDA graph.

At 64-128 scenes the bf16 step is bound by kernel-launch latency, not arithmetic (issue 6
measured ~28 ms either way on an H100): the GRUs launch a few kernels per time step and
layer. A CUDA graph records forward, backward and the Adam update once and then replays
them with one launch. What capture needs: fixed shapes (SceneBatches drops the last
partial batch), the batch copied into one static input tensor, Adam with `capturable=True`
and a tensor learning rate (the scheduler fills it in place), autocast without its weight
cache, and no host synchronisation inside the step (the loss terms stay on the device).
"""
from __future__ import annotations

from typing import Callable

import torch

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]


def configure_optimizer(opt: torch.optim.Optimizer, cuda_graph: bool) -> None:
    """Set Adam up for capture (step count and learning rate as device tensors, so the
    scheduler's in-place updates reach the graph) or for eager steps (a float learning rate).
    Called after loading a checkpoint too: a run may be resumed with the other setting."""
    for group in opt.param_groups:
        group["capturable"] = cuda_graph
        lr = group["lr"]
        if cuda_graph and not torch.is_tensor(lr):
            group["lr"] = torch.tensor(lr, dtype=torch.float32, device=group["params"][0].device)
        elif not cuda_graph and torch.is_tensor(lr):
            group["lr"] = float(lr)
        for p in group["params"]:
            state = opt.state.get(p, {})
            if "step" in state:
                state["step"] = state["step"].to(device=p.device if cuda_graph else "cpu", dtype=torch.float32)


class EagerStep:
    """zero_grad, forward under autocast, backward, Adam; returns the loss terms (on the device)."""

    def __init__(self, net: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn: LossFn, bf16: bool,
                 autocast_cache: bool = True):
        self.net, self.opt, self.loss_fn = net, opt, loss_fn
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16, cache_enabled=autocast_cache)

    def __call__(self, x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        with self.autocast:
            loss, terms = self.loss_fn(self.net, x, mask)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}}


class GraphedStep:
    """The same step captured as one CUDA graph on the first batch and replayed afterwards.

    The warm-up iterations that capture needs (cuDNN and the allocator settle on a side
    stream) would move the weights; they are undone before capture, so training is the
    same sequence of updates as EagerStep's (up to the order of floating-point sums).
    """

    WARMUP = 3

    def __init__(self, net: torch.nn.Module, opt: torch.optim.Optimizer, loss_fn: LossFn, bf16: bool):
        if not all(g.get("capturable") for g in opt.param_groups):
            raise ValueError("CUDA graph capture needs configure_optimizer(opt, cuda_graph=True) first")
        self.eager = EagerStep(net, opt, loss_fn, bf16, autocast_cache=False)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_x: torch.Tensor | None = None
        self.static_mask: torch.Tensor | None = None
        self.static_out: dict[str, torch.Tensor] = {}

    def __call__(self, x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.graph is None:
            self._capture(x, mask)
        if x.shape != self.static_x.shape:
            raise ValueError(f"a captured step takes batches of shape {tuple(self.static_x.shape)}, got {tuple(x.shape)}")
        self.static_x.copy_(x, non_blocking=True)
        self.static_mask.copy_(mask, non_blocking=True)
        self.graph.replay()
        return {k: v.clone() for k, v in self.static_out.items()}

    def _capture(self, x: torch.Tensor, mask: torch.Tensor) -> None:
        self.static_x = x.detach().clone()
        self.static_mask = mask.detach().clone()
        saved = self._snapshot()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.WARMUP):
                self.eager(self.static_x, self.static_mask)
        torch.cuda.current_stream().wait_stream(side)
        self._restore(saved)
        net, opt = self.eager.net, self.eager.opt
        opt.zero_grad(set_to_none=True)  # backward in the graph allocates .grad from its pool
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=side):  # the warm-up's stream: cuDNN/cuBLAS workspaces exist
            with self.eager.autocast:
                loss, terms = self.eager.loss_fn(net, self.static_x, self.static_mask)
            loss.backward()
            opt.step()
        self.static_out = {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}}

    def _snapshot(self) -> dict:
        params = {p: p.detach().clone() for p in self.eager.net.parameters()}
        state = {p: {k: v.clone() for k, v in s.items() if torch.is_tensor(v)} for p, s in self.eager.opt.state.items()}
        return {"params": params, "state": state}

    @torch.no_grad()
    def _restore(self, saved: dict) -> None:
        """Undo the warm-up in place (the graph must see the same tensors it will update)."""
        for p, value in saved["params"].items():
            p.copy_(value)
        for p, s in self.eager.opt.state.items():
            before = saved["state"].get(p, {})
            for k, v in s.items():
                if not torch.is_tensor(v):
                    continue
                if k in before:
                    v.copy_(before[k])
                else:
                    v.zero_()
