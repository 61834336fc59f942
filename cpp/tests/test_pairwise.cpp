#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "arttrack/assemble.hpp"
#include "arttrack/pairwise.hpp"
#include "check.hpp"

using namespace arttrack;

namespace {
const double kPi = 3.14159265358979323846;
double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// J = 3, 2x2 map. d0: joint 0 at cell (0,0), (4,4); d1: joint 1 at (1,1), (12,12);
// d2: joint 0 at (1,0), (7,8).
struct Fixture {
  std::vector<std::int32_t> part{0, 1, 0};
  std::vector<float> xy{4, 4, 12, 12, 7, 8};
  std::vector<std::int32_t> cell{0, 0, 1, 1, 1, 0};
  std::vector<float> map = std::vector<float>(2 * 2 * 6 * 2, 0.f);
  std::vector<std::int64_t> pairs{0, 1};
  std::vector<double> fmin = std::vector<double>(9, 0.0), fmax = std::vector<double>(9, 1.0);
  std::vector<double> w{-1, -0.5, 0, 0, 0, 0, 0, 0, 2};
  Fixture() {
    auto at = [&](int r, int c, std::int64_t ch) { return &map[static_cast<std::size_t>(((r * 2 + c) * 6 + ch) * 2)]; };
    float* o01 = at(0, 0, pair_channel(0, 1, 3));
    o01[0] = 8;
    o01[1] = 8;
    float* o10 = at(1, 1, pair_channel(1, 0, 3));
    o10[0] = -8;
    o10[1] = 0;
  }
  DetectionsView det() const {
    return {{part.data(), {3}}, {xy.data(), {3, 2}}, {cell.data(), {3, 2}}};
  }
  PairwiseMapView pmap() const { return {map.data(), {2, 2, 6, 2}}; }
  SpatialModelView model() const {
    return {{pairs.data(), {1, 2}}, {fmin.data(), {1, 9}}, {fmax.data(), {1, 9}}, {w.data(), {1, 9}}};
  }
};
}  // namespace

ARTTRACK_TEST(channels_to_joints) {
  CHECK(num_joints_from_pair_channels(2) == 2);
  CHECK(num_joints_from_pair_channels(272) == 17);
  CHECK(num_joints_from_pair_channels(182) == 14);
  CHECK_THROWS(num_joints_from_pair_channels(0), std::invalid_argument);
  CHECK_THROWS(num_joints_from_pair_channels(7), std::invalid_argument);
  CHECK(pair_channel(0, 1, 3) == 0);
  CHECK(pair_channel(1, 0, 3) == 2);
  CHECK(pair_channel(2, 1, 3) == 5);
}

