"""The link-prediction scores of `GAE.test`: the area under the ROC curve and the average
precision, as scikit-learn's ``roc_auc_score`` and ``average_precision_score`` define them for
binary labels (which PyG's ``GAE.test`` calls), in numpy: no scikit-learn needed.

Both walk the scores from the highest down, one threshold per distinct score (sklearn's
``_binary_clf_curve``): tied scores enter together, so a tie between a positive and a
negative counts one half in the AUC (the trapezoid over that step), and in the AP every pair
in a tied group gets the precision of the whole group.
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []  # internal: `GAE.test` returns these; PyG exports no such functions


def check_labels_scores(op: str, y, scores) -> tuple[np.ndarray, np.ndarray]:
    """``(y, scores)`` as 1-D float64 host arrays of one length; ValueError naming ``op``
    when only one class is present (sklearn: AUC undefined) or a score is not finite."""
    y, scores = np.asarray(y, np.float64).ravel(), np.asarray(scores, np.float64).ravel()
    if y.shape != scores.shape:
        raise ValueError(f"{op}: expected one score per label (got {scores.size} scores for "
                         f"{y.size} labels)")
    positives = int(np.count_nonzero(y))
    if positives == 0 or positives == y.size:
        raise ValueError(f"{op}: expected positive and negative edges, the AUC is undefined "
                         f"with one class, as in scikit-learn (got {positives} positive and "
                         f"{y.size - positives} negative)")
    if not np.isfinite(scores).all():
        raise ValueError(f"{op}: expected finite scores (got {int((~np.isfinite(scores)).sum())}"
                         f" non-finite of {scores.size}); is `z` finite?")
    return y, scores


def _curve(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fps, tps)``: false and true positives at each distinct score, highest first
    (sklearn's ``_binary_clf_curve`` without sample weights)."""
    y, scores = np.asarray(y, np.float64), np.asarray(scores, np.float64)
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, y = scores[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), y.size - 1]  # the end of each tie group
    tps = np.cumsum(y)[last]
    return 1.0 + last - tps, tps


def roc_auc(y, scores) -> float:
    """Area under the ROC curve (trapezoids over the distinct thresholds: the chance that a
    random positive scores above a random negative, ties counting one half)."""
    fps, tps = _curve(y, scores)
    fpr, tpr = np.r_[0.0, fps] / fps[-1], np.r_[0.0, tps] / tps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)


def average_precision(y, scores) -> float:
    """Average precision ``sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds, highest
    first (no interpolation, as sklearn)."""
    fps, tps = _curve(y, scores)
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
