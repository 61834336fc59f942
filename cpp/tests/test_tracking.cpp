// Unit tests for the spatio-temporal linking (arttrack/tracking.hpp).
#include <cmath>
#include <stdexcept>
#include <vector>

#include "arttrack/tracking.hpp"
#include "check.hpp"

using namespace arttrack;

namespace {

constexpr std::int64_t kJ = 3;

// One "person": kJ joints around (cx, cy), bound by strongly attractive spatial edges.
void add_person(FrameDetections& d, double cx, double cy, double score = 0.9, double scale = 1.0) {
  const std::int64_t base = d.size();
  for (std::int64_t j = 0; j < kJ; ++j) {
    d.joint.push_back(j);
    d.xy.push_back(cx + 10.0 * scale * static_cast<double>(j));
    d.xy.push_back(cy + 30.0 * scale * static_cast<double>(j));
    d.score.push_back(score);
  }
  for (std::int64_t a = 0; a < kJ; ++a)
    for (std::int64_t b = a + 1; b < kJ; ++b) {
      d.edges.push_back({base + a, base + b});
      d.edge_cost.push_back(-20.0);
    }
}

// Makes detections of different people repel each other (one edge per pair of people).
void separate_people(FrameDetections& d) {
  const std::int64_t P = d.size() / kJ;
  for (std::int64_t a = 0; a < P; ++a)
    for (std::int64_t b = a + 1; b < P; ++b) {
      d.edges.push_back({a * kJ, b * kJ});
      d.edge_cost.push_back(1000.0);
    }
}

TrackerSettings settings(std::int64_t max_gap = 5) {
  TrackerSettings s;
  s.num_joints = kJ;
  s.max_gap = max_gap;
  return s;
}

}  // namespace

ARTTRACK_TEST(features_order_and_values) {
  const TemporalFeatures f = temporal_features(3.0, 4.0, 10.0, 2, 2.0);
  CHECK_NEAR(f[0], 1.0, 1e-12);
  CHECK_NEAR(f[1], 0.5, 1e-12);
  CHECK_NEAR(f[2], 0.25, 1e-12);
  CHECK_NEAR(f[3], 0.25, 1e-12);
  CHECK_NEAR(f[4], std::log(2.0), 1e-12);
  CHECK_NEAR(f[5], 6.25, 1e-12);  // (5 / 2)^2
  CHECK_THROWS(temporal_features(0, 0, 0.0, 1, 1.0), std::invalid_argument);
  CHECK_THROWS(temporal_features(0, 0, 1.0, 0, 1.0), std::invalid_argument);
  CHECK_THROWS(temporal_features(NAN, 0, 1.0, 1, 1.0), std::invalid_argument);
  CHECK_THROWS(temporal_features(0, 0, 1.0, 1, 0.0), std::invalid_argument);
}

ARTTRACK_TEST(model_cost_is_clipped_log_odds) {
  TemporalModel m;
  m.weights = {1.0, 0, 0, 0, 0, 0};
  const TemporalFeatures f = temporal_features(0, 0, 1, 1, 1);
  CHECK_NEAR(m.probability(f), 1.0 / (1.0 + std::exp(-1.0)), 1e-12);
  CHECK_NEAR(m.cost(f), -1.0, 1e-12);
  m.weights = {100.0, 0, 0, 0, 0, 0};
  CHECK_NEAR(m.cost(f), -std::log((1 - 1e-7) / 1e-7), 1e-9);
  m.weights = {-100.0, 0, 0, 0, 0, 0};
  CHECK_NEAR(m.cost(f), std::log((1 - 1e-7) / 1e-7), 1e-9);
  const TemporalModel d = TemporalModel::default_model();
  // cost q / 2 - 5 + log(g) / 2: 1 px at a spread of 10 px, g = 1: 0.005 - 5
  CHECK_NEAR(d.cost(temporal_features(1, 0, 100, 1, 10)), 0.005 - 5.0, 1e-12);
  CHECK(d.cost(temporal_features(100, 0, 100, 1, 10)) > 0);  // ten spreads away: repulsive
  CHECK_NEAR(d.cost(temporal_features(30, 40, 100, 2, 10)), 12.5 - 5.0 + 0.5 * std::log(2.0), 1e-12);
}

