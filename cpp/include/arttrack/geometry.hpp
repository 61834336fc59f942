// Geometry of the network input: where a (cropped, rescaled, padded) image lands in it, and
// the way back to original image pixels (docs/DESIGN.md section 4, coordinates). The one
// implementation of that inverse: the video pipeline and `predict` (a frame rescaled by a
// factor), the deployment path's letterbox (`arttrack.deploy.binaries`) and the C++ runner's
// `--decode` all call it.
#pragma once
#include <cstdint>
#include <utility>

namespace arttrack {

// A crop of the original image starting at (crop_x, crop_y) (original pixels), resized by
// (scale_x, scale_y) and placed at (pad_x, pad_y) in the input. A plain rescale is
// crop = pad = 0; a letterbox pads to centre the resized crop.
struct Letterbox {
  double scale_x = 1.0, scale_y = 1.0;
  double pad_x = 0.0, pad_y = 0.0;
  double crop_x = 0.0, crop_y = 0.0;
};

// Input pixel (u, v) -> original pixel, pixel-centre convention (integer = pixel centre;
// a resize by r maps x -> (x + 0.5) r - 0.5):
//   x = crop_x + (u - pad_x + 0.5) / scale_x - 0.5, likewise y.
// NaN stays NaN.
inline std::pair<double, double> to_original(const Letterbox& g, double u, double v) {
  return {g.crop_x + (u - g.pad_x + 0.5) / g.scale_x - 0.5,
          g.crop_y + (v - g.pad_y + 0.5) / g.scale_y - 0.5};
}

// In place over `n` rows of `stride` doubles whose first two entries are x, y (the rest,
// e.g. scores, untouched). Throws std::invalid_argument when a scale is not positive and
// finite, an offset is not finite, or stride < 2.
void to_original(const Letterbox& g, double* rows, std::int64_t n, std::int64_t stride);

}  // namespace arttrack
