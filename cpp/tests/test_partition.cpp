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
// clusters as restricted growth strings, Bell(n + 1) labellings (115,975 for n = 9), the cost
// kept up to date node by node on a dense matrix. Independent of the solver.
double brute_force(const Instance& p) {
  const std::size_t n = p.node_cost.size();
  std::vector<double> w(n * n, 0.0);
  for (std::size_t e = 0; e < p.edges.size(); ++e) {
    const auto a = static_cast<std::size_t>(p.edges[e][0]), b = static_cast<std::size_t>(p.edges[e][1]);
    w[a * n + b] += p.edge_cost[e];
    w[b * n + a] += p.edge_cost[e];
  }
  std::vector<std::int64_t> label(n, -1);
  double best = std::numeric_limits<double>::infinity();
  struct Rec {
    const Instance& p;
    const std::vector<double>& w;
    std::vector<std::int64_t>& label;
    double& best;
    void go(std::size_t i, std::int64_t used, double cost) {
      const std::size_t n = label.size();
      if (i == n) {
        best = std::min(best, cost);
        return;
      }
      for (std::int64_t l = -1; l <= used; ++l) {
        double add = 0.0;
        if (l >= 0) {
          add = p.node_cost[i];
          for (std::size_t j = 0; j < i; ++j)
            if (label[j] == l) add += w[i * n + j];
        }
        label[i] = l;
        go(i + 1, l == used ? used + 1 : used, cost + add);
      }
      label[i] = -1;
    }
  } rec{p, w, label, best};
  rec.go(0, 0, 0.0);
  return best;
}

// Beta(a, b) from two gamma draws.
double beta(std::mt19937_64& rng, double a, double b) {
  std::gamma_distribution<double> ga(a, 1.0), gb(b, 1.0);
  const double x = ga(rng), y = gb(rng);
  return x / (x + y);
}

double logit_cost(double q) {
  q = std::min(std::max(q, 1e-7), 1.0 - 1e-7);
  return std::log((1.0 - q) / q);
}