ARTTRACK_TEST(track_state_filtered_positions_velocity_and_spread) {
  // Defaults: velocity_smoothing 0.3, position_smoothing 0.5, spread_smoothing 0.3,
  // initial_spread 0.15, min_spread 0.05. The person's box: 20 x 60 px, diagonal sqrt(4000).
  Tracker tr(settings(), TemporalModel::default_model());
  const double size = std::sqrt(4000.0);
  FrameDetections d0, d1, d2, d3;
  add_person(d0, 100, 100);
  add_person(d1, 110, 100);
  add_person(d2, 124, 100);
  tr.assign(0, d0, {0, 0, 0});
  CHECK_NEAR(tr.tracks()[0].size, size, 1e-9);
  CHECK_NEAR(tr.tracks()[0].spread, 0.15 * size, 1e-9);
  tr.assign(1, d1, {0, 0, 0});  // first velocity (10, 0); no prediction to filter or measure yet
  CHECK_NEAR(tr.tracks()[0].xy[0], 110.0, 1e-12);
  CHECK_NEAR(tr.tracks()[0].vx, 10.0, 1e-12);
  CHECK_NEAR(tr.tracks()[0].spread, 0.15 * size, 1e-9);
  // Predicted 120 per joint, seen at 124: innovation (4, 0) on 3 joints, 8 px^2 per coordinate,
  // below the floor (0.05 x size)^2 = 10 px^2.
  tr.assign(2, d2, {0, 0, 0});
  const Track& t = tr.tracks()[0];
  CHECK_NEAR(t.xy[0], 122.0, 1e-12);                        // 120 + 0.5 * 4
  CHECK_NEAR(t.xy[2 * 2], 142.0, 1e-12);                    // joint 2: 140 + 0.5 * 4
  CHECK_NEAR(t.vx, 0.3 * 14.0 + 0.7 * 10.0, 1e-12);         // raw displacement 124 - 110
  const double spread2 = 0.3 * 10.0 + 0.7 * (0.15 * 0.15 * 4000.0);
  CHECK_NEAR(t.spread, std::sqrt(spread2), 1e-9);
  CHECK_NEAR(t.size, size, 1e-9);
  // q of a detection (2.8, 3) px from the prediction 122 + 11.2 of joint 0.
  d3.joint = {0};
  d3.xy = {136.0, 103.0};
  d3.score = {0.9};
  const auto c = tr.candidates(3, d3);
  CHECK(c.size() == 1);
  CHECK_NEAR(c[0].features[5], (2.8 * 2.8 + 9.0) / spread2, 1e-9);
}

