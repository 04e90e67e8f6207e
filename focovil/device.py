"""Which device a command runs on: checked against this PyTorch, one line when it cannot."""
from __future__ import annotations

import torch


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_device(name: str | None) -> str:
    """`cpu`, `cuda` or `cuda:N` (None: cuda when available); ValueError in one line otherwise."""
    name = name or default_device()
    if name == "cpu":
        return name
    if name != "cuda" and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"--device {name}: use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}, but no GPU is visible"
        raise ValueError(f"--device {name}: this PyTorch ({torch.__version__}) is {build}; use --device cpu")
    if ":" in name and int(name[5:]) >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) visible")
    return name
