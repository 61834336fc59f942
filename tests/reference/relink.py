"""The costs of :class:`arttrack.tracking.TrackRelinker` written the obvious way, joint by
joint (the C++ ``relink_costs`` must match it)."""

from __future__ import annotations

import numpy as np

__all__ = ["reference_relink_costs"]


def _end(times: np.ndarray, xy: np.ndarray, at: float):
    """End at ``at`` of one joint's line through its seen positions ``xy`` (T, 2), its
    variance, squared residual and degrees of freedom."""
    seen = ~np.isnan(xy).any(axis=1)
    t, p = times[seen], xy[seen]
    n = len(t)
    if n == 0:
        return None, None, 0.0, 0.0
    if n < 3:
        return p.mean(axis=0), 1.0 / n + 2.0, 0.0, 0.0
    slope_x, icpt_x = np.polyfit(t, p[:, 0], 1)
    slope_y, icpt_y = np.polyfit(t, p[:, 1], 1)
    fit = np.stack([icpt_x + slope_x * t, icpt_y + slope_y * t], axis=1)
    end = np.array([icpt_x + slope_x * at, icpt_y + slope_y * at])
    var = 1.0 / n + (at - t.mean()) ** 2 / ((t - t.mean()) ** 2).sum()
    return end, var, float(((p - fit) ** 2).sum()), 2.0 * (n - 2)


def reference_relink_costs(past, past_time, future, future_time, at, link_cost):
    """(L, R) costs and sigma^2, as ``arttrack._core.relink_costs``."""
    ends = []
    ss = dof = 0.0
    for side, times in ((past, past_time), (future, future_time)):
        rows = []
        for track in side:
            row = []
            for j in range(track.shape[1]):
                e, v, s, d = _end(np.asarray(times, float), track[:, j], at)
                row.append((e, v))
                ss += s
                dof += d
            rows.append(row)
        ends.append(rows)
    sigma2 = max(ss / dof if dof > 0 else 100.0, 1.0)
    cost = np.zeros((len(past), len(future)))
    for a, pa in enumerate(ends[0]):
        for b, fb in enumerate(ends[1]):
            for (e1, v1), (e2, v2) in zip(pa, fb):
                if e1 is None or e2 is None:
                    continue
                d2 = float(((e1 - e2) ** 2).sum())
                cost[a, b] += min(d2 / (2.0 * sigma2 * (v1 + v2)) - link_cost, 0.0)
    return cost, sigma2
