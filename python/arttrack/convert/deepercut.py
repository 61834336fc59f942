"""DeeperCut's pairwise files (``pairwise_coco.tar.gz``) as arttrack objects.

The authors publish, beside the COCO network, a folder ``pairwise/`` with

* ``pairwise_stats.mat``: ``graph`` (ordered joint pairs, one row each, 0-based as the
  authors' ``pairwise_stats.py`` writes them), ``means`` and ``std_devs`` (x, y) of each
  pair's offset, with which the pairwise head's output is de-normalised
  (``nnet/predict.py extract_cnn_output``);
* ``spatial_model_cidx_<a>_<b>.mat`` (1-based joints ``a < b``): one logistic regression
  per joint pair, MATLAB structs ``spatial_model.training_opts.{X_min, X_max}`` (1 x 8)
  and ``spatial_model.log_reg.w`` (1 x 9, the last the intercept), read by
  ``multiperson/predict.py SpatialModel``.

Their features (``compute_features``) come in the order distance and angle forward, then
distance and angle backward, then ``exp(-x)`` of those four; arttrack's
(:data:`arttrack.postprocess.pairwise.FEATURE_NAMES`) put both distances first. The
displacements start at the detection's cell centre (``coord_grid``), hence
``SpatialModel(origin="cell_centre")``. With that, an imported model gives the authors'
``SpatialModel.eval`` probabilities (a test pins them to 1e-6 against their code).

Pair order (``tensorflow_pairwise_order``, DeeperCut's config key, default true): the
pairwise channel of the ordered pair (a, b) is ``arttrack.joints.pair_channel(a, b, J)``,
de-normalised with the stats row whose ``graph`` entry is (a, b). With false (their
MATLAB-era models), channel ``r`` holds the pair of ``graph`` row ``r`` (1-based there):
:func:`pairwise_channel_order` gives the permutation that brings such a head into
arttrack's order, and the stats come out in arttrack's order either way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from arttrack.errors import one_line
from arttrack.joints import JointSet, pair_channel

__all__ = ["AUTHOR_FEATURE_ORDER", "DeeperCutFormatError", "load_deepercut_pairwise_stats",
           "load_deepercut_spatial_model", "pairwise_channel_order", "spatial_model_files"]

#: arttrack feature k is the authors' feature AUTHOR_FEATURE_ORDER[k].
AUTHOR_FEATURE_ORDER = (0, 2, 1, 3, 4, 6, 5, 7, 8)
_SPATIAL_RE = re.compile(r"^spatial_model_cidx_(\d+)_(\d+)\.mat$")


class DeeperCutFormatError(ValueError):
    """A DeeperCut pairwise file is missing, unreadable or not what its name says."""


def _loadmat(path: Path) -> dict:
    import scipy.io

    if not path.is_file():
        raise DeeperCutFormatError(f"{path} not found")
    try:
        return scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:  # scipy's parse errors
        raise DeeperCutFormatError(f"{path}: not a readable MATLAB file ({one_line(exc)})") from None


def _graph_stats(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mat = _loadmat(path)
    missing = [k for k in ("graph", "means", "std_devs") if k not in mat]
    if missing:
        raise DeeperCutFormatError(f"{path}: not a DeeperCut pairwise_stats.mat (no field "
                                   f"{', '.join(repr(m) for m in missing)})")
    try:
        graph = np.asarray(mat["graph"], dtype=np.float64).reshape(-1, 2)
        means = np.asarray(mat["means"], dtype=np.float64).reshape(-1, 2)
        stds = np.asarray(mat["std_devs"], dtype=np.float64).reshape(-1, 2)
    except (ValueError, TypeError):
        raise DeeperCutFormatError(f"{path}: graph, means and std_devs must be N x 2 numeric "
                                   "arrays") from None
    if not (len(graph) == len(means) == len(stds)):
        raise DeeperCutFormatError(f"{path}: graph has {len(graph)} rows, means {len(means)}, "
                                   f"std_devs {len(stds)}")
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(stds)) and np.all(graph == np.round(graph))):
        raise DeeperCutFormatError(f"{path}: non-finite statistics or a non-integer graph entry")
    return graph.astype(np.int64), means, stds


def pairwise_channel_order(stats_path: str | Path, num_joints: int,
                           tensorflow_pairwise_order: bool = True) -> np.ndarray:
    """For each arttrack pair channel (``pair_channel`` order), the channel of the authors'
    head that holds it: the identity with ``tensorflow_pairwise_order`` (the authors'
    default), else the ``graph`` row of the 1-based pair."""
    J = int(num_joints)
    C = J * (J - 1)
    if tensorflow_pairwise_order:
        return np.arange(C, dtype=np.int64)
    graph, _, _ = _graph_stats(Path(stats_path))
    rows = {(int(a) - 1, int(b) - 1): r for r, (a, b) in enumerate(graph)}
    order = np.empty(C, np.int64)
    for a in range(J):
        for b in range(J):
            if a == b:
                continue
            if (a, b) not in rows:
                raise DeeperCutFormatError(f"{stats_path}: the graph has no row for the joint pair "
                                           f"({a + 1}, {b + 1}) (1-based, tensorflow_pairwise_order false)")
            r = rows[(a, b)]
            if r >= C:
                raise DeeperCutFormatError(f"{stats_path}: graph row {r} is beyond the head's {C} "
                                           "pair channels")
            order[pair_channel(a, b, J)] = r
    return order


def load_deepercut_pairwise_stats(path: str | Path, joint_set: JointSet, *,
                                  tensorflow_pairwise_order: bool = True,
                                  global_scale: float = 1.0):
    """The authors' ``pairwise_stats.mat`` as :class:`arttrack.data.pairwise_stats.PairwiseStats`
    (rows in arttrack's channel order; pairs the file lacks keep mean 0, std 1, i.e. the
    raw output, as ``extract_cnn_output`` leaves them). Means and stds are multiplied by
    ``global_scale`` as the authors' loader does."""
    from arttrack.data.pairwise_stats import PairwiseStats

    path = Path(path)
    graph, means, stds = _graph_stats(path)
    J = joint_set.num_joints
    C = J * (J - 1)
    mean = np.zeros((C, 2))
    std = np.ones((C, 2))
    count = np.zeros(C, np.int64)
    base = 1 if not tensorflow_pairwise_order else 0
    for r, (a, b) in enumerate(graph):
        a, b = int(a) - base, int(b) - base
        if not (0 <= a < J and 0 <= b < J) or a == b:
            hint = (" (a 1-based MATLAB graph? set tensorflow_pairwise_order false)"
                    if tensorflow_pairwise_order else "")
            raise DeeperCutFormatError(f"{path}: graph row {r} = ({a + base}, {b + base}) is not a "
                                       f"pair of two of the {J} joints{hint}")
        c = pair_channel(a, b, J)
        mean[c] = means[r] * global_scale
        std[c] = stds[r] * global_scale
        count[c] = 1
    if np.any(std[count > 0] <= 0):
        raise DeeperCutFormatError(f"{path}: a standard deviation is zero or negative")
    return PairwiseStats(joint_set=joint_set.name, joint_names=tuple(joint_set.names), mean=mean,
                         std=std, count=count, global_scale=float(global_scale))


