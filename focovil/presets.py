"""The presets of `focovil train --preset`: Table 8's rows as data, not branches."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    contrastive: bool = True    # use the multi-view contrastive term
    focal: bool = True          # Eq. 6 focal pair weights (else Eq. 3)
    projection: bool = True     # g exists (else contrast f_e(x) and start the decoder from f_e(x))
    positives: bool = True      # pull the other views of the scene
    negatives: bool = True      # push the other scenes
    aligned: bool = True        # the store must (True) / must not (False) be view-aligned
    description: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "focovil": Preset(description="FoCoViL: focal multi-view contrastive loss on g + reconstruction"),
    "covil": Preset(focal=False, description="CoViL: Eq. 3 without focal weights + reconstruction"),
    "covil-no-g": Preset(focal=False, projection=False,
                         description="CoViL without g: contrast and decode from f_e directly"),
    "covil-no-pos": Preset(focal=False, positives=False, description="CoViL with only the negative term"),
    "covil-no-neg": Preset(focal=False, negatives=False, description="CoViL with only the positive term"),
    "ali-reconst": Preset(contrastive=False, description="reconstruction only, on an aligned store"),
    "reconst": Preset(contrastive=False, aligned=False, description="reconstruction only, on a --no-align store"),
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name]
