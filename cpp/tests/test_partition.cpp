// Unit tests for the node-labelling multicut solvers (arttrack/partition.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "arttrack/partition.hpp"
#include "check.hpp"

using arttrack::PartitionEdge;
using arttrack::PartitionMethod;
using arttrack::PartitionResult;
using arttrack::PartitionSettings;

namespace {

struct Instance {
  std::vector<double> node_cost;
  std::vector<PartitionEdge> edges;
  std::vector<double> edge_cost;
};

PartitionResult solve(const Instance& p, PartitionMethod method = PartitionMethod::gaec_klj) {
  PartitionSettings s;
  s.method = method;
  return arttrack::partition(p.node_cost, p.edges, p.edge_cost, s);
}

double objective_of(const Instance& p, const PartitionResult& r) {
  return arttrack::objective(p.node_cost, p.edges, p.edge_cost, r.active, r.cluster);
}

// Exact minimum by enumerating every labelling: each node suppressed (-1) or in a cluster,
// clusters as restricted growth strings. Bell(n + 1) labellings, fine for n <= 8.
double brute_force(const Instance& p) {
  const std::size_t n = p.node_cost.size();
  std::vector<std::int64_t> label(n, -1);
  double best = std::numeric_limits<double>::infinity();
  std::vector<std::uint8_t> active(n);
  // Recursive enumeration with the number of clusters used so far.
  struct Rec {
    const Instance& p;
    std::vector<std::int64_t>& label;
    std::vector<std::uint8_t>& active;
    double& best;
    void go(std::size_t i, std::int64_t used) {
      if (i == label.size()) {
        for (std::size_t v = 0; v < label.size(); ++v) active[v] = label[v] >= 0;
        best = std::min(best, arttrack::objective(p.node_cost, p.edges, p.edge_cost, active, label));
        return;
      }
      for (std::int64_t l = -1; l <= used; ++l) {
        label[i] = l;
        go(i + 1, l == used ? used + 1 : used);
      }
      label[i] = -1;
    }
  } rec{p, label, active, best};
  rec.go(0, 0);
  return best;
}

Instance random_instance(std::mt19937_64& rng, std::size_t n, double density) {
  Instance p;
  std::uniform_real_distribution<double> prob(0.02, 0.98), coin(0.0, 1.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double q = prob(rng);
    p.node_cost.push_back(std::log((1 - q) / q));
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      if (coin(rng) < density) {
        const double q = prob(rng);
        if (coin(rng) < 0.5)
          p.edges.push_back({static_cast<std::int64_t>(i), static_cast<std::int64_t>(j)});
        else
          p.edges.push_back({static_cast<std::int64_t>(j), static_cast<std::int64_t>(i)});
        p.edge_cost.push_back(std::log((1 - q) / q));
      }
  return p;
}

void check_valid(const Instance& p, const PartitionResult& r) {
  const std::size_t n = p.node_cost.size();
  CHECK(r.active.size() == n);
  CHECK(r.cluster.size() == n);
  std::int64_t next = 0;
  for (std::size_t v = 0; v < n; ++v) {
    if (!r.active[v]) {
      CHECK(r.cluster[v] == -1);
      continue;
    }
    CHECK(r.cluster[v] >= 0);
    CHECK(r.cluster[v] <= next);  // first-appearance numbering
    if (r.cluster[v] == next) ++next;
  }
  CHECK(next == r.num_clusters);
  const double obj = objective_of(p, r);  // summation order differs: compare relatively
  CHECK_NEAR(r.objective, obj, 1e-9 * std::max(1.0, std::fabs(obj)));
}

}  // namespace

ARTTRACK_TEST(two_nodes_join_or_split) {
  Instance p{{-1.0, -1.0}, {{0, 1}}, {-0.5}};
  auto r = solve(p);
  check_valid(p, r);
  CHECK(r.active[0] && r.active[1]);
  CHECK(r.cluster[0] == 0 && r.cluster[1] == 0);
  CHECK_NEAR(r.objective, -2.5, 1e-12);

  p.edge_cost = {2.0};
  r = solve(p);
  check_valid(p, r);
  CHECK(r.cluster[0] == 0 && r.cluster[1] == 1);
  CHECK_NEAR(r.objective, -2.0, 1e-12);
}

ARTTRACK_TEST(suppression) {
  // Node 1 is unlikely on its own but strongly tied to node 0; node 2 is unlikely and alone.
  Instance p{{-1.0, 1.0, 0.5}, {{1, 0}}, {-3.0}};
  auto r = solve(p);
  check_valid(p, r);
  CHECK(r.active[0] && r.active[1] && !r.active[2]);
  CHECK(r.cluster[2] == -1);
  CHECK_NEAR(r.objective, -3.0, 1e-12);
  // A weak tie does not pay for the node cost: node 1 suppressed.
  p.edge_cost = {-0.5};
  r = solve(p);
  check_valid(p, r);
  CHECK(r.active[0] && !r.active[1]);
  CHECK_NEAR(r.objective, -1.0, 1e-12);
  // Two unlikely nodes that are only worth it together.
  Instance q{{0.5, 0.5}, {{0, 1}}, {-2.0}};
  r = solve(q, PartitionMethod::gaec);
  CHECK(r.active[0] && r.active[1] && r.cluster[0] == r.cluster[1]);
  CHECK_NEAR(r.objective, -1.0, 1e-12);
}

ARTTRACK_TEST(hand_computed_objective) {
  Instance p{{-1.0, -2.0, 0.5, -0.25}, {{0, 1}, {1, 2}, {2, 3}, {0, 3}, {0, 1}}, {-0.5, 0.75, -1.0, 2.0, 0.25}};
  // 0, 1 together; 2 suppressed; 3 alone. -1 - 2 - 0.25 + (-0.5 + 0.25) = -3.5
  std::vector<std::uint8_t> active{1, 1, 0, 1};
  std::vector<std::int64_t> cluster{0, 0, -1, 1};
  CHECK_NEAR(arttrack::objective(p.node_cost, p.edges, p.edge_cost, active, cluster), -3.5, 1e-12);
  // 2 and 3 joined with 0: adds 0.5 - 1.0 + 2.0 (edge 0-3), edge 1-2 0.75.
  active = {1, 1, 1, 1};
  cluster = {0, 0, 0, 0};
  CHECK_NEAR(arttrack::objective(p.node_cost, p.edges, p.edge_cost, active, cluster),
             -1.0 - 2.0 + 0.5 - 0.25 - 0.5 + 0.75 - 1.0 + 2.0 + 0.25, 1e-12);
  const auto r = solve(p);
  check_valid(p, r);
  CHECK_NEAR(r.objective, brute_force(p), 1e-9);
}

ARTTRACK_TEST(duplicate_edges_add_up) {
  Instance dup{{-1.0, -1.0}, {{0, 1}, {1, 0}}, {-1.0, 0.75}};
  Instance single{{-1.0, -1.0}, {{0, 1}}, {-0.25}};
  const auto a = solve(dup), b = solve(single);
  CHECK(a.cluster == b.cluster);
  CHECK_NEAR(a.objective, b.objective, 1e-12);
  CHECK_NEAR(a.objective, -2.25, 1e-12);
}

ARTTRACK_TEST(empty_and_edgeless) {
  Instance empty{};
  auto r = solve(empty);
  CHECK(r.active.empty() && r.cluster.empty() && r.num_clusters == 0);
  CHECK_NEAR(r.objective, 0.0, 0.0);
  Instance edgeless{{-1.0, 2.0, -3.0, 0.0}, {}, {}};
  r = solve(edgeless);
  check_valid(edgeless, r);
  CHECK(r.active == (std::vector<std::uint8_t>{1, 0, 1, 0}));
  CHECK(r.cluster == (std::vector<std::int64_t>{0, -1, 1, -1}));
}

ARTTRACK_TEST(matches_brute_force_on_tiny_graphs) {
  std::mt19937_64 rng(12345);
  int optimal = 0, total = 0;
  for (int t = 0; t < 300; ++t) {
    const std::size_t n = 2 + static_cast<std::size_t>(t % 6);  // 2..7 nodes
    const Instance p = random_instance(rng, n, 0.7);
    const double exact = brute_force(p);
    const auto klj = solve(p);
    const auto g = solve(p, PartitionMethod::gaec);
    check_valid(p, klj);
    check_valid(p, g);
    CHECK(klj.objective >= exact - 1e-9);
    CHECK(klj.objective <= g.objective + 1e-9);
    ++total;
    if (klj.objective <= exact + 1e-9) ++optimal;
  }
  std::printf("gaec+klj optimal on %d of %d tiny instances\n", optimal, total);
  CHECK(optimal >= total * 95 / 100);
}

ARTTRACK_TEST(deterministic_and_consistent_on_larger_graphs) {
  std::mt19937_64 rng(7);
  for (int t = 0; t < 5; ++t) {
    const Instance p = random_instance(rng, 300, 0.2);
    const auto a = solve(p), b = solve(p);
    check_valid(p, a);
    CHECK(a.cluster == b.cluster);
    CHECK(a.active == b.active);
    const auto g = solve(p, PartitionMethod::gaec);
    check_valid(p, g);
    CHECK(a.objective <= g.objective + 1e-9);
  }
}

ARTTRACK_TEST(forced_nodes_stay_active_and_apart) {
  // The tracker's instances: forced-active nodes (-1e6) that repel each other (+1e6) among
  // ordinary detections. They must all stay active, in distinct clusters, and the solver
  // must not wander (the tolerance is relative to these large costs).
  std::mt19937_64 rng(11);
  Instance p = random_instance(rng, 200, 0.1);
  const std::int64_t n = static_cast<std::int64_t>(p.node_cost.size());
  std::uniform_int_distribution<std::int64_t> pick(0, n - 1);
  std::uniform_real_distribution<double> cost(-3.0, 3.0);
  const std::int64_t tracks = 20;
  for (std::int64_t t = 0; t < tracks; ++t) {
    const std::int64_t v = n + t;
    p.node_cost.push_back(-1.0e6);
    for (std::int64_t u = n; u < v; ++u) {
      p.edges.push_back({u, v});
      p.edge_cost.push_back(1.0e6);
    }
    for (int k = 0; k < 10; ++k) {
      p.edges.push_back({pick(rng), v});
      p.edge_cost.push_back(cost(rng));
    }
  }
  const auto r = solve(p);
  check_valid(p, r);
  CHECK(r.klj_rounds < 50);
  std::vector<std::int64_t> track_cluster;
  for (std::int64_t t = 0; t < tracks; ++t) {
    CHECK(r.active[static_cast<std::size_t>(n + t)] == 1);
    track_cluster.push_back(r.cluster[static_cast<std::size_t>(n + t)]);
  }
  std::sort(track_cluster.begin(), track_cluster.end());
  CHECK(std::unique(track_cluster.begin(), track_cluster.end()) == track_cluster.end());
}

ARTTRACK_TEST(bad_input_throws) {
  const std::vector<double> nc{-1.0, -1.0, -1.0};
  CHECK_THROWS(arttrack::partition(nc, {{0, 3}}, {1.0}), std::invalid_argument);
  CHECK_THROWS(arttrack::partition(nc, {{-1, 2}}, {1.0}), std::invalid_argument);
  CHECK_THROWS(arttrack::partition(nc, {{1, 1}}, {1.0}), std::invalid_argument);
  CHECK_THROWS(arttrack::partition(nc, {{0, 1}}, {}), std::invalid_argument);
  CHECK_THROWS(arttrack::partition(nc, {{0, 1}}, {std::nan("")}), std::invalid_argument);
  CHECK_THROWS(arttrack::partition({1.0, std::numeric_limits<double>::infinity()}, {}, {}), std::invalid_argument);
  PartitionSettings s;
  s.tolerance = -1.0;
  CHECK_THROWS(arttrack::partition(nc, {}, {}, s), std::invalid_argument);
  // objective(): inconsistent labelling.
  CHECK_THROWS(arttrack::objective(nc, {}, {}, {1, 1}, {0, 0, 0}), std::invalid_argument);
  CHECK_THROWS(arttrack::objective(nc, {}, {}, {1, 0, 1}, {0, 0, 1}), std::invalid_argument);
  CHECK_THROWS(arttrack::objective(nc, {}, {}, {1, 0, 1}, {0, -1, -1}), std::invalid_argument);
}

ARTTRACK_TEST_MAIN()
