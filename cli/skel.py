"""`skel`: prepare raw skeleton datasets into a store, and inspect stores."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from .common import clean_errors, fail, no_verify_option, verbosity_option

from skeltools.manifests import dataset_names

DATASETS = dataset_names()
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg")


def _store_errors():
    from skeltools.store import StoreError
    return StoreError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="skeltools-focovil")
@verbosity_option
def main() -> None:
    """Raw skeleton datasets -> one aligned, view-indexed HDF5/Zarr store.

    Typical use: `skel prepare ntu60 --raw nturgb+d_skeletons --out ntu60.h5`, then
    `skel stats ntu60.h5`. Try it without data: `skel synth ntu60 --out raw/`.
    """


@main.command()
@click.argument("dataset", type=click.Choice(DATASETS))
@click.option("--raw", "raw", default=None, type=click.Path(file_okay=False),
              help="Folder of raw files (searched recursively; non-sample files are ignored). With custom: the "
                   "folder the index's paths are relative to (default: the index file's folder).")
@click.option("--index", "index", default=None, type=click.Path(dir_okay=False, exists=True),
              help="custom only: the CSV index of your recordings (path,label,view,scene[,subject,setup,start,end,"
                   "format,name,split:<protocol>]); `skel index` writes one from file names, `skel synth custom` an "
                   "example. See the README's 'Your own recordings'.")
@click.option("--layout", default="kinect_v2_25", show_default=True,
              help="custom only: the joint layout, a shipped one (kinect_v2_25, kinect_v1_20, openni_15, "
                   "azure_kinect_32) or your own layout.json (joints, parents, roles).")
@click.option("--classes", "classes_file", default=None, type=click.Path(dir_okay=False, exists=True),
              help="custom only: class names, one per line, in label order (default: the index's labels, or "
                   "their names sorted).")
@click.option("--units", type=click.Choice(["m", "mm"]), default="m", show_default=True,
              help="custom only: the units of .npy/.npz/.csv joints (.skeleton is metres, Azure JSON millimetres).")
@click.option("--manifest", "manifest", default=None, type=click.Path(dir_okay=False, exists=True),
              help="custom only: a JSON of rules over data_manifests/datasets/custom.json (bodies, denoise, "
                   "plausibility, limits), key by key.")
@click.option("--from-mmaction", "from_mmaction", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Instead of --raw (ntu60, ntu120): an mmaction2/pyskl 3D annotation pickle (pyskl's "
                   "ntu60_3danno.pkl / ntu120_3danno.pkl, or `skel export --to mmaction`); its bodies are taken as "
                   "picked and its splits become the store's. pyskl stores float16 (up to ~1 cm of rounding: 5-13 mm "
                   "measured against --raw), so --raw is the exact path when the raw files are at hand. The pickle "
                   "is read by a restricted unpickler that refuses anything but plain data.")
@click.option("--out", required=True, type=click.Path(dir_okay=True),
              help="Store to write: PATH.h5 / PATH.hdf5 (HDF5) or PATH.zarr (Zarr v3). Replaced atomically.")
@click.option("--frames", default=50, show_default=True, type=click.IntRange(min=2),
              help="Frames per sample after linear resampling.")
@click.option("--no-align", is_flag=True, help="Skip the FoCoViL body-frame alignment (for the `reconst` ablation).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: all cores). The store is identical for any value.")
@click.option("--keep-full", "--keep-raw", "keep_full", is_flag=True,
              help="Also store the full-length (not resampled) aligned, scaled sequences as full/poses + "
                   "full/offsets (--keep-raw: the old name).")
@click.option("--strict", is_flag=True, help="Exit 1 when any file was skipped.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N sample files (by name).")
@click.option("--split-file", "split_files", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="An official PKU-MMD split file (cross-subject.txt, cross_view_v2.txt, ...): "
                   "replaces the manifest's protocol of that name (repeatable).")
@click.option("--compression", default=None,
              help="HDF5: none (default), lzf, gzip; Zarr: blosc-lz4 (default), zstd, none. "
                   "See benchmarks/RESULTS.md for sizes and read speeds.")
@click.option("--scale", "scaling", type=click.Choice(["dataset", "sample"]), default="dataset", show_default=True,
              help="dataset: one divisor for all samples, the largest |coordinate| (the store's `scale`); sample: "
                   "each sample by its own (P&C's per-clip normalisation), in meta/scale. The paper says only "
                   "'normalized to [-1, 1]'; benchmarks/ablation.py compares the two.")
@click.option("--allow-empty-splits", is_flag=True,
              help="Write the store even when a protocol ends up with an empty train or test part (with --limit, or a "
                   "partial download), leaving that protocol out; without it such a run writes nothing and exits 1.")
@click.option("--quiet", is_flag=True, help="Print nothing but warnings and errors (no progress bar, no summary).")
def prepare(dataset, raw, index, layout, classes_file, units, manifest, from_mmaction, out, frames, no_align, workers,
            keep_full, strict, limit, split_files, compression, scaling, allow_empty_splits, quiet):
    """Read every raw file of DATASET under --raw and write one store.

    Each sample: main bodies selected and denoised, aligned to its own body frame
    (FoCoViL Eq. 1-2), resampled to --frames, and divided by one dataset-wide scale so
    that all coordinates lie in [-1, 1]. Bad files never stop the run: they are listed
    in the store under skipped/ with their reason and in the summary.
    """
    from skeltools.prepare import EmptyResult, prepare_custom, prepare_from_mmaction
    from skeltools.prepare import prepare as run
    from skeltools.prepare.pool import WorkerDied
    from skeltools.store import StoreError

    if dataset == "custom":
        if index is None or from_mmaction:
            fail("custom takes your recordings through --index recordings.csv (`skel index` writes one)")
    elif index is not None:
        fail(f"--index is for custom; {dataset} is read from --raw")
    elif (raw is None) == (from_mmaction is None):
        fail("give either --raw DIR or --from-mmaction FILE.pkl")
    try:
        if index:
            summary = prepare_custom(index, out, layout=layout, classes=classes_file, raw=raw, units=units,
                                     manifest=manifest, frames=frames, align=not no_align, workers=workers,
                                     keep_full=keep_full, limit=limit, progress=not quiet, compression=compression,
                                     scaling=scaling, allow_empty_splits=allow_empty_splits)
        elif from_mmaction:
            summary = prepare_from_mmaction(dataset, from_mmaction, out, frames=frames, align=not no_align,
                                            compression=compression, progress=not quiet, scaling=scaling,
                                            allow_empty_splits=allow_empty_splits)
        else:
            summary = run(dataset, raw, out, frames=frames, align=not no_align, workers=workers, keep_full=keep_full,
                          limit=limit, progress=not quiet, split_files=split_files, compression=compression,
                          scaling=scaling, allow_empty_splits=allow_empty_splits)
    except EmptyResult as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except (StoreError, FileNotFoundError, ValueError, WorkerDied) as e:
        fail(str(e))
    except KeyboardInterrupt as e:   # Ctrl-C, or SIGTERM (prepare.Stopped): exit 128 + the signal's number
        click.echo(f"interrupted: nothing written to {out}", err=True)
        sys.exit(128 + getattr(e, "signum", 2))
    for note in summary.notes:
        click.echo(f"warning: {note}", err=True)
    if not quiet:
        click.echo(summary.text())
    if strict and summary.skipped:
        if quiet:
            click.echo(f"error: {len(summary.skipped)} items skipped (--strict); `skel stats {out}` lists them", err=True)
        sys.exit(1)


@main.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the table.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Also save histograms of raw lengths and per-class / per-view counts to this PNG.")
def stats(path, as_json, plot):
    """Summarise a store: samples, scenes, classes, views, splits, skipped files, lengths."""
    from skeltools.stats import plot_stats, stats_table, store_stats
    from skeltools.store import Store

    if plot and Path(plot).suffix.lower() not in IMAGE_SUFFIXES:
        fail(f"--plot {plot}: give an image file ({', '.join(IMAGE_SUFFIXES)})")

    @clean_errors(_store_errors(), OSError)
    def go():
        s = store_stats(path)
        click.echo(json.dumps(s, indent=1) if as_json else stats_table(s))
        if plot:
            with Store(path) as st:
                plot_stats(s, plot, st.read("meta/frames"))
            if not as_json:
                click.echo(f"plot written to {plot}")
    go()


@main.command()
@click.argument("store", type=click.Path())
@click.option("--to", "target", required=True, type=click.Choice(["mmaction", "ctrgcn"]),
              help="mmaction: the mmaction2/pyskl annotation pickle; ctrgcn: CTR-GCN's .npz arrays of one protocol.")
@click.option("--out", required=True, type=click.Path(), help="FILE.pkl (mmaction) or FILE.npz (ctrgcn).")
@click.option("--protocol", default=None,
              help="The split to export (ctrgcn: required; mmaction: only this protocol's splits, default every one).")
@click.option("--metres", is_flag=True, help="Multiply each sample by its scale: metres, as CTR-GCN's and pyskl's own "
                                             "NTU arrays hold (default: store units, |x| <= 1).")
@click.option("--frames", type=click.IntRange(min=2), default=None,
              help="Resample every sequence to this many frames (from the full-length sequences when the store kept "
                   "them with --keep-full, else from its stored frames). CTR-GCN's own NTU arrays hold 300 frames "
                   "and its feeder crops windows of 64.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file at --out (never the store, nor another store).")
@no_verify_option
def export(store, target, out, protocol, metres, frames, overwrite, no_verify):
    """Write a store's samples in a format other tools train on.

    Both targets: axes in each sample's body frame (axis 0 along the spine, 1 along the hips,
    2 their cross product; camera axes for a --no-align store), origin at body 0's spine base
    in its first frame, units of metres / scale (--metres: metres), the store's frames per
    sample (--frames N: resampled).

    mmaction: {"split": {"<protocol>_train"/"_val": [names]}, "annotations": [{"frame_dir",
    "label", "keypoint" (M, T, J, 3) float32 (absent bodies dropped), "total_frames",
    "scale"}]}. ctrgcn: x_train (N, T, M*J*3) float32, y_train (N, C) one-hot, x_test, y_test."""
    from skeltools.formats.ctrgcn import export_ctrgcn
    from skeltools.formats.mmaction import export_mmaction
    from skeltools.store import require_valid

    @clean_errors(_store_errors(), OSError, ValueError)
    def go():
        require_valid(store, not no_verify)
        options = {"metres": metres, "frames": frames, "verify": not no_verify, "overwrite": overwrite}
        if target == "ctrgcn":
            if not protocol:
                fail("--to ctrgcn needs --protocol (e.g. xsub, xview)")
            arrays, how = export_ctrgcn(store, protocol, out, **options)
            click.echo(f"wrote {out}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()) + f" ({how})")
        else:
            data, how = export_mmaction(store, out, protocol=protocol, **options)
            click.echo(f"wrote {out}: {len(data['annotations'])} annotations, splits {', '.join(data['split'])} ({how})")
    go()


@main.command()
@click.argument("path", type=click.Path())
@click.option("--quick", is_flag=True, help="Structure only (attributes, arrays, indices, chunks present); "
                                            "do not re-read the poses against their checksums.")
def check(path, quick):
    """Validate a store: schema, shapes, dtypes, index ranges, splits, views, attributes,
    version, and (unless --quick) every chunk's content against the checksums that
    `prepare` recorded. Exit 0 when valid; exit 1 with one line per problem."""
    from skeltools.store import check_store

    problems, notes = check_store(path, content=not quick)
    for note in notes:
        click.echo(f"note: {note}")
    for problem in problems:
        click.echo(f"{path}: {problem}")
    if problems:
        sys.exit(1)
    click.echo(f"{path}: valid store" + (" (structure only)" if quick else ""))


@main.command()
@click.argument("dataset", type=click.Choice(DATASETS))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write raw files into.")
@click.option("--scenes", default=20, show_default=True, type=click.IntRange(min=1),
              help="Scenes to generate; each is seen by every camera of the dataset.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same bytes.")
@click.option("--classes", default=10, show_default=True, type=click.IntRange(min=1),
              help="How many of the dataset's classes to use (spread over its range).")
@click.option("--rigid", is_flag=True,
              help="Views differ by the rigid camera transform only (no view-specific occlusion errors).")
@click.option("--no-broken", is_flag=True, help="Do not add the broken and non-sample files.")
@click.option("--hard", is_flag=True,
              help="NTU only: the ablation corpus (classes sharing motion primitives that differ in one limb or "
                   "phase, per-subject bone lengths and style, speed, camera heights, biased occlusion, per-camera "
                   "jitter); see skeltools/synth/hard.py and the README. Use --classes 60 for all 12 x 5 classes.")
def synth(dataset, out, scenes, seed, classes, rigid, no_broken, hard):
    """Write a synthetic raw corpus in DATASET's own raw format.

    Every scene is one 3D performance of a class seen from each camera; by default each
    camera also infers the joints it cannot see (tracking state 1), as Kinect does.
    A few broken files, a file on the dataset's missing list and two non-sample files
    are added so that `prepare` has something to skip.
    """
    from skeltools.synth.generate import synth as run

    try:
        res = run(dataset, out, scenes=scenes, seed=seed, rigid=rigid, classes=classes, broken=not no_broken,
                  hard=hard)
    except (ValueError, OSError) as e:
        fail(str(e))
    click.echo(f"wrote {len(res.samples)} samples ({scenes} scenes), {len(res.broken)} broken or listed files "
               f"and {len(res.ignored)} non-sample files to {os.fspath(res.out)}")
    if dataset == "custom":
        click.echo(f"next: skel prepare custom --index {Path(out) / 'recordings.csv'} --layout "
                   f"{Path(out) / 'my_layout.json'} --classes {Path(out) / 'classes.txt'} --out mine.h5")


@main.command()
@click.option("--raw", required=True, type=click.Path(file_okay=False, exists=True),
              help="The folder holding your recordings (searched recursively).")
@click.option("--pattern", required=True,
              help="Paths under --raw with {field} placeholders, e.g. '{subject}/{scene}_{view}.json'; it must "
                   "name {scene} and {view}, and may name {label}, {subject}, {setup} or anything else (kept as "
                   "a column). Files that do not match are left out.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The index CSV to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def index(raw, pattern, out, overwrite):
    """Write the index `skel prepare custom` reads, from your files' names.

    One row per matching file: path (relative to --raw), label (empty unless the pattern
    names it: fill it in), view, scene and the pattern's other fields. Then:
    `skel prepare custom --index OUT --raw RAW --layout ... --out mine.h5`.
    """
    from skeltools.index import write_index_from_pattern

    @clean_errors(OSError, ValueError)
    def go():
        rows = write_index_from_pattern(raw, pattern, out, overwrite=overwrite)
        unlabelled = sum(not r["label"] for r in rows)
        click.echo(f"wrote {len(rows)} rows to {out}" + (f"; {unlabelled} without a label: fill in the label column"
                                                         if unlabelled else ""))
    go()


@main.command()
@click.argument("store", type=click.Path())
@click.argument("sample")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--frames", default=5, show_default=True, type=click.IntRange(min=1), help="Frames drawn per view.")
@click.option("--raw", "raw_dir", default=None, type=click.Path(exists=True),
              help="The raw folder the store was prepared from (a custom store: the folder of its index file, or "
                   "the index itself): also draw each view before alignment.")
def show(store, sample, out, frames, raw_dir):
    """Draw SAMPLE (a name like S001C002P003R001A004, or an index) and every view of its scene,
    side by side: after alignment (front and side), and with --raw before it, as each camera
    saw it. That the aligned views agree is what the store promises."""
    from skeltools.show import show_sample

    @clean_errors(_store_errors(), OSError, ValueError)
    def go():
        names, drawn = show_sample(store, sample, out, frames, raw_dir)
        click.echo(f"drew {', '.join(names)} to {out}" + (f" ({drawn} frames per panel: the most that stay readable)"
                                                          if drawn < frames else ""))
    go()


if __name__ == "__main__":
    main()
