// Pairwise terms between detections (docs/DESIGN.md section 1, inference steps 2 and 3).
//
// For a candidate edge between detection d1 (joint a, cell c1, position p1) and detection
// d2 (joint b, cell c2, position p2), with the pairwise regression map de-normalised to
// pixels, shape (H, W, J*(J-1), 2), where the ordered pair (j, k) lives at channel
// pair_channel(j, k, J) = (J-1)*j + k - (j < k ? 1 : 0):
//
//   o_ab  = map[c1.row, c1.col, pair_channel(a, b)]   predicted offset a -> b, read at d1
//   o_ba  = map[c2.row, c2.col, pair_channel(b, a)]   predicted offset b -> a, read at d2
//   fwd   = p2 - q1, bwd = p1 - q2                    real displacements
//
// where q is where a displacement starts (DisplacementOrigin): the detection's own position
// (q = p, arttrack's fitted models: bwd = -fwd) or, as DeeperCut's
// compute_different_part_pairwise measures it, the centre of its map cell
// (q = (col * stride + stride / 2, row * stride + stride / 2)).
//
// The 9 raw features, in this order (the training code uses the same function):
//   0 dist_fwd   |o_ab - fwd|                          (pixels)
//   1 dist_bwd   |o_ba - bwd|                          (pixels)
//   2 angle_fwd  angle between o_ab and fwd, in [0, pi] (atan2(|cross|, dot); 0 when a vector is 0)
//   3 angle_bwd  angle between o_ba and bwd, in [0, pi]
//   (DeeperCut writes the angle as |wrap(atan2(fwd) - atan2(o_ab))|: the same number, except
//   that a zero vector there counts as angle 0 rather than giving 0 difference.)
//   4 exp(-dist_fwd)   5 exp(-dist_bwd)   6 exp(-angle_fwd)   7 exp(-angle_bwd)
//   8 bias       1
// Spatial model per unordered joint pair (a, b) (rows of `pairs`; d1 is always the
// detection of pairs[p][0]): features 0..7 are min-max scaled,
// s_k = (f_k - min_k) / (max_k - min_k), with a zero range treated as 1 (s_k = f_k - min_k,
// as scikit-learn's MinMaxScaler does); the bias stays 1 (min/max column 8 is ignored);
// p(same person) = sigmoid(sum_k w_k * s_k).
// Same-joint (duplicate) edges: p = 1 / (1 + exp(slope * d - offset)), d = |p1 - p2| px.
//
// Numerics (all in double): the angles use an own atan2 (absolute error < 1e-12) and
// exp(-angle) a polynomial (relative error < 1e-13); pairwise_terms evaluates two edges per
// step with SSE2 and takes exp(-dist) as 0 where its weighted term is below 1e-13. Results
// match the plain NumPy definition (arttrack.postprocess.reference) to ~1e-12.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "arttrack/peaks.hpp"