def spatial_model_files(folder: str | Path) -> dict[tuple[int, int], Path]:
    """``{(a, b): path}`` (0-based, a < b) of the ``spatial_model_cidx_*.mat`` in ``folder``."""
    out = {}
    for p in sorted(Path(folder).glob("spatial_model_cidx_*.mat")):
        m = _SPATIAL_RE.match(p.name)
        if m:
            out[(int(m.group(1)) - 1, int(m.group(2)) - 1)] = p
    return out


def _spatial_arrays(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mat = _loadmat(path)
    # exactly the authors' indexing (multiperson/predict.py SpatialModel.load)
    try:
        sm = mat["spatial_model"]
        x_max = sm["training_opts"][0][0][0]["X_max"][0][0]
        x_min = sm["training_opts"][0][0][0]["X_min"][0][0]
        w = sm["log_reg"][0][0][0]["w"][0][0][:]
    except (KeyError, IndexError, ValueError, TypeError):
        raise DeeperCutFormatError(
            f"{path}: not a DeeperCut spatial model (it needs the MATLAB struct fields "
            "spatial_model.training_opts.X_min, .X_max and spatial_model.log_reg.w)") from None
    arrays = []
    for name, arr, n in (("X_min", x_min, 8), ("X_max", x_max, 8), ("w", w, 9)):
        try:
            a = np.asarray(arr, dtype=np.float64)
        except (ValueError, TypeError):
            raise DeeperCutFormatError(f"{path}: {name} is not numeric") from None
        if a.shape != (n,) or not np.all(np.isfinite(a)):
            raise DeeperCutFormatError(f"{path}: {name} must hold {n} finite numbers (a 1 x {n} row), "
                                       f"got shape {a.shape}")
        arrays.append(a)
    return arrays[0], arrays[1], arrays[2]


def load_deepercut_spatial_model(folder: str | Path, pairs: Sequence[Sequence[int]]):
    """The authors' logistic models of ``pairs`` (0-based (a, b), a < b; their config's
    ``sparse_graph``) from ``folder`` as one :class:`arttrack.postprocess.SpatialModel`
    with ``origin="cell_centre"``. A pair without its file is an error naming it."""
    from arttrack.postprocess import SpatialModel

    folder = Path(folder)
    files = spatial_model_files(folder)
    perm = np.asarray(AUTHOR_FEATURE_ORDER)
    rows_min, rows_max, rows_w, out_pairs = [], [], [], []
    missing = []
    for a, b in pairs:
        a, b = int(a), int(b)
        if a >= b:
            raise ValueError(f"spatial model pairs must be (a, b) with a < b, got ({a}, {b})")
        if (a, b) not in files:
            missing.append(f"spatial_model_cidx_{a + 1}_{b + 1}.mat")
            continue
        x_min, x_max, w = _spatial_arrays(files[(a, b)])
        fmin = np.append(x_min, 0.0)[perm]
        fmax = np.append(x_max, 1.0)[perm]
        rows_min.append(fmin)
        rows_max.append(fmax)
        rows_w.append(w[perm])
        out_pairs.append((a, b))
    if missing:
        raise DeeperCutFormatError(f"{folder}: {len(missing)} spatial model file(s) of the pair graph "
                                   f"are missing: {', '.join(missing[:5])}"
                                   + (" ..." if len(missing) > 5 else ""))
    if not out_pairs:
        raise DeeperCutFormatError(f"{folder}: no spatial_model_cidx_<a>_<b>.mat files")
    return SpatialModel(np.array(out_pairs, np.int64), np.array(rows_min), np.array(rows_max),
                        np.array(rows_w), origin="cell_centre")
