"""Training-step throughput, side by side in one process on one model and batch size.

(a) a naive eager fp32 step: the batch assembled on the host with numpy and copied to the
    device each step, `loss.item()` every step (the usual hand-written loop);
(b) the ceiling: the bare network's forward, backward and Adam step on one random device
    tensor at the chosen precision (no sampling, trivial loss);
(c) our full step: `SceneBatches` sampling on the device + `step_loss` (focal contrastive +
    reconstruction) + backward + Adam, at the chosen precision.
Prints view-samples/s for each and the ratios (c)/(a) (target >= 3.5 at 128 scenes on a GPU)
and (c)/(b) (target >= 0.9).

    python benchmarks/bench_train.py                           # CUDA with bf16 when present
    python benchmarks/bench_train.py --device cpu --hidden 128 --scenes 32 --steps 5   # CPU smoke
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def throughput(step, steps: int, warmup: int, samples: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * samples / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default=None)
    ap.add_argument("--scenes", type=int, default=128, help="scenes per step")
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--channels", type=int, default=150)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()

    from focovil.data import SceneBatches, SplitData
    from focovil.model import FoCoViL
    from focovil.train import TrainConfig, step_loss

    device = torch.device(args.device)
    precision = args.precision or ("bf16" if device.type == "cuda" else "fp32")
    I, V, T, C = args.scenes, args.views, args.frames, args.channels
    scenes = I * 8
    rng = np.random.default_rng(0)
    host_x = rng.uniform(-1, 1, size=(scenes * V, T, C)).astype(np.float32)
    data = SplitData(torch.from_numpy(host_x).to(device), np.zeros(scenes * V, np.int64),
                     np.repeat(np.arange(scenes), V), np.tile(np.arange(1, V + 1), scenes),
                     np.arange(scenes * V), 1)
    cfg = TrainConfig(store="", protocol="", out="", hidden=args.hidden, beta=1.0, batch=I)
    samples = I * V

    def make():
        torch.manual_seed(0)
        model = FoCoViL(C, hidden=args.hidden).to(device)
        return model, torch.optim.Adam(model.parameters(), lr=1e-4)

    model, opt = make()
    table = np.arange(scenes * V).reshape(scenes, V)

    def naive():
        rows = table[rng.choice(scenes, I, replace=False)]
        x = torch.from_numpy(host_x[rows]).to(device)
        loss, _ = step_loss(model, x, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()

    rate_a = throughput(naive, args.steps, args.warmup, samples, device)

    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16")
    model, opt = make()
    fixed = torch.rand(samples, T, C, device=device) * 2 - 1

    def bare():
        with autocast:
            _, z, x_hat = model(fixed)
            loss = x_hat.float().mean() + z.float().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rate_b = throughput(bare, args.steps, args.warmup, samples, device)

    model, opt = make()
    batches = SceneBatches(data, I, V, contrastive=True, seed=0)
    stream = iter(())

    def ours():
        nonlocal stream
        x = next(stream, None)
        if x is None:
            stream = batches.epoch()
            x = next(stream)
        with autocast:
            loss, _ = step_loss(model, x, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rate_c = throughput(ours, args.steps, args.warmup, samples, device)

    def sample_only():
        nonlocal stream
        if next(stream, None) is None:
            stream = batches.epoch()

    data_share = rate_c / throughput(sample_only, args.steps * 10, 3, samples, device)  # = sample time / step time
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}: {I} scenes x {V} views, hidden {args.hidden}, T {T}, C {C}; (c) at {precision}")
    print(f"(a) naive eager fp32 step : {rate_a:10.1f} view-samples/s")
    print(f"(b) bare network ceiling  : {rate_b:10.1f} view-samples/s")
    print(f"(c) our full step         : {rate_c:10.1f} view-samples/s")
    print(f"(c)/(a) = {rate_c / rate_a:.2f}  (target >= 3.5 on a GPU)   (c)/(b) = {rate_c / rate_b:.2f}  (target >= 0.9)")
    print(f"data time (device-resident batch sampling) = {100 * data_share:.2f} % of (c)'s step time (target < 5 %)")


if __name__ == "__main__":
    main()
