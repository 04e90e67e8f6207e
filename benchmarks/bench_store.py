"""Store backends and compression, side by side on one synthetic corpus.

For HDF5 (none, lzf, gzip) and Zarr (none, zstd, blosc-lz4): prepare time (its own
summary), size on disk, a full sequential read of `poses`, and streamed training batches
(random scenes x views as sorted row selections, as `focovil train --stream` reads them),
in samples/s. Ratios are against HDF5 without compression.

    python benchmarks/bench_store.py [--scenes 600] [--workdir bench_out/store] [--raw FOLDER]
"""
from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import numpy as np

from corpus import add_corpus_options, ntu60_corpus

VARIANTS = [("h5", "none"), ("h5", "lzf"), ("h5", "gzip"), ("zarr", "none"), ("zarr", "zstd"), ("zarr", "blosc-lz4")]


def disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def read_all(path: Path) -> float:
    from skeltools.store import Store
    start = time.perf_counter()
    with Store(path) as st:
        n = len(st)
        for lo in range(0, n, 1024):
            st.read("poses", slice(lo, min(n, lo + 1024)))
    return n / (time.perf_counter() - start)


def read_batches(path: Path, batches: int, batch: int, seed: int = 0) -> float:
    from skeltools.store import Store
    rng = np.random.default_rng(seed)
    with Store(path) as st:
        n = len(st)
        picks = [np.unique(rng.choice(n, size=min(batch, n), replace=False)) for _ in range(batches)]
        start = time.perf_counter()
        rows = sum(len(st.read_rows("poses", p)) for p in picks)
    return rows / (time.perf_counter() - start)


def zarr_chunk_trial(h5_store: Path, work: Path, batches: int, batch: int) -> None:
    """Blosc-lz4 Zarr copies of `poses` with smaller chunks, or 64-sample shards of small inner
    chunks: does a smaller decode unit make streamed rows cheaper?"""
    import zarr
    from zarr.codecs import BloscCodec
    from skeltools.store import Store
    with Store(h5_store) as st:
        data = st.read("poses")
    frame = data.shape[1:]
    print(f"zarr chunk trial on {len(data)} samples (blosc-lz4):")
    for chunk, shard in ((64, None), (16, None), (8, None), (8, 64), (1, 64)):
        path = work / f"trial_{chunk}_{shard}.zarr"
        arr = zarr.open_group(str(path), mode="w", zarr_format=3).create_array(
            "poses", shape=(0,) + frame, dtype=np.float32, chunks=(chunk,) + frame,
            shards=(shard,) + frame if shard else None,
            compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"))
        for lo in range(0, len(data), 64):
            arr.append(data[lo:lo + 64], axis=0)
        arr = zarr.open_group(str(path), mode="r")["poses"]
        start = time.perf_counter()
        for lo in range(0, len(data), 1024):
            arr[lo:lo + 1024]
        seq = len(data) / (time.perf_counter() - start)
        rng = np.random.default_rng(0)
        picks = [np.unique(rng.choice(len(data), size=min(batch, len(data)), replace=False)) for _ in range(batches)]
        start = time.perf_counter()
        rows = sum(len(arr.oindex[p]) for p in picks)
        stream = rows / (time.perf_counter() - start)
        print(f"  chunks {chunk:>2}{f' in shards of {shard}' if shard else '':<15} {disk_size(path) / 1e6:7.1f} MB  "
              f"seq {seq:8.0f} samples/s  stream {stream:7.0f} rows/s")
        shutil.rmtree(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_options(ap, scenes=600, workdir="bench_out/store")
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--batch", type=int, default=384, help="rows per streamed batch (128 scenes x 3 views)")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--chunk-trial", action="store_true", help="also time Zarr with smaller chunks and with shards")
    args = ap.parse_args()

    from skeltools.prepare import prepare

    work, raw = ntu60_corpus(args, "raw")
    prepare("ntu60", raw, work / "warm.h5", workers=1, limit=3, progress=False)
    rows, base = [], None
    for kind, comp in VARIANTS:
        out = work / f"s_{comp}.{kind}"
        summary = prepare("ntu60", raw, out, workers=args.workers, compression=comp, progress=False)
        res = {"store": f"{'HDF5' if kind == 'h5' else 'Zarr'} {comp}", "prepare_s": summary.seconds,
               "mb": disk_size(out) / 1e6, "seq": read_all(out), "stream": read_batches(out, args.batches, args.batch)}
        base = base or res
        rows.append(res)
        if args.chunk_trial and (kind, comp) == ("h5", "none"):
            zarr_chunk_trial(out, work, args.batches, args.batch)
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    print(f"{summary.written} samples; streamed batches of {args.batch} random rows; ratios vs {base['store']}")
    print(f"{'store':<16} {'prepare s':>9} {'size MB':>8} {'seq read/s':>11} {'x':>5} {'stream rows/s':>13} {'x':>5}")
    for r in rows:
        print(f"{r['store']:<16} {r['prepare_s']:9.2f} {r['mb']:8.1f} {r['seq']:11.0f} {r['seq'] / base['seq']:5.2f} "
              f"{r['stream']:13.0f} {r['stream'] / base['stream']:5.2f}")


if __name__ == "__main__":
    main()
