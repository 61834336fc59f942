// Bindings for the spatio-temporal linking: temporal_features, default_temporal_weights and
// the stateful Tracker (see arttrack/tracking.hpp), and the costs of re-linking young tracks
// (arttrack/relink.hpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "arttrack/relink.hpp"
#include "arttrack/tracking.hpp"
#include "checks.hpp"

namespace arttrack::bindings {
namespace {

template <typename T>
py::array_t<T> vec_to_numpy(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

// The C++ tracker plus a mutex: the GIL is released during the C++ work, so two Python
// threads sharing one tracker must not run into it at the same time.
struct PyTracker {
  explicit PyTracker(const TrackerSettings& s, const TemporalModel& m) : tracker(s, m) {}
  Tracker tracker;
  std::mutex mutex;
};

// Runs f(tracker) under the tracker's mutex and returns its result (plain C++ values: the
// GIL is released meanwhile, so that a thread waiting for the mutex does not hold the GIL that
// the thread inside step() needs to return). Every read of the tracker's state goes through
// here or holds the mutex as step() does.
template <typename F>
auto locked(PyTracker& self, F&& f) {
  py::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(self.mutex);
  return f(self.tracker);
}

// A TrackWindow (relink.hpp) from (N, T, J, 2) float64 positions and (T,) frame times.
TrackWindow track_window(const py::handle& xy, const py::handle& time, const char* name, const char* tname) {
  auto a = as_array<double>(xy, name, 4);
  if (a.shape(3) != 2)
    throw std::invalid_argument(std::string(name) + " must have shape (N, T, J, 2), got " + shape_str(a));
  auto t = as_array<double>(time, tname, 1, {a.shape(1)});
  TrackWindow w;
  w.num_tracks = a.shape(0);
  w.num_frames = a.shape(1);
  w.num_joints = a.shape(2);
  w.xy.assign(a.data(), a.data() + a.size());
  w.time.assign(t.data(), t.data() + t.size());
  return w;
}

// A copy of the window of tracks, as flat arrays.
struct TracksCopy {
  std::int64_t J = 0;
  std::vector<std::int64_t> id, first, last, nf, jf;
  std::vector<double> xy, vel, size, spread;
  std::vector<std::uint8_t> hv, sm;
};

TracksCopy copy_tracks(const Tracker& tracker) {
  TracksCopy c;
  c.J = tracker.settings().num_joints;
  for (const auto& t : tracker.tracks()) {
    c.id.push_back(t.id);
    c.first.push_back(t.first_frame);
    c.last.push_back(t.last_frame);
    c.nf.push_back(t.num_frames);
    c.jf.insert(c.jf.end(), t.joint_frame.begin(), t.joint_frame.end());
    c.xy.insert(c.xy.end(), t.xy.begin(), t.xy.end());
    c.vel.push_back(t.vx);
    c.vel.push_back(t.vy);
    c.hv.push_back(t.has_velocity ? 1 : 0);
    c.size.push_back(t.size);
    c.sm.push_back(t.size_measured ? 1 : 0);
    c.spread.push_back(t.spread);
  }
  return c;
}

PartitionMethod parse_method(const std::string& method) {
  if (method == "gaec") return PartitionMethod::gaec;
  if (method == "gaec+klj") return PartitionMethod::gaec_klj;
  throw std::invalid_argument("method must be 'gaec' or 'gaec+klj', got '" + method + "'");
}

TemporalModel get_model(const py::handle& weights) {
  TemporalModel m = TemporalModel::default_model();
  if (weights.is_none()) return m;
  auto w = as_array<double>(weights, "weights", 1, {kNumTemporalFeatures});
  require_finite(w, "weights");
  for (std::int64_t k = 0; k < kNumTemporalFeatures; ++k) m.weights[static_cast<std::size_t>(k)] = w.data()[k];
  return m;
}

// Detections (and optionally the spatial edges) as the core's FrameDetections. Value ranges
// (joint in [0, J), score in [0, 1], edge endpoints) are checked by the core.
FrameDetections get_detections(const py::handle& joint, const py::handle& xy, const py::handle& score,
                               const py::handle& edges, const py::handle& edge_cost) {
  auto jt = as_array<std::int64_t>(joint, "joint", 1);
  const py::ssize_t n = jt.shape(0);
  auto pos = as_array<double>(xy, "xy", 2, {n, 2});
  require_finite(pos, "xy");
  FrameDetections d;
  d.joint.assign(jt.data(), jt.data() + n);
  d.xy.assign(pos.data(), pos.data() + 2 * n);
  if (score.is_none()) {
    d.score.assign(static_cast<std::size_t>(n), 1.0);
  } else {
    auto sc = as_array<double>(score, "score", 1, {n});
    require_finite(sc, "score");
    d.score.assign(sc.data(), sc.data() + n);
  }
  if (edges.is_none() != edge_cost.is_none())
    throw std::invalid_argument("edges and edge_cost must be given together");
  if (!edges.is_none()) {
    auto ed = as_array<std::int64_t>(edges, "edges", 2, {-1, 2});
    auto ec = as_array<double>(edge_cost, "edge_cost", 1, {ed.shape(0)});
    require_finite(ec, "edge_cost");
    d.edges.resize(static_cast<std::size_t>(ed.shape(0)));
    static_assert(sizeof(PartitionEdge) == 2 * sizeof(std::int64_t), "PartitionEdge must be two packed int64");
    if (!d.edges.empty()) std::memcpy(d.edges.data(), ed.data(), d.edges.size() * sizeof(PartitionEdge));
    d.edge_cost.assign(ec.data(), ec.data() + ec.size());
  }
  return d;
}

}  // namespace

void bind_tracking(py::module_& m) {
  m.def(
      "relink_costs",
      [](const py::handle& past, const py::handle& past_time, const py::handle& future,
         const py::handle& future_time, double at, double link_cost) {
        const TrackWindow p = track_window(past, past_time, "past", "past_time");
        const TrackWindow f = track_window(future, future_time, "future", "future_time");
        RelinkCosts c;
        {
          py::gil_scoped_release release;
          c = arttrack::relink_costs(p, f, at, link_cost);
        }
        return py::make_tuple(vec_to_numpy(c.cost, {static_cast<py::ssize_t>(p.num_tracks),
                                                    static_cast<py::ssize_t>(f.num_tracks)}),
                              c.sigma2);
      },
      py::arg("past"), py::arg("past_time"), py::arg("future"), py::arg("future_time"), py::arg("at"),
      py::arg("link_cost"),
      "Costs (L, R) of joining the past of L tracks (past (L, T, J, 2) float64 positions, NaN = "
      "missing, at frame times past_time (T,)) to the future of R tracks (future (R, T', J, 2), "
      "future_time (T',)) at time `at`, and the pooled noise sigma^2 (arttrack/relink.hpp).");
  m.def(
      "frame_costs",
      [](const py::handle& around, const py::handle& around_time, const py::handle& people, double at,
         double link_cost) {
        const TrackWindow w = track_window(around, around_time, "around", "around_time");
        auto a = as_array<double>(people, "people", 3, {-1, w.num_joints, 2});
        std::vector<double> xy(a.data(), a.data() + a.size());
        RelinkCosts c;
        {
          py::gil_scoped_release release;
          c = arttrack::frame_costs(w, xy, a.shape(0), at, link_cost);
        }
        return py::make_tuple(vec_to_numpy(c.cost, {a.shape(0), static_cast<py::ssize_t>(w.num_tracks)}),
                              c.sigma2);
      },
      py::arg("around"), py::arg("around_time"), py::arg("people"), py::arg("at"), py::arg("link_cost"),
      "Costs (P, L) of giving each of the people (P, J, 2) of the frame at time `at` the id of each "
      "of L tracks (around (L, T, J, 2), their positions in the frames before and after it, at "
      "times around_time (T,)), and the pooled noise sigma^2 (arttrack/relink.hpp).");
  m.attr("NUM_TEMPORAL_FEATURES") = kNumTemporalFeatures;

  m.def(
      "temporal_features",
      [](const py::handle& displacement, const py::handle& size, const py::handle& gap, const py::handle& spread) {
        auto d = as_array<double>(displacement, "displacement", 2, {-1, 2});
        const py::ssize_t n = d.shape(0);
        auto s = as_array<double>(size, "size", 1, {n});
        auto g = as_array<std::int64_t>(gap, "gap", 1, {n});
        auto e = as_array<double>(spread, "spread", 1, {n});
        require_finite(d, "displacement");
        require_finite(s, "size");
        require_finite(e, "spread");
        std::vector<double> out(static_cast<std::size_t>(n * kNumTemporalFeatures));
        {
          py::gil_scoped_release release;
          for (py::ssize_t i = 0; i < n; ++i) {
            const TemporalFeatures f = temporal_features(d.data()[2 * i], d.data()[2 * i + 1], s.data()[i], g.data()[i], e.data()[i]);
            std::memcpy(out.data() + i * kNumTemporalFeatures, f.data(), sizeof(TemporalFeatures));
          }
        }
        return vec_to_numpy(out, {n, static_cast<py::ssize_t>(kNumTemporalFeatures)});
      },
      py::arg("displacement"), py::arg("size"), py::arg("gap"), py::arg("spread"),
      "Temporal link features [1, r, r^2, r/g, log(g), q] with r = |displacement| / size, g the "
      "frame gap and q = |displacement|^2 / spread^2. displacement (N, 2) float64, size (N,) "
      "float64 > 0, gap (N,) int64 >= 1, spread (N,) float64 > 0; returns (N, 6) float64.");

  m.def(
      "default_temporal_weights",
      []() {
        const TemporalModel d = TemporalModel::default_model();
        return vec_to_numpy(std::vector<double>(d.weights.begin(), d.weights.end()), {kNumTemporalFeatures});
      },
      "Weights (6,) of the built-in temporal model.");

  py::class_<PyTracker>(m, "Tracker",
                        "Spatio-temporal tracker: per frame, one node-labelling multicut over the new "
                        "detections and one super-node per live track (see arttrack.tracking).")
      .def(py::init([](std::int64_t num_joints, const py::handle& weights, std::int64_t max_gap, bool use_velocity,
                       double velocity_smoothing, double size_smoothing, double position_smoothing,
                       double spread_smoothing, double initial_spread, double min_spread, double default_person_size,
                       double min_person_size, double max_normalized_distance, double fallback_cost_scale,
                       double fallback_spread, double track_node_cost,
                       double track_repulsion, const std::string& method) {
             TrackerSettings s;
             s.num_joints = num_joints;
             s.max_gap = max_gap;
             s.use_velocity = use_velocity;
             s.velocity_smoothing = velocity_smoothing;
             s.size_smoothing = size_smoothing;
             s.position_smoothing = position_smoothing;
             s.spread_smoothing = spread_smoothing;
             s.initial_spread = initial_spread;
             s.min_spread = min_spread;
             s.default_person_size = default_person_size;
             s.min_person_size = min_person_size;
             s.max_normalized_distance = max_normalized_distance;
             s.fallback_cost_scale = fallback_cost_scale;
             s.fallback_spread = fallback_spread;
             s.track_node_cost = track_node_cost;
             s.track_repulsion = track_repulsion;
             s.partition.method = parse_method(method);
             return std::make_unique<PyTracker>(s, get_model(weights));
           }),
           py::arg("num_joints"), py::arg("weights") = py::none(), py::arg("max_gap") = TrackerSettings{}.max_gap,
           py::arg("use_velocity") = TrackerSettings{}.use_velocity,
           py::arg("velocity_smoothing") = TrackerSettings{}.velocity_smoothing,
           py::arg("size_smoothing") = TrackerSettings{}.size_smoothing,
           py::arg("position_smoothing") = TrackerSettings{}.position_smoothing,
           py::arg("spread_smoothing") = TrackerSettings{}.spread_smoothing,
           py::arg("initial_spread") = TrackerSettings{}.initial_spread,
           py::arg("min_spread") = TrackerSettings{}.min_spread,
           py::arg("default_person_size") = TrackerSettings{}.default_person_size,
           py::arg("min_person_size") = TrackerSettings{}.min_person_size,
           py::arg("max_normalized_distance") = TrackerSettings{}.max_normalized_distance,
           py::arg("fallback_cost_scale") = TrackerSettings{}.fallback_cost_scale,
           py::arg("fallback_spread") = TrackerSettings{}.fallback_spread,
           py::arg("track_node_cost") = TrackerSettings{}.track_node_cost,
           py::arg("track_repulsion") = TrackerSettings{}.track_repulsion, py::arg("method") = "gaec+klj")
      .def(
          "step",
          [](PyTracker& self, std::int64_t frame, const py::handle& joint, const py::handle& xy,
             const py::handle& score, const py::handle& edges, const py::handle& edge_cost) {
            FrameDetections d = get_detections(joint, xy, score, edges, edge_cost);
            LinkResult r;
            {
              py::gil_scoped_release release;
              std::lock_guard<std::mutex> lock(self.mutex);
              r = self.tracker.step(frame, d);
            }
            return py::make_tuple(vec_to_numpy(r.track_id, {static_cast<py::ssize_t>(r.track_id.size())}),
                                  vec_to_numpy(r.continued, {static_cast<py::ssize_t>(r.continued.size())}),
                                  vec_to_numpy(r.created, {static_cast<py::ssize_t>(r.created.size())}),
                                  r.objective);
          },
          py::arg("frame"), py::arg("joint"), py::arg("xy"), py::arg("score") = py::none(),
          py::arg("edges") = py::none(), py::arg("edge_cost") = py::none(),
          "Links one frame. joint (N,) int64, xy (N, 2) float64, score (N,) float64 in [0, 1], "
          "edges (E, 2) int64 and edge_cost (E,) float64 among the detections. Frames strictly "
          "increasing. Returns (track_id (N,) int64 with -1 for suppressed detections, continued "
          "track ids, created track ids, objective).")
      .def(
          "assign",
          [](PyTracker& self, std::int64_t frame, const py::handle& joint, const py::handle& xy,
             const py::handle& score, const py::handle& track_id) {
            FrameDetections d = get_detections(joint, xy, score, py::none(), py::none());
            auto ids = as_array<std::int64_t>(track_id, "track_id", 1, {d.size()});
            std::vector<std::int64_t> idv(ids.data(), ids.data() + ids.size());
            py::gil_scoped_release release;
            std::lock_guard<std::mutex> lock(self.mutex);
            self.tracker.assign(frame, d, idv);
          },
          py::arg("frame"), py::arg("joint"), py::arg("xy"), py::arg("score"), py::arg("track_id"),
          "Teacher forcing: update the tracks with known track ids (-1 ignores a detection).")
      .def(
          "candidates",
          [](PyTracker& self, std::int64_t frame, const py::handle& joint, const py::handle& xy) {
            FrameDetections d = get_detections(joint, xy, py::none(), py::none(), py::none());
            std::vector<TemporalCandidate> c;
            std::vector<std::int64_t> det, tid;
            std::vector<double> feat, cost;
            std::vector<std::uint8_t> fallback;
            {
              py::gil_scoped_release release;
              std::lock_guard<std::mutex> lock(self.mutex);
              c = self.tracker.candidates(frame, d);
              const auto& tracks = self.tracker.tracks();
              for (const auto& e : c) {
                det.push_back(e.detection);
                tid.push_back(tracks[static_cast<std::size_t>(e.track)].id);
                feat.insert(feat.end(), e.features.begin(), e.features.end());
                cost.push_back(e.cost);
                fallback.push_back(e.fallback ? 1 : 0);
              }
            }
            const auto k = static_cast<py::ssize_t>(c.size());
            return py::make_tuple(vec_to_numpy(det, {k}), vec_to_numpy(tid, {k}),
                                  vec_to_numpy(feat, {k, static_cast<py::ssize_t>(kNumTemporalFeatures)}),
                                  vec_to_numpy(cost, {k}), vec_to_numpy(fallback, {k}).attr("astype")("bool"));
          },
          py::arg("frame"), py::arg("joint"), py::arg("xy"),
          "The temporal edges step() would build for these detections: (detection (K,), track_id "
          "(K,), features (K, 6), cost (K,), fallback (K,) bool).")
      .def(
          "set_joint_positions",
          [](PyTracker& self, std::int64_t track_id, const py::handle& xy) {
            const std::int64_t J = locked(self, [](const Tracker& t) { return t.settings().num_joints; });
            auto a = as_array<double>(xy, "xy", 2, {J, 2});
            std::vector<double> v(a.data(), a.data() + a.size());
            locked(self, [&](Tracker& t) {
              t.set_joint_positions(track_id, v);
              return 0;
            });
          },
          py::arg("track_id"), py::arg("xy"),
          "Override a track's remembered joint positions (J, 2) float64, NaN rows kept (e.g. "
          "positions warped by optical flow).")
      .def("tracks",
           [](PyTracker& self) {
             const TracksCopy c = locked(self, [](const Tracker& t) { return copy_tracks(t); });
             const auto T = static_cast<py::ssize_t>(c.id.size());
             py::dict d;
             d["id"] = vec_to_numpy(c.id, {T});
             d["first_frame"] = vec_to_numpy(c.first, {T});
             d["last_frame"] = vec_to_numpy(c.last, {T});
             d["num_frames"] = vec_to_numpy(c.nf, {T});
             d["xy"] = vec_to_numpy(c.xy, {T, c.J, 2});
             d["joint_frame"] = vec_to_numpy(c.jf, {T, c.J});
             d["velocity"] = vec_to_numpy(c.vel, {T, 2});
             d["has_velocity"] = vec_to_numpy(c.hv, {T}).attr("astype")("bool");
             d["size"] = vec_to_numpy(c.size, {T});
             d["size_measured"] = vec_to_numpy(c.sm, {T}).attr("astype")("bool");
             d["spread"] = vec_to_numpy(c.spread, {T});
             return d;
           },
           "The window of tracks as a dict of arrays (id, first_frame, last_frame, num_frames, xy "
           "(T, J, 2), joint_frame (T, J), velocity (T, 2), has_velocity, size, size_measured, "
           "spread).")
      .def_property_readonly("next_id",
                             [](PyTracker& self) { return locked(self, [](const Tracker& t) { return t.next_id(); }); })
      .def_property_readonly(
          "last_frame", [](PyTracker& self) { return locked(self, [](const Tracker& t) { return t.last_frame(); }); })
      .def_property_readonly("num_joints", [](PyTracker& self) {
        return locked(self, [](const Tracker& t) { return t.settings().num_joints; });
      })
      .def_property_readonly(
          "max_gap", [](PyTracker& self) { return locked(self, [](const Tracker& t) { return t.settings().max_gap; }); })
      .def_property_readonly("retired", [](PyTracker& self) {
        const std::vector<std::int64_t> r = locked(self, [](const Tracker& t) { return t.retired(); });
        return vec_to_numpy(r, {static_cast<py::ssize_t>(r.size())});
      });
}

}  // namespace arttrack::bindings
