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


def _track_ends(tracks, times, at):
    """Per track and joint (end, variance), and the summed squared residuals and dof."""
    rows, ss, dof = [], 0.0, 0.0
    for track in tracks:
        row = []
        for j in range(track.shape[1]):
            e, v, s, d = _end(np.asarray(times, float), track[:, j], at)
            row.append((e, v))
            ss += s
            dof += d
        rows.append(row)
    return rows, ss, dof


def reference_relink_costs(past, past_time, future, future_time, at, link_cost):
    """(L, R) costs and sigma^2, as ``arttrack._core.relink_costs``."""
    (lp, sp, dp), (lf, sf, df) = _track_ends(past, past_time, at), _track_ends(future, future_time, at)
    ends = [lp, lf]
    ss, dof = sp + sf, dp + df
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


def reference_frame_costs(around, around_time, people, at, link_cost):
    """(P, L) costs and sigma^2, as ``arttrack._core.frame_costs``."""
    ends, ss, dof = _track_ends(around, around_time, at)
    sigma2 = max(ss / dof if dof > 0 else 100.0, 1.0)
    cost = np.zeros((len(people), len(around)))
    for p, person in enumerate(people):
        for a, row in enumerate(ends):
            for xy, (e, v) in zip(person, row):
                if e is None or np.isnan(xy).any():
                    continue
                d2 = float(((xy - e) ** 2).sum())
                cost[p, a] += min(d2 / (2.0 * sigma2 * (v + 1.0)) - link_cost, 0.0)
    return cost, sigma2