ARTTRACK_TEST(partly_seen_track_takes_at_least_the_borrowed_size) {
  TrackerSettings s;
  s.num_joints = 5;
  Tracker tr(s, TemporalModel::default_model());
  FrameDetections d;
  // Track 0: all 5 joints, box 60 x 80 (diagonal 100). Track 1: joints 0 and 1 only (2 < 5 / 2),
  // box 6 x 8 (diagonal 10): it takes the median measured size, 100.
  const double a[5][2] = {{0, 0}, {60, 80}, {30, 40}, {10, 70}, {50, 10}};
  for (int j = 0; j < 5; ++j) {
    d.joint.push_back(j);
    d.xy.insert(d.xy.end(), {a[j][0], a[j][1]});
    d.score.push_back(1.0);
  }
  d.joint.insert(d.joint.end(), {0, 1});
  d.xy.insert(d.xy.end(), {300, 0, 306, 8});
  d.score.insert(d.score.end(), {1.0, 1.0});
  tr.assign(0, d, {0, 0, 0, 0, 0, 1, 1});
  CHECK_NEAR(tr.tracks()[0].size, 100.0, 1e-9);
  CHECK(tr.tracks()[0].size_measured);
  CHECK_NEAR(tr.tracks()[1].size, 100.0, 1e-9);
  CHECK(!tr.tracks()[1].size_measured);
  CHECK_NEAR(tr.tracks()[1].spread, 15.0, 1e-9);  // 0.15 x the size it started with
  // Frame 1: track 1 shows joint 2 as well, 3 of 5 joints remembered: its own size, the
  // diagonal of the box (300, 0) - (330, 40) = 50, without smoothing against the borrowed one.
  FrameDetections e;
  e.joint = {0, 1, 2};
  e.xy = {300, 0, 306, 8, 330, 40};
  e.score = {1.0, 1.0, 1.0};
  tr.assign(1, e, {1, 1, 1});
  CHECK_NEAR(tr.tracks()[1].size, 50.0, 1e-9);
  CHECK(tr.tracks()[1].size_measured);
}

ARTTRACK_TEST(two_people_walking_apart_keep_ids) {
  Tracker tr(settings(), TemporalModel::default_model());
  std::vector<std::int64_t> first;
  for (std::int64_t t = 0; t < 10; ++t) {
    FrameDetections d;
    add_person(d, 200.0 - 5.0 * static_cast<double>(t), 100.0);
    add_person(d, 260.0 + 5.0 * static_cast<double>(t), 100.0);
    separate_people(d);
    const LinkResult r = tr.step(t, d);
    CHECK(r.track_id.size() == 6);
    for (std::int64_t j = 1; j < kJ; ++j) {
      CHECK(r.track_id[static_cast<std::size_t>(j)] == r.track_id[0]);
      CHECK(r.track_id[static_cast<std::size_t>(kJ + j)] == r.track_id[kJ]);
    }
    CHECK(r.track_id[0] != r.track_id[kJ]);
    if (t == 0) {
      first = {r.track_id[0], r.track_id[kJ]};
      CHECK(r.created.size() == 2);
    } else {
      CHECK(r.track_id[0] == first[0]);
      CHECK(r.track_id[kJ] == first[1]);
      CHECK(r.created.empty());
      CHECK(r.continued.size() == 2);
    }
  }
}

ARTTRACK_TEST(occlusion_within_max_gap_keeps_id) {
  for (std::int64_t max_gap : {1, 5}) {
    Tracker tr(settings(max_gap), TemporalModel::default_model());
    std::int64_t id0 = -1, id_back = -1;
    for (std::int64_t t = 0; t < 10; ++t) {
      if (t >= 4 && t <= 6) continue;  // occluded for 3 frames
      FrameDetections d;
      add_person(d, 100.0 + 2.0 * static_cast<double>(t), 100.0);
      const LinkResult r = tr.step(t, d);
      if (t == 0) id0 = r.track_id[0];
      if (t == 7) id_back = r.track_id[0];
    }
    if (max_gap == 5) CHECK(id_back == id0);
    if (max_gap == 1) CHECK(id_back != id0);
  }
}

ARTTRACK_TEST(new_person_gets_new_id) {
  Tracker tr(settings(), TemporalModel::default_model());
  FrameDetections d0;
  add_person(d0, 100, 100);
  const auto r0 = tr.step(0, d0);
  FrameDetections d1;
  add_person(d1, 101, 100);
  add_person(d1, 500, 100);
  separate_people(d1);
  const auto r1 = tr.step(1, d1);
  CHECK(r1.track_id[0] == r0.track_id[0]);
  CHECK(r1.track_id[kJ] != r0.track_id[0]);
  CHECK(r1.created.size() == 1 && r1.created[0] == r1.track_id[kJ]);
  CHECK(tr.next_id() == 2);
}

