#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "arttrack/relink.hpp"
#include "check.hpp"

using arttrack::TrackWindow;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// One joint, y = 0, x given per frame, for each track.
TrackWindow window_1d(const std::vector<std::vector<double>>& x, const std::vector<double>& time) {
  TrackWindow w;
  w.num_tracks = static_cast<std::int64_t>(x.size());
  w.num_frames = static_cast<std::int64_t>(time.size());
  w.num_joints = 1;
  w.time = time;
  for (const auto& row : x)
    for (double v : row) {
      w.xy.push_back(v);
      w.xy.push_back(std::isnan(v) ? kNaN : 0.0);
    }
  return w;
}

bool near(double a, double b) { return std::abs(a - b) < 1e-9; }
}  // namespace

// Past x = t at t = 0, 1, 2: the line's end at 2.5 is 2.5 with variance 1/3 + 1.5^2 / 2.
ARTTRACK_TEST(line_end_by_hand) {
  const auto e = arttrack::line_ends(window_1d({{0.0, 1.0, 2.0}}, {0, 1, 2}), 2.5);
  CHECK(near(e.xy[0], 2.5) && near(e.xy[1], 0.0));
  CHECK(near(e.variance[0], 1.0 / 3.0 + 1.125));
  CHECK(near(e.squared_residual, 0.0) && near(e.dof, 2.0));
}

// x = 0, 1.5, 2 at t = 0, 1, 2: slope 1, mean 7/6, residuals -1/6, 1/3, -1/6.
ARTTRACK_TEST(line_residuals_by_hand) {
  const auto e = arttrack::line_ends(window_1d({{0.0, 1.5, 2.0}}, {0, 1, 2}), 2.5);
  CHECK(near(e.xy[0], 7.0 / 6.0 + 1.5));
  CHECK(near(e.squared_residual, 1.0 / 36 + 1.0 / 9 + 1.0 / 36));
}

// Fewer than 3 points: the mean, variance 1/n + 2; none: NaN.
ARTTRACK_TEST(constant_end_and_missing) {
  const auto e = arttrack::line_ends(window_1d({{4.0, kNaN, 6.0}, {kNaN, kNaN, kNaN}}, {0, 1, 2}), 2.5);
  CHECK(near(e.xy[0], 5.0) && near(e.variance[0], 2.5));
  CHECK(std::isnan(e.xy[2]) && std::isnan(e.variance[1]));
  CHECK(near(e.dof, 0.0));
}

// A past line x = t meets a future x = t exactly (cost -link_cost) and one 3 px to the right
// with d^2 = 9: sigma^2 = 1 (no residual, floored), both variances 1/3 + 1.125.
ARTTRACK_TEST(costs_by_hand) {
  const TrackWindow past = window_1d({{0.0, 1.0, 2.0}}, {0, 1, 2});
  const TrackWindow future = window_1d({{3.0, 4.0, 5.0}, {6.0, 7.0, 8.0}}, {3, 4, 5});
  const auto c = arttrack::relink_costs(past, future, 2.5, 5.0);
  CHECK(near(c.sigma2, 1.0));
  CHECK(near(c.cost[0], -5.0));
  const double v = 2.0 * (1.0 / 3.0 + 1.125);
  CHECK(near(c.cost[1], 9.0 / (2.0 * v) - 5.0));
  // far beyond sqrt(2 link_cost) deviations: no evidence, cost 0
  const auto far = arttrack::relink_costs(past, window_1d({{103.0, 104.0, 105.0}}, {3, 4, 5}), 2.5, 5.0);
  CHECK(near(far.cost[0], 0.0));
}

// No line of 3 points on either side: sigma^2 = 100.
ARTTRACK_TEST(default_noise_without_lines) {
  const auto c = arttrack::relink_costs(window_1d({{1.0}}, {0}), window_1d({{11.0}}, {1}), 0.5, 5.0);
  CHECK(near(c.sigma2, 100.0));
  CHECK(near(c.cost[0], std::min(100.0 / (2.0 * 100.0 * 6.0) - 5.0, 0.0)));
}

// A track at x = t in frames 0, 1, 3, 4 (frame 2 left out) ends at 2 with variance 1/4 + 0;
// a person at x = 2 costs -link_cost, one at x = 5 costs 9 / (2 (1/4 + 1)) - 5.
ARTTRACK_TEST(frame_costs_by_hand) {
  const TrackWindow around = window_1d({{0.0, 1.0, 3.0, 4.0}}, {0, 1, 3, 4});
  const std::vector<double> people = {2.0, 0.0, 5.0, 0.0, kNaN, kNaN};
  const auto c = arttrack::frame_costs(around, people, 3, 2.0, 5.0);
  CHECK(near(c.sigma2, 1.0));
  CHECK(near(c.cost[0], -5.0));
  CHECK(near(c.cost[1], 9.0 / (2.0 * 1.25) - 5.0));
  CHECK(near(c.cost[2], 0.0));  // a person without the joint: no evidence
  CHECK_THROWS(arttrack::frame_costs(around, {1.0, 2.0}, 3, 2.0, 5.0), std::invalid_argument);
}

ARTTRACK_TEST(bad_input_throws) {
  TrackWindow w = window_1d({{0.0, 1.0}}, {0, 1});
  w.xy.pop_back();
  CHECK_THROWS(arttrack::line_ends(w, 0.5), std::invalid_argument);
  TrackWindow inf = window_1d({{0.0, std::numeric_limits<double>::infinity()}}, {0, 1});
  CHECK_THROWS(arttrack::line_ends(inf, 0.5), std::invalid_argument);
  TrackWindow two;  // a valid window of 2 joints
  two.num_tracks = two.num_frames = 1;
  two.num_joints = 2;
  two.xy = {0.0, 0.0, 1.0, 1.0};
  two.time = {0.0};
  CHECK_THROWS(arttrack::relink_costs(window_1d({{0.0}}, {0}), two, 0.5, 5.0), std::invalid_argument);
  CHECK_THROWS(arttrack::relink_costs(window_1d({{0.0}}, {0}), window_1d({{0.0}}, {1}), 0.5, 0.0), std::invalid_argument);
}

ARTTRACK_TEST_MAIN()