ARTTRACK_TEST(hand_computed_features_and_probs) {
  Fixture fx;
  std::vector<std::int64_t> e{0, 1};
  double f[9];
  pairwise_features(fx.det(), fx.pmap(), ArrayView<std::int64_t, 2>{e.data(), {1, 2}}, f);
  const double want[9] = {0, 8, 0, kPi / 4, 1, std::exp(-8.0), 1, std::exp(-kPi / 4), 1};
  for (int k = 0; k < 9; ++k) CHECK_NEAR(f[k], want[k], 1e-12);

  auto t = pairwise_terms(fx.det(), fx.pmap(), fx.model());
  CHECK(t.size() == 3);
  CHECK(t.edges[0] == 0 && t.edges[1] == 1 && t.pair_index[0] == 0 && t.same_joint[0] == 0);
  CHECK(t.edges[2] == 1 && t.edges[3] == 2 && t.pair_index[1] == 0);  // (d2, d1) stored as (1, 2)
  CHECK(t.edges[4] == 0 && t.edges[5] == 2 && t.same_joint[2] == 1 && t.pair_index[2] == -1);
  CHECK_NEAR(t.prob[0], sigmoid(-2.0), 1e-12);
  CHECK_NEAR(t.prob[2], 1.0 / (1.0 + std::exp(0.2 * 5.0 - 7.5)), 1e-12);

  // DeeperCut's displacements from the cell centres (stride 8), by hand for (d2, d1):
  // fwd = p1 - c(d2) = (12,12) - (4,12) = (8,0) against o_ab = (0,0) read at d2's cell;
  // bwd = p(d2) - c(d1) = (7,8) - (12,12) = (-5,-4) against o_ba = (-8,0):
  // |(-3, 4)| = 5 and the angle atan2(32, 40).
  std::vector<std::int64_t> e21{2, 1};
  pairwise_features(fx.det(), fx.pmap(), ArrayView<std::int64_t, 2>{e21.data(), {1, 2}}, f, DisplacementOrigin{true, 8.0});
  const double a = std::atan2(32.0, 40.0);
  const double want_cell[9] = {8, 5, 0, a, std::exp(-8.0), std::exp(-5.0), 1, std::exp(-a), 1};
  for (int k = 0; k < 9; ++k) CHECK_NEAR(f[k], want_cell[k], 1e-12);
  auto tc = pairwise_terms(fx.det(), fx.pmap(), fx.model(), SameJointParams{false, 0.2, 7.5},
                           DisplacementOrigin{true, 8.0});
  CHECK(tc.size() == 2);
  CHECK_NEAR(tc.prob[1], sigmoid(-8.0 - 0.5 * 5.0 + 2.0), 1e-12);
  CHECK_THROWS(pairwise_terms(fx.det(), fx.pmap(), fx.model(), SameJointParams{}, DisplacementOrigin{true, 0.0}),
               std::invalid_argument);

  fx.fmin[1] = fx.fmax[1] = 3.0;  // zero range: scaled = f - min
  t = pairwise_terms(fx.det(), fx.pmap(), fx.model(), SameJointParams{false, 0.2, 7.5});
  CHECK(t.size() == 2);
  CHECK_NEAR(t.prob[0], sigmoid(-0.5 * 5.0 + 2.0), 1e-12);
}

ARTTRACK_TEST(candidate_edge_order) {
  std::vector<std::int32_t> part{1, 0, 2, 0, 1};
  std::vector<std::int64_t> pairs{0, 1, 2, 0};
  auto c = candidate_edges({part.data(), {5}}, {pairs.data(), {2, 2}}, 3);
  const std::vector<std::int64_t> want{1, 0, 1, 4, 3, 0, 3, 4, 2, 1, 2, 3};
  CHECK(c.edges == want);
  CHECK((c.pair_index == std::vector<std::int64_t>{0, 0, 0, 0, 1, 1}));
}

ARTTRACK_TEST(pairwise_bad_input) {
  Fixture fx;
  fx.part[1] = 3;
  CHECK_THROWS(pairwise_terms(fx.det(), fx.pmap(), fx.model()), std::invalid_argument);
  fx = Fixture{};
  fx.cell[2] = 2;
  CHECK_THROWS(pairwise_terms(fx.det(), fx.pmap(), fx.model()), std::invalid_argument);
  fx = Fixture{};
  fx.pairs[1] = 0;
  CHECK_THROWS(pairwise_terms(fx.det(), fx.pmap(), fx.model()), std::invalid_argument);
  fx = Fixture{};
  fx.w[3] = std::numeric_limits<double>::infinity();
  CHECK_THROWS(pairwise_terms(fx.det(), fx.pmap(), fx.model()), std::invalid_argument);
  fx = Fixture{};
  fx.map[0] = std::numeric_limits<float>::quiet_NaN();  // o_01 at d0's cell is read
  CHECK_THROWS(pairwise_terms(fx.det(), fx.pmap(), fx.model()), std::invalid_argument);
  fx = Fixture{};
  std::vector<std::int64_t> same{0, 2};
  double f[9];
  CHECK_THROWS(pairwise_features(fx.det(), fx.pmap(), ArrayView<std::int64_t, 2>{same.data(), {1, 2}}, f),
               std::invalid_argument);
  std::vector<std::int64_t> dup{0, 1, 1, 0};
  CHECK_THROWS(candidate_edges({fx.part.data(), {3}}, {dup.data(), {2, 2}}, 3), std::invalid_argument);
}

