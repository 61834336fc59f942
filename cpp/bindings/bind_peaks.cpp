// Bindings for peak extraction: find_peaks, argmax_pose.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <optional>

#include "arttrack/peaks.hpp"
#include "checks.hpp"

namespace arttrack::bindings {
namespace {

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

struct Maps {
  py::array_t<float, py::array::c_style> score, locref;
  ScoreMapView score_view;
  LocrefMapView locref_view;
};

// Score maps are checked for finiteness by the core in the same pass that reads them;
// locref is only read (and checked) at the output cells, which keeps a full extra pass
// over the (H, W, J, 2) map out of the per-frame cost.
Maps get_maps(const py::handle& scoremap, const py::handle& locref) {
  Maps m;
  m.score = as_array<float>(scoremap, "scoremap", 3);
  m.score_view = {m.score.data(), {m.score.shape(0), m.score.shape(1), m.score.shape(2)}};
  if (!locref.is_none()) {
    m.locref = as_array<float>(locref, "locref", 4, {m.score.shape(0), m.score.shape(1), m.score.shape(2), 2});
    m.locref_view = {m.locref.data(), {m.locref.shape(0), m.locref.shape(1), m.locref.shape(2), 2}};
  }
  return m;
}

}  // namespace

void bind_peaks(py::module_& m) {
  m.def(
      "find_peaks",
      [](const py::handle& scoremap, const py::handle& locref, double stride, std::int64_t nms_radius,
         double min_score, double locref_stdev) {
        Maps maps = get_maps(scoremap, locref);
        PeakParams p;
        p.stride = stride;
        p.nms_radius = nms_radius;
        p.min_score = min_score;
        p.locref_stdev = locref_stdev;
        Peaks peaks;
        {
          py::gil_scoped_release release;
          peaks = find_peaks(maps.score_view, maps.locref_view, p);
        }
        const auto n = static_cast<py::ssize_t>(peaks.size());
        return py::make_tuple(to_numpy(peaks.part, {n}), to_numpy(peaks.xy, {n, 2}), to_numpy(peaks.score, {n}),
                              to_numpy(peaks.cell, {n, 2}));
      },
      py::arg("scoremap"), py::arg("locref"), py::arg("stride"), py::arg("nms_radius"), py::arg("min_score"),
      py::arg("locref_stdev"),
      "Per-joint greedy NMS over a (H, W, J) float32 score map. Returns (part (N,) int32, "
      "xy (N, 2) float32, score (N,) float32, cell (N, 2) int32).");

  m.def(
      "argmax_pose",
      [](const py::handle& scoremap, const py::handle& locref, double stride, double locref_stdev) {
        Maps maps = get_maps(scoremap, locref);
        py::array_t<float> out({maps.score_view.shape[2], static_cast<std::int64_t>(3)});
        float* dst = out.mutable_data();
        {
          py::gil_scoped_release release;
          argmax_pose(maps.score_view, maps.locref_view, stride, locref_stdev, dst);
        }
        return out;
      },
      py::arg("scoremap"), py::arg("locref"), py::arg("stride"), py::arg("locref_stdev"),
      "Per-joint argmax (first in row-major order on ties) with locref: (J, 3) float32 x, y, score.");
}

}  // namespace arttrack::bindings
