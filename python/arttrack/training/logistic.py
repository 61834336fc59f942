"""L2-regularised logistic regression, the one fit behind the spatial model (one regression
per joint pair, :mod:`arttrack.training.spatial_fit`) and the temporal model
(:mod:`arttrack.training.temporal_fit`)."""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["fit_logistic"]


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0,
                 sample_weight: Optional[np.ndarray] = None, bias: int = -1,
                 w0: Optional[np.ndarray] = None,
                 bounds: Optional[Sequence[tuple[Optional[float], Optional[float]]]] = None,
                 gtol: float = 1e-8) -> np.ndarray:
    """Weights ``w`` (D,) of ``p(y = 1 | x) = sigmoid(x . w)``.

    Minimises ``sum_i s_i logloss_i + l2 / 2 * |w|^2`` with L-BFGS-B, where ``s`` is
    ``sample_weight`` (default 1) and column ``bias`` of ``x`` is the intercept (a constant
    1, not penalised). ``w0`` is the start (default zeros), ``bounds`` per-weight
    ``(low, high)`` limits (None: free). ``ValueError`` when the fit diverges.
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    d = x.shape[1]
    pen = np.ones(d)
    pen[bias] = 0.0

    def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        loss = -np.sum(sw * (y * log_expit(z) + (1.0 - y) * log_expit(-z)))
        loss += 0.5 * l2 * np.sum(pen * w * w)
        grad = x.T @ (sw * (expit(z) - y)) + l2 * pen * w
        return float(loss), grad

    start = np.zeros(d) if w0 is None else np.asarray(w0, np.float64).copy()
    if bounds is not None:
        lo = [-np.inf if b[0] is None else b[0] for b in bounds]
        hi = [np.inf if b[1] is None else b[1] for b in bounds]
        start = np.clip(start, lo, hi)
    res = minimize(fun, start, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 500, "gtol": gtol})
    if not np.all(np.isfinite(res.x)):
        raise ValueError("logistic regression diverged")
    if not res.success:
        log.debug("logistic regression: %s", res.message)
    return res.x
