"""`focovil`: train FoCoViL on a skeltools store and evaluate its frozen encoder."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .common import fail, no_verify_option, verbosity_option


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


def _presets() -> list[str]:
    from focovil.presets import PRESETS
    return list(PRESETS)


CHOICES = {"preset": _presets, "focal_grad": lambda: ["both", "pos", "neg", "none"],
           "proj_act": lambda: ["relu", "none"], "precision": lambda: ["fp32", "bf16"]}


def train_options(fn):
    """One option per TrainConfig setting, built from focovil.config (its type, help and the
    default's source); every option defaults to "not given", so that a run's settings can be
    told apart from what the command line sets (--config, --resume)."""
    from focovil.config import OPTIONS, RULES, SETTINGS, option_help
    for name in reversed(SETTINGS):
        names, kind = OPTIONS[name][0], RULES[name][0]
        if kind is bool:
            fn = click.option(*names, name, is_flag=True, default=None, help=option_help(name))(fn)
        elif name in CHOICES:
            fn = click.option(*names, name, type=click.Choice(CHOICES[name]()), default=None,
                              help=option_help(name))(fn)
        else:
            fn = click.option(*names, name, type=kind, default=None, help=option_help(name))(fn)
    return fn


@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A run's config.json: train with its settings (options given here override them), e.g. to "
                   "reproduce a run into another --out.")
@train_options
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's, all cores; set it on a shared or loaded machine).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint, with its settings "
                                             "(only --epochs, --device, --precision, --stream and --cuda-graph may "
                                             "change).")
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out (without it, training refuses).")
@click.option("--detach-focal", is_flag=True, help="The old name of --focal-grad none.")
@no_verify_option
@click.option("--quiet", is_flag=True, help="No progress bar or per-epoch lines.")
def train(config_file, threads, resume, overwrite, detach_focal, no_verify, quiet, **options):
    """Train FoCoViL on the train split of PROTOCOL; checkpoints every epoch.

    Every default is the paper's where it gives one; each option's help names its source,
    and config.json records them. Several GPUs (or CPU processes): `torchrun
    --nproc_per_node K -m skeltools.cli.focovil train ...` runs the same training with DDP; each
    process samples its own scenes and --batch is per process.
    """
    torch = _torch()
    if threads:
        torch.set_num_threads(threads)

    from focovil.config import TrainConfig, from_settings, resume_conflicts
    from focovil.device import default_device
    from focovil.train import train as run
    from skeltools.store import StoreError

    given = {k: v for k, v in options.items() if v is not None}
    if detach_focal:
        if given.get("focal_grad", "none") != "none":
            fail("--detach-focal is --focal-grad none; it contradicts --focal-grad " + given["focal_grad"])
        given["focal_grad"] = "none"
    base: dict = {}
    try:
        if resume:
            if "out" not in given:
                fail("--resume needs --out (the run folder to continue)")
            from focovil.checkpoint import CHECKPOINT, read_checkpoint, saved_config
            path = Path(given["out"]) / CHECKPOINT
            if not path.exists():
                fail(f"{given['out']}: nothing to resume (no {CHECKPOINT}); leave out --resume to start a run")
            saved = saved_config(read_checkpoint(path), path)
            conflicts = resume_conflicts(saved, given)
            if conflicts:
                fail(f"--resume continues {given['out']} with its own settings; " + "; ".join(conflicts) +
                     " (start a new run with another --out, or --overwrite)")
            base = saved.settings()
        elif config_file:
            saved = TrainConfig.load(config_file)
            base = {**saved.settings(), "device": None, "precision": None}
    except ValueError as e:
        fail(str(e))
    settings = {**base, **given}
    missing = [f"--{k}" for k in ("store", "protocol", "out") if not settings.get(k)]
    if missing:
        fail(f"missing {', '.join(missing)} (or give --config RUN/config.json)")
    settings["device"] = settings.get("device") or default_device()
    settings["precision"] = settings.get("precision") or ("bf16" if settings["device"].startswith("cuda") else "fp32")
    try:
        cfg = from_settings(settings, where="focovil train")
        path = run(cfg, resume=resume, progress=not quiet, overwrite=overwrite, verify=not no_verify)
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
@click.option("--force", is_flag=True, help="Evaluate on a store unlike the run's (another dataset, layout, frame "
                                            "count, alignment or scaling): the numbers may mean nothing.")
@no_verify_option
@click.option("--json", "as_json", is_flag=True, help="Print results.json.")
def evaluate(run_dir, store, protocol, device, no_plots, finetune, semi, finetune_epochs, finetune_lr, threads, force,
             no_verify, as_json):
    """Evaluate the frozen encoder f_e: linear probe, cosine 1-NN, GMM/KMeans purity and ARI.

    Writes results.json, tsne.png and confusion.png into the run folder (results-<store>.json,
    ... for a store other than the run's). --finetune and --semi go beyond the paper's
    protocols (they train a copy of the encoder)."""

    torch = _torch()
    if threads:
        torch.set_num_threads(threads)

    from focovil.device import resolve_device
    from focovil.evaluate import evaluate as run
    from skeltools.store import StoreError

    if not (Path(run_dir) / "checkpoint.pt").exists():
        fail(f"{run_dir}: no checkpoint.pt (train first with `focovil train --out {run_dir}`)")
    try:
        device = resolve_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        overrides = {k: v for k, v in (("epochs", finetune_epochs), ("lr", finetune_lr)) if v is not None}
        res = run(run_dir, store, protocol, device, plots=not no_plots, finetune=finetune, semi=tuple(semi),
                  finetune_settings=overrides, verify=not no_verify, force=force)
    except (StoreError, ValueError) as e:
        fail(str(e))
    if as_json:
        click.echo(json.dumps(res, indent=1))
    else:
        shown = ["linear_acc", "knn1_acc", "gmm_purity", "gmm_ari", "kmeans_purity", "kmeans_ari",
                 "cross_view_retrieval"] + [k for k in res if k == "finetune_acc" or k.startswith("semi_")]
        for k in shown:
            if res[k] is not None:
                click.echo(f"{k:<22} {res[k]:.4f}")
        if res.get("cross_view_retrieval_note"):
            click.echo(f"(cross-view retrieval: {res['cross_view_retrieval_note']})")
        click.echo(f"results in {res['results_file']}")


@main.command()
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="Run folder of `focovil train`.")
@click.option("--store", required=True, type=click.Path(), help="Store whose every sample is encoded.")
@click.option("--out", required=True, type=click.Path(), help="HDF5 file to write (FEATURES.h5).")
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available).")
@click.option("--batch", default=1024, show_default=True, type=click.IntRange(min=1), help="Clips per forward pass.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file at --out (never the store, nor another store).")
@click.option("--force", is_flag=True, help="Encode a store unlike the run's (another dataset, layout, frame count, "
                                            "alignment or scaling).")
@no_verify_option
def embed(run_dir, store, out, device, batch, overwrite, force, no_verify):
    """Encode every sample of STORE with the run's trained encoder f_e.

    Writes `features` (N, D) float32, `meta/name`, `meta/label`, `meta/view` and the run's
    config (attribute `config`, JSON): a pretrained representation for downstream models.
    In Python: `focovil.load_encoder(run).encode(poses)`."""
    torch = _torch()

    from focovil.device import resolve_device
    from focovil.embed import embed_store
    from skeltools.store import StoreError

    try:
        device = resolve_device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        path = embed_store(run_dir, store, out, device, batch, overwrite=overwrite, verify=not no_verify, force=force)
    except (StoreError, ValueError, OSError) as e:
        fail(str(e))
    click.echo(f"features written to {path}")


if __name__ == "__main__":
    main()
