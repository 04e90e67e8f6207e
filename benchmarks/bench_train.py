"""Training-step throughput, side by side in one process on one model and batch size.

(a) a naive eager fp32 step: the batch assembled on the host with numpy and copied to the
    device each step, `loss.item()` every step (the usual hand-written loop);
(b) the ceiling: the bare network's forward, backward and Adam step on one random device
    tensor at the chosen precision (no sampling, trivial loss);
(c) our full step: `SceneBatches` sampling on the device + `step_loss` (focal contrastive +
    reconstruction) + backward + Adam, at the chosen precision, as `focovil train` runs it.
On CUDA, (b) and (c) are also run replayed from a CUDA graph (`focovil train --cuda-graph`);
with --compile, (c) is also run with the loss under torch.compile (the GRUs stay eager:
dynamo does not trace them). Prints view-samples/s and the ratios (c)/(a) (target >= 3.5 at
128 scenes on a GPU) and (c)/(b) (target >= 0.9).

Data time: batch sampling from the device-resident split and, with --stream (default on),
from an HDF5 and a Zarr store of the same samples (`focovil train --stream`), each as a
share of (c)'s step time (target < 5 % for the resident split); then (c) itself fed from
each store, with each batch read in line and read ahead on a thread (as `--stream` does).

    python benchmarks/bench_train.py                           # CUDA with bf16 when present
    python benchmarks/bench_train.py --device cpu --hidden 128 --scenes 32 --steps 5   # CPU smoke
    python benchmarks/bench_train.py --device cpu --hidden 128 --scenes 32 --steps 40 --threads 1 --rounds 5
                                     # --stream read-ahead on the CPU, one core left to the reader
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

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


def cycling(epoch):
    """A step-sized draw from `epoch()` (e.g. SceneBatches.epoch) that starts a new epoch when one ends."""
    stream = iter(())

    def draw():
        nonlocal stream
        x = next(stream, None)
        if x is None:
            stream = epoch()
            x = next(stream)
        return x
    return draw


def write_store(path: Path, host_x: np.ndarray, bodies: int) -> None:
    """The benchmark's samples as a store (poses only matter here), for --stream reads."""
    from skeltools.store import write_arrays
    N, T, C = host_x.shape
    joints = C // (bodies * 3)
    poses = np.ascontiguousarray(host_x.reshape(N, T, bodies, joints, 3).transpose(0, 2, 1, 3, 4))
    meta = {"name": ["x"] * N, **{k: np.zeros(N, int) for k in ("label", "scene", "subject", "setup", "replication")},
            "view": np.ones(N, int), "frames": np.full(N, T), "bodies": np.full(N, bodies)}
    write_arrays(path, poses, meta, attrs={"n_views": 1}, views=np.arange(N), splits={})


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
    ap.add_argument("--compile", action="store_true", help="also time (c) with the loss under torch.compile")
    ap.add_argument("--no-stream", dest="stream", action="store_false", help="skip the HDF5/Zarr streaming rows")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of the streamed-step rows")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (on a CPU run, fewer than the cores leaves one to the reader "
                         "thread, as a GPU host has while the GPU computes)")
    args = ap.parse_args()

    from focovil.data import SceneBatches, SplitData, StoreRows, reader_has_a_core
    from focovil.model import FoCoViL
    from focovil.step import EagerStep, GraphedStep, configure_optimizer
    from focovil.train import TrainConfig, step_loss

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device.type == "cuda"
    bf16 = (args.precision or ("bf16" if cuda else "fp32")) == "bf16"
    I, V, T, C = args.scenes, args.views, args.frames, args.channels
    scenes = I * 8
    rng = np.random.default_rng(0)
    host_x = rng.uniform(-1, 1, size=(scenes * V, T, C)).astype(np.float32)

    def split(x) -> SplitData:
        return SplitData(x, np.zeros(scenes * V, np.int64), np.repeat(np.arange(scenes), V),
                         np.tile(np.arange(1, V + 1), scenes), np.arange(scenes * V), 1)

    data = split(torch.from_numpy(host_x).to(device))
    cfg = TrainConfig(store="", protocol="", out="", hidden=args.hidden, beta=1.0, batch=I)
    samples = I * V

    def make(cuda_graph: bool = False):
        torch.manual_seed(0)
        model = FoCoViL(C, hidden=args.hidden).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        configure_optimizer(opt, cuda_graph)
        return model, opt

    def rate(step) -> float:
        return throughput(step, args.steps, args.warmup, samples, device)

    rates: dict[str, float] = {}
    model, opt = make()
    table = np.arange(scenes * V).reshape(scenes, V)

    def naive():
        rows = table[rng.choice(scenes, I, replace=False)]
        x = torch.from_numpy(host_x[rows]).to(device)
        loss, _ = step_loss(model, x, torch.ones(I, V, dtype=torch.bool, device=device), cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()

    rates["(a) naive eager fp32 step"] = rate(naive)

    def bare_loss(net, x, mask):
        _, z, x_hat = net(x)
        return x_hat.float().mean() + z.float().mean(), {}

    def ours_loss(net, x, mask):
        return step_loss(net, x, mask, cfg)

    fixed = (torch.rand(samples, T, C, device=device) * 2 - 1, torch.ones(samples, dtype=torch.bool, device=device))
    variants = [("(b) bare network ceiling", bare_loss, False, False), ("(c) our full step", ours_loss, False, False)]
    if cuda:
        variants += [("(b) bare, CUDA graph", bare_loss, True, False), ("(c) ours, CUDA graph", ours_loss, True, False)]
    if args.compile:
        variants.append(("(c) ours, torch.compile loss", ours_loss, False, True))
    for name, loss_fn, graph, compiled in variants:
        model, opt = make(graph)
        if compiled:
            loss_fn = torch.compile(loss_fn)
        step = (GraphedStep if graph else EagerStep)(model, opt, loss_fn, bf16=bf16)
        draw = (lambda: fixed) if name.startswith("(b)") else cycling(SceneBatches(data, I, V, True, seed=0).epoch)
        rates[name] = rate(lambda: step(*draw()))

    def without_diagnostics(net, x, mask):
        return step_loss(net, x, mask, cfg, diagnostics=False)

    cost = {"with": [], "without": []}
    for _ in range(args.rounds):   # alternating rounds: the focal statistics against the same step without them
        for label, loss_fn in (("with", ours_loss), ("without", without_diagnostics)):
            model, opt = make()
            step = EagerStep(model, opt, loss_fn, bf16=bf16)
            draw = cycling(SceneBatches(data, I, V, True, seed=0).epoch)
            cost[label].append(rate(lambda: step(*draw())))
    diagnostics_ratio = float(np.median(cost["without"]) / np.median(cost["with"]))

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    report = {"device": name, "scenes": I, "views": V, "hidden": args.hidden, "precision": "bf16" if bf16 else "fp32",
              "view_samples_per_s": rates, "data_time_share": {}, "fed_from": {},
              "step_time_with_focal_statistics": diagnostics_ratio}
    print(f"{name}: {I} scenes x {V} views, hidden {args.hidden}, T {T}, C {C}; (b), (c) at "
          f"{'bf16' if bf16 else 'fp32'}")
    for k, v in rates.items():
        print(f"{k:<32}: {v:10.1f} view-samples/s")
    print(f"(c)'s step time with the focal statistics / without: {diagnostics_ratio:.3f} (median of {args.rounds} "
          f"alternating rounds; target <= 1.02)")
    a, b, c = rates["(a) naive eager fp32 step"], rates["(b) bare network ceiling"], rates["(c) our full step"]
    print(f"(c)/(a) = {c / a:.2f}  (target >= 3.5 on a GPU)   (c)/(b) = {c / b:.2f}  (target >= 0.9)")
    if cuda:
        cg, bg = rates["(c) ours, CUDA graph"], rates["(b) bare, CUDA graph"]
        print(f"with CUDA graphs: (c)/(a) = {cg / a:.2f}   (c)/(b) = {cg / b:.2f}   (c)/(b graphed) = {cg / bg:.2f}   "
              f"graph speed-up of (c) = {cg / c:.2f}x")

    sources = {"device-resident": data}
    tmp = tempfile.TemporaryDirectory(prefix="bench_train_")
    if args.stream:
        for suffix in (".h5", ".zarr"):
            path = Path(tmp.name) / f"s{suffix}"
            write_store(path, host_x, bodies=2 if C % 6 == 0 else 1)
            sources[f"--stream {suffix[1:]}"] = split(StoreRows(str(path), np.arange(scenes * V), device))
    for label, source in sources.items():
        draw = cycling(SceneBatches(source, I, V, True, seed=0).epoch)
        sample_rate = throughput(draw, args.steps * (10 if label == "device-resident" else 2), 3, samples, device)
        report["data_time_share"][label] = c / sample_rate
        print(f"data time, {label:<16}: {100 * c / sample_rate:7.2f} % of (c)'s step time "
              f"({1000 * samples / sample_rate:.2f} ms per batch)" + ("  (target < 5 %)" if label == "device-resident" else ""))
    if len(sources) > 1:
        feeds = {"device-resident": cycling(SceneBatches(data, I, V, True, seed=0).epoch)}
        for label, source in list(sources.items())[1:]:
            for how, ahead in (("read in line", False), ("read ahead", True)):
                feeds[f"{label}, {how}"] = cycling(SceneBatches(source, I, V, True, seed=0, read_ahead=ahead).epoch)
        model, opt = make()
        step = EagerStep(model, opt, ours_loss, bf16=bf16)
        runs: dict[str, list[float]] = {k: [] for k in feeds}
        for _ in range(args.rounds):  # rounds alternate the feeds so drifts of the machine hit all alike
            for label, draw in feeds.items():
                runs[label].append(rate(lambda: step(*draw())))
        ref = float(np.median(runs["device-resident"]))
        print(f"(c) fed from each source, median of {args.rounds} alternating rounds, torch threads "
              f"{torch.get_num_threads()}:")
        for label, r in runs.items():
            report["fed_from"][label] = float(np.median(r) / ref)
            print(f"  {label:<32}: {np.median(r):10.1f} view-samples/s = {np.median(r) / ref:.3f} of device-resident")
        print(f"  (`focovil train --stream` reads {'ahead' if reader_has_a_core(device) else 'in line'} here)")
    tmp.cleanup()
    if cuda:
        report["peak_gpu_memory_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
