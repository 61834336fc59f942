// Spatio-temporal linking (ArtTrack's tracking, fast local variant).
//
// Frame by frame, the frame's detections (joint type, xy, score) with their spatial edges and
// join costs are given; earlier frames are already fixed into tracks. One node-labelling
// multicut instance (arttrack/partition.hpp) is built and solved per frame:
//
//   nodes  = the N new detections (node cost log((1-s)/s) of the clipped score s)
//          + one super-node per live track (node cost `track_node_cost`, very negative, so
//            it is always active);
//   edges  = the given spatial edges among the detections (costs as given)
//          + temporal edges between a new detection of joint j and every live track that
//            remembers a position of joint j (cost from the learned TemporalModel; pairs
//            whose normalised distance exceeds `max_normalized_distance` get no edge)
//          + an edge of cost `track_repulsion` (very positive) between every two track
//            super-nodes, so two tracks are never merged.
//
// A track that has no remembered position of joint j (e.g. a person who entered the image
// with only a few joints visible) links a detection of joint j through a *fallback* edge:
// the features are computed against the track's remembered joint (of any type) nearest to
// the detection, and the cost is (fallback_cost_scale / L) * cost, L the number of joints the
// track lacks, when cost < 0; there is no fallback edge otherwise: attractive when the
// detection is close to the track, never repulsive (a track that never showed joint j gives
// no evidence against a detection of j). All fallback edges of a track measure one thing, that
// a person is near it, so their evidence is shared among the joints it lacks: a person showing
// many of them near a partly seen track cannot outweigh the person whose joints match the
// track's own. For a track seen in part (size not measured yet, e.g. entering the image) the
// spread is at least fallback_spread * size: its few remembered joints lie up to a person size
// from the ones it shows next, which the fallback edges alone must link. (A measured track
// lacks few joints and links by its own; widening its fallback edges as well gained little on
// the crossings benchmark and cost half the tracker's time.) fallback_cost_scale = 0 disables
// fallback edges.
//
// After solving, a cluster that contains a track super-node continues that track; a cluster
// of new detections only starts a new track (fresh id, ids assigned in order of the
// cluster's smallest detection index); suppressed detections get track id -1.
//
// Gaps: `max_gap` is the largest number of consecutive frames a track may go unseen and still
// be continued, i.e. a track last seen at frame t0 is live at frame t iff
// 1 <= t - t0 <= max_gap + 1. A track unseen for more frames retires. The same rule applies
// per joint: a remembered joint position older than max_gap + 1 frames is forgotten.
// A track remembers, per joint, the position of its best (highest-scoring) detection of
// that joint in the frame, as assemble() places a person's joint with merge_radius 0.
//
// Track state. A track remembers per joint a *filtered* position: when joint j is seen again
// within memory, its new position is predicted + position_smoothing * (detection - predicted)
// (an alpha filter against the detector's noise; 1 keeps the raw detection), else the raw
// detection. Its velocity is the mean per-frame displacement of the joints seen in both of its
// latest observations (from the remembered to the raw position), exponentially smoothed
// (velocity_smoothing); a displacement measured on n < J/2 joints weighs 2n/J of a full one
// (the first one too, against a zero velocity), as one joint's noise of a person entering the
// image would otherwise be taken for motion. Its *spread* is the scale (px per coordinate) of
// its prediction error: the root of an exponential average (spread_smoothing) of the mean
// squared innovation (detection - predicted, per coordinate, over the joints seen again),
// floored at min_spread * size; a new track starts at initial_spread * size. The spread adapts the costs
// to the detector's noise and the person's motion, which one fixed scale in person sizes cannot.
//
// Temporal features of a (detection, track, joint j) pair, in this order
// (kNumTemporalFeatures = 6):
//   f0 = 1                 bias
//   f1 = r                 r = ||xy - predicted|| / size
//   f2 = r^2
//   f3 = r / g
//   f4 = log(g)
//   f5 = q                 q = ||xy - predicted||^2 / spread^2
// where g >= 1 is the frame gap since the track's last position of joint j, `predicted` is
// that position moved by the track's velocity times g (when motion compensation is on and
// the track has a velocity estimate; otherwise the position itself, which callers may have
// warped beforehand, e.g. by optical flow, through Tracker::set_joint_positions), size
// is the track's person size and spread its prediction spread (above). The size is the
// bounding-box diagonal of its remembered joints (those of the latest frame and older ones
// still in memory), smoothed over time, once the track remembers at least half of its joints
// (and two distinct ones); before that (a person entering the image, seen in part) the box
// of what it showed understates the person: the size is then the larger of that diagonal and
// the median size of the measured tracks (else default_person_size).
// p(same person) = sigmoid(w . f); temporal edge cost = log((1-p)/p) = -(w . f), clipped to
// p in [1e-7, 1 - 1e-7].
//
// Bad input throws std::invalid_argument; nothing is printed.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "arttrack/partition.hpp"

