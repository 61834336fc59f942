// Bindings for the geometry of the network input (geometry.hpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "arttrack/geometry.hpp"
#include "checks.hpp"

namespace arttrack::bindings {

void bind_geometry(py::module_& m) {
  m.def(
      "to_original",
      [](const py::handle& xy, std::pair<double, double> scale, std::pair<double, double> pad,
         std::pair<double, double> crop) {
        auto a = as_array<double>(xy, "xy", -1);
        if (a.ndim() < 1 || a.shape(a.ndim() - 1) < 2)
          throw std::invalid_argument("xy must have shape (..., 2+) (x, y first), got " + shape_str(a));
        // a copy: the caller's array stays as it was
        py::array_t<double, py::array::c_style> out(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
        std::copy(a.data(), a.data() + a.size(), out.mutable_data());
        const std::int64_t stride = a.shape(a.ndim() - 1);
        const std::int64_t n = stride > 0 ? static_cast<std::int64_t>(a.size()) / stride : 0;
        Letterbox g{scale.first, scale.second, pad.first, pad.second, crop.first, crop.second};
        {
          py::gil_scoped_release release;
          arttrack::to_original(g, out.mutable_data(), n, stride);
        }
        return out;
      },
      py::arg("xy"), py::arg("scale") = std::pair<double, double>{1.0, 1.0},
      py::arg("pad") = std::pair<double, double>{0.0, 0.0},
      py::arg("crop") = std::pair<double, double>{0.0, 0.0},
      "Network-input pixels -> original pixels: x = crop_x + (u - pad_x + 0.5) / scale_x - 0.5, "
      "likewise y, on the first two columns of xy (..., k >= 2) float64 (a new array; the other "
      "columns copied, NaN kept).");
}

}  // namespace arttrack::bindings