namespace arttrack {

constexpr std::int64_t kNumPairwiseFeatures = 9;
enum PairwiseFeature : std::int64_t {
  kDistFwd = 0,
  kDistBwd = 1,
  kAngleFwd = 2,
  kAngleBwd = 3,
  kExpDistFwd = 4,
  kExpDistBwd = 5,
  kExpAngleFwd = 6,
  kExpAngleBwd = 7,
  kBias = 8,
};

// Channel of the ordered joint pair (j, k), j != k, in a (.., J*(J-1), 2) pairwise map.
inline std::int64_t pair_channel(std::int64_t j, std::int64_t k, std::int64_t num_joints) {
  return (num_joints - 1) * j + k - (j < k ? 1 : 0);
}

// J such that J*(J-1) == channels, J >= 2; throws std::invalid_argument otherwise.
std::int64_t num_joints_from_pair_channels(std::int64_t channels);

// Detections as produced by find_peaks: part (N,), xy (N, 2) pixels, cell (N, 2) (row, col).
struct DetectionsView {
  ArrayView<std::int32_t, 1> part;
  ArrayView<float, 2> xy;
  ArrayView<std::int32_t, 2> cell;
};

using PairwiseMapView = ArrayView<float, 4>;  // (H, W, J*(J-1), 2), offsets in pixels

// Logistic spatial model, one row per unordered joint pair (P rows).
struct SpatialModelView {
  ArrayView<std::int64_t, 2> pairs;   // (P, 2) joints (a, b), a != b, no pair twice
  ArrayView<double, 2> feat_min;      // (P, 9)
  ArrayView<double, 2> feat_max;      // (P, 9)
  ArrayView<double, 2> weights;       // (P, 9), weights[p][8] is the bias weight
};

// Where the real displacement of an edge starts (see the top of this file).
struct DisplacementOrigin {
  bool cell_centre = false;  // false: the detection's position; true: its cell's centre
  double stride = 8.0;       // input pixels per map cell (used with cell_centre)
};

struct SameJointParams {
  bool enabled = true;  // add an edge between every two detections of the same joint
  double slope = 0.2;
  double offset = 7.5;
};

// Directed candidate edges of a joint-pair graph: for each pair p = (a, b) in order, every
// detection d1 of joint a (increasing index) with every detection d2 of joint b
// (increasing index). edges holds (d1, d2) flattened (2E), pair_index the row p.
struct CandidateEdges {
  std::vector<std::int64_t> edges;
  std::vector<std::int64_t> pair_index;
  std::int64_t size() const { return static_cast<std::int64_t>(pair_index.size()); }
};
CandidateEdges candidate_edges(const ArrayView<std::int32_t, 1>& part, const ArrayView<std::int64_t, 2>& pairs,
                               std::int64_t num_joints);

// Raw features (E*9 doubles into `out`, row-major) of directed edges (E, 2) = (d1, d2)
// between detections of different joints. Throws std::invalid_argument on an index out of
// range, two detections of the same joint, a cell outside the map, a non-finite position
// or a non-finite map value read.
void pairwise_features(const DetectionsView& det, const PairwiseMapView& pairwise,
                       const ArrayView<std::int64_t, 2>& edges, double* out, const DisplacementOrigin& origin = {});

// Features of one edge from the two offsets read from the map and the real displacements
// fwd = p2 - q1 and bwd = p1 - q2.
void edge_features(double oab_x, double oab_y, double oba_x, double oba_y, double fwd_x, double fwd_y, double bwd_x,
                   double bwd_y, double* f);

struct PairwiseTerms {
  std::vector<std::int64_t> edges;       // (E, 2) flattened, i < j
  std::vector<double> prob;              // (E,) p(same person) / p(same joint instance)
  std::vector<std::uint8_t> same_joint;  // (E,) 1 for duplicate (same-joint) edges
  std::vector<std::int64_t> pair_index;  // (E,) model row, -1 for same-joint edges
  std::int64_t size() const { return static_cast<std::int64_t>(prob.size()); }
};

// All candidate edges with their probabilities: the graph edges in candidate_edges order
// (stored as (min, max) of (d1, d2)), then, when enabled, the same-joint edges by joint,
// pairs (i, j), i < j, in lexicographic order. J comes from the pairwise map.
PairwiseTerms pairwise_terms(const DetectionsView& det, const PairwiseMapView& pairwise,
                             const SpatialModelView& model, const SameJointParams& same_joint = {},
                             const DisplacementOrigin& origin = {});

// Cost log((1-p)/p) of a probability clipped to [1e-7, 1 - 1e-7] (node and edge costs).
inline double cost_from_prob(double p) {
  constexpr double kEps = 1e-7;
  if (!(p >= kEps)) p = kEps;  // also maps NaN to eps
  if (p > 1.0 - kEps) p = 1.0 - kEps;
  return std::log((1.0 - p) / p);
}

}  // namespace arttrack
