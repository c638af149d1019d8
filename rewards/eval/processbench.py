"""ProcessBench metrics: a PRM's predicted first error against the labelled one.

A PRM predicts the first step whose score is strictly below the threshold `tau` (-1 when no
score is). `acc_err` is the share of erroneous items (label >= 0) whose prediction equals the
label, `acc_cor` the share of correct items (label -1) predicted -1, and F1 their harmonic
mean. A subset with no erroneous or no correct items has no F1 (`None`), never a made-up 0.

Fitting tau uses that each item is judged right on an interval of thresholds: an erroneous
item with label L is right iff `scores[L] < tau <= min(scores[:L])`, a correct item iff
`tau <= min(scores)`. Counting intervals that contain a threshold is two binary searches, so
the best threshold over every distinct cut of the scores is exact and fast.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np


def predict_first_error(scores: Sequence[float], tau: float) -> int:
    """Index of the first step scored below `tau` (a score equal to tau passes), else -1."""
    for i, score in enumerate(scores):
        if score < tau:
            return i
    return -1


def f1_score(acc_err: float | None, acc_cor: float | None) -> float | None:
    if acc_err is None or acc_cor is None:
        return None
    if acc_err + acc_cor == 0:
        return 0.0
    return 2 * acc_err * acc_cor / (acc_err + acc_cor)


def subset_metrics(labels: Sequence[int], predictions: Sequence[int]) -> dict[str, float | int | None]:
    """acc_err, acc_cor, f1 (fractions, `None` where undefined), n, n_err, n_cor."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    err = [p == y for y, p in zip(labels, predictions) if y >= 0]
    cor = [p == -1 for y, p in zip(labels, predictions) if y < 0]
    acc_err = sum(err) / len(err) if err else None
    acc_cor = sum(cor) / len(cor) if cor else None
    return {
        "acc_err": acc_err,
        "acc_cor": acc_cor,
        "f1": f1_score(acc_err, acc_cor),
        "n": len(labels),
        "n_err": len(err),
        "n_cor": len(cor),
    }


def evaluate(subsets: Mapping[str, tuple[Sequence[int], Sequence[Sequence[float]]]], tau: float) -> dict[str, object]:
    """Per-subset metrics and the mean F1 over the subsets that have one.

    `subsets` maps a name to (labels, per-item step scores). A subset without an F1 is
    reported with `f1: None`, left out of `avg_f1`, and warned about.
    """
    report: dict[str, dict] = {}
    for name, (labels, scores) in subsets.items():
        predictions = [predict_first_error(s, tau) for s in scores]
        report[name] = subset_metrics(labels, predictions)
        if report[name]["f1"] is None:
            missing = "erroneous" if report[name]["n_err"] == 0 else "correct"
            warnings.warn(f"subset '{name}' has no {missing} items: its F1 is undefined (null)", stacklevel=2)
    f1s = [m["f1"] for m in report.values() if m["f1"] is not None]
    return {"subsets": report, "avg_f1": float(np.mean(f1s)) if f1s else None, "tau": tau}


def _intervals(labels: Sequence[int], scores: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, erroneous): item i is predicted right iff lo[i] < tau <= hi[i]."""
    lo, hi = np.empty(len(labels)), np.empty(len(labels))
    for i, (label, item) in enumerate(zip(labels, scores)):
        if label >= 0:
            lo[i] = item[label]
            hi[i] = min(item[:label]) if label > 0 else math.inf
        else:
            lo[i] = -math.inf
            hi[i] = min(item) if len(item) else math.inf
    return lo, hi, np.asarray(labels) >= 0


def _hits(lo: np.ndarray, hi: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """For each tau, how many intervals (lo, hi] contain it."""
    keep = lo < hi
    lo, hi = np.sort(lo[keep]), np.sort(hi[keep])
    at_least_hi = len(hi) - np.searchsorted(hi, taus, side="left")
    at_least_lo = len(lo) - np.searchsorted(lo, taus, side="left")
    return at_least_hi - at_least_lo


def fit_tau(subsets: Mapping[str, tuple[Sequence[int], Sequence[Sequence[float]]]]) -> float:
    """The threshold that maximises the mean F1 over `subsets` (the fitting split).

    Candidates are the midpoints between consecutive distinct scores plus one threshold
    below and one above all of them; ties go to the threshold closest to 0.5.
    """
    values = np.unique(
        np.concatenate([np.asarray(s, dtype=float) for _, scores in subsets.values() for s in scores] or [np.empty(0)])
    )
    if values.size == 0:
        raise ValueError("cannot fit tau: the fitting split has no scored steps")
    taus = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    f1s = []
    for labels, scores in subsets.values():
        lo, hi, erroneous = _intervals(labels, scores)
        n_err, n_cor = int(erroneous.sum()), int((~erroneous).sum())
        if n_err == 0 or n_cor == 0:
            continue
        acc_err = _hits(lo[erroneous], hi[erroneous], taus) / n_err
        acc_cor = _hits(lo[~erroneous], hi[~erroneous], taus) / n_cor
        total = acc_err + acc_cor
        f1s.append(np.where(total > 0, 2 * acc_err * acc_cor / np.where(total > 0, total, 1), 0.0))
    if not f1s:
        raise ValueError("cannot fit tau: the fitting split needs both erroneous and correct items")
    mean = np.mean(f1s, axis=0)
    best = np.flatnonzero(np.isclose(mean, mean.max(), rtol=0, atol=1e-12))
    return float(taus[best[np.argmin(np.abs(taus[best] - 0.5))]])
