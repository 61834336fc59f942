// The way back from network-input pixels to original image pixels (geometry.hpp).
#include "arttrack/geometry.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace arttrack {

void to_original(const Letterbox& g, double* rows, std::int64_t n, std::int64_t stride) {
  if (!(g.scale_x > 0.0) || !(g.scale_y > 0.0) || !std::isfinite(g.scale_x) || !std::isfinite(g.scale_y))
    throw std::invalid_argument("scale must be positive and finite, got (" + std::to_string(g.scale_x) +
                                ", " + std::to_string(g.scale_y) + ")");
  if (!std::isfinite(g.pad_x) || !std::isfinite(g.pad_y) || !std::isfinite(g.crop_x) || !std::isfinite(g.crop_y))
    throw std::invalid_argument("pad and crop offsets must be finite");
  if (stride < 2) throw std::invalid_argument("rows need x and y (stride >= 2), got " + std::to_string(stride));
  if (n < 0) throw std::invalid_argument("n must be >= 0");
  for (std::int64_t i = 0; i < n; ++i) {
    double* r = rows + i * stride;
    const auto [x, y] = to_original(g, r[0], r[1]);
    r[0] = x;
    r[1] = y;
  }
}

}  // namespace arttrack
