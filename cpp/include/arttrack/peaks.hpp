// Peak extraction from part score maps: per-joint greedy non-maximum suppression with
// location refinement (docs/DESIGN.md section 1, inference step 1), and single-person argmax.
//
// Maps are row-major (H, W, J) float32 arrays as produced by the network heads (the joint
// channel is the fastest axis); location refinement maps are (H, W, J, 2) with (dx, dy)
// offsets normalised by `locref_stdev`.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace arttrack {

// A read-only, row-major, C-contiguous N-dimensional view: pointer plus shape.
// `data` may be null only when the view is empty (a zero in `shape`) or explicitly
// optional (see the functions that say so).
template <typename T, std::size_t N>
struct ArrayView {
  const T* data = nullptr;
  std::array<std::int64_t, N> shape{};

  std::int64_t size() const {
    std::int64_t n = 1;
    for (std::int64_t s : shape) n *= s;
    return n;
  }
  std::int64_t dim(std::size_t i) const { return shape[i]; }
  bool empty() const { return size() == 0; }
};

using ScoreMapView = ArrayView<float, 3>;   // (H, W, J)
using LocrefMapView = ArrayView<float, 4>;  // (H, W, J, 2), data == nullptr: no locref

struct PeakParams {
  double stride = 8.0;          // input pixels per map cell (> 0)
  std::int64_t nms_radius = 5;  // suppression radius in cells (>= 0), Euclidean, inclusive
  double min_score = 0.2;       // keep cells with score >= min_score (finite)
  double locref_stdev = 7.2801; // locref de-normalisation factor (finite)
};

// Detections, struct of arrays. Entry n: joint `part[n]`, position (xy[2n], xy[2n+1]) in
// input pixels, `score[n]`, cell (row cell[2n], col cell[2n+1]).
struct Peaks {
  std::vector<std::int32_t> part;
  std::vector<float> xy;
  std::vector<float> score;
  std::vector<std::int32_t> cell;

  std::int64_t size() const { return static_cast<std::int64_t>(part.size()); }
};

// Per joint channel j, greedy NMS: visit the cells by decreasing score (ties: lower
// row-major index first); keep a cell if score >= min_score and no already kept cell of
// channel j lies at Euclidean distance <= nms_radius cells (dr^2 + dc^2 <= r^2).
// Kept cell (row, col) -> position (col*stride + stride/2, row*stride + stride/2) plus
// locref(row, col, j) * locref_stdev when `locref.data` is not null.
// Output order: by joint, then decreasing score, ties by row-major index.
//
// Throws std::invalid_argument on bad parameters, a locref shape that does not match the
// score map, a non-finite score (anywhere in the map) or a non-finite locref value at a
// kept cell (locref is only read at kept cells). Cost: one pass over the map, then a few
// steps per cell >= min_score (a counting sort by score bucket and a test against a bit
// set of suppressed cells); only the candidates not yet suppressed when their bucket comes
// are sorted exactly.
Peaks find_peaks(const ScoreMapView& scoremap, const LocrefMapView& locref, const PeakParams& params = {});

// Single-person decoding: per joint j, the argmax cell (first in row-major order on ties)
// with locref applied. Writes J rows of (x, y, score) into `out` (3*J floats).
// Throws std::invalid_argument for an empty map (H*W == 0), a non-finite score, a non-finite
// locref value at an argmax cell, or bad parameters.
void argmax_pose(const ScoreMapView& scoremap, const LocrefMapView& locref, double stride, double locref_stdev,
                 float* out);

}  // namespace arttrack
