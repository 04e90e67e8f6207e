"""What a prepare run reports: counts, skip reasons, throughput and where the time went."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..formats.raw_sample import Skipped


class EmptyResult(ValueError):
    """A run that would write a store with nothing usable in it (no sample, or a protocol with
    an empty part): nothing is written, and the command exits 1."""


@dataclass
class PrepareSummary:
    out: Path
    written: int = 0
    skipped: list[tuple[str, Skipped]] = field(default_factory=list)
    ignored: int = 0
    seconds: float = 0.0
    bytes_read: int = 0
    worker_seconds: float = 0.0       # reading and transforming: CPU seconds summed over the batches (in whichever process)
    warm_up_seconds: float = 0.0      # compiling (first run) or loading the kernels, before the first unit
    compiled: int = 0                 # kernel variants compiled (not loaded from the cache) by the warm-up
    source: str = "files"             # what a unit is: "files" (raw) or "annotations" (a pickle)
    parent_cpu_seconds: float = 0.0   # the writing process's own CPU time, the workers' share taken out
    notes: list[str] = field(default_factory=list)   # warnings the user should read (shown even with --quiet)

    @property
    def compile_seconds(self) -> float:
        return self.warm_up_seconds

    @property
    def mb_per_s(self) -> float:
        """Throughput, compilation left out (it happens once per installation)."""
        return self.bytes_read / 1e6 / max(self.seconds - self.compile_seconds, 1e-9)

    def scaling_ceiling(self) -> float:
        """How many workers the writing process could keep busy: the workers' time per sample
        over the parent's (beyond it, the parent is the bottleneck)."""
        return self.worker_seconds / max(self.parent_cpu_seconds, 1e-9)

    def ceiling_text(self) -> str:
        """The ceiling in words: under 1.5, the writing process is the bottleneck at any count."""
        ceiling = self.scaling_ceiling()
        return f"{ceiling:.0f} workers" if ceiling >= 1.5 else "the writer is the bottleneck; more workers will not help"

    def reasons(self) -> Counter:
        """Skipped counts by reason code."""
        return Counter(r.code for _, r in self.skipped)

    def reason_lines(self) -> list[str]:
        """A line per reason code, most common first, with one real example of it."""
        example: dict[str, tuple[str, Skipped]] = {}
        for name, why in self.skipped:
            example.setdefault(why.code, (name, why))
        def shown(name: str, why: Skipped) -> str:
            return name if why.detail == why.code else f"{name}: {why.detail}"
        return [f"  {n:6d}  {code}  (e.g. {shown(*example[code])})" for code, n in self.reasons().most_common()]

    def text(self) -> str:
        lines = [f"wrote {self.written} samples to {self.out}",
                 f"skipped {len(self.skipped)}" + (":" if self.skipped else ""),
                 *self.reason_lines(),
                 *([f"ignored {self.ignored} files that are not samples"] if self.source == "files" else []),
                 f"{self.seconds:.2f} s, {self.bytes_read / 1e6:.1f} MB read, {self.mb_per_s:.1f} MB/s"
                 + (self.kernel_note() if self.compile_seconds >= 0.05 else "")]
        if self.source == "files":     # the pool's figures: an annotation pickle is read in one process
            units = max(self.written + len(self.skipped), 1)
            lines.append(f"per sample: workers {self.worker_seconds / units * 1e6:.0f} us, writer "
                         f"{self.parent_cpu_seconds / units * 1e6:.0f} us "
                         f"(scaling ceiling: {self.ceiling_text()})")
        return "\n".join(lines)

    def kernel_note(self) -> str:
        if self.compiled:
            return (f" (not counting {self.compile_seconds:.1f} s compiling {self.compiled} kernels: a first run after "
                    "an install or a change; later runs load them)")
        return f" (not counting {self.compile_seconds:.1f} s loading the compiled kernels)"
