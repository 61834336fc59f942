// Re-linking tracks with a few frames of look-ahead: the costs of joining the past of one track
// to the future of another at a boundary between two frames, and of giving the people of one
// frame the ids of the tracks around it. The decisions (Hungarian pairings, the margin, which
// tracks may change) are made by the caller, arttrack.tracking.relink.TrackRelinker, which
// describes the method.
//
// Per track and joint, a least-squares line through the joint's positions on one side of the
// boundary (a constant where the side has fewer than 3 of them), evaluated at the boundary
// time `at`:
//   n points at times t_k, tbar their mean, sxx = sum (t_k - tbar)^2;
//   n >= 3: end = mean + slope (at - tbar),  variance = 1/n + (at - tbar)^2 / sxx;
//   n = 1, 2: end = mean,                    variance = 1/n + 2
// (variances in units of sigma^2, the joints' noise per coordinate). sigma^2 is pooled over the
// lines of 3 or more points of both sides: sum of squared residuals / (2 sum (n - 2)), at
// least 1 px^2; 100 px^2 when no line has 3 points.
// cost(a, b) = sum_j min(d_j^2 / (2 sigma^2 (var_a,j + var_b,j)) - link_cost, 0) over the joints
// that the past of a and the future of b both have, d_j the distance of the two ends.
#pragma once

#include <cstdint>
#include <vector>

namespace arttrack {

// Positions of N tracks in T frames on one side of a boundary.
struct TrackWindow {
  std::int64_t num_tracks = 0;   // N >= 0
  std::int64_t num_frames = 0;   // T >= 0
  std::int64_t num_joints = 0;   // J > 0
  std::vector<double> xy;        // N*T*J*2, NaN where a track lacks the joint in a frame
  std::vector<double> time;      // T frame times (finite)
};

// The lines' ends of one side (see the file comment).
struct LineEnds {
  std::vector<double> xy;        // N*J*2, NaN where the side lacks the joint
  std::vector<double> variance;  // N*J, in units of sigma^2 (NaN where no end)
  double squared_residual = 0.0; // of the lines of 3 or more points
  double dof = 0.0;              // 2 sum (n - 2) over those lines
};

struct RelinkCosts {
  std::vector<double> cost;      // L*R row-major, <= 0
  double sigma2 = 0.0;           // the pooled noise, px^2 per coordinate
};

// Throws std::invalid_argument on inconsistent sizes, a non-finite time or a coordinate that is
// infinite (NaN marks a missing joint).
LineEnds line_ends(const TrackWindow& side, double at);

// Costs of joining the past of each of L tracks to the future of each of R tracks at time `at`
// (link_cost > 0). Both sides must have the same J.
RelinkCosts relink_costs(const TrackWindow& past, const TrackWindow& future, double at, double link_cost);

// Costs (P*L row-major, <= 0) of giving each of the P people of one frame at time `at` the id of
// each of the L tracks of `around` (their positions in the frames before and after it, the frame
// itself left out): sum_j min(d_j^2 / (2 sigma^2 (var_j + 1)) - link_cost, 0) over the joints the
// person and the track's line both have, d_j the distance of the person's joint from the line's
// end at `at`, var_j the end's variance (the 1: the person's own noise) and sigma^2 pooled from
// the lines as above. people: P*J*2, NaN where a person lacks a joint.
RelinkCosts frame_costs(const TrackWindow& around, const std::vector<double>& people, std::int64_t num_people,
                        double at, double link_cost);

}  // namespace arttrack