ARTTRACK_TEST(track_never_absorbs_two_tracks) {
  // Two tracks at the same place; one new person right there: it joins exactly one of them.
  std::vector<Track> tracks(2);
  for (int k = 0; k < 2; ++k) {
    Track& t = tracks[static_cast<std::size_t>(k)];
    t.id = 10 + k;
    t.last_frame = 0;
    t.num_frames = 1;
    t.size = 100;
    for (std::int64_t j = 0; j < kJ; ++j) {
      t.xy.push_back(100 + 10.0 * static_cast<double>(j));
      t.xy.push_back(100 + 30.0 * static_cast<double>(j));
      t.joint_frame.push_back(0);
    }
  }
  FrameDetections d;
  add_person(d, 100, 100);
  const LinkResult r = link_frame(tracks, 1, d, TemporalModel::default_model(), settings(), 12);
  CHECK(r.track_id[0] == 10 || r.track_id[0] == 11);
  CHECK(r.continued.size() == 1);
  CHECK(r.created.empty());
}

ARTTRACK_TEST(low_score_detection_rescued_and_suppressed) {
  Tracker tr(settings(), TemporalModel::default_model());
  FrameDetections d0;
  add_person(d0, 100, 100);
  tr.step(0, d0);
  // A weak lone detection near a tracked joint is kept by the temporal attraction ...
  FrameDetections d1;
  d1.joint = {0};
  d1.xy = {101, 100};
  d1.score = {0.3};
  CHECK(tr.step(1, d1).track_id[0] == 0);
  // ... a weak detection far from every track is suppressed.
  FrameDetections d2;
  d2.joint = {0};
  d2.xy = {900, 900};
  d2.score = {0.3};
  const auto r2 = tr.step(2, d2);
  CHECK(r2.track_id[0] == -1);
  CHECK(r2.created.empty());
}

ARTTRACK_TEST(velocity_compensation_resolves_fast_crossing) {
  // Two people (size ~190 px) move 20 px/frame towards each other and pass within one frame
  // (x gap 30 at t = 3, -10 at t = 4); without motion compensation the nearest previous
  // position at t = 4 is the other person's.
  for (bool use_velocity : {true, false}) {
    TrackerSettings s = settings();
    s.use_velocity = use_velocity;
    Tracker tr(s, TemporalModel::default_model());
    std::int64_t a = -1, b = -1;
    bool kept = true;
    for (std::int64_t t = 0; t < 8; ++t) {
      FrameDetections d;
      add_person(d, 0.0 + 20.0 * static_cast<double>(t), 100.0, 0.9, 3.0);
      add_person(d, 150.0 - 20.0 * static_cast<double>(t), 104.0, 0.9, 3.0);
      separate_people(d);
      const auto r = tr.step(t, d);
      if (t == 0) {
        a = r.track_id[0];
        b = r.track_id[kJ];
      }
      kept = kept && r.track_id[0] == a && r.track_id[kJ] == b;
    }
    CHECK(kept == use_velocity);
  }
}

ARTTRACK_TEST(assign_and_candidates) {
  Tracker tr(settings(), TemporalModel::default_model());
  FrameDetections d;
  add_person(d, 100, 100);
  add_person(d, 400, 100);
  tr.assign(0, d, {7, 7, 7, 3, 3, 3});
  CHECK(tr.tracks().size() == 2);
  CHECK(tr.next_id() == 8);
  FrameDetections d1;
  add_person(d1, 102, 100);
  const auto c = tr.candidates(1, d1);
  CHECK(c.size() == 3);  // the other track is gated out
  for (const auto& e : c) {
    CHECK(tr.tracks()[static_cast<std::size_t>(e.track)].id == 7);
    CHECK_NEAR(e.features[1], 2.0 / tr.tracks()[static_cast<std::size_t>(e.track)].size, 1e-9);
  }
  CHECK_THROWS(tr.assign(0, d1, {1, 1, 1}), std::invalid_argument);  // not increasing
  CHECK_THROWS(tr.assign(2, d1, {1, 1}), std::invalid_argument);     // wrong length
  CHECK_THROWS(tr.assign(2, d1, {1, -2, 1}), std::invalid_argument);
}