ARTTRACK_TEST(cost_clipping) {
  CHECK_NEAR(cost_from_prob(0.5), 0.0, 1e-15);
  CHECK_NEAR(cost_from_prob(0.0), std::log((1 - 1e-7) / 1e-7), 1e-9);
  CHECK_NEAR(cost_from_prob(1.0), -std::log((1 - 1e-7) / 1e-7), 1e-9);
}

ARTTRACK_TEST(assemble_hand_case) {
  // Cluster 7: joint 0 twice (scores 1 and 3), joint 1 once. Cluster 2: joints 0, 1, 2.
  // Detection 6 inactive. Cluster 9: a single joint (dropped with min_joints = 2).
  std::vector<std::int32_t> part{0, 0, 1, 0, 1, 2, 2, 1};
  std::vector<float> xy{0, 0, 4, 8, 5, 5, 1, 1, 2, 2, 3, 3, 9, 9, 6, 6};
  std::vector<float> score{1, 3, 0.5f, 0.4f, 0.6f, 0.7f, 0.9f, 0.8f};
  bool active[8] = {true, true, true, true, true, true, false, true};
  std::vector<std::int64_t> cl{7, 7, 7, 2, 2, 2, 2, 9};
  auto p = assemble({part.data(), {8}}, {xy.data(), {8, 2}}, {score.data(), {8}}, {active, {8}}, {cl.data(), {8}}, 3, 2);
  CHECK(p.size() == 2);
  CHECK(p.cluster[0] == 2 && p.cluster[1] == 7);
  const float* a = p.joints.data();
  CHECK_NEAR(a[0], 1, 1e-6);
  CHECK_NEAR(a[5], 0.6, 1e-6);
  CHECK_NEAR(a[6], 3, 1e-6);
  CHECK_NEAR(a[8], 0.7, 1e-6);
  const float* b = p.joints.data() + 9;
  CHECK_NEAR(b[0], 4.0, 1e-6);  // the best of (0, 0) score 1 and (4, 8) score 3, 8.94 px apart
  CHECK_NEAR(b[1], 8.0, 1e-6);
  CHECK_NEAR(b[2], 3.0, 1e-6);
  CHECK(std::isnan(b[6]) && std::isnan(b[7]) && b[8] == 0.0f);
  auto m = assemble({part.data(), {8}}, {xy.data(), {8, 2}}, {score.data(), {8}}, {active, {8}}, {cl.data(), {8}}, 3, 2,
                    9.0);  // within the merge radius: score-weighted mean
  CHECK_NEAR(m.joints[9], 3.0, 1e-6);  // (1*0 + 3*4) / 4
  CHECK_NEAR(m.joints[10], 6.0, 1e-6);
  CHECK_NEAR(m.joints[11], 3.0, 1e-6);
  CHECK_THROWS(assemble({part.data(), {8}}, {xy.data(), {8, 2}}, {score.data(), {8}}, {active, {8}}, {cl.data(), {8}}, 3, 2,
                        -1.0),
               std::invalid_argument);
  auto q = assemble({part.data(), {8}}, {xy.data(), {8, 2}}, {score.data(), {8}}, {active, {8}}, {cl.data(), {8}}, 3, 0);
  CHECK(q.size() == 3);
  CHECK_THROWS(assemble({part.data(), {8}}, {xy.data(), {8, 2}}, {score.data(), {8}}, {active, {8}}, {cl.data(), {8}}, 2, 0),
               std::invalid_argument);
}

ARTTRACK_TEST_MAIN()
