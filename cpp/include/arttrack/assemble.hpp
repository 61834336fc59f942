// Assembly: clusters of active detections -> people (DESIGN.md section 1, inference step 5).
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
//   position = score-weighted mean of the positions of the cluster's detections of that
//              joint (plain mean when the scores sum to <= 0);
//   score    = the maximum of those detections' scores (the weighted mean would reward a
//              cluster for duplicate low-score detections no less than one confident one);
//   no detection: x = y = NaN, score = 0.
// People with fewer than `min_joints` detected joints are dropped.
// Throws std::invalid_argument on mismatched lengths, a part outside [0, num_joints),
// num_joints < 1, min_joints < 0 or a non-finite position/score of an active detection.
People assemble(const ArrayView<std::int32_t, 1>& part, const ArrayView<float, 2>& xy,
                const ArrayView<float, 1>& score, const ArrayView<bool, 1>& active,
                const ArrayView<std::int64_t, 1>& cluster, std::int64_t num_joints, std::int64_t min_joints = 3);

}  // namespace arttrack
