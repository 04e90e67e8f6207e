"""FoCoViL's losses: the multi-view contrastive loss (Eq. 3 / Eq. 6) and reconstruction (Eq. 7),
and what the focal weights do in a batch (`focal_stats`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

FOCAL_GRADS = ("both", "pos", "neg", "none")   # which focal weights carry gradient (Eq. 6 as written: both)


def multiview_contrastive_loss(z: torch.Tensor, tau: float = 0.5, focal: bool = True,
                               mask: torch.Tensor | None = None, *, focal_grad: str = "both",
                               detach_weights: bool = False, positives: bool = True, negatives: bool = True,
                               stats: dict | None = None) -> torch.Tensor:
    """Mean over the anchors of the loss of Eq. 3 (focal=False) or Eq. 6 (focal=True).

    z: (I, V, D), projections of I scenes seen from V views. For anchor (i, u) and each
    positive view v != u, with r the cosine and S = exp(r / tau):
      pos = log S(iu, iv),  neg = log sum_{j != i} [S(iu, ju) + S(iu, jv)]
      Eq. 3: -sum_v (pos - neg);  Eq. 6: -sum_v (w+ pos - w- neg) with
      w+ = sigmoid(1 - r(iu, iv)),  w- = sigmoid(1/(2I-2) sum_{j != i} [(1 + r(iu, ju)) + (1 + r(iu, jv))]).
    `focal_grad` says which weights carry gradient: "both" (Eq. 6 differentiated as written),
    "pos" (only w+), "neg" (only w-) or "none" (both constant: a plain reweighting);
    `detach_weights=True` is the old name of "none".
    `mask` (I, V) bool says which views of each scene are present: an anchor counts when
    present with at least one other present view; its positives are its scene's other
    present views, its negatives the present views u and v of the other scenes, and w- is
    the mean of (1 + r) over those same present terms. The loss is the mean over counted
    anchors; mask=None (or all True) is the mean over all I*V anchors.
    `positives=False` / `negatives=False` drop one term (the covil-no-pos / covil-no-neg ablations).
    With a dict `stats`, the batch's diagnostics are added to it (`focal_stats`), from the same
    similarities: no second forward pass.
    """
    if focal_grad not in FOCAL_GRADS:
        raise ValueError(f"focal_grad {focal_grad!r}: choose from {', '.join(FOCAL_GRADS)}")
    focal_grad = "none" if detach_weights else focal_grad
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
    r_neg = torch.cat([same, r_other], dim=-1)                      # (I, U, V, 2J)
    logits = (r_neg / tau).masked_fill(~neg_mask, float("-inf"))
    logits = logits.masked_fill(~has_neg[..., None], 0.0)           # no negative at all: finite, and zeroed below
    lse = torch.where(has_neg, torch.logsumexp(logits, dim=-1), torch.zeros((), dtype=r.dtype, device=z.device))
    pos, neg = r_pos / tau, lse
    n_terms = neg_mask.sum(-1).clamp(min=1)
    w_pos = w_neg = None
    if focal:
        w_pos = torch.sigmoid(1.0 - r_pos)
        w_neg = torch.sigmoid(((1 + r_neg) * neg_mask).sum(-1) / n_terms)
        pos = (w_pos if focal_grad in ("both", "pos") else w_pos.detach()) * pos
        neg = (w_neg if focal_grad in ("both", "neg") else w_neg.detach()) * neg
    per_pair = (pos if positives else 0.0) - (neg if negatives else 0.0)
    pair = present[:, :, None] & present[:, None, :] & ~torch.eye(V, dtype=torch.bool, device=z.device)
    anchors = pair.any(-1)                                          # (I, U): present with another present view
    n_anchors = anchors.sum().clamp(min=1)
    if stats is not None:
        with torch.no_grad():
            stats.update(focal_stats(r_pos, r_neg, neg_mask, pair, logits, lse, n_terms, w_pos, w_neg, tau,
                                     focal_grad, positives, negatives))
    return -(per_pair * pair).sum() / n_anchors


def focal_stats(r_pos, r_neg, neg_mask, pair, logits, lse, n_terms, w_pos, w_neg, tau: float, focal_grad: str,
                positives: bool, negatives: bool) -> dict[str, torch.Tensor]:
    """What the weights do in one batch, as device scalars: the mean cosine of positive pairs
    and of negative pairs, the mean w+ and w- (1 without focal weights), and the ratio of the
    gradient's total magnitude on the negatives' cosines to that on the positives', each term
    differentiated as the loss is (through the weights that carry gradient):
      d(w+ r/tau)/dr = w+/tau - w+(1 - w+) r/tau          (the second part only if w+ carries gradient)
      d(w- LSE)/dr_k = w- softmax_k/tau + w-(1 - w-) LSE/n  (the second part only if w- carries gradient)
    """
    pair_f = pair.to(r_pos.dtype)
    live = neg_mask & pair[..., None]
    n_pairs, n_negs = pair_f.sum().clamp(min=1), live.sum().clamp(min=1)
    one = torch.ones((), dtype=r_pos.dtype, device=r_pos.device)
    wp = one if w_pos is None else w_pos
    wn = one if w_neg is None else w_neg
    d_pos = wp / tau
    if w_pos is not None and focal_grad in ("both", "pos"):
        d_pos = d_pos - w_pos * (1 - w_pos) * r_pos / tau
    soft = torch.softmax(logits, dim=-1)
    d_neg = (wn[..., None] if w_neg is not None else one) * soft / tau
    if w_neg is not None and focal_grad in ("both", "neg"):
        d_neg = d_neg + (w_neg * (1 - w_neg) * lse / n_terms)[..., None]
    g_pos = (d_pos.abs() * pair_f).sum() if positives else torch.zeros((), device=r_pos.device)
    g_neg = (d_neg.abs() * live).sum() if negatives else torch.zeros((), device=r_pos.device)
    return {"pos_cos": (r_pos * pair_f).sum() / n_pairs, "neg_cos": (r_neg * live).sum() / n_negs,
            "w_pos": (wp * pair_f).sum() / n_pairs if w_pos is not None else one,
            "w_neg": (wn * pair_f).sum() / n_pairs if w_neg is not None else one,
            "grad_neg_over_pos": g_neg / g_pos.clamp(min=1e-12)}


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eq. 7: the L2 norm over channels of each frame's error, averaged over frames and samples.

    x, x_hat: (B, T, C); `mask` (B,) bool leaves out placeholder samples (absent views)."""
    per_sample = (x_hat.float() - x.float()).norm(dim=-1).mean(-1)
    if mask is None:
        return per_sample.mean()
    mask = mask.reshape(-1).to(per_sample.device)
    return (per_sample * mask).sum() / mask.sum().clamp(min=1)
