// Bindings for assembly of clusters into people.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>

#include "arttrack/assemble.hpp"
#include "checks.hpp"

namespace arttrack::bindings {

void bind_assemble(py::module_& m) {
  m.def(
      "assemble",
      [](const py::handle& part, const py::handle& xy, const py::handle& score, const py::handle& active,
         const py::handle& cluster, std::int64_t num_joints, std::int64_t min_joints,
         double merge_radius) {
        auto p = as_array<std::int32_t>(part, "peaks.part", 1);
        const py::ssize_t n = p.shape(0);
        auto x = as_array<float>(xy, "peaks.xy", 2, {n, 2});
        auto s = as_array<float>(score, "peaks.score", 1, {n});
        auto a = as_array<bool>(active, "active", 1, {n});
        auto c = as_array<std::int64_t>(cluster, "cluster", 1, {n});
        require_finite(x, "peaks.xy");
        require_finite(s, "peaks.score");
        People people;
        {
          py::gil_scoped_release release;
          people = arttrack::assemble({p.data(), {n}}, {x.data(), {n, 2}}, {s.data(), {n}}, {a.data(), {n}},
                                      {c.data(), {n}}, num_joints, min_joints, merge_radius);
        }
        const auto np = static_cast<py::ssize_t>(people.size());
        py::array_t<float> joints({np, static_cast<py::ssize_t>(num_joints), static_cast<py::ssize_t>(3)});
        py::array_t<std::int64_t> ids(np);
        if (np > 0) {
          std::memcpy(joints.mutable_data(), people.joints.data(), people.joints.size() * sizeof(float));
          std::memcpy(ids.mutable_data(), people.cluster.data(), people.cluster.size() * sizeof(std::int64_t));
        }
        return py::make_tuple(joints, ids);
      },
      py::arg("part"), py::arg("xy"), py::arg("score"), py::arg("active"), py::arg("cluster"), py::arg("num_joints"),
      py::arg("min_joints"), py::arg("merge_radius") = 0.0,
      "People (P, J, 3) float32 (x, y, score; NaN, NaN, 0 for missing joints) and their cluster ids (P,).");
}

}  // namespace arttrack::bindings
