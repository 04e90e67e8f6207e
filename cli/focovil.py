"""`focovil`: train FoCoViL on a skeltools store and evaluate its frozen encoder."""
from __future__ import annotations

import json

import click

from .common import fail, verbosity_option


def _torch():
    """torch, or one line saying how to install the trainer (`skel` needs no torch)."""
    try:
        import torch
    except ImportError:
        fail("focovil needs PyTorch: pip install 'skeltools-focovil[train]' (or any torch>=2.3)")
    return torch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="skeltools-focovil")
@verbosity_option
def main() -> None:
    """Train and evaluate FoCoViL (focalized contrastive view-invariant learning).

    Typical use: `focovil train --store ntu60.h5 --protocol xview --out runs/a`, then
    `focovil eval --run runs/a --json`.
    """


def _default(name: str) -> object:
    from focovil.config import TrainConfig
    return TrainConfig.__dataclass_fields__[name].default


def _source(name: str) -> str:
    from focovil.config import DEFAULT_SOURCES
    return f"Source: {DEFAULT_SOURCES[name]}."


def _presets() -> list[str]:
    from focovil.presets import PRESETS
    return list(PRESETS)


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A run's config.json: train with its settings (options given here override them), e.g. to "
                   "reproduce a run into another --out.")
@click.option("--store", type=click.Path(), default=None, help="Store written by `skel prepare`.  [required]")
@click.option("--protocol", default=None, help="Split to train on (e.g. xsub, xview, xset).  [required]")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run folder (checkpoint, metrics, config).  [required]")
@click.option("--preset", default="focovil", show_default=True, type=click.Choice(_presets()),
              help="Method or ablation (Table 8 of the paper).")
@click.option("--epochs", default=_default("epochs"), show_default=True, type=click.IntRange(min=1),
              help=f"Training epochs (one pass over the split's scenes each). {_source('epochs')}")
@click.option("--batch", type=click.IntRange(min=2), default=None,
              help=f"Scenes per step (default: 128 for NTU, 64 otherwise). {_source('batch')}")
@click.option("--hidden", default=_default("hidden"), show_default=True, type=click.IntRange(min=2),
              help=f"Representation size: the bi-GRU has hidden/2 units per direction. {_source('hidden')}")
@click.option("--proj", default=None,
              help=f"Projection sizes, e.g. 1024-512-1024 (default hidden-hidden/2-hidden). {_source('proj')}")
@click.option("--tau", default=_default("tau"), show_default=True, type=click.FloatRange(min=0, min_open=True),
              help=f"Temperature of the similarity S (Eq. 4). {_source('tau')}")
@click.option("--alpha", default=_default("alpha"), show_default=True, type=click.FloatRange(min=0),
              help=f"Weight of the contrastive loss. {_source('alpha')}")
@click.option("--beta", type=click.FloatRange(min=0), default=None,
              help=f"Weight of the reconstruction loss (default 1; UWA3D 2). {_source('beta')}")
@click.option("--lr", default=_default("lr"), show_default=True, type=click.FloatRange(min=0, min_open=True),
              help=f"Adam learning rate. {_source('lr')}")
@click.option("--lr-decay", default=_default("lr_decay"), show_default=True, type=click.FloatRange(0, 1),
              help=f"Learning-rate factor per decay step. {_source('lr_decay')}")
@click.option("--lr-decay-every", default=_default("lr_decay_every"), show_default=True, type=click.IntRange(min=1),
              help=f"Epochs between decay steps. {_source('lr_decay_every')}")
@click.option("--views-per-scene", type=click.IntRange(min=2), default=None,
              help=f"Draw this many views per scene instead of all. Default: {_source('views_per_scene')}")
@click.option("--detach-focal", is_flag=True,
              help="Treat the focal weights w+ and w- as constants (no gradient through them). Default off: "
                   f"{_source('detach_focal_weights')}")