namespace arttrack {

constexpr std::int64_t kNumTemporalFeatures = 6;
using TemporalFeatures = std::array<double, kNumTemporalFeatures>;

// Features of one candidate temporal link (see the file comment). dx, dy: displacement of the
// detection from the track's predicted joint position; size > 0; gap >= 1; spread > 0.
TemporalFeatures temporal_features(double dx, double dy, double size, std::int64_t gap, double spread);

// Logistic model of p(same person | temporal features).
struct TemporalModel {
  TemporalFeatures weights{};

  // Built-in default, w = [5, 0, 0, 0, -0.5, -0.5]: cost = q / 2 - 5 + log(g) / 2, a Gaussian
  // log-likelihood ratio in units of the track's spread (p = 0.5 at sqrt(10) ~ 3.2 spreads for
  // g = 1), with a small log(g) penalty so that of two similar tracks the more recently seen
  // one wins.
  static TemporalModel default_model();

  double logit(const TemporalFeatures& f) const;
  double probability(const TemporalFeatures& f) const;
  // log((1-p)/p) with p clipped to [1e-7, 1 - 1e-7].
  double cost(const TemporalFeatures& f) const;
};

struct TrackerSettings {
  std::int64_t num_joints = 0;              // J > 0
  std::int64_t max_gap = 5;                 // >= 0, see the file comment
  bool use_velocity = true;                 // motion compensation by the track velocity
  double velocity_smoothing = 0.3;          // weight of the newest velocity estimate, (0, 1]
  double size_smoothing = 0.5;              // weight of the newest size estimate, (0, 1]
  double position_smoothing = 0.5;          // weight of a joint's detection against its prediction, (0, 1]
  double spread_smoothing = 0.3;            // weight of the newest squared innovation, (0, 1]
  double initial_spread = 0.15;             // spread of a new track, in person sizes, > 0
  double min_spread = 0.05;                 // lower bound of the spread, in person sizes, > 0
  double default_person_size = 100.0;       // size of a track seen with fewer than 2 joints
  double min_person_size = 1.0;             // lower bound of the size used in the features
  double max_normalized_distance = 3.0;     // gate: no temporal edge beyond this r
  double fallback_cost_scale = 1.0;         // [0, 1], see the file comment
  double fallback_spread = 0.3;             // >= 0, in person sizes, tracks seen in part, see above
  double track_node_cost = -1.0e6;          // < 0: track super-nodes always active
  double track_repulsion = 1.0e6;           // > 0: tracks never merge
  PartitionSettings partition{};
};

// One track in the window of live tracks.
struct Track {
  std::int64_t id = -1;
  std::int64_t first_frame = 0;
  std::int64_t last_frame = 0;              // last frame with any detection of this track
  std::int64_t num_frames = 0;              // frames in which it was seen
  std::vector<double> xy;                   // 2J, last (filtered) position of each joint (NaN if none)
  std::vector<std::int64_t> joint_frame;    // J, frame of that position (-1 if none)
  double vx = 0.0, vy = 0.0;                // velocity in px / frame
  bool has_velocity = false;
  double size = 0.0;                        // person size (bbox diagonal), > 0
  bool size_measured = false;               // false: seen in part, size at least borrowed
  double spread = 0.0;                      // prediction spread, px per coordinate, > 0
};

// One frame of detections and the spatial part of the instance.
struct FrameDetections {
  std::vector<std::int64_t> joint;          // N, joint type in [0, J)
  std::vector<double> xy;                   // 2N
  std::vector<double> score;                // N, in [0, 1]; node cost log((1-s)/s)
  std::vector<PartitionEdge> edges;         // spatial edges among detections, in [0, N)
  std::vector<double> edge_cost;            // one per edge