ARTTRACK_TEST(set_joint_positions_overrides_prediction) {
  TrackerSettings s = settings();
  s.use_velocity = false;
  Tracker tr(s, TemporalModel::default_model());
  FrameDetections d0;
  add_person(d0, 100, 100);
  tr.step(0, d0);
  std::vector<double> warped;
  for (std::int64_t j = 0; j < kJ; ++j) {
    warped.push_back(300 + 10.0 * static_cast<double>(j));
    warped.push_back(100 + 30.0 * static_cast<double>(j));
  }
  tr.set_joint_positions(0, warped);
  FrameDetections d1;
  add_person(d1, 300, 100);
  CHECK(tr.step(1, d1).track_id[0] == 0);
  CHECK_THROWS(tr.set_joint_positions(99, warped), std::invalid_argument);
  CHECK_THROWS(tr.set_joint_positions(0, {1.0}), std::invalid_argument);
}

ARTTRACK_TEST(bad_input_throws) {
  TrackerSettings bad = settings();
  bad.num_joints = 0;
  CHECK_THROWS(Tracker(bad, TemporalModel::default_model()), std::invalid_argument);
  bad = settings();
  bad.track_repulsion = -1;
  CHECK_THROWS(Tracker(bad, TemporalModel::default_model()), std::invalid_argument);
  bad = settings();
  bad.max_gap = -1;
  CHECK_THROWS(Tracker(bad, TemporalModel::default_model()), std::invalid_argument);
  TemporalModel nanm;
  nanm.weights[0] = NAN;
  CHECK_THROWS(Tracker(settings(), nanm), std::invalid_argument);

  Tracker tr(settings(), TemporalModel::default_model());
  FrameDetections d;
  d.joint = {5};
  d.xy = {0, 0};
  d.score = {0.5};
  CHECK_THROWS(tr.step(0, d), std::invalid_argument);  // joint out of range
  d.joint = {0};
  d.xy = {NAN, 0};
  CHECK_THROWS(tr.step(0, d), std::invalid_argument);
  d.xy = {0, 0};
  d.score = {1.5};
  CHECK_THROWS(tr.step(0, d), std::invalid_argument);
  d.score = {0.5};
  d.edges = {{0, 1}};
  d.edge_cost = {1.0};
  CHECK_THROWS(tr.step(0, d), std::invalid_argument);  // endpoint out of range
  d.edges = {{0, 0}};
  CHECK_THROWS(tr.step(0, d), std::invalid_argument);  // self loop
  d.edges.clear();
  d.edge_cost.clear();
  d.xy = {0};
  CHECK_THROWS(tr.step(0, d), std::invalid_argument);  // xy size
  d.xy = {0, 0};
  d.score = {0.9};
  CHECK_THROWS(tr.step(-1, d), std::invalid_argument);
  tr.step(3, d);
  CHECK_THROWS(tr.step(3, d), std::invalid_argument);
  CHECK(tr.tracks().size() == 1);  // failures left the state untouched
}

ARTTRACK_TEST(fallback_edges_link_joints_the_track_never_showed) {
  for (double scale : {0.5, 0.0}) {
    TrackerSettings s = settings();
    s.fallback_cost_scale = scale;
    Tracker tr(s, TemporalModel::default_model());
    FrameDetections d0;  // only joint 0 of a person entering the image
    d0.joint = {0};
    d0.xy = {100, 100};
    d0.score = {0.9};
    tr.step(0, d0);
    FrameDetections d1;  // now joints 1 and 2 only, bound together, next to it
    d1.joint = {1, 2};
    d1.xy = {104, 110, 110, 140};
    d1.score = {0.9, 0.9};
    d1.edges = {{0, 1}};
    d1.edge_cost = {-20.0};
    const auto c = tr.candidates(1, d1);
    CHECK(c.size() == (scale > 0 ? 2u : 0u));
    for (const auto& e : c) CHECK(e.fallback && e.cost <= 0.0);
    const auto r = tr.step(1, d1);
    CHECK((r.track_id[0] == 0) == (scale > 0));
    CHECK(r.track_id[0] == r.track_id[1]);
  }
}

