"""The FoCoViL auto-encoder: bi-GRU encoder f_e, projection g, zero-input GRU decoder f_d."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def parse_proj(spec: str) -> list[int]:
    """'1024-512-1024' -> [1024, 512, 1024] (the Table 9 notation)."""
    try:
        sizes = [int(s) for s in spec.split("-")]
    except ValueError:
        raise ValueError(f"--proj {spec!r}: expected sizes joined by '-', e.g. 1024-512-1024") from None
    if len(sizes) < 2:
        raise ValueError(f"--proj {spec!r}: needs at least an input and an output size")
    return sizes


class FoCoViL(nn.Module):
    """f_e: 3-layer bidirectional GRU; its representation is the last layer's final forward
    and backward states concatenated (`hidden` = 2 x units per direction, 1024 by default).
    g: fully connected layers `proj` (first and last size = `hidden`), with `proj_act` between
    them (ReLU, or "none": a linear projection, as the paper's words say).
    f_d: 1-layer GRU of width `hidden`, initial state g(f_e(x)), fed zeros, then a linear
    layer to the frame size.
    `projection=False` builds no g at all (the covil-no-g ablation): the contrastive loss
    and the decoder's initial state both take f_e(x) itself."""

    def __init__(self, channels: int, hidden: int = 1024, layers: int = 3, proj: list[int] | None = None,
                 projection: bool = True, proj_act: str = "relu"):
        super().__init__()
        if hidden % 2:
            raise ValueError("hidden must be even (two directions)")
        proj = proj or [hidden, hidden // 2, hidden]
        if proj[0] != hidden or proj[-1] != hidden:
            raise ValueError(f"projection sizes {proj} must start and end with hidden={hidden}")
        self.channels, self.hidden = channels, hidden
        self.encoder = nn.GRU(channels, hidden // 2, num_layers=layers, bidirectional=True, batch_first=True)
        if proj_act not in ("relu", "none"):
            raise ValueError(f"proj_act {proj_act!r}: relu or none")
        blocks: list[nn.Module] = []
        for a, b in zip(proj[:-1], proj[1:]):
            blocks += [nn.Linear(a, b), nn.ReLU() if proj_act == "relu" else nn.Identity()]
        self.projection = nn.Sequential(*blocks[:-1]) if projection else nn.Identity()
        self.decoder = nn.GRU(channels, hidden, num_layers=1, batch_first=True)
        self.readout = nn.Linear(hidden, channels)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """f_e(x): (B, T, C) -> (B, hidden)."""
        return final_states(self.encoder, x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (f_e(x), g(f_e(x)), reconstruction of x); without g the second is f_e(x)."""
        h = self.encode(x)
        z = self.projection(h)
        out, _ = self.decoder(torch.zeros_like(x), z.unsqueeze(0).contiguous())
        return h, z, self.readout(out)


def final_states(encoder: nn.GRU, x: torch.Tensor) -> torch.Tensor:
    """The representation: the last layer's final forward and backward states, concatenated."""
    _, h = encoder(x)
    return torch.cat([h[-2], h[-1]], dim=-1)


@torch.no_grad()
def features(encode, x: torch.Tensor, batch: int = 4096) -> np.ndarray:
    """encode(rows) of every row of x (N, T, C), in batches (bf16 autocast on CUDA), as one
    float32 array on the host; `encode` maps (B, T, C) to (B, D) (f_e)."""
    cuda = x.device.type == "cuda"
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
        parts = [encode(x[i:i + batch]).float().cpu().numpy() for i in range(0, len(x), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