  std::int64_t size() const { return static_cast<std::int64_t>(joint.size()); }
};

// A candidate temporal edge between detection `detection` and track index `track` (index into
// the track vector passed in), with its features and cost.
struct TemporalCandidate {
  std::int64_t detection = 0;
  std::int64_t track = 0;
  TemporalFeatures features{};
  double cost = 0.0;
  bool fallback = false;                    // computed against another joint of the track
};

struct LinkResult {
  std::vector<std::int64_t> track_id;       // N, -1 for suppressed detections
  std::vector<std::int64_t> continued;      // ids of continued tracks, ascending
  std::vector<std::int64_t> created;        // ids of new tracks, ascending
  double objective = 0.0;                   // partition objective of the frame's instance
};

// Throws std::invalid_argument on invalid settings.
void validate(const TrackerSettings& settings);
// Throws std::invalid_argument when detections are inconsistent with J (sizes, joint range,
// non-finite values, scores outside [0, 1], bad edges).
void validate(const FrameDetections& dets, std::int64_t num_joints);

// Is the track live (can be continued) at `frame`?
bool is_live(const Track& track, std::int64_t frame, const TrackerSettings& settings);

// All temporal edges of the frame's instance (live tracks only, gated).
std::vector<TemporalCandidate> temporal_candidates(const std::vector<Track>& tracks, std::int64_t frame,
                                                   const FrameDetections& dets, const TemporalModel& model,
                                                   const TrackerSettings& settings);

// Builds and solves the frame's instance. `tracks` are the earlier tracks (only live ones are
// used); new tracks get ids next_id, next_id + 1, ... . Does not change any state.
LinkResult link_frame(const std::vector<Track>& tracks, std::int64_t frame, const FrameDetections& dets,
                      const TemporalModel& model, const TrackerSettings& settings, std::int64_t next_id);

// Stateful tracker: keeps the window of live tracks and the id counter.
class Tracker {
 public:
  Tracker(const TrackerSettings& settings, const TemporalModel& model);

  // Links the frame's detections to the tracks and updates them. Frames must be given in
  // strictly increasing order (gaps allowed).
  LinkResult step(std::int64_t frame, const FrameDetections& dets);

  // Teacher forcing: updates the tracks with a known assignment (track_id per detection, -1 to
  // ignore a detection; unknown ids start tracks with that id). Used to extract training
  // features with exactly the inference-time track state. Spatial edges are ignored.
  void assign(std::int64_t frame, const FrameDetections& dets, const std::vector<std::int64_t>& track_id);

  // The temporal edges `step(frame, dets)` would use, with `track` as an index into tracks().
  std::vector<TemporalCandidate> candidates(std::int64_t frame, const FrameDetections& dets) const;

  // Overrides the remembered joint positions of a live track (e.g. warped by optical flow);
  // xy has 2J entries, NaN keeps the current value. Turn use_velocity off when the positions
  // already account for motion.
  void set_joint_positions(std::int64_t track_id, const std::vector<double>& xy);

  const std::vector<Track>& tracks() const { return tracks_; }
  const TrackerSettings& settings() const { return settings_; }
  const TemporalModel& model() const { return model_; }
  std::int64_t next_id() const { return next_id_; }
  std::int64_t last_frame() const { return last_frame_; }
  // Ids of tracks retired by the latest step / assign.
  const std::vector<std::int64_t>& retired() const { return retired_; }

 private:
  void check_frame(std::int64_t frame) const;
  void apply(std::int64_t frame, const FrameDetections& dets, const std::vector<std::int64_t>& track_id,
             const std::vector<std::uint8_t>& active);
  void retire(std::int64_t frame);

  TrackerSettings settings_;
  TemporalModel model_;
  std::vector<Track> tracks_;
  std::vector<std::int64_t> retired_;
  std::int64_t next_id_ = 0;
  std::int64_t last_frame_ = -1;
  bool started_ = false;
};

}  // namespace arttrack