// A person entering the image from the left, joint by joint: first only joint 0, then only
// joint 1 (60 px below; joint 0 missed by the detector), then all three joints. The track has
// never shown joint 1 when it appears, so only a fallback edge, measured against joint 0, can
// link it. Hand-computed with the default model (cost = q/2 - 5 + log(g)/2) and the default
// settings: the track's size is the borrowed default 100 and its spread 0.15 * 100 = 15 px.
// Frame 1: d = |(10, 160) - (5, 100)| = sqrt(3625) = 60.2 px. Against the spread alone,
// q = 3625 / 15^2 = 16.1 and cost = +3.06, no attraction, a new track; the track is seen in
// part, so against the fallback spread max(15, 0.3 * 100) = 30 px: q = 4.03, cost = -2.99,
// shared by the 2 joints the track lacks: -1.49, attractive, so the same track continues.
// Frame 2: joints 0 and 1 are the track's own (costs about -4.4 and -4.9; its size is now
// measured, 60.2); joint 2, 60.2 px from joint 1, beyond 3.2 spreads, gets no fallback edge
// and follows the other two by the spatial edges: all three stay with track 0.
ARTTRACK_TEST(person_entering_joint_by_joint_keeps_one_id) {
  Tracker tr(settings(), TemporalModel::default_model());
  FrameDetections d0;
  d0.joint = {0};
  d0.xy = {5, 100};
  d0.score = {0.9};
  CHECK(tr.step(0, d0).track_id == std::vector<std::int64_t>({0}));
  FrameDetections d1;
  d1.joint = {1};
  d1.xy = {10, 160};
  d1.score = {0.9};
  const auto c1 = tr.candidates(1, d1);
  CHECK(tr.step(1, d1).track_id == std::vector<std::int64_t>({0}));
  CHECK(c1.size() == 1u);
  CHECK(c1[0].fallback);
  CHECK_NEAR(c1[0].features[5], 3625.0 / 900.0, 1e-9);
  CHECK_NEAR(c1[0].cost, 0.5 * (3625.0 / 1800.0 - 5.0), 1e-9);
  FrameDetections d2;
  for (std::int64_t j = 0; j < kJ; ++j) {
    d2.joint.push_back(j);
    d2.xy.push_back(15.0);
    d2.xy.push_back(100.0 + 60.0 * static_cast<double>(j));
    d2.score.push_back(0.9);
  }
  d2.edges = {{0, 1}, {1, 2}};
  d2.edge_cost = {-20.0, -20.0};
  const auto r2 = tr.step(2, d2);
  CHECK(r2.track_id == std::vector<std::int64_t>({0, 0, 0}));
  CHECK(r2.created.empty());
  CHECK(tr.next_id() == 1);
}

ARTTRACK_TEST(retirement) {
  Tracker tr(settings(2), TemporalModel::default_model());
  FrameDetections d;
  add_person(d, 100, 100);
  tr.step(0, d);
  FrameDetections empty;
  tr.step(3, empty);  // unseen for 2 frames: still live
  CHECK(tr.tracks().size() == 1);
  CHECK(tr.retired().empty());
  tr.step(4, empty);  // unseen for 3 > max_gap frames: retired
  CHECK(tr.tracks().empty());
  CHECK(tr.retired().size() == 1 && tr.retired()[0] == 0);
}

ARTTRACK_TEST_MAIN()