@click.option("--data-fraction", default=1.0, show_default=True, type=click.FloatRange(0.0, 1.0, min_open=True),
              help="Share of training scenes to use (Table 10).")
@click.option("--seed", default=_default("seed"), show_default=True,
              help="Seeds the initialisation, the batch order and the view draws.")
@click.option("--device", default=None, help="cpu or cuda (default: cuda when available).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default=None,
              help="bf16 autocast on CUDA (default there), fp32 on the CPU.")
@click.option("--stream", is_flag=True,
              help="Read each batch from the store instead of holding the split on the device (for splits that do "
                   "not fit; fastest from an uncompressed HDF5 store). Beside a GPU the next batch is read while "
                   "the current one trains.")
@click.option("--cuda-graph", is_flag=True,
              help="Capture the whole step (forward, backward, Adam) as one CUDA graph and replay it: removes the "
                   "kernel-launch cost that bounds small batches. One process, CUDA only; see benchmarks/RESULTS.md.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's, all cores; set it on a shared or loaded machine).")
@click.option("--resume", is_flag=True, help="Continue from the run folder's last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out (without it, training refuses).")
@click.option("--quiet", is_flag=True, help="No progress bar or per-epoch lines.")
@click.pass_context
def train(ctx, config_file, store, protocol, out, preset, epochs, batch, hidden, proj, tau, alpha, beta, lr, lr_decay, lr_decay_every,
          views_per_scene, detach_focal, data_fraction, seed, device, precision, stream, cuda_graph, threads, resume,
          overwrite, quiet):
    """Train FoCoViL on the train split of PROTOCOL; checkpoints every epoch.

    Every default is the paper's where it gives one; each option's help names its source,
    and config.json records them. Several GPUs (or CPU processes): `torchrun
    --nproc_per_node K -m skeltools.cli.focovil train ...` runs the same training with DDP; each
    process samples its own scenes and --batch is per process.
    """
    torch = _torch()
    if threads:
        torch.set_num_threads(threads)

    from focovil.train import TrainConfig
    from focovil.train import train as run
    from skeltools.store import StoreError

    given = {"store": store, "protocol": protocol, "out": out, "preset": preset, "epochs": epochs, "batch": batch,
             "hidden": hidden, "proj": proj, "tau": tau, "alpha": alpha, "beta": beta, "lr": lr, "lr_decay": lr_decay,
             "lr_decay_every": lr_decay_every, "views_per_scene": views_per_scene,
             "detach_focal_weights": detach_focal, "data_fraction": data_fraction, "seed": seed, "device": device,
             "precision": precision, "stream": stream, "cuda_graph": cuda_graph}
    settings = dict(given)
    if config_file:
        option_of = {"detach_focal_weights": "detach_focal"}
        from_command_line = {k for k in given if ctx.get_parameter_source(option_of.get(k, k)).name == "COMMANDLINE"}
        try:
            saved = TrainConfig.load(config_file)
        except (ValueError, TypeError) as e:
            fail(f"{config_file}: not a focovil config.json ({e})")
        settings = {**{k: getattr(saved, k) for k in given}, **{k: given[k] for k in from_command_line}}
        if "device" not in from_command_line:
            settings["device"] = settings["precision"] = None   # the machine decides, as without --config
    missing = [f"--{k}" for k in ("store", "protocol", "out") if not settings[k]]
    if missing:
        fail(f"missing {', '.join(missing)} (or give --config RUN/config.json)")
    settings["device"] = settings["device"] or ("cuda" if torch.cuda.is_available() else "cpu")
    settings["precision"] = settings["precision"] or ("bf16" if settings["device"].startswith("cuda") else "fp32")
    cfg = TrainConfig(**settings)
    try:
        path = run(cfg, resume=resume, progress=not quiet, overwrite=overwrite)
    except (StoreError, ValueError) as e:
        fail(str(e))
    click.echo(f"run written to {path} (checkpoint.pt, metrics.csv, curves.png, config.json)")


