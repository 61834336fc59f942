// Bindings for pairwise terms: candidate_edges, pairwise_features, pairwise_terms.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>

#include "arttrack/pairwise.hpp"
#include "checks.hpp"

namespace arttrack::bindings {
namespace {

template <typename T, typename U = T>
py::array_t<T> vec_to_numpy(const std::vector<U>& v, std::vector<py::ssize_t> shape) {
  static_assert(sizeof(T) == sizeof(U), "element size mismatch");
  py::array_t<T> a(shape);
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

struct Detections {
  py::array_t<std::int32_t, py::array::c_style> part, cell;
  py::array_t<float, py::array::c_style> xy;
  DetectionsView view;
};

Detections get_detections(const py::handle& part, const py::handle& xy, const py::handle& cell) {
  Detections d;
  d.part = as_array<std::int32_t>(part, "peaks.part", 1);
  const py::ssize_t n = d.part.shape(0);
  d.xy = as_array<float>(xy, "peaks.xy", 2, {n, 2});
  d.cell = as_array<std::int32_t>(cell, "peaks.cell", 2, {n, 2});
  require_finite(d.xy, "peaks.xy");
  d.view = {{d.part.data(), {n}}, {d.xy.data(), {n, 2}}, {d.cell.data(), {n, 2}}};
  return d;
}

// The (H, W, J*(J-1), 2) map is large (2.6 M floats for COCO at 60x80): only the values the
// core reads are checked for finiteness (by the core), not the whole map.
py::array_t<float, py::array::c_style> get_map(const py::handle& pairwise, PairwiseMapView& view) {
  auto a = as_array<float>(pairwise, "pairwise", 4, {-1, -1, -1, 2});
  view = {a.data(), {a.shape(0), a.shape(1), a.shape(2), a.shape(3)}};
  return a;
}

}  // namespace

void bind_pairwise(py::module_& m) {
  m.attr("NUM_PAIRWISE_FEATURES") = kNumPairwiseFeatures;

  m.def(
      "candidate_edges",
      [](const py::handle& part, const py::handle& pairs, std::int64_t num_joints) {
        auto p = as_array<std::int32_t>(part, "peaks.part", 1);
        auto g = as_array<std::int64_t>(pairs, "pairs", 2, {-1, 2});
        CandidateEdges c;
        {
          py::gil_scoped_release release;
          c = candidate_edges({p.data(), {p.shape(0)}}, {g.data(), {g.shape(0), 2}}, num_joints);
        }
        const auto e = static_cast<py::ssize_t>(c.size());
        return py::make_tuple(vec_to_numpy<std::int64_t>(c.edges, {e, 2}), vec_to_numpy<std::int64_t>(c.pair_index, {e}));
      },
      py::arg("part"), py::arg("pairs"), py::arg("num_joints"),
      "Directed candidate edges (E, 2) int64 (d1 of pairs[p,0], d2 of pairs[p,1]) and pair index (E,).");

  m.def(
      "pairwise_features",
      [](const py::handle& part, const py::handle& xy, const py::handle& cell, const py::handle& pairwise,
         const py::handle& edges, bool cell_centre, double stride) {
        Detections d = get_detections(part, xy, cell);
        PairwiseMapView mv;
        auto map = get_map(pairwise, mv);
        auto e = as_array<std::int64_t>(edges, "edges", 2, {-1, 2});
        py::array_t<double> out({e.shape(0), static_cast<py::ssize_t>(kNumPairwiseFeatures)});
        double* dst = out.mutable_data();
        {
          py::gil_scoped_release release;
          pairwise_features(d.view, mv, {e.data(), {e.shape(0), 2}}, dst, DisplacementOrigin{cell_centre, stride});
        }
        return out;
      },
      py::arg("part"), py::arg("xy"), py::arg("cell"), py::arg("pairwise"), py::arg("edges"),
      py::arg("cell_centre") = false, py::arg("stride") = 8.0,
      "Raw (E, 9) float64 features of directed edges (d1, d2); cell_centre: displacements start at the "
      "detections' cell centres (DeeperCut), else at their positions.");

  m.def(
      "pairwise_terms",
      [](const py::handle& part, const py::handle& xy, const py::handle& cell, const py::handle& pairwise,
         const py::handle& pairs, const py::handle& feat_min, const py::handle& feat_max, const py::handle& weights,
         bool same_joint, double same_joint_slope, double same_joint_offset, bool cell_centre, double stride) {
        Detections d = get_detections(part, xy, cell);
        PairwiseMapView mv;
        auto map = get_map(pairwise, mv);
        auto g = as_array<std::int64_t>(pairs, "model.pairs", 2, {-1, 2});
        const py::ssize_t np = g.shape(0), nf = kNumPairwiseFeatures;
        auto fmin = as_array<double>(feat_min, "model.feat_min", 2, {np, nf});
        auto fmax = as_array<double>(feat_max, "model.feat_max", 2, {np, nf});
        auto w = as_array<double>(weights, "model.weights", 2, {np, nf});
        require_finite(fmin, "model.feat_min");
        require_finite(fmax, "model.feat_max");
        require_finite(w, "model.weights");
        SpatialModelView model{{g.data(), {np, 2}}, {fmin.data(), {np, nf}}, {fmax.data(), {np, nf}}, {w.data(), {np, nf}}};
        SameJointParams sj{same_joint, same_joint_slope, same_joint_offset};
        PairwiseTerms t;
        {
          py::gil_scoped_release release;
          t = pairwise_terms(d.view, mv, model, sj, DisplacementOrigin{cell_centre, stride});
        }
        const auto e = static_cast<py::ssize_t>(t.size());
        return py::make_tuple(vec_to_numpy<std::int64_t>(t.edges, {e, 2}), vec_to_numpy<double>(t.prob, {e}),
                              vec_to_numpy<bool>(t.same_joint, {e}), vec_to_numpy<std::int64_t>(t.pair_index, {e}));
      },
      py::arg("part"), py::arg("xy"), py::arg("cell"), py::arg("pairwise"), py::arg("pairs"), py::arg("feat_min"),
      py::arg("feat_max"), py::arg("weights"), py::arg("same_joint"), py::arg("same_joint_slope"),
      py::arg("same_joint_offset"), py::arg("cell_centre") = false, py::arg("stride") = 8.0,
      "Candidate edges with probabilities: (edges (E, 2) int64 i < j, prob (E,) float64, same_joint (E,) bool, "
      "pair_index (E,) int64, -1 for same-joint edges).");
}

}  // namespace arttrack::bindings