// Pose-like: 1-3 people with duplicate detections of a joint and false positives.
Instance pose_instance(std::mt19937_64& rng, std::size_t n) {
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  const int people = 1 + static_cast<int>(rng() % 3);
  std::vector<int> person(n, -1), joint(n, -1);
  std::vector<std::uint8_t> dup(n, 0);
  std::vector<int> next_joint(static_cast<std::size_t>(people), 0);
  Instance p;
  for (std::size_t i = 0; i < n; ++i) {
    if (coin(rng) < 0.2) {
      joint[i] = static_cast<int>(rng() % 17);
    } else {
      const int k = static_cast<int>(rng() % static_cast<unsigned>(people));
      person[i] = k;
      std::vector<std::size_t> prev;
      for (std::size_t j = 0; j < i; ++j)
        if (person[j] == k) prev.push_back(j);
      if (!prev.empty() && coin(rng) < 0.3) {
        joint[i] = joint[prev[rng() % prev.size()]];
        dup[i] = 1;
      } else {
        joint[i] = next_joint[static_cast<std::size_t>(k)]++ % 17;
      }
    }
    const double q = person[i] < 0 ? beta(rng, 1.5, 3) : dup[i] ? beta(rng, 2.5, 2) : beta(rng, 4, 1.5);
    p.node_cost.push_back(logit_cost(q));
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      if (coin(rng) >= 0.9) continue;
      const bool fp = person[i] < 0 || person[j] < 0, same = person[i] == person[j], same_joint = joint[i] == joint[j];
      double a = 1.5, b = 3.0;  // two people
      if (fp)
        b = 2.5;
      else if (same && same_joint)
        a = 6.0, b = 1.5;  // a duplicate
      else if (same)
        a = 3.0, b = 1.5;
      else if (same_joint)
        a = 1.0, b = 4.0;
      const double q = beta(rng, a, b);
      p.edges.push_back({static_cast<std::int64_t>(i), static_cast<std::int64_t>(j)});
      p.edge_cost.push_back(logit_cost(q));
    }
  return p;
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

PartitionSettings stage(int which) {
  // 0: the default; 1: KLj only; 2: KLj + re-solving clusters; 3: + restarts (the branch and
  // bound gives up at once).
  PartitionSettings s;
  if (which == 1) {
    s.exact_max_nodes = 0;
    s.resolve_max_nodes = 0;
    s.restarts_per_node = 0;
  } else if (which == 2) {
    s.exact_max_nodes = 0;
    s.restarts_per_node = 0;
  } else if (which == 3) {
    s.exact_node_limit = 1;
  }
  return s;
}

ARTTRACK_TEST(matches_brute_force_on_small_graphs) {
  std::mt19937_64 rng(12345);
  const int total = 300;
  int optimal[4] = {0, 0, 0, 0};
  for (int t = 0; t < total; ++t) {
    const std::size_t n = 3 + static_cast<std::size_t>(t % 7);  // 3..9 nodes
    const Instance p = t % 2 ? pose_instance(rng, n) : random_instance(rng, n, 0.6);
    const double exact = brute_force(p);
    const auto g = solve(p, PartitionMethod::gaec);
    check_valid(p, g);
    for (int which = 0; which < 4; ++which) {
      const auto r = arttrack::partition(p.node_cost, p.edges, p.edge_cost, stage(which));
      check_valid(p, r);
      CHECK(r.objective >= exact - 1e-9);
      CHECK(r.objective <= g.objective + 1e-9);  // never worse than GAEC
      if (r.objective <= exact + 1e-9) ++optimal[which];
      if (which == 0) CHECK(r.proven_optimal);
    }
  }
  std::printf("optimal on %d / %d / %d / %d of %d (default / klj / +resolve / +restarts)\n", optimal[0], optimal[1],
              optimal[2], optimal[3], total);
  CHECK(optimal[0] == total);
  CHECK(optimal[1] >= total * 90 / 100);
  CHECK(optimal[2] >= optimal[1]);
  CHECK(optimal[3] >= total * 98 / 100);
}

ARTTRACK_TEST(resolving_finds_what_klj_misses) {
  // GAEC + KLj stop at {0, 2, 3, 4} with 1, 5 suppressed (-4.61); the optimum (-4.68) is
  // {0, 2, 5}, {3, 4}: 5 activated and 3, 4 split off at once.
  Instance p{{-0.69, 1.28, 0.07, -0.14, -0.17, 0.64},
             {{0, 1}, {0, 2}, {0, 4}, {0, 5}, {1, 2}, {1, 5}, {2, 3}, {2, 4}, {2, 5}, {3, 4}, {3, 5}, {4, 5}},
             {2.58, -1.21, 0.71, -0.74, 0.2, 1.32, -0.38, -1.24, -0.88, -1.56, 2.13, 0.29}};
  CHECK_NEAR(brute_force(p), -4.68, 1e-9);
  auto r = arttrack::partition(p.node_cost, p.edges, p.edge_cost, stage(1));
  CHECK_NEAR(r.objective, -4.61, 1e-9);
  r = arttrack::partition(p.node_cost, p.edges, p.edge_cost, stage(2));
  CHECK_NEAR(r.objective, -4.68, 1e-9);
  CHECK(!r.proven_optimal);
  r = solve(p);
  CHECK_NEAR(r.objective, -4.68, 1e-9);
  CHECK(r.proven_optimal);
  CHECK(r.cluster == (std::vector<std::int64_t>{0, -1, 0, 1, 1, 0}));
}

ARTTRACK_TEST(attractive_components_solved_apart) {
  // Two pose-like groups linked by repulsive edges only: no cluster spans both, and the
  // objective is the sum of the groups' own.
  std::mt19937_64 rng(3);
  const Instance a = pose_instance(rng, 14), b = pose_instance(rng, 11);
  Instance p = a;
  const auto na = static_cast<std::int64_t>(a.node_cost.size());
  p.node_cost.insert(p.node_cost.end(), b.node_cost.begin(), b.node_cost.end());
  for (std::size_t e = 0; e < b.edges.size(); ++e) {
    p.edges.push_back({b.edges[e][0] + na, b.edges[e][1] + na});
    p.edge_cost.push_back(b.edge_cost[e]);
  }
  std::uniform_real_distribution<double> rep(0.1, 3.0);
  for (std::int64_t i = 0; i < na; ++i)
    for (std::int64_t j = 0; j < static_cast<std::int64_t>(b.node_cost.size()); j += 2) {
      p.edges.push_back({i, na + j});
      p.edge_cost.push_back(rep(rng));
    }
  const auto r = solve(p), ra = solve(a), rb = solve(b);
  check_valid(p, r);
  CHECK_NEAR(r.objective, ra.objective + rb.objective, 1e-9);
  for (std::int64_t i = 0; i < na; ++i)
    for (std::int64_t j = na; j < static_cast<std::int64_t>(p.node_cost.size()); ++j)
      CHECK(!r.active[static_cast<std::size_t>(i)] ||
            r.cluster[static_cast<std::size_t>(i)] != r.cluster[static_cast<std::size_t>(j)]);
}

ARTTRACK_TEST(larger_graphs_never_worse_than_gaec_nor_klj) {
  std::mt19937_64 rng(21);
  for (int t = 0; t < 10; ++t) {
    const std::size_t n = 30 + static_cast<std::size_t>(rng() % 90);
    const Instance p = t % 2 ? pose_instance(rng, n) : random_instance(rng, n, 0.15);
    const auto r = solve(p), g = solve(p, PartitionMethod::gaec);
    const auto k = arttrack::partition(p.node_cost, p.edges, p.edge_cost, stage(1));
    check_valid(p, r);
    CHECK(r.objective <= g.objective + 1e-9);
    CHECK(r.objective <= k.objective + 1e-9);
  }
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
  for (const std::int64_t bad : {-1, 33}) {
    s = {};
    s.exact_max_nodes = bad;
    CHECK_THROWS(arttrack::partition(nc, {}, {}, s), std::invalid_argument);
    s = {};
    s.resolve_max_nodes = bad;
    CHECK_THROWS(arttrack::partition(nc, {}, {}, s), std::invalid_argument);
  }
  s = {};
  s.exact_node_limit = -1;
  CHECK_THROWS(arttrack::partition(nc, {}, {}, s), std::invalid_argument);
  s = {};
  s.resolve_node_limit = -1;
  CHECK_THROWS(arttrack::partition(nc, {}, {}, s), std::invalid_argument);
  s = {};
  s.restarts_per_node = -1;
  CHECK_THROWS(arttrack::partition(nc, {}, {}, s), std::invalid_argument);
  // objective(): inconsistent labelling.
  CHECK_THROWS(arttrack::objective(nc, {}, {}, {1, 1}, {0, 0, 0}), std::invalid_argument);
  CHECK_THROWS(arttrack::objective(nc, {}, {}, {1, 0, 1}, {0, 0, 1}), std::invalid_argument);
  CHECK_THROWS(arttrack::objective(nc, {}, {}, {1, 0, 1}, {0, -1, -1}), std::invalid_argument);
}

ARTTRACK_TEST_MAIN()