@main.command("eval")
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="Run folder of `focovil train`.")
@click.option("--store", type=click.Path(), default=None, help="Store to evaluate on (default: the run's).")
@click.option("--protocol", default=None, help="Protocol (default: the run's).")
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available).")
@click.option("--no-plots", is_flag=True, help="Skip tsne.png and confusion.png.")
@click.option("--finetune", is_flag=True, help="Also fine-tune f_e + a softmax layer on all training labels.")
@click.option("--semi", type=click.FloatRange(0.0, 1.0, min_open=True), multiple=True,
              help="Also fine-tune on this fraction of the training labels (repeatable: --semi 0.01 --semi 0.1).")
@click.option("--finetune-epochs", type=click.IntRange(min=1), default=None, help="Fine-tuning epochs (default 50).")
@click.option("--finetune-lr", type=float, default=None, help="Fine-tuning learning rate (default 1e-3).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's, all cores; set it on a shared or loaded machine).")
@click.option("--json", "as_json", is_flag=True, help="Print results.json.")
def evaluate(run_dir, store, protocol, device, no_plots, finetune, semi, finetune_epochs, finetune_lr, threads, as_json):
    """Evaluate the frozen encoder f_e: linear probe, cosine 1-NN, GMM/KMeans purity and ARI.

    Writes results.json, tsne.png and confusion.png into the run folder. --finetune and
    --semi go beyond the paper's protocols (they train a copy of the encoder)."""
    from pathlib import Path

    torch = _torch()
    if threads:
        torch.set_num_threads(threads)

    from focovil.evaluate import evaluate as run
    from focovil.train import resolve_device
    from skeltools.store import StoreError

    if not (Path(run_dir) / "checkpoint.pt").exists():
        fail(f"{run_dir}: no checkpoint.pt (train first with `focovil train --out {run_dir}`)")
    try:
        device = resolve_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        overrides = {k: v for k, v in (("epochs", finetune_epochs), ("lr", finetune_lr)) if v is not None}
        res = run(run_dir, store, protocol, device, plots=not no_plots, finetune=finetune, semi=tuple(semi),
                  finetune_settings=overrides)
    except (StoreError, ValueError) as e:
        fail(str(e))
    if as_json:
        click.echo(json.dumps(res, indent=1))
    else:
        shown = ["linear_acc", "knn1_acc", "gmm_purity", "gmm_ari", "kmeans_purity", "kmeans_ari",
                 "cross_view_retrieval"] + [k for k in res if k == "finetune_acc" or k.startswith("semi_")]
        for k in shown:
            v = res[k]
            why = res.get("cross_view_retrieval_note", "not computed") if k == "cross_view_retrieval" else "not computed"
            click.echo(f"{k:<22} {f'n/a ({why})' if v is None else f'{v:.4f}'}")
        click.echo(f"results in {Path(run_dir) / 'results.json'}")


@main.command()
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="Run folder of `focovil train`.")
@click.option("--store", required=True, type=click.Path(), help="Store whose every sample is encoded.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="HDF5 file to write (FEATURES.h5).")
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available).")
@click.option("--batch", default=1024, show_default=True, type=click.IntRange(min=1), help="Clips per forward pass.")
def embed(run_dir, store, out, device, batch):
    """Encode every sample of STORE with the run's trained encoder f_e.

    Writes `features` (N, D) float32, `meta/name`, `meta/label`, `meta/view` and the run's
    config (attribute `config`, JSON): a pretrained representation for downstream models.
    In Python: `focovil.load_encoder(run).encode(poses)`."""
    torch = _torch()

    from focovil.embed import embed_store
    from focovil.train import resolve_device
    from skeltools.store import StoreError

    try:
        device = resolve_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        path = embed_store(run_dir, store, out, device, batch)
    except (StoreError, ValueError, OSError) as e:
        fail(str(e))
    click.echo(f"features written to {path}")


if __name__ == "__main__":
    main()
