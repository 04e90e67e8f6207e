"""FoCoViL's losses: the multi-view contrastive loss (Eq. 3 / Eq. 6) and reconstruction (Eq. 7)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def multiview_contrastive_loss(z: torch.Tensor, tau: float = 0.5, focal: bool = True, *,
                               detach_weights: bool = True, positives: bool = True,
                               negatives: bool = True) -> torch.Tensor:
    """Mean over the I*V anchors of the loss of Eq. 3 (focal=False) or Eq. 6 (focal=True).

    z: (I, V, D), projections of I scenes seen from V views (V >= 2, I >= 2). For anchor
    (i, u) and each positive view v != u, with r the cosine and S = exp(r / tau):
      pos = log S(iu, iv),  neg = log sum_{j != i} [S(iu, ju) + S(iu, jv)]
      Eq. 3: -sum_v (pos - neg);  Eq. 6: -sum_v (w+ pos - w- neg) with
      w+ = sigmoid(1 - r(iu, iv)),  w- = sigmoid(1/(2I-2) sum_{j != i} [(1 + r(iu, ju)) + (1 + r(iu, jv))]).
    `detach_weights` (default) treats w+ and w- as constants, so the weights focus the
    gradient of the log terms without being optimised themselves. `positives=False` /
    `negatives=False` drop one term (the covil-no-pos / covil-no-neg ablations).
    """
    I, V, _ = z.shape
    zn = F.normalize(z.float(), dim=-1)
    r = torch.einsum("iud,jvd->iujv", zn, zn)                      # (I, V, I, V) cosines
    not_i = ~torch.eye(I, dtype=torch.bool, device=z.device)       # (I, J)
    u_idx = torch.arange(V, device=z.device)
    r_same_view = r[:, u_idx, :, u_idx].permute(1, 0, 2)            # (I, U, J): r(iu, ju)
    r_pos = torch.diagonal(r, dim1=0, dim2=2).permute(2, 0, 1)      # (I, U, V): r(iu, iv)
    r_other = r.permute(0, 1, 3, 2)                                 # (I, U, V, J): r(iu, jv)
    same = r_same_view[:, :, None, :].expand(I, V, V, I)            # (I, U, V, J)
    mask = not_i[:, None, None, :].expand(I, V, V, I)
    logits = torch.cat([same, r_other], dim=-1) / tau               # (I, U, V, 2J)
    logits = logits.masked_fill(~torch.cat([mask, mask], dim=-1), float("-inf"))
    neg = torch.logsumexp(logits, dim=-1)                          # (I, U, V)
    pos = r_pos / tau
    if focal:
        w_pos = torch.sigmoid(1.0 - r_pos)
        summed = ((1 + same) * mask).sum(-1) + ((1 + r_other) * mask).sum(-1)
        w_neg = torch.sigmoid(summed / (2 * I - 2))
        if detach_weights:
            w_pos, w_neg = w_pos.detach(), w_neg.detach()
        pos, neg = w_pos * pos, w_neg * neg
    per_pair = (pos if positives else 0.0) - (neg if negatives else 0.0)
    off_diag = ~torch.eye(V, dtype=torch.bool, device=z.device)     # v != u
    return -(per_pair * off_diag).sum(dim=-1).mean()


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Eq. 7: the L2 norm over channels of each frame's error, averaged over frames and samples."""
    return (x_hat.float() - x.float()).norm(dim=-1).mean()
