// Spatio-temporal linking: temporal features and model, the per-frame multicut instance and
// the stateful tracker. See arttrack/tracking.hpp for the method and all definitions.
#include "arttrack/tracking.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

namespace arttrack {
namespace {

using Index = std::int64_t;
constexpr double kMinProb = 1e-7;
const double kMaxCost = std::log((1.0 - kMinProb) / kMinProb);

std::size_t sz(Index i) { return static_cast<std::size_t>(i); }

double clipped_cost_from_prob(double p) {
  p = std::min(std::max(p, kMinProb), 1.0 - kMinProb);
  return std::log((1.0 - p) / p);
}

// Detection indices grouped by joint type.
std::vector<std::vector<Index>> by_joint(const FrameDetections& dets, Index num_joints) {
  std::vector<std::vector<Index>> out(sz(num_joints));
  for (Index i = 0; i < dets.size(); ++i) out[sz(dets.joint[sz(i)])].push_back(i);
  return out;
}

void check_frame_value(std::int64_t frame) {
  if (frame < 0 || frame > (std::numeric_limits<std::int64_t>::max() >> 2))
    throw std::invalid_argument("frame must be in [0, 2^61), got " + std::to_string(frame));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Features and model

TemporalFeatures temporal_features(double dx, double dy, double size, std::int64_t gap, double spread) {
  if (!std::isfinite(dx) || !std::isfinite(dy))
    throw std::invalid_argument("temporal_features: displacement must be finite");
  if (!std::isfinite(size) || size <= 0.0)
    throw std::invalid_argument("temporal_features: size must be finite and > 0, got " + std::to_string(size));
  if (gap < 1) throw std::invalid_argument("temporal_features: gap must be >= 1, got " + std::to_string(gap));
  if (!std::isfinite(spread) || spread <= 0.0)
    throw std::invalid_argument("temporal_features: spread must be finite and > 0, got " + std::to_string(spread));
  const double d = std::hypot(dx, dy);
  const double r = d / size;
  const double g = static_cast<double>(gap);
  const double q = (d / spread) * (d / spread);
  return {1.0, r, r * r, r / g, std::log(g), q};
}

TemporalModel TemporalModel::default_model() {
  TemporalModel m;
  m.weights = {5.0, 0.0, 0.0, 0.0, -0.5, -0.5};
  return m;
}

double TemporalModel::logit(const TemporalFeatures& f) const {
  double s = 0.0;
  for (std::size_t k = 0; k < f.size(); ++k) s += weights[k] * f[k];
  return s;
}

double TemporalModel::probability(const TemporalFeatures& f) const {
  const double z = logit(f);
  return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
}

double TemporalModel::cost(const TemporalFeatures& f) const {
  // log((1-p)/p) = -logit; clipping p to [1e-7, 1-1e-7] clips the cost symmetrically.
  const double c = -logit(f);
  return std::min(std::max(c, -kMaxCost), kMaxCost);
}

// ---------------------------------------------------------------------------------------
// Validation

void validate(const TrackerSettings& s) {
  if (s.num_joints <= 0) throw std::invalid_argument("num_joints must be > 0, got " + std::to_string(s.num_joints));
  if (s.max_gap < 0 || s.max_gap > (std::int64_t{1} << 40))
    throw std::invalid_argument("max_gap must be in [0, 2^40], got " + std::to_string(s.max_gap));
  auto in_unit = [](double v) { return std::isfinite(v) && v > 0.0 && v <= 1.0; };
  if (!in_unit(s.velocity_smoothing))
    throw std::invalid_argument("velocity_smoothing must be in (0, 1], got " + std::to_string(s.velocity_smoothing));
  if (!in_unit(s.size_smoothing))
    throw std::invalid_argument("size_smoothing must be in (0, 1], got " + std::to_string(s.size_smoothing));
  if (!in_unit(s.position_smoothing))
    throw std::invalid_argument("position_smoothing must be in (0, 1], got " + std::to_string(s.position_smoothing));
  if (!in_unit(s.spread_smoothing))
    throw std::invalid_argument("spread_smoothing must be in (0, 1], got " + std::to_string(s.spread_smoothing));
  if (!std::isfinite(s.initial_spread) || s.initial_spread <= 0.0)
    throw std::invalid_argument("initial_spread must be finite and > 0");
  if (!std::isfinite(s.min_spread) || s.min_spread <= 0.0)
    throw std::invalid_argument("min_spread must be finite and > 0");
  if (!std::isfinite(s.default_person_size) || s.default_person_size <= 0.0)
    throw std::invalid_argument("default_person_size must be finite and > 0");
  if (!std::isfinite(s.min_person_size) || s.min_person_size <= 0.0)
    throw std::invalid_argument("min_person_size must be finite and > 0");
  if (std::isnan(s.max_normalized_distance) || s.max_normalized_distance <= 0.0)
    throw std::invalid_argument("max_normalized_distance must be > 0 (may be infinite)");
  if (!std::isfinite(s.fallback_spread) || s.fallback_spread < 0.0)
    throw std::invalid_argument("fallback_spread must be finite and >= 0, got " + std::to_string(s.fallback_spread));
  if (!(s.fallback_cost_scale >= 0.0 && s.fallback_cost_scale <= 1.0))
    throw std::invalid_argument("fallback_cost_scale must be in [0, 1], got " + std::to_string(s.fallback_cost_scale));
  if (!std::isfinite(s.track_node_cost) || s.track_node_cost >= 0.0)
    throw std::invalid_argument("track_node_cost must be finite and < 0");
  if (!std::isfinite(s.track_repulsion) || s.track_repulsion <= 0.0)
    throw std::invalid_argument("track_repulsion must be finite and > 0");
  if (s.partition.max_klj_rounds < 0) throw std::invalid_argument("max_klj_rounds must be >= 0");
}

void validate(const FrameDetections& d, std::int64_t num_joints) {
  const std::size_t n = d.joint.size();
  if (d.xy.size() != 2 * n)
    throw std::invalid_argument("xy must hold 2 values per detection: got " + std::to_string(d.xy.size()) +
                                " for " + std::to_string(n) + " detections");
  if (d.score.size() != n)
    throw std::invalid_argument("score must hold one value per detection: got " + std::to_string(d.score.size()) +
                                " for " + std::to_string(n) + " detections");
  if (d.edges.size() != d.edge_cost.size())
    throw std::invalid_argument("edge_cost must have one entry per edge: got " + std::to_string(d.edge_cost.size()) +
                                " costs for " + std::to_string(d.edges.size()) + " edges");
  for (std::size_t i = 0; i < n; ++i) {
    if (d.joint[i] < 0 || d.joint[i] >= num_joints)
      throw std::invalid_argument("joint[" + std::to_string(i) + "] = " + std::to_string(d.joint[i]) +
                                  " is outside [0, " + std::to_string(num_joints) + ")");
    if (!std::isfinite(d.xy[2 * i]) || !std::isfinite(d.xy[2 * i + 1]))
      throw std::invalid_argument("xy of detection " + std::to_string(i) + " is NaN or infinite");
    if (!(d.score[i] >= 0.0 && d.score[i] <= 1.0))
      throw std::invalid_argument("score[" + std::to_string(i) + "] must be in [0, 1], got " +
                                  std::to_string(d.score[i]));
  }
  const auto N = static_cast<Index>(n);
  for (std::size_t e = 0; e < d.edges.size(); ++e) {
    const Index a = d.edges[e][0], b = d.edges[e][1];
    if (a < 0 || a >= N || b < 0 || b >= N)
      throw std::invalid_argument("edges[" + std::to_string(e) + "] = (" + std::to_string(a) + ", " +
                                  std::to_string(b) + ") has an endpoint outside [0, " + std::to_string(N) + ")");
    if (a == b)
      throw std::invalid_argument("edges[" + std::to_string(e) + "] is a self loop at " + std::to_string(a));
    if (!std::isfinite(d.edge_cost[e]))
      throw std::invalid_argument("edge_cost[" + std::to_string(e) + "] is NaN or infinite");
  }
}

bool is_live(const Track& track, std::int64_t frame, const TrackerSettings& settings) {
  const std::int64_t g = frame - track.last_frame;
  return track.num_frames > 0 && g >= 1 && g <= settings.max_gap + 1;
}

// ---------------------------------------------------------------------------------------
// The frame's instance

std::vector<TemporalCandidate> temporal_candidates(const std::vector<Track>& tracks, std::int64_t frame,
                                                   const FrameDetections& dets, const TemporalModel& model,
                                                   const TrackerSettings& settings) {
  validate(settings);
  validate(dets, settings.num_joints);
  check_frame_value(frame);
  const Index J = settings.num_joints;
  const auto groups = by_joint(dets, J);
  std::vector<TemporalCandidate> out;
  for (std::size_t t = 0; t < tracks.size(); ++t) {
    const Track& tr = tracks[t];
    if (!is_live(tr, frame, settings)) continue;
    if (tr.xy.size() != sz(2 * J) || tr.joint_frame.size() != sz(J))
      throw std::invalid_argument("track " + std::to_string(tr.id) + " does not have " + std::to_string(J) +
                                  " joints");
    const double size = std::max(std::isfinite(tr.size) ? tr.size : 0.0, settings.min_person_size);
    const double spread = std::max(std::isfinite(tr.spread) ? tr.spread : 0.0, settings.min_spread * size);
    // Predicted position and gap of each remembered joint (gap 0 = not usable).
    std::vector<double> px(sz(J)), py(sz(J));
    std::vector<std::int64_t> gaps(sz(J), 0);
    bool any = false;
    for (Index j = 0; j < J; ++j) {
      const std::int64_t jf = tr.joint_frame[sz(j)];
      if (jf < 0) continue;
      const std::int64_t gap = frame - jf;
      if (gap < 1 || gap > settings.max_gap + 1) continue;
      double x = tr.xy[sz(2 * j)], y = tr.xy[sz(2 * j + 1)];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (settings.use_velocity && tr.has_velocity) {
        x += tr.vx * static_cast<double>(gap);
        y += tr.vy * static_cast<double>(gap);
      }
      px[sz(j)] = x;
      py[sz(j)] = y;
      gaps[sz(j)] = gap;
      any = true;
    }
    if (!any) continue;
    // Fallback edges all measure one thing, that a person is near the track, once per joint
    // the track lacks: their evidence is shared among those joints so that a person showing
    // many of them does not outweigh one whose joints match the track's own.
    Index lacking = 0;
    for (Index j = 0; j < J; ++j) lacking += gaps[sz(j)] == 0 ? 1 : 0;
    const double fallback_scale =
        lacking > 0 ? settings.fallback_cost_scale / static_cast<double>(lacking) : 0.0;
    // Two joints of one person lie up to a person size apart: a track seen in part measures a
    // detection against another joint with at least fallback_spread sizes of spread.
    const double fallback_spread =
        tr.size_measured ? spread : std::max(spread, settings.fallback_spread * size);
    for (Index j = 0; j < J; ++j) {
      const bool own = gaps[sz(j)] > 0;
      if (!own && settings.fallback_cost_scale <= 0.0) continue;
      for (Index i : groups[sz(j)]) {
        const double x = dets.xy[sz(2 * i)], y = dets.xy[sz(2 * i + 1)];
        Index k = j;
        if (!own) {  // nearest remembered joint of the track
          double best = std::numeric_limits<double>::infinity();
          for (Index m = 0; m < J; ++m) {
            if (gaps[sz(m)] == 0) continue;
            const double d2 = (x - px[sz(m)]) * (x - px[sz(m)]) + (y - py[sz(m)]) * (y - py[sz(m)]);
            if (d2 < best) {
              best = d2;
              k = m;
            }
          }
        }
        TemporalFeatures f = temporal_features(x - px[sz(k)], y - py[sz(k)], size, gaps[sz(k)],
                                               own ? spread : fallback_spread);
        if (!(f[1] <= settings.max_normalized_distance)) continue;
        const double c = model.cost(f);
        if (!own && !(c < 0.0)) continue;  // a fallback edge of cost 0 changes no objective
        out.push_back({i, static_cast<Index>(t), f, own ? c : fallback_scale * c, !own});
      }
    }
  }
  return out;
}

namespace {

struct Solved {
  LinkResult link;
  std::vector<std::uint8_t> active;  // per detection
};

Solved solve_frame(const std::vector<Track>& tracks, std::int64_t frame, const FrameDetections& dets,
                   const TemporalModel& model, const TrackerSettings& settings, std::int64_t next_id) {
  // temporal_candidates validates settings, detections and the frame.
  const std::vector<TemporalCandidate> cands = temporal_candidates(tracks, frame, dets, model, settings);
  const Index N = dets.size();
  std::vector<Index> live;  // track indices of the super-nodes, node N + k
  std::vector<Index> node_of_track(tracks.size(), -1);
  for (std::size_t t = 0; t < tracks.size(); ++t)
    if (is_live(tracks[t], frame, settings)) {
      node_of_track[t] = N + static_cast<Index>(live.size());
      live.push_back(static_cast<Index>(t));
    }
  const Index T = static_cast<Index>(live.size());

  std::vector<double> node_cost(sz(N + T));
  for (Index i = 0; i < N; ++i) node_cost[sz(i)] = clipped_cost_from_prob(dets.score[sz(i)]);
  for (Index k = 0; k < T; ++k) node_cost[sz(N + k)] = settings.track_node_cost;

  std::vector<PartitionEdge> edges = dets.edges;
  std::vector<double> edge_cost = dets.edge_cost;
  edges.reserve(edges.size() + cands.size() + sz(T * (T - 1) / 2));
  edge_cost.reserve(edges.capacity());
  for (const auto& c : cands) {
    edges.push_back({c.detection, node_of_track[sz(c.track)]});
    edge_cost.push_back(c.cost);
  }
  for (Index a = 0; a < T; ++a)
    for (Index b = a + 1; b < T; ++b) {
      edges.push_back({N + a, N + b});
      edge_cost.push_back(settings.track_repulsion);
    }

  const PartitionResult r = partition(node_cost, edges, edge_cost, settings.partition);

  std::vector<Index> cluster_track(sz(r.num_clusters), -1);  // cluster -> track index
  for (Index k = 0; k < T; ++k) {
    const Index c = r.cluster[sz(N + k)];
    if (c < 0) continue;  // cannot happen with a negative track_node_cost; then no continuation
    // Two tracks in one cluster cannot happen with a positive track_repulsion (the solver
    // never accepts a move that raises the objective); keep the first one if it ever did.
    if (cluster_track[sz(c)] < 0) cluster_track[sz(c)] = live[sz(k)];
  }

  Solved s;
  s.link.track_id.assign(sz(N), -1);
  s.active.assign(sz(N), 0);
  s.link.objective = r.objective;
  std::vector<Index> cluster_new_id(sz(r.num_clusters), -1);
  std::vector<std::uint8_t> continued(tracks.size(), 0);
  Index nid = next_id;
  for (Index i = 0; i < N; ++i) {
    const Index c = r.cluster[sz(i)];
    if (!r.active[sz(i)] || c < 0) continue;
    s.active[sz(i)] = 1;
    const Index t = cluster_track[sz(c)];
    if (t >= 0) {
      s.link.track_id[sz(i)] = tracks[sz(t)].id;
      continued[sz(t)] = 1;
    } else {
      if (cluster_new_id[sz(c)] < 0) {
        cluster_new_id[sz(c)] = nid++;
        s.link.created.push_back(cluster_new_id[sz(c)]);
      }
      s.link.track_id[sz(i)] = cluster_new_id[sz(c)];
    }
  }
  for (std::size_t t = 0; t < tracks.size(); ++t)
    if (continued[t]) s.link.continued.push_back(tracks[t].id);
  std::sort(s.link.continued.begin(), s.link.continued.end());
  return s;
}

}  // namespace

LinkResult link_frame(const std::vector<Track>& tracks, std::int64_t frame, const FrameDetections& dets,
                      const TemporalModel& model, const TrackerSettings& settings, std::int64_t next_id) {
  return solve_frame(tracks, frame, dets, model, settings, next_id).link;
}

// ---------------------------------------------------------------------------------------
// Tracker

Tracker::Tracker(const TrackerSettings& settings, const TemporalModel& model) : settings_(settings), model_(model) {
  validate(settings_);
  for (double w : model_.weights)
    if (!std::isfinite(w)) throw std::invalid_argument("temporal model weights must be finite");
}

void Tracker::check_frame(std::int64_t frame) const {
  check_frame_value(frame);
  if (started_ && frame <= last_frame_)
    throw std::invalid_argument("frames must be strictly increasing: got frame " + std::to_string(frame) +
                                " after frame " + std::to_string(last_frame_));
}

void Tracker::retire(std::int64_t frame) {
  retired_.clear();
  std::vector<Track> keep;
  keep.reserve(tracks_.size());
  for (auto& t : tracks_) {
    if (frame - t.last_frame > settings_.max_gap + 1)
      retired_.push_back(t.id);
    else
      keep.push_back(std::move(t));
  }
  tracks_ = std::move(keep);
}

void Tracker::apply(std::int64_t frame, const FrameDetections& dets, const std::vector<std::int64_t>& track_id,
                    const std::vector<std::uint8_t>& active) {
  const Index J = settings_.num_joints;
  // Detections per track id, in ascending id order (deterministic).
  std::map<Index, std::vector<Index>> groups;
  for (Index i = 0; i < dets.size(); ++i)
    if (active[sz(i)] && track_id[sz(i)] >= 0) groups[track_id[sz(i)]].push_back(i);
  std::map<Index, std::size_t> where;
  for (std::size_t t = 0; t < tracks_.size(); ++t) where[tracks_[t].id] = t;

  const double a_v = settings_.velocity_smoothing, a_s = settings_.size_smoothing;
  const double a_p = settings_.position_smoothing, a_e = settings_.spread_smoothing;
  std::vector<std::size_t> unmeasured, fresh;
  for (const auto& [id, members] : groups) {
    auto it = where.find(id);
    if (it == where.end()) {
      Track t;
      t.id = id;
      t.first_frame = frame;
      t.xy.assign(sz(2 * J), std::numeric_limits<double>::quiet_NaN());
      t.joint_frame.assign(sz(J), -1);
      tracks_.push_back(std::move(t));
      it = where.emplace(id, tracks_.size() - 1).first;
      next_id_ = std::max(next_id_, id + 1);
    }
    Track& tr = tracks_[it->second];
    if (tr.num_frames == 0) fresh.push_back(it->second);
    // Per joint the best (highest-scoring, first on ties) detection, as assemble() places a
    // joint with merge_radius 0: a mean would sit between two far-apart candidates (both
    // feet) where neither is.
    std::vector<Index> pick(sz(J), -1);
    for (Index i : members) {
      const auto j = sz(dets.joint[sz(i)]);
      if (pick[j] < 0 || dets.score[sz(i)] > dets.score[sz(pick[j])]) pick[j] = i;
    }
    // The prediction temporal_candidates used: moved by the velocity when there is one. Only
    // a motion-compensated prediction is worth filtering against (without a velocity the
    // remembered position lags a moving person); the spread measures whichever prediction
    // was used, once the track has a velocity estimate (or motion compensation is off).
    const bool moved = settings_.use_velocity && tr.has_velocity;
    const bool measure = !settings_.use_velocity || tr.has_velocity;
    double vx = 0.0, vy = 0.0, e2 = 0.0;
    Index nv = 0;
    for (Index j = 0; j < J; ++j) {
      const Index k = pick[sz(j)];
      if (k < 0) continue;
      double x = dets.xy[sz(2 * k)], y = dets.xy[sz(2 * k + 1)];
      const std::int64_t jf = tr.joint_frame[sz(j)];
      if (tr.num_frames > 0 && jf >= 0 && frame - jf <= settings_.max_gap + 1 && frame > jf) {
        const double g = static_cast<double>(frame - jf);
        const double ox = tr.xy[sz(2 * j)], oy = tr.xy[sz(2 * j + 1)];
        vx += (x - ox) / g;
        vy += (y - oy) / g;
        ++nv;
        const double prx = moved ? ox + tr.vx * g : ox, pry = moved ? oy + tr.vy * g : oy;
        e2 += (x - prx) * (x - prx) + (y - pry) * (y - pry);
        if (moved) {
          x = prx + a_p * (x - prx);
          y = pry + a_p * (y - pry);
        }
      }
      tr.xy[sz(2 * j)] = x;
      tr.xy[sz(2 * j + 1)] = y;
      tr.joint_frame[sz(j)] = frame;
    }
    if (nv > 0) {
      if (measure) {
        const double floor = settings_.min_spread * tr.size;
        const double m = std::max(e2 / static_cast<double>(2 * nv), floor * floor);
        tr.spread = std::sqrt(a_e * m + (1.0 - a_e) * tr.spread * tr.spread);
      }
      vx /= static_cast<double>(nv);
      vy /= static_cast<double>(nv);
      // A displacement measured on fewer than half of the joints counts in proportion (a
      // person entering the image, seen in part: one joint's noise would be taken for motion).
      const double w = std::min(1.0, 2.0 * static_cast<double>(nv) / static_cast<double>(J));
      if (tr.has_velocity) {
        tr.vx = w * a_v * vx + (1.0 - w * a_v) * tr.vx;
        tr.vy = w * a_v * vy + (1.0 - w * a_v) * tr.vy;
      } else {
        tr.vx = w * vx;
        tr.vy = w * vy;
        tr.has_velocity = true;
      }
    }
    // Size: bbox diagonal of all remembered joints (this frame's and older ones in memory),
    // measured once they are at least half of the person's joints; a track seen in part
    // keeps its measured size, or takes at least the borrowed one (below).
    double x0 = std::numeric_limits<double>::infinity(), y0 = x0, x1 = -x0, y1 = -x0;
    Index remembered = 0;
    for (Index j = 0; j < J; ++j) {
      const std::int64_t jf = tr.joint_frame[sz(j)];
      if (jf < 0 || frame - jf > settings_.max_gap + 1) continue;
      ++remembered;
      x0 = std::min(x0, tr.xy[sz(2 * j)]);
      x1 = std::max(x1, tr.xy[sz(2 * j)]);
      y0 = std::min(y0, tr.xy[sz(2 * j + 1)]);
      y1 = std::max(y1, tr.xy[sz(2 * j + 1)]);
    }
    const double diag = x1 >= x0 ? std::hypot(x1 - x0, y1 - y0) : 0.0;
    const bool valid = diag > 0.0 && std::isfinite(diag);
    if (valid && 2 * remembered >= J) {
      tr.size = tr.size_measured ? a_s * diag + (1.0 - a_s) * tr.size : diag;
      tr.size_measured = true;
    } else if (!tr.size_measured) {
      tr.size = valid ? diag : 0.0;
      unmeasured.push_back(it->second);
    }
    tr.last_frame = frame;
    ++tr.num_frames;
  }
  // Tracks not measured yet take at least the median size of the measured ones.
  if (!unmeasured.empty()) {
    std::vector<double> sizes;
    for (const auto& t : tracks_)
      if (t.size_measured) sizes.push_back(t.size);
    double borrowed = settings_.default_person_size;
    if (!sizes.empty()) {
      std::nth_element(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(sizes.size() / 2), sizes.end());
      borrowed = sizes[sizes.size() / 2];
    }
    for (std::size_t k : unmeasured) tracks_[k].size = std::max(tracks_[k].size, borrowed);
  }
  for (std::size_t k : fresh) tracks_[k].spread = settings_.initial_spread * tracks_[k].size;
  last_frame_ = frame;
  started_ = true;
}

LinkResult Tracker::step(std::int64_t frame, const FrameDetections& dets) {
  check_frame(frame);
  validate(dets, settings_.num_joints);
  // Solve before retiring so that a failure leaves the state untouched; the solver only
  // uses live tracks, which are exactly the ones retire() keeps.
  Solved s = solve_frame(tracks_, frame, dets, model_, settings_, next_id_);
  retire(frame);
  for (Index id : s.link.created) next_id_ = std::max(next_id_, id + 1);
  apply(frame, dets, s.link.track_id, s.active);
  return std::move(s.link);
}

void Tracker::assign(std::int64_t frame, const FrameDetections& dets, const std::vector<std::int64_t>& track_id) {
  check_frame(frame);
  validate(dets, settings_.num_joints);
  if (track_id.size() != dets.joint.size())
    throw std::invalid_argument("track_id must hold one id per detection: got " + std::to_string(track_id.size()) +
                                " for " + std::to_string(dets.joint.size()) + " detections");
  for (std::size_t i = 0; i < track_id.size(); ++i)
    if (track_id[i] < -1 || track_id[i] > (std::numeric_limits<std::int64_t>::max() >> 2))
      throw std::invalid_argument("track_id[" + std::to_string(i) + "] must be -1 or a non-negative id, got " +
                                  std::to_string(track_id[i]));
  retire(frame);
  std::vector<std::uint8_t> active(track_id.size());
  for (std::size_t i = 0; i < track_id.size(); ++i) active[i] = track_id[i] >= 0 ? 1 : 0;
  apply(frame, dets, track_id, active);
}

std::vector<TemporalCandidate> Tracker::candidates(std::int64_t frame, const FrameDetections& dets) const {
  check_frame(frame);
  return temporal_candidates(tracks_, frame, dets, model_, settings_);
}

void Tracker::set_joint_positions(std::int64_t track_id, const std::vector<double>& xy) {
  const Index J = settings_.num_joints;
  if (xy.size() != sz(2 * J))
    throw std::invalid_argument("xy must hold 2J = " + std::to_string(2 * J) + " values, got " +
                                std::to_string(xy.size()));
  for (Index j = 0; j < J; ++j) {
    const double x = xy[sz(2 * j)], y = xy[sz(2 * j + 1)];
    if (!(std::isnan(x) && std::isnan(y)) && !(std::isfinite(x) && std::isfinite(y)))
      throw std::invalid_argument("xy of joint " + std::to_string(j) + " must be finite or NaN for both x and y");
  }
  for (auto& t : tracks_) {
    if (t.id != track_id) continue;
    for (Index j = 0; j < J; ++j) {
      const double x = xy[sz(2 * j)], y = xy[sz(2 * j + 1)];
      if (std::isnan(x)) continue;
      t.xy[sz(2 * j)] = x;
      t.xy[sz(2 * j + 1)] = y;
      if (t.joint_frame[sz(j)] < 0) t.joint_frame[sz(j)] = t.last_frame;
    }
    return;
  }
  throw std::invalid_argument("no live track with id " + std::to_string(track_id));
}

}  // namespace arttrack
