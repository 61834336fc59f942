#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "arttrack/geometry.hpp"
#include "check.hpp"

using arttrack::Letterbox;

// A 200x100 (w x h) crop starting at (40, 10), resized by 0.5 to 100x50 and centred in a
// 100x80 input: pad (0, 15). Input pixel (u, v) -> crop pixel ((u + 0.5) / 0.5 - 0.5, ...)
// by hand: u = 0 -> 0.5 (the first input pixel covers crop pixels 0 and 1, centre 0.5).
ARTTRACK_TEST(letterbox_by_hand) {
  Letterbox g{0.5, 0.5, 0.0, 15.0, 40.0, 10.0};
  auto [x, y] = arttrack::to_original(g, 0.0, 15.0);
  CHECK(std::abs(x - 40.5) < 1e-12 && std::abs(y - 10.5) < 1e-12);
  // the resized crop's last pixel (99, 15 + 49) covers crop pixels 198-199 and 98-99
  auto [x2, y2] = arttrack::to_original(g, 99.0, 64.0);
  CHECK(std::abs(x2 - (40.0 + 198.5)) < 1e-12 && std::abs(y2 - (10.0 + 98.5)) < 1e-12);
}

// A plain rescale by r is x' = (x + 0.5) r - 0.5 (OpenCV's INTER_LINEAR centres); its inverse
// takes x' back to x for any x.
ARTTRACK_TEST(rescale_round_trip) {
  const double r = 0.3;
  Letterbox g{r, r, 0.0, 0.0, 0.0, 0.0};
  for (double x : {0.0, 1.0, 17.25, 639.0}) {
    const double xs = (x + 0.5) * r - 0.5;
    auto [bx, by] = arttrack::to_original(g, xs, xs);
    CHECK(std::abs(bx - x) < 1e-9 && std::abs(by - x) < 1e-9);
  }
}

ARTTRACK_TEST(rows_in_place_keep_other_columns_and_nan) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> rows = {1.0, 2.0, 0.9, nan, nan, 0.0};
  arttrack::to_original(Letterbox{2.0, 4.0, 1.0, 0.0, 10.0, 20.0}, rows.data(), 2, 3);
  CHECK(std::abs(rows[0] - (10.0 + 0.5 / 2.0 - 0.5)) < 1e-12);
  CHECK(std::abs(rows[1] - (20.0 + 2.5 / 4.0 - 0.5)) < 1e-12);
  CHECK(rows[2] == 0.9 && std::isnan(rows[3]) && std::isnan(rows[4]) && rows[5] == 0.0);
}

ARTTRACK_TEST(bad_geometry_throws) {
  double xy[2] = {0.0, 0.0};
  CHECK_THROWS(arttrack::to_original(Letterbox{0.0, 1.0}, xy, 1, 2), std::invalid_argument);
  CHECK_THROWS(arttrack::to_original(Letterbox{1.0, std::nan("")}, xy, 1, 2), std::invalid_argument);
  Letterbox inf_pad;
  inf_pad.pad_x = std::numeric_limits<double>::infinity();
  CHECK_THROWS(arttrack::to_original(inf_pad, xy, 1, 2), std::invalid_argument);
  CHECK_THROWS(arttrack::to_original(Letterbox{}, xy, 1, 1), std::invalid_argument);
}

ARTTRACK_TEST_MAIN()
