// Assembly: clusters of active detections -> people (docs/DESIGN.md section 1, inference step 5).
#pragma once
#include <cstdint>
#include <vector>

#include "arttrack/peaks.hpp"

namespace arttrack {

struct People {
  std::vector<float> joints;          // (P, J, 3) flattened: x, y, score
  std::vector<std::int64_t> cluster;  // (P,) cluster id of each person, increasing
  std::int64_t num_joints = 0;
  std::int64_t size() const { return static_cast<std::int64_t>(cluster.size()); }
};

// One person per cluster id among the active detections, people ordered by increasing
// cluster id (any int64 value is a valid id; inactive detections are ignored).
// Per joint of a person:
//   position = the position of the cluster's best (highest-scoring; first on ties) detection
//              of that joint, score-weighted with those of its other detections of that joint
//              within `merge_radius` px of the best one (plain mean when their scores sum to
//              <= 0). merge_radius = 0 keeps the best detection alone; infinity averages all
//              of them (docs/DESIGN.md step 5 as first written, which put a joint between two
//              far-apart candidates, e.g. both feet, where neither is);
//   score    = the best detection's score (a mean would reward a cluster for duplicate
//              low-score detections no less than one confident one);
//   no detection: x = y = NaN, score = 0.
// People with fewer than `min_joints` detected joints are dropped.
// Throws std::invalid_argument on mismatched lengths, a part outside [0, num_joints),
// num_joints < 1, min_joints < 0, a negative or NaN merge_radius or a non-finite
// position/score of an active detection.
People assemble(const ArrayView<std::int32_t, 1>& part, const ArrayView<float, 2>& xy,
                const ArrayView<float, 1>& score, const ArrayView<bool, 1>& active,
                const ArrayView<std::int64_t, 1>& cluster, std::int64_t num_joints, std::int64_t min_joints = 3,
                double merge_radius = 0.0);

}  // namespace arttrack
