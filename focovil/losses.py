"""FoCoViL's losses: the multi-view contrastive loss (Eq. 3 / Eq. 6) and reconstruction (Eq. 7)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def multiview_contrastive_loss(z: torch.Tensor, tau: float = 0.5, focal: bool = True,
                               mask: torch.Tensor | None = None, *, detach_weights: bool = False,
                               positives: bool = True, negatives: bool = True) -> torch.Tensor:
    """Mean over the anchors of the loss of Eq. 3 (focal=False) or Eq. 6 (focal=True).

    z: (I, V, D), projections of I scenes seen from V views. For anchor (i, u) and each
    positive view v != u, with r the cosine and S = exp(r / tau):
      pos = log S(iu, iv),  neg = log sum_{j != i} [S(iu, ju) + S(iu, jv)]
      Eq. 3: -sum_v (pos - neg);  Eq. 6: -sum_v (w+ pos - w- neg) with
      w+ = sigmoid(1 - r(iu, iv)),  w- = sigmoid(1/(2I-2) sum_{j != i} [(1 + r(iu, ju)) + (1 + r(iu, jv))]).
    The gradient flows through w+ and w- (Eq. 6 differentiated as written: focalization is
    not a plain reweighting); `detach_weights=True` treats them as constants instead.
    `mask` (I, V) bool says which views of each scene are present: an anchor counts when
    present with at least one other present view; its positives are its scene's other
    present views, its negatives the present views u and v of the other scenes, and w- is
    the mean of (1 + r) over those same present terms. The loss is the mean over counted
    anchors; mask=None (or all True) is the mean over all I*V anchors.
    `positives=False` / `negatives=False` drop one term (the covil-no-pos / covil-no-neg ablations).
    """
    I, V, _ = z.shape
    present = torch.ones(I, V, dtype=torch.bool, device=z.device) if mask is None else mask.to(z.device, torch.bool)
    zn = F.normalize(z.float() if z.dtype != torch.float64 else z, dim=-1)
    r = torch.einsum("iud,jvd->iujv", zn, zn)                      # (I, V, I, V) cosines
    not_i = ~torch.eye(I, dtype=torch.bool, device=z.device)       # (I, J)
    u_idx = torch.arange(V, device=z.device)
    r_same_view = r[:, u_idx, :, u_idx].permute(1, 0, 2)            # (I, U, J): r(iu, ju)
    r_pos = torch.diagonal(r, dim1=0, dim2=2).permute(2, 0, 1)      # (I, U, V): r(iu, iv)
    r_other = r.permute(0, 1, 3, 2)                                 # (I, U, V, J): r(iu, jv)
    same = r_same_view[:, :, None, :].expand(I, V, V, I)            # (I, U, V, J)
    # negative terms that exist: j != i, and view u (resp. v) of scene j present
    neg_same = (not_i[:, None, None, :] & present.T[None, :, None, :]).expand(I, V, V, I)
    neg_other = (not_i[:, None, None, :] & present.T[None, None, :, :]).expand(I, V, V, I)
    neg_mask = torch.cat([neg_same, neg_other], dim=-1)             # (I, U, V, 2J)
    has_neg = neg_mask.any(-1)                                      # (I, U, V)
    logits = (torch.cat([same, r_other], dim=-1) / tau).masked_fill(~neg_mask, float("-inf"))
    logits = logits.masked_fill(~has_neg[..., None], 0.0)           # no negative at all: finite, and zeroed below
    neg = torch.where(has_neg, torch.logsumexp(logits, dim=-1), torch.zeros((), dtype=r.dtype, device=z.device))
    pos = r_pos / tau
    if focal:
        w_pos = torch.sigmoid(1.0 - r_pos)
        ones_plus = torch.cat([1 + same, 1 + r_other], dim=-1)
        n_terms = neg_mask.sum(-1).clamp(min=1)
        w_neg = torch.sigmoid((ones_plus * neg_mask).sum(-1) / n_terms)
        if detach_weights:
            w_pos, w_neg = w_pos.detach(), w_neg.detach()
        pos, neg = w_pos * pos, w_neg * neg
    per_pair = (pos if positives else 0.0) - (neg if negatives else 0.0)
    pair = present[:, :, None] & present[:, None, :] & ~torch.eye(V, dtype=torch.bool, device=z.device)
    anchors = pair.any(-1)                                          # (I, U): present with another present view
    n_anchors = anchors.sum().clamp(min=1)
    return -(per_pair * pair).sum() / n_anchors


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 7: the L2 norm over channels of each frame's error, averaged over frames and samples.

    x, x_hat: (B, T, C); `mask` (B,) bool leaves out placeholder samples (absent views)."""
    per_sample = (x_hat.float() - x.float()).norm(dim=-1).mean(-1)
    if mask is None:
        return per_sample.mean()
    mask = mask.reshape(-1).to(per_sample.device)
    return (per_sample * mask).sum() / mask.sum().clamp(min=1)
