// Node-labelling multicut solvers: GAEC with node labels and Kernighan-Lin with joins.
// See arttrack/partition.hpp for the problem statement and an outline of both algorithms.
#include "arttrack/partition.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

namespace arttrack {
namespace {

using Index = std::int64_t;
constexpr Index kSink = -1;  // label of suppressed nodes
constexpr std::size_t kExactMaxNodes = 32;  // largest instance the branch and bound accepts
constexpr int kResolvePasses = 3;           // rounds of cluster re-solving + KLj
constexpr double kPairAttraction = 2.0;     // clusters re-solved together: attraction below -this
constexpr std::size_t kStarNeighbours = 3;  // neighbouring clusters re-solved with a cluster
constexpr std::int64_t kStarSlack = 8;      // ... while the set has at most max_atoms + this nodes
constexpr std::size_t kSuppressedInSet = 6; // suppressed nodes added to a re-solved set
constexpr std::size_t kMaxSetNodes = 64;    // larger sets (before those) are not re-solved
inline std::size_t v_at(Index i) { return static_cast<std::size_t>(i); }

// ---------------------------------------------------------------------------------------
// Input checks and the graph

void validate(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
              const std::vector<double>& edge_cost) {
  const Index n = static_cast<Index>(node_cost.size());
  if (edges.size() != edge_cost.size())
    throw std::invalid_argument("edge_cost must have one entry per edge: got " +
                                std::to_string(edge_cost.size()) + " costs for " +
                                std::to_string(edges.size()) + " edges");
  for (std::size_t i = 0; i < node_cost.size(); ++i)
    if (!std::isfinite(node_cost[i]))
      throw std::invalid_argument("node_cost contains NaN or infinity (first at index " +
                                  std::to_string(i) + ")");
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const Index a = edges[e][0], b = edges[e][1];
    if (a < 0 || a >= n || b < 0 || b >= n)
      throw std::invalid_argument("edges[" + std::to_string(e) + "] = (" + std::to_string(a) + ", " +
                                  std::to_string(b) + ") has an endpoint outside [0, " +
                                  std::to_string(n) + ")");
    if (a == b)
      throw std::invalid_argument("edges[" + std::to_string(e) + "] = (" + std::to_string(a) + ", " +
                                  std::to_string(b) + ") is a self loop");
    if (!std::isfinite(edge_cost[e]))
      throw std::invalid_argument("edge_cost contains NaN or infinity (first at index " +
                                  std::to_string(e) + ")");
  }
}

// Symmetric adjacency in compressed sparse rows; duplicate edges merged (costs summed).
// Row order follows the input order, so everything downstream is deterministic.
struct Graph {
  Index n = 0;
  std::vector<Index> offset;  // n + 1
  std::vector<Index> nbr;
  std::vector<double> w;

  Index begin(Index v) const { return offset[static_cast<std::size_t>(v)]; }
  Index end(Index v) const { return offset[static_cast<std::size_t>(v) + 1]; }
};

Graph build_graph(Index n, const std::vector<PartitionEdge>& edges, const std::vector<double>& edge_cost) {
  Graph g;
  g.n = n;
  const auto N = static_cast<std::size_t>(n);
  std::vector<Index> start(N + 1, 0);
  for (const auto& e : edges) {
    ++start[static_cast<std::size_t>(e[0]) + 1];
    ++start[static_cast<std::size_t>(e[1]) + 1];
  }
  for (std::size_t v = 0; v < N; ++v) start[v + 1] += start[v];
  std::vector<Index> raw_nbr(static_cast<std::size_t>(start[N]));
  std::vector<double> raw_w(raw_nbr.size());
  {
    std::vector<Index> fill(start.begin(), start.end() - 1);
    for (std::size_t e = 0; e < edges.size(); ++e) {
      const auto a = static_cast<std::size_t>(edges[e][0]), b = static_cast<std::size_t>(edges[e][1]);
      auto ia = static_cast<std::size_t>(fill[a]++), ib = static_cast<std::size_t>(fill[b]++);
      raw_nbr[ia] = edges[e][1];
      raw_w[ia] = edge_cost[e];
      raw_nbr[ib] = edges[e][0];
      raw_w[ib] = edge_cost[e];
    }
  }
  // Merge duplicates within each row.
  g.offset.assign(N + 1, 0);
  g.nbr.reserve(raw_nbr.size());
  g.w.reserve(raw_nbr.size());
  std::vector<Index> seen_in_row(N, -1), where(N, 0);
  for (std::size_t v = 0; v < N; ++v) {
    for (auto i = static_cast<std::size_t>(start[v]); i < static_cast<std::size_t>(start[v + 1]); ++i) {
      const auto u = static_cast<std::size_t>(raw_nbr[i]);
      if (seen_in_row[u] == static_cast<Index>(v)) {
        g.w[static_cast<std::size_t>(where[u])] += raw_w[i];
      } else {
        seen_in_row[u] = static_cast<Index>(v);
        where[u] = static_cast<Index>(g.nbr.size());
        g.nbr.push_back(raw_nbr[i]);
        g.w.push_back(raw_w[i]);
      }
    }
    g.offset[v + 1] = static_cast<Index>(g.nbr.size());
  }
  return g;
}

// Objective of a labelling given as labels (kSink for suppressed) on the merged graph.
double labelling_objective(const Graph& g, const std::vector<double>& node_cost, const std::vector<Index>& label) {
  double total = 0.0;
  for (Index v = 0; v < g.n; ++v) {
    const Index lv = label[static_cast<std::size_t>(v)];
    if (lv == kSink) continue;
    total += node_cost[static_cast<std::size_t>(v)];
    for (Index e = g.begin(v); e < g.end(v); ++e) {
      const Index u = g.nbr[static_cast<std::size_t>(e)];
      if (u > v && label[static_cast<std::size_t>(u)] == lv) total += g.w[static_cast<std::size_t>(e)];
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------
// GAEC with node labels

// Change of the objective when two clusters with total costs ca, cb (each contributing
// min(c, 0)) and summed cross cost w are contracted.
inline double join_gain(double ca, double cb, double w) {
  return std::min(0.0, ca + cb + w) - std::min(0.0, ca) - std::min(0.0, cb);
}

struct GaecEntry {
  double delta;  // change of the objective (negative = improvement)
  Index a, b;    // a < b, cluster representatives
  std::uint64_t va, vb;
};

struct GaecWorse {  // priority_queue comparator: true when x has lower priority than y
  bool operator()(const GaecEntry& x, const GaecEntry& y) const {
    if (x.delta != y.delta) return x.delta > y.delta;
    if (x.a != y.a) return x.a > y.a;
    return x.b > y.b;
  }
};

// Returns labels: cluster representative (a node index) or kSink.
std::vector<Index> gaec(const Graph& g, const std::vector<double>& node_cost, double tol) {
  const auto N = static_cast<std::size_t>(g.n);
  std::vector<Index> parent(N);
  std::vector<double> cost(node_cost);
  std::vector<std::uint64_t> version(N, 0);
  std::vector<std::uint8_t> alive(N, 1);
  std::vector<std::vector<std::pair<Index, double>>> adj(N);
  for (std::size_t v = 0; v < N; ++v) {
    parent[v] = static_cast<Index>(v);
    adj[v].reserve(static_cast<std::size_t>(g.end(static_cast<Index>(v)) - g.begin(static_cast<Index>(v))));
    for (Index e = g.begin(static_cast<Index>(v)); e < g.end(static_cast<Index>(v)); ++e)
      adj[v].emplace_back(g.nbr[static_cast<std::size_t>(e)], g.w[static_cast<std::size_t>(e)]);
  }
  auto find = [&parent](Index x) {
    Index r = x;
    while (parent[static_cast<std::size_t>(r)] != r) r = parent[static_cast<std::size_t>(r)];
    while (parent[static_cast<std::size_t>(x)] != r) {
      const Index next = parent[static_cast<std::size_t>(x)];
      parent[static_cast<std::size_t>(x)] = r;
      x = next;
    }
    return r;
  };

  std::priority_queue<GaecEntry, std::vector<GaecEntry>, GaecWorse> heap;
  auto push = [&](Index a, Index b, double w) {
    if (!(w < 0.0)) return;  // join_gain(ca, cb, w) >= 0 whenever w >= 0
    if (a > b) std::swap(a, b);
    const double d = join_gain(cost[static_cast<std::size_t>(a)], cost[static_cast<std::size_t>(b)], w);
    if (d < -tol) heap.push({d, a, b, version[static_cast<std::size_t>(a)], version[static_cast<std::size_t>(b)]});
  };
  for (Index v = 0; v < g.n; ++v)
    for (Index e = g.begin(v); e < g.end(v); ++e)
      if (g.nbr[static_cast<std::size_t>(e)] > v) push(v, g.nbr[static_cast<std::size_t>(e)], g.w[static_cast<std::size_t>(e)]);

  std::vector<double> acc(N, 0.0);
  std::vector<std::uint8_t> touched(N, 0);
  std::vector<Index> touched_list;
  while (!heap.empty()) {
    const GaecEntry top = heap.top();
    heap.pop();
    const auto a0 = static_cast<std::size_t>(top.a), b0 = static_cast<std::size_t>(top.b);
    if (!alive[a0] || !alive[b0] || version[a0] != top.va || version[b0] != top.vb) continue;
    // Survivor keeps the longer list's storage.
    Index a = top.a, b = top.b;
    if (adj[b0].size() > adj[a0].size()) std::swap(a, b);
    const auto A = static_cast<std::size_t>(a), B = static_cast<std::size_t>(b);
    double internal = 0.0;
    touched_list.clear();
    for (const auto* list : {&adj[A], &adj[B]}) {
      for (const auto& [id, w] : *list) {
        const Index r = find(id);
        if (r == a || r == b) {
          internal += w;
          continue;
        }
        const auto R = static_cast<std::size_t>(r);
        if (!touched[R]) {
          touched[R] = 1;
          touched_list.push_back(r);
        }
        acc[R] += w;
      }
    }
    parent[B] = a;
    alive[B] = 0;
    ++version[A];
    ++version[B];
    cost[A] = cost[A] + cost[B] + 0.5 * internal;
    std::vector<std::pair<Index, double>>().swap(adj[B]);
    auto& list = adj[A];
    list.clear();
    for (const Index r : touched_list) {
      const auto R = static_cast<std::size_t>(r);
      list.emplace_back(r, acc[R]);
      acc[R] = 0.0;
      touched[R] = 0;
    }
    for (const auto& [r, w] : list) push(a, r, w);
  }

  std::vector<Index> label(N);
  for (std::size_t v = 0; v < N; ++v) {
    const Index r = find(static_cast<Index>(v));
    label[v] = cost[static_cast<std::size_t>(r)] < 0.0 ? r : kSink;
  }
  return label;
}

// Suppresses active nodes whose marginal cost in their cluster is positive, until none is.
void suppress_positive_nodes(const Graph& g, const std::vector<double>& node_cost, std::vector<Index>& label,
                             double tol) {
  bool changed = true;
  while (changed) {
    changed = false;
    for (Index v = 0; v < g.n; ++v) {
      const Index lv = label[static_cast<std::size_t>(v)];
      if (lv == kSink) continue;
      double d = node_cost[static_cast<std::size_t>(v)];
      for (Index e = g.begin(v); e < g.end(v); ++e)
        if (label[static_cast<std::size_t>(g.nbr[static_cast<std::size_t>(e)])] == lv) d += g.w[static_cast<std::size_t>(e)];
      if (d > tol) {
        label[static_cast<std::size_t>(v)] = kSink;
        changed = true;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Kernighan-Lin with joins, suppression as a sink cluster

class Klj {
 public:
  Klj(const Graph& g, const std::vector<double>& node_cost, double tol)
      : g_(g), c_(node_cost), tol_(tol), stamp_(static_cast<std::size_t>(g.n), -1), pos_(static_cast<std::size_t>(g.n), 0) {}

  // label: cluster ids >= 0 or kSink; improved in place. Returns the rounds run; gain()
  // is the total decrease of the objective.
  //
  // Work is confined to what changed: a round visits pairs that involve a cluster changed
  // in the previous round (all clusters in the first), (cluster, sink) pairs for clusters
  // next to a node that was suppressed or activated, and (sink, new) when anything was. With
  // `moved` (nodes and their labels before a perturbation of a labelling KLj had left), the
  // first round starts from those changes instead of from everything.
  std::int64_t run(std::vector<Index>& label, std::int64_t max_rounds,
                   const std::vector<std::pair<Index, Index>>* moved = nullptr) {
    label_ = &label;
    gain_total_ = 0.0;
    Index num_labels = 0;
    for (const Index l : label) num_labels = std::max(num_labels, l + 1);
    for (const auto& m : *(moved ? moved : &no_moves_)) num_labels = std::max(num_labels, m.second + 1);
    members_.assign(static_cast<std::size_t>(num_labels), {});
    for (Index v = 0; v < g_.n; ++v)
      if (label[at(v)] != kSink) members_[at(label[at(v)])].push_back(v);
    changed_cur_.assign(members_.size(), 0);
    near_cur_.assign(members_.size(), 0);
    sink_changed_cur_ = false;
    if (moved) {
      for (const auto& [v, old] : *moved) {
        mark_changed(old);
        mark_changed(label[at(v)]);
        if ((old == kSink) != (label[at(v)] == kSink)) mark_near_sink(v);
      }
      changed_prev_ = changed_cur_;
      near_prev_ = near_cur_;
      sink_changed_prev_ = sink_changed_cur_;
    } else {
      changed_prev_.assign(members_.size(), 1);
      near_prev_.assign(members_.size(), 1);
      sink_changed_prev_ = true;
    }

    std::int64_t rounds = 0;
    std::vector<Index> neighbours;
    while (rounds < max_rounds) {
      ++rounds;
      const auto labels_at_start = static_cast<Index>(members_.size());
      // Clusters with something to do: changed ones, those next to a changed suppression,
      // and the lower-numbered neighbours of changed ones (pairs are visited from the lower).
      candidate_.assign(members_.size(), 0);
      bool all = true;
      for (Index a = 0; a < labels_at_start; ++a)
        if (!members_[at(a)].empty() && !changed_prev_[at(a)]) all = false;
      for (Index a = 0; a < labels_at_start; ++a) {
        if (members_[at(a)].empty()) continue;
        if (all || changed_prev_[at(a)] || near_prev_[at(a)]) candidate_[at(a)] = 1;
        if (!all && changed_prev_[at(a)]) {
          neighbour_clusters(a, neighbours, /*lower=*/true);
          for (const Index b : neighbours) candidate_[at(b)] = 1;
        }
      }
      changed_cur_.assign(members_.size(), 0);
      near_cur_.assign(members_.size(), 0);
      sink_changed_cur_ = false;
      bool any = false;
      for (Index a = 0; a < labels_at_start; ++a) {
        if (members_[at(a)].empty()) continue;
        if (!candidate_[at(a)] && !dirty(a) && !near_sink(a)) continue;
        neighbour_clusters(a, neighbours);
        for (const Index b : neighbours) {
          if (members_[at(a)].empty()) break;
          if (members_[at(b)].empty() || !(dirty(a) || dirty(b))) continue;
          any |= improve_pair(a, b, link_[at(b)]);
        }
        if (!members_[at(a)].empty() && (dirty(a) || near_sink(a))) any |= improve_pair(a, kSink);
        if (!members_[at(a)].empty() && dirty(a)) any |= improve_pair(a, kNew);
      }
      if (sink_dirty()) any |= improve_pair(kSink, kNew);
      if (!any) break;
      changed_prev_ = changed_cur_;
      changed_prev_.resize(members_.size(), 1);
      near_prev_ = near_cur_;
      near_prev_.resize(members_.size(), 0);
      sink_changed_prev_ = sink_changed_cur_;
    }
    return rounds;
  }

  double gain() const { return gain_total_; }

 private:
  static constexpr Index kNew = -2;   // a new, empty cluster
  static constexpr Index kNone = -3;  // no label
  static constexpr std::size_t kHeapThreshold = 128;
  static constexpr std::uint8_t kDirect = 1, kViaSink = 2;

  struct Plan {
    double gain = 0.0;
    Index l0 = kNone, l1 = kNone, emptied = kNone;        // side 0 / side 1 labels; a label left empty
    std::vector<std::pair<Index, std::uint8_t>> assign;  // node, final side
  };
  struct KlEntry {
    double gain;
    Index idx;
    std::uint64_t ver;
  };
  struct KlWorse {
    bool operator()(const KlEntry& a, const KlEntry& b) const {
      if (a.gain != b.gain) return a.gain < b.gain;
      return a.idx > b.idx;  // ties: smaller index first, as in the linear scan
    }
  };

  static std::size_t at(Index i) { return static_cast<std::size_t>(i); }

  bool dirty(Index l) const {
    return (at(l) < changed_prev_.size() && changed_prev_[at(l)]) || (at(l) < changed_cur_.size() && changed_cur_[at(l)]);
  }
  bool sink_dirty() const { return sink_changed_prev_ || sink_changed_cur_; }
  bool near_sink(Index l) const {
    return (at(l) < near_prev_.size() && near_prev_[at(l)]) || (at(l) < near_cur_.size() && near_cur_[at(l)]);
  }
  void mark_changed(Index l) {
    if (l == kSink) {
      sink_changed_cur_ = true;
    } else if (l >= 0) {
      if (at(l) >= changed_cur_.size()) changed_cur_.resize(at(l) + 1, 0);
      changed_cur_[at(l)] = 1;
    }
  }
  // Node v was suppressed or activated: the clusters of its neighbours may now gain from
  // trading nodes with the sink.
  void mark_near_sink(Index v) {
    sink_changed_cur_ = true;
    const std::vector<Index>& label = *label_;
    for (Index e = g_.begin(v); e < g_.end(v); ++e) {
      const Index l = label[at(g_.nbr[at(e)])];
      if (l < 0) continue;
      if (at(l) >= near_cur_.size()) near_cur_.resize(at(l) + 1, 0);
      near_cur_[at(l)] = 1;
    }
  }

  // Clusters b > a worth pairing with a: joined to a by an attractive edge, or both
  // attracted by one suppressed node (via_sink_[b] set, so that such a node can bring them
  // together). Two clusters without an attractive edge between them gain nothing from
  // trading nodes that splitting each of them (the pair with kNew) cannot match, so only
  // attractive edges count. link_[b] says how (kDirect, kViaSink bits).
  // With `lower`, the clusters b < a instead (links not needed).
  void neighbour_clusters(Index a, std::vector<Index>& out, bool lower = false) {
    out.clear();
    label_mark_.resize(members_.size(), -1);
    link_.resize(members_.size(), 0);
    ++scan_;
    const std::vector<Index>& label = *label_;
    auto visit = [&](Index lb, std::uint8_t how) {
      if (lower ? (lb >= a || lb < 0) : lb <= a) return;
      if (label_mark_[at(lb)] != scan_) {
        label_mark_[at(lb)] = scan_;
        link_[at(lb)] = 0;
        out.push_back(lb);
      }
      link_[at(lb)] |= how;
    };
    ++pass_;  // marks suppressed nodes already expanded
    for (const Index v : members_[at(a)])
      for (Index e = g_.begin(v); e < g_.end(v); ++e) {
        if (!(g_.w[at(e)] < 0.0)) continue;
        const Index u = g_.nbr[at(e)];
        const Index lu = label[at(u)];
        if (lu != kSink) {
          visit(lu, kDirect);
        } else if (stamp_[at(u)] != pass_) {
          stamp_[at(u)] = pass_;
          for (Index f = g_.begin(u); f < g_.end(u); ++f)
            if (g_.w[at(f)] < 0.0) visit(label[at(g_.nbr[at(f)])], kViaSink);
        }
      }
  }

  // Cost of node V[i] on side s (0 or 1). The sink side stands for "outside": a node there
  // ends up suppressed, or alone in a new cluster when its node cost is negative.
  double cost_on(std::size_t i, int s) const {
    if (sink_[s]) return std::min(0.0, c_[at(V_[i])]);
    return c_[at(V_[i])] + (s == 0 ? w0_[i] : w1_[i]);
  }
  double gain_of(std::size_t i) const { return cost_on(i, side_[i]) - cost_on(i, 1 - side_[i]); }

  void add_to_V(Index v, int s) {
    stamp_[at(v)] = pass_;
    pos_[at(v)] = static_cast<Index>(V_.size());
    V_.push_back(v);
    side_.push_back(static_cast<std::uint8_t>(s));
  }

  // Collects the nodes of one KL problem and their sums of edge costs to each side.
  // Side 0: members of x0 and x1 (x1 may be kNone), or all suppressed nodes when x0 is
  // kSink. Side 1: members of y; the suppressed neighbours of side 0 when y is kSink;
  // nothing when y is kNew.
  void gather(Index x0, Index x1, Index y) {
    ++pass_;
    V_.clear();
    side_.clear();
    sink_[0] = (x0 == kSink);
    sink_[1] = (y == kSink);
    const std::vector<Index>& label = *label_;
    if (x0 == kSink) {
      for (Index v = 0; v < g_.n; ++v)
        if (label[at(v)] == kSink) add_to_V(v, 0);
    } else {
      for (const Index v : members_[at(x0)]) add_to_V(v, 0);
      if (x1 != kNone)
        for (const Index v : members_[at(x1)]) add_to_V(v, 0);
    }
    num_side0_ = V_.size();
    if (y == kSink) {
      for (std::size_t i = 0; i < num_side0_; ++i) {
        const Index v = V_[i];
        for (Index e = g_.begin(v); e < g_.end(v); ++e) {
          const Index u = g_.nbr[at(e)];
          if (label[at(u)] == kSink && stamp_[at(u)] != pass_) add_to_V(u, 1);
        }
      }
    } else if (y != kNew) {
      for (const Index v : members_[at(y)]) add_to_V(v, 1);
    }
    // Sums per side, and the adjacency restricted to V_ (local indices) for the pass.
    const std::size_t m = V_.size();
    w0_.assign(m, 0.0);
    w1_.assign(m, 0.0);
    loff_.assign(m + 1, 0);
    lnbr_.clear();
    lw_.clear();
    for (std::size_t i = 0; i < m; ++i) {
      double s0 = 0.0, s1 = 0.0;
      const Index v = V_[i];
      for (Index e = g_.begin(v); e < g_.end(v); ++e) {
        const Index u = g_.nbr[at(e)];
        if (stamp_[at(u)] != pass_) continue;
        const std::size_t j = at(pos_[at(u)]);
        const double w = g_.w[at(e)];
        lnbr_.push_back(j);
        lw_.push_back(w);
        if (side_[j] == 0)
          s0 += w;
        else
          s1 += w;
      }
      w0_[i] = s0;
      w1_[i] = s1;
      loff_[i + 1] = lnbr_.size();
    }
  }

  // One KL pass over the gathered nodes: repeatedly moves the unlocked node with the best
  // gain to the other side. Returns the best prefix gain (>= 0); best_len_ is its length.
  // Leaves side_ as after the whole sequence; record() undoes what lies past a prefix.
  double run_pass() {
    const std::size_t m = V_.size();
    gain_.resize(m);
    locked_.assign(m, 0);
    for (std::size_t i = 0; i < m; ++i) gain_[i] = gain_of(i);
    const bool use_heap = m > kHeapThreshold;
    if (use_heap) {
      heap_ = {};
      ver_.assign(m, 0);
      for (std::size_t i = 0; i < m; ++i) heap_.push({gain_[i], static_cast<Index>(i), 0});
    }
    moves_.clear();
    double cum = 0.0, best = 0.0;
    best_len_ = 0;
    for (std::size_t k = 0; k < m; ++k) {
      std::size_t i = m;
      if (use_heap) {
        while (!heap_.empty()) {
          const KlEntry t = heap_.top();
          heap_.pop();
          if (!locked_[at(t.idx)] && ver_[at(t.idx)] == t.ver) {
            i = at(t.idx);
            break;
          }
        }
      } else {
        double bg = 0.0;
        for (std::size_t j = 0; j < m; ++j)
          if (!locked_[j] && (i == m || gain_[j] > bg)) {
            i = j;
            bg = gain_[j];
          }
      }
      if (i == m) break;
      cum += gain_[i];
      moves_.push_back(i);
      locked_[i] = 1;
      const int s = side_[i];
      side_[i] = static_cast<std::uint8_t>(1 - s);
      for (std::size_t e = loff_[i]; e < loff_[i + 1]; ++e) {
        const std::size_t j = lnbr_[e];
        if (locked_[j]) continue;
        const double w = lw_[e];
        if (s == 0) {
          w0_[j] -= w;
          w1_[j] += w;
        } else {
          w1_[j] -= w;
          w0_[j] += w;
        }
        gain_[j] = gain_of(j);
        if (use_heap) heap_.push({gain_[j], static_cast<Index>(j), ++ver_[j]});
      }
      if (cum > best) {
        best = cum;
        best_len_ = k + 1;
      }
    }
    return best;
  }

  // Final sides after the first `len` moves of the last pass.
  void record(Plan& plan, std::size_t len) {
    const std::size_t m = V_.size();
    locked_.assign(m, 0);
    for (std::size_t k = 0; k < len; ++k) locked_[moves_[k]] = 1;  // reused as "moved"
    plan.assign.clear();
    for (std::size_t i = 0; i < m; ++i) {
      const int s0 = i < num_side0_ ? 0 : 1;
      plan.assign.emplace_back(V_[i], static_cast<std::uint8_t>(locked_[i] ? 1 - s0 : s0));
    }
  }

  void apply(const Plan& plan) {
    std::vector<Index>& label = *label_;
    Index l1 = plan.l1;
    if (l1 == kNew) {
      l1 = static_cast<Index>(members_.size());
      members_.emplace_back();
    }
    for (const Index l : {plan.l0, l1, plan.emptied})
      if (l >= 0) members_[at(l)].clear();
    flipped_.clear();
    for (const auto& [v, s] : plan.assign) {
      Index l = s ? l1 : plan.l0;
      if (l == kSink && c_[at(v)] < 0.0) {  // outside, better alone than suppressed
        l = static_cast<Index>(members_.size());
        members_.emplace_back();
        mark_changed(l);
      }
      if ((label[at(v)] == kSink) != (l == kSink)) flipped_.push_back(v);
      label[at(v)] = l;
      if (l >= 0) members_[at(l)].push_back(v);
    }
    for (const Index v : flipped_) mark_near_sink(v);
    mark_changed(plan.l0);
    mark_changed(l1);
    mark_changed(plan.emptied);
    gain_total_ += plan.gain;
  }

  // Improves the pair (x, y): y may be kSink or kNew, x may be kSink only with y == kNew.
  // Candidates: the best prefix of a KL pass between x and y; joining x and y (for
  // y == kSink: suppressing x); for two clusters also joining them and then running a KL
  // pass between the union and the sink (when a suppressed node is attracted by both,
  // kViaSink); the pass between x and y only with an attractive edge between them (kDirect).
  // Applies the best if it lowers the objective.
  bool improve_pair(Index x, Index y, std::uint8_t link = kDirect) {
    Plan& best = plan_best_;
    best.gain = tol_;
    best.assign.clear();
    bool found = false;

    gather(x, kNone, y);
    if (V_.empty()) return false;
    double join = 0.0;
    const bool can_join = x != kSink && y != kNew;
    if (can_join)
      for (std::size_t i = 0; i < num_side0_; ++i) join += (y == kSink) ? c_[at(V_[i])] + 0.5 * w0_[i] - std::min(0.0, c_[at(V_[i])]) : -w1_[i];

    const double g = (link & kDirect) ? run_pass() : 0.0;
    if (g > best.gain) {
      best.gain = g;
      best.l0 = x;
      best.l1 = y;
      best.emptied = kNone;
      record(best, best_len_);
      found = true;
    }
    if (can_join && join > best.gain) {
      best.gain = join;
      best.l0 = x;
      best.l1 = y;
      best.emptied = kNone;
      // All of x and y to one side: side 0 (x) for two clusters, side 1 (sink) otherwise.
      best.assign.clear();
      const std::uint8_t s = y == kSink ? 1 : 0;
      for (const Index v : V_) best.assign.emplace_back(v, s);
      found = true;
    }
    if ((link & kViaSink) && x != kSink && y >= 0) {
      // Join, then let the sink trade nodes with the union.
      gather(x, y, kSink);
      if (V_.size() > num_side0_) {
        const double g3 = join + run_pass();
        if (g3 > best.gain) {
          best.gain = g3;
          best.l0 = x;
          best.l1 = kSink;
          best.emptied = y;
          record(best, best_len_);
          found = true;
        }
      }
    }
    if (found) apply(best);
    return found;
  }

  const Graph& g_;
  const std::vector<double>& c_;
  double tol_;
  std::vector<Index>* label_ = nullptr;
  std::vector<std::vector<Index>> members_;
  std::vector<std::uint8_t> changed_prev_, changed_cur_;
  std::vector<std::uint8_t> near_prev_, near_cur_;  // per label: next to a (de)activated node
  std::vector<std::uint8_t> candidate_;
  std::vector<Index> flipped_;
  const std::vector<std::pair<Index, Index>> no_moves_;
  double gain_total_ = 0.0;
  bool sink_changed_prev_ = true, sink_changed_cur_ = false;
  std::vector<Index> label_mark_;  // per label: scan_ when already listed as a neighbour
  std::vector<std::uint8_t> link_;  // per label: kDirect | kViaSink from neighbour_clusters
  Index scan_ = 0;

  // Scratch for one pass.
  Index pass_ = 0;
  std::vector<Index> stamp_, pos_;  // per node: pass_ when in V_, and its index there
  std::vector<Index> V_;
  std::size_t num_side0_ = 0;  // V_[0, num_side0_) started on side 0
  std::vector<std::uint8_t> side_, locked_;
  std::vector<double> w0_, w1_, gain_;
  std::vector<std::size_t> loff_, lnbr_;  // adjacency within V_, local indices
  std::vector<double> lw_;
  std::vector<std::size_t> moves_;
  std::size_t best_len_ = 0;
  bool sink_[2] = {false, false};
  std::priority_queue<KlEntry, std::vector<KlEntry>, KlWorse> heap_;
  std::vector<std::uint64_t> ver_;
  Plan plan_best_;
};

// Renumbers labels 0..K-1 in order of first appearance by node index (kSink kept).
Index compact_labels(std::vector<Index>& label) {
  std::vector<Index> remap;
  Index next = 0;
  Index max_label = -1;
  for (const Index l : label) max_label = std::max(max_label, l);
  // Labels are node indices or small ids, so max_label < label.size() + number of new clusters.
  remap.assign(static_cast<std::size_t>(max_label + 1), -1);
  for (auto& l : label) {
    if (l == kSink) continue;
    auto& r = remap[static_cast<std::size_t>(l)];
    if (r < 0) r = next++;
    l = r;
  }
  return next;
}


// ---------------------------------------------------------------------------------------
// Decomposition: components of the attractive (negative) edges

// An optimal labelling never needs a cluster that spans two components of the graph of
// attractive edges: splitting it along such a cut removes only repulsive edges, so it does
// not raise the objective. Components are therefore solved one at a time, exactly.
// Returns, per component (ordered by smallest node), its nodes in increasing order.
std::vector<std::vector<Index>> attractive_components(const Graph& g) {
  const auto N = static_cast<std::size_t>(g.n);
  std::vector<Index> parent(N);
  for (std::size_t v = 0; v < N; ++v) parent[v] = static_cast<Index>(v);
  auto find = [&parent](Index x) {
    while (parent[static_cast<std::size_t>(x)] != x) {
      const Index p = parent[static_cast<std::size_t>(x)];
      parent[static_cast<std::size_t>(x)] = parent[static_cast<std::size_t>(p)];
      x = p;
    }
    return x;
  };
  for (Index v = 0; v < g.n; ++v)
    for (Index e = g.begin(v); e < g.end(v); ++e) {
      const Index u = g.nbr[static_cast<std::size_t>(e)];
      if (u <= v || !(g.w[static_cast<std::size_t>(e)] < 0.0)) continue;
      Index a = find(v), b = find(u);
      if (a == b) continue;
      if (a > b) std::swap(a, b);
      parent[static_cast<std::size_t>(b)] = a;  // the root is the smallest node
    }
  std::vector<Index> slot(N, -1);
  std::vector<std::vector<Index>> comps;
  for (Index v = 0; v < g.n; ++v) {
    const auto r = static_cast<std::size_t>(find(v));
    if (slot[r] < 0) {
      slot[r] = static_cast<Index>(comps.size());
      comps.emplace_back();
    }
    comps[static_cast<std::size_t>(slot[r])].push_back(v);
  }
  return comps;
}

// The subgraph induced by `nodes` (increasing), with local indices; `local` maps a node of
// the component to its local index and must hold -1 for every other node.
Graph induced_subgraph(const Graph& g, const std::vector<Index>& nodes, const std::vector<Index>& local) {
  Graph s;
  s.n = static_cast<Index>(nodes.size());
  s.offset.assign(nodes.size() + 1, 0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Index v = nodes[i];
    for (Index e = g.begin(v); e < g.end(v); ++e) {
      const Index u = local[static_cast<std::size_t>(g.nbr[static_cast<std::size_t>(e)])];
      if (u < 0) continue;
      s.nbr.push_back(u);
      s.w.push_back(g.w[static_cast<std::size_t>(e)]);
    }
    s.offset[i + 1] = static_cast<Index>(s.nbr.size());
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Exact solution of small components: repetitive branch and bound

// Nodes are put in a fixed order (most attracted first) and assigned one at a time: to an
// existing cluster, to a new one (clusters are numbered by first use, so there is one "new"
// branch) or suppressed; branches are tried cheapest first. With m_p = min(0, edge costs
// from a later node p to its cheapest existing cluster), a partial assignment of the first
// d nodes costs at least the larger of
//   its cost + sum_p m_p + OPT(the later nodes on their own)
//   its cost + sum_p min(0, c_p + m_p + half the attractive edge costs from p to later nodes),
// where OPT of every suffix comes from solving the suffixes first, shortest first (Brusco's
// repetitive branch and bound for clique partitioning). The first bound is what makes it
// work; the second helps where many nodes are better suppressed.
class Exact {
 public:
  // With max_clusters, only labellings with at most that many clusters are searched.
  Exact(const Graph& g, const std::vector<double>& c, double eps, std::size_t max_clusters = kExactMaxNodes)
      : n_(static_cast<std::size_t>(g.n)), max_k_(max_clusters), eps_(eps) {
    const std::size_t n = n_;
    std::vector<double> dense(n * n, 0.0), pull(n, 0.0);
    for (Index v = 0; v < g.n; ++v)
      for (Index e = g.begin(v); e < g.end(v); ++e) {
        dense[at(v) * n + at(g.nbr[at(e)])] += g.w[at(e)];
        pull[at(v)] += std::max(0.0, -g.w[at(e)]);
      }
    // Order: most strongly attracted nodes first (of the orders tried on random instances,
    // the one that needs the fewest search nodes), ties by index.
    ord_.resize(n);
    for (std::size_t v = 0; v < n; ++v) ord_[v] = v;
    std::stable_sort(ord_.begin(), ord_.end(), [&pull](std::size_t a, std::size_t b) { return pull[a] > pull[b]; });
    w_.assign(n * n, 0.0);
    c_.assign(n, 0.0);
    for (std::size_t p = 0; p < n; ++p) {
      c_[p] = c[ord_[p]];
      for (std::size_t q = 0; q < n; ++q) w_[p * n + q] = dense[ord_[p] * n + ord_[q]];
    }
    // half_[d * n + p]: half the attractive edge costs from position p to positions > d.
    half_.assign(n * n, 0.0);
    for (std::size_t p = 0; p < n; ++p) {
      double h = 0.0;
      for (std::size_t d = n; d-- > 0;) {
        half_[d * n + p] = h;
        if (d != p) h += 0.5 * std::min(0.0, w_[p * n + d]);
      }
    }
    stride_ = n + 1;
    wk_.assign(n * stride_, 0.0);
    asg_.assign(n, -1);
    best_asg_.assign(n, -1);
    opt_.assign(n + 1, 0.0);
    m_.assign(n, 0.0);
  }

  // `label` (local, kSink or cluster ids) has objective `value`; both are replaced when a
  // better labelling is found. Returns true when the returned labelling is proven optimal
  // (up to eps). Gives up, returning false, after `node_limit` search nodes.
  bool solve(std::vector<Index>& label, double& value, std::int64_t node_limit, std::int64_t& nodes_used) {
    const std::size_t n = n_;
    if (n == 0) return true;
    limit_ = node_limit;
    nodes_ = 0;
    aborted_ = false;
    opt_[n] = 0.0;
    opt_[n - 1] = std::min(0.0, c_[n - 1]);
    best_asg_[n - 1] = c_[n - 1] < 0.0 ? 0 : -1;
    bool have_asg = true;  // best_asg_ holds a labelling of value best_
    for (std::size_t s = n - 1; s-- > 0;) {
      // Start from "node s on its own + the optimum of the rest".
      Index max_id = -1;
      for (std::size_t p = s + 1; p < n; ++p) max_id = std::max(max_id, best_asg_[p]);
      best_asg_[s] = c_[s] < 0.0 ? max_id + 1 : -1;
      best_ = opt_[s + 1] + std::min(0.0, c_[s]);
      have_asg = true;
      if (s == 0 && value < best_) {
        best_ = value;
        have_asg = false;
      }
      found_ = false;
      std::fill(m_.begin(), m_.end(), 0.0);
      dfs(s, s, 0.0, 0);
      if (aborted_) {
        nodes_used += nodes_;
        if (s == 0 && found_) break;  // a better labelling than the input, not proven optimal
        return false;
      }
      if (found_) have_asg = true;
      opt_[s] = best_;
    }
    nodes_used += nodes_;
    if (have_asg && best_ < value) {
      label.assign(n, kSink);
      for (std::size_t p = 0; p < n; ++p) label[ord_[p]] = best_asg_[p] < 0 ? kSink : best_asg_[p];
      value = best_;
    }
    return !aborted_;
  }

 private:
  static std::size_t at(Index i) { return static_cast<std::size_t>(i); }
  double& wk(std::size_t p, std::size_t k) { return wk_[p * stride_ + k]; }

  void dfs(std::size_t s, std::size_t d, double cost, std::size_t K) {
    const std::size_t n = n_;
    if (d == n) {
      if (cost < best_ - eps_) {
        best_ = cost;
        found_ = true;
        for (std::size_t p = s; p < n; ++p) best_asg_[p] = asg_[p];
      }
      return;
    }
    if (++nodes_ > limit_) {
      aborted_ = true;
      return;
    }
    struct Option {
      double cost;
      Index k;
    };
    Option opts[kExactMaxNodes + 2];
    std::size_t no = 0;
    const double cd = c_[d];
    for (std::size_t k = 0; k < K; ++k) opts[no++] = {cd + wk(d, k), static_cast<Index>(k)};
    if (K < max_k_) opts[no++] = {cd, static_cast<Index>(K)};
    opts[no++] = {0.0, -1};
    for (std::size_t i = 1; i < no; ++i)  // insertion sort, cheapest first, stable
      for (std::size_t j = i; j > 0 && opts[j].cost < opts[j - 1].cost; --j) std::swap(opts[j], opts[j - 1]);
    double saved[kExactMaxNodes], saved_m[kExactMaxNodes];
    const double* wd = &w_[d * n];
    const double* half = &half_[d * n];
    for (std::size_t i = 0; i < no; ++i) {
      const Index k = opts[i].k;
      const double next = cost + opts[i].cost;
      std::size_t K2 = K;
      // Update the columns of cluster k and m_[p] = min(0, cheapest cluster of p).
      if (k >= 0)
        for (std::size_t p = d + 1; p < n; ++p) saved_m[p] = m_[p];
      if (k == static_cast<Index>(K)) {
        ++K2;
        for (std::size_t p = d + 1; p < n; ++p) {
          wk(p, K) = wd[p];
          if (wd[p] < m_[p]) m_[p] = wd[p];
        }
      } else if (k >= 0) {
        for (std::size_t p = d + 1; p < n; ++p) {
          if (wd[p] == 0.0) continue;
          double& x = wk(p, at(k));
          saved[p] = x;
          x += wd[p];
          if (wd[p] < 0.0) {
            if (x < m_[p]) m_[p] = x;
          } else if (saved[p] <= m_[p] && m_[p] < 0.0) {  // was the cheapest: rescan
            double m = 0.0;
            const double* row = &wk_[p * stride_];
            for (std::size_t j = 0; j < K; ++j) m = std::min(m, row[j]);
            m_[p] = m;
          }
        }
      }
      double lb = next + opt_[d + 1], lb2 = next;
      for (std::size_t p = d + 1; p < n; ++p) {
        lb += m_[p];
        lb2 += std::min(0.0, c_[p] + m_[p] + half[p]);
      }
      lb = std::max(lb, lb2);
      if (lb < best_ - eps_) {
        asg_[d] = k;
        dfs(s, d + 1, next, K2);
      }
      if (k >= 0 && k < static_cast<Index>(K))
        for (std::size_t p = d + 1; p < n; ++p)
          if (wd[p] != 0.0) wk(p, at(k)) = saved[p];
      if (k >= 0)
        for (std::size_t p = d + 1; p < n; ++p) m_[p] = saved_m[p];
      if (aborted_) return;
    }
  }

  std::size_t n_, max_k_, stride_ = 1;
  double eps_;
  std::vector<std::size_t> ord_;   // position -> local node
  std::vector<double> w_, c_;      // by position
  std::vector<double> wk_;         // wk_[p][k]: edge costs from position p to cluster k
  std::vector<Index> asg_, best_asg_;
  std::vector<double> opt_;        // opt_[s]: optimum of positions s..n-1 on their own
  std::vector<double> half_;
  std::vector<double> m_;          // m_[p]: min(0, edge costs from p to its cheapest cluster)
  double best_ = 0.0;
  bool found_ = false, aborted_ = false;
  std::int64_t nodes_ = 0, limit_ = 0;
};

// ---------------------------------------------------------------------------------------
// Perturbation restarts

struct SplitMix {
  std::uint64_t x;
  std::uint64_t next() {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
};

// Sum of the costs of the clusters flagged in `in_set` (by label), from the definition.
double clusters_cost(const Graph& g, const std::vector<double>& c, const std::vector<Index>& label,
                     const std::vector<std::uint8_t>& in_set) {
  double total = 0.0;
  for (Index v = 0; v < g.n; ++v) {
    const Index l = label[static_cast<std::size_t>(v)];
    if (l < 0 || static_cast<std::size_t>(l) >= in_set.size() || !in_set[static_cast<std::size_t>(l)]) continue;
    total += c[static_cast<std::size_t>(v)];
    for (Index e = g.begin(v); e < g.end(v); ++e) {
      const Index u = g.nbr[static_cast<std::size_t>(e)];
      if (u > v && label[static_cast<std::size_t>(u)] == l) total += g.w[static_cast<std::size_t>(e)];
    }
  }
  return total;
}

// Iterated local search around the best labelling found so far: a random local change
// (join a node's cluster with a neighbouring one, move a node to a neighbour's cluster,
// (de)activate a node, split a node and some of its neighbours off), a KLj descent that
// starts from the clusters it touched, kept when the result beats the best by more than
// the tolerance.
void perturbation_restarts(const Graph& g, const std::vector<double>& c, double tol, Klj& klj,
                           std::int64_t max_rounds, std::int64_t restarts, std::uint64_t seed,
                           std::vector<Index>& best, double& best_value) {
  if (g.n < 2 || restarts <= 0) return;
  SplitMix rng{seed};
  std::vector<Index> label = best;
  std::vector<std::pair<Index, Index>> moved;
  std::vector<std::uint8_t> touched;
  std::vector<Index> nb;
  for (std::int64_t r = 0; r < restarts; ++r) {
    Index num_labels = 0;
    for (const Index l : label) num_labels = std::max(num_labels, l + 1);
    const Index fresh = num_labels;  // an unused label
    moved.clear();
    touched.assign(static_cast<std::size_t>(num_labels) + 1, 0);
    auto relabel = [&](Index v, Index l) {
      const Index old = label[static_cast<std::size_t>(v)];
      if (old == l) return;
      if (old >= 0) touched[static_cast<std::size_t>(old)] = 1;
      if (l >= 0) touched[static_cast<std::size_t>(l)] = 1;
      moved.emplace_back(v, old);
      label[static_cast<std::size_t>(v)] = l;
    };
    const Index v = static_cast<Index>(rng.below(static_cast<std::size_t>(g.n)));
    const Index lv = label[static_cast<std::size_t>(v)];
    nb.clear();  // attractive neighbours of v
    for (Index e = g.begin(v); e < g.end(v); ++e)
      if (g.w[static_cast<std::size_t>(e)] < 0.0) nb.push_back(g.nbr[static_cast<std::size_t>(e)]);
    const std::size_t kind = rng.below(4);
    if (kind == 0 && !nb.empty()) {
      // Join v's cluster (or v alone) with the cluster of an attractive neighbour.
      const Index u = nb[rng.below(nb.size())];
      const Index lu = label[static_cast<std::size_t>(u)];
      const Index target = lv >= 0 ? lv : (lu >= 0 ? lu : fresh);
      if (lu == kSink) relabel(u, target);
      if (lv == kSink) relabel(v, target);
      if (lu >= 0 && lu != target)
        for (Index x = 0; x < g.n; ++x)
          if (label[static_cast<std::size_t>(x)] == lu) relabel(x, target);
    } else if (kind == 1 && !nb.empty()) {
      // Move v into the cluster of an attractive neighbour (activating the neighbour).
      const Index u = nb[rng.below(nb.size())];
      Index lu = label[static_cast<std::size_t>(u)];
      if (lu == kSink) {
        lu = fresh;
        relabel(u, lu);
      }
      relabel(v, lu);
    } else if (kind == 2) {
      // Flip v's activation: suppress it, or activate it alone.
      relabel(v, lv == kSink ? fresh : kSink);
    } else {
      // Split v (and some of its attractive neighbours in its cluster) off.
      relabel(v, fresh);
      if (lv >= 0)
        for (const Index u : nb)
          if (label[static_cast<std::size_t>(u)] == lv && (rng.next() & 1u)) relabel(u, fresh);
    }
    if (moved.empty()) continue;
    // Cost of the kick, from the clusters it touched (`label` equals `best` before it).
    const double kick = clusters_cost(g, c, label, touched) - clusters_cost(g, c, best, touched);
    klj.run(label, max_rounds, &moved);
    if (kick - klj.gain() < -tol) {
      const double value = labelling_objective(g, c, label);  // confirm from the definition
      if (value < best_value - tol) {
        best_value = value;
        best = label;
        compact_labels(best);
        label = best;
        continue;
      }
    }
    label = best;
  }
}

// ---------------------------------------------------------------------------------------
// Large-neighbourhood steps: re-solving a few clusters exactly

// The nodes of a few clusters (and suppressed nodes) form an instance of their own: edges
// from them to other clusters are cut whatever happens inside. Such a sub-instance is
// solved by the branch and bound, first contracted to at most `max_atoms` atoms when it is
// larger: within each cluster the most strongly attracted atoms are merged first (plain
// GAEC restricted to the cluster), so that the current labelling stays one of the
// candidates. GAEC and KL moves miss what this finds: a cluster holding two people whose
// parts are each tightly joined (every single move out of it loses, only the whole group
// gains), or a group that has to leave one cluster for another.
class Resolver {
 public:
  Resolver(const Graph& g, const std::vector<double>& c, double tol, std::int64_t max_atoms, std::int64_t node_limit)
      : g_(g), c_(c), tol_(tol), max_atoms_(static_cast<std::size_t>(max_atoms)), node_limit_(node_limit),
        local_(static_cast<std::size_t>(g.n), -1) {}

  // Re-solves the sub-instance on `nodes` (distinct). Relabels them when that lowers the
  // objective, with labels from `next` on, and appends them (with their old labels) to `moved`.
  // With `keep_count`, at most as many clusters as the set has now (exchanges and merges).
  bool resolve(std::vector<Index> nodes, std::vector<Index>& label, Index& next,
               std::vector<std::pair<Index, Index>>& moved, std::int64_t& bb_nodes, bool keep_count = false) {
    if (nodes.size() < 2 || max_atoms_ < 2) return false;
    std::sort(nodes.begin(), nodes.end());
    const std::size_t k = nodes.size();
    // Dense sub-instance: cost per node, edge costs, current labels.
    w_.assign(k * k, 0.0);
    cost_.assign(k, 0.0);
    cur_.assign(k, kSink);
    for (std::size_t i = 0; i < k; ++i) local_[at(nodes[i])] = static_cast<Index>(i);
    for (std::size_t i = 0; i < k; ++i) {
      const Index v = nodes[i];
      cost_[i] = c_[at(v)];
      cur_[i] = label[at(v)];
      for (Index e = g_.begin(v); e < g_.end(v); ++e) {
        const Index j = local_[at(g_.nbr[at(e)])];
        if (j >= 0) w_[i * k + at(j)] += g_.w[at(e)];
      }
    }
    for (const Index v : nodes) local_[at(v)] = -1;
    // Atoms: singletons, merged inside clusters while there are too many.
    atom_.resize(k);
    for (std::size_t i = 0; i < k; ++i) atom_[i] = static_cast<Index>(i);
    std::size_t num_atoms = k;
    if (k > max_atoms_) num_atoms = contract(k);
    if (num_atoms > max_atoms_ || num_atoms > kExactMaxNodes) return false;
    // The atom graph (atoms numbered 0..num_atoms-1 by atom_[]) and its current labelling.
    std::vector<double> atom_cost(num_atoms, 0.0);
    std::vector<Index> atom_label(num_atoms, kSink);
    for (std::size_t i = 0; i < k; ++i) {
      atom_cost[at(atom_[i])] += cost_[i];
      atom_label[at(atom_[i])] = cur_[i];
    }
    std::vector<PartitionEdge> edges;
    std::vector<double> edge_cost;
    for (std::size_t i = 0; i < k; ++i)
      for (std::size_t j = i + 1; j < k; ++j) {
        const double w = w_[i * k + j];
        if (w == 0.0) continue;
        if (atom_[i] == atom_[j]) {
          atom_cost[at(atom_[i])] += w;
        } else {
          edges.push_back({atom_[i], atom_[j]});
          edge_cost.push_back(w);
        }
      }
    const Graph ag = build_graph(static_cast<Index>(num_atoms), edges, edge_cost);
    const double before = labelling_objective(ag, atom_cost, atom_label);
    double value = before;
    std::size_t max_clusters = kExactMaxNodes;
    if (keep_count) {
      std::vector<Index> distinct;
      for (const Index l : cur_)
        if (l >= 0 && std::find(distinct.begin(), distinct.end(), l) == distinct.end()) distinct.push_back(l);
      max_clusters = std::max<std::size_t>(1, distinct.size());
    }
    Exact exact(ag, atom_cost, tol_, max_clusters);
    exact.solve(atom_label, value, node_limit_, bb_nodes);
    if (!(value < before - tol_)) return false;
    // Expand, confirm on the nodes, apply.
    std::vector<Index> node_label(k);
    for (std::size_t i = 0; i < k; ++i) node_label[i] = atom_label[at(atom_[i])];
    if (!(dense_objective(node_label) < dense_objective(cur_) - tol_)) return false;
    Index used = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const Index l = node_label[i] == kSink ? kSink : next + node_label[i];
      if (node_label[i] != kSink) used = std::max(used, node_label[i] + 1);
      if (label[at(nodes[i])] != l) {
        moved.emplace_back(nodes[i], label[at(nodes[i])]);
        label[at(nodes[i])] = l;
      }
    }
    next += used;
    return true;
  }

 private:
  static std::size_t at(Index i) { return static_cast<std::size_t>(i); }

  double dense_objective(const std::vector<Index>& lab) const {
    const std::size_t k = lab.size();
    double total = 0.0;
    for (std::size_t i = 0; i < k; ++i) {
      if (lab[i] == kSink) continue;
      total += cost_[i];
      for (std::size_t j = i + 1; j < k; ++j)
        if (lab[j] == lab[i]) total += w_[i * k + j];
    }
    return total;
  }

  // Merges atoms inside clusters, most attractive merged edge cost first, until at most
  // max_atoms_ remain or no attractive pair is left. Renumbers atom_ 0..A-1; returns A.
  std::size_t contract(std::size_t k) {
    std::vector<double> aw(w_);           // atom-to-atom costs, indexed by representative
    std::vector<std::uint8_t> alive(k, 1);
    std::size_t count = k;
    while (count > max_atoms_) {
      double best = 0.0;
      std::size_t bi = k, bj = k;
      for (std::size_t i = 0; i < k; ++i) {
        if (!alive[i] || cur_[i] == kSink) continue;
        for (std::size_t j = i + 1; j < k; ++j)
          if (alive[j] && cur_[j] == cur_[i] && aw[i * k + j] < best) {
            best = aw[i * k + j];
            bi = i;
            bj = j;
          }
      }
      if (bi == k) break;
      alive[bj] = 0;  // merge bj into bi
      for (std::size_t x = 0; x < k; ++x) {
        aw[bi * k + x] += aw[bj * k + x];
        aw[x * k + bi] = aw[bi * k + x];
      }
      for (std::size_t x = 0; x < k; ++x)
        if (atom_[x] == static_cast<Index>(bj)) atom_[x] = static_cast<Index>(bi);
      --count;
    }
    std::vector<Index> renumber(k, -1);
    Index next = 0;
    for (std::size_t x = 0; x < k; ++x) {
      Index& r = renumber[at(atom_[x])];
      if (r < 0) r = next++;
      atom_[x] = r;
    }
    return count;
  }

  const Graph& g_;
  const std::vector<double>& c_;
  double tol_;
  std::size_t max_atoms_;
  std::int64_t node_limit_;
  std::vector<Index> local_, cur_, atom_;
  std::vector<double> w_, cost_;
};

// One large-neighbourhood pass. For every cluster: the cluster on its own, then the cluster
// with the kStarNeighbours clusters most attracted to it (attractive edges between them
// summing to less than -kPairAttraction), each with up to kSuppressedInSet suppressed
// nodes attracted to it, re-solved by a Resolver (sets of more than kMaxSetNodes clustered
// nodes are left alone). Sets that involve a cluster changed
// earlier in the pass are skipped, and so are sets already re-solved in vain with the same
// labelling (`verified`, by hash). Returns whether anything changed; changed nodes are
// appended to `moved`.
bool resolve_pass(const Graph& g, const std::vector<double>& c, double tol, std::vector<Index>& label,
                  std::int64_t max_atoms, std::int64_t node_limit, std::vector<std::pair<Index, Index>>& moved,
                  std::unordered_set<std::uint64_t>& verified, std::int64_t& bb_nodes) {
  if (max_atoms < 2) return false;
  const auto N = static_cast<std::size_t>(g.n);
  Index num_labels = 0;
  for (const Index l : label) num_labels = std::max(num_labels, l + 1);
  const auto K = static_cast<std::size_t>(num_labels);
  std::vector<std::vector<Index>> members(K);
  for (Index v = 0; v < g.n; ++v)
    if (label[v_at(v)] >= 0) members[v_at(label[v_at(v)])].push_back(v);
  Resolver resolver(g, c, tol, max_atoms, node_limit);
  std::vector<std::uint8_t> touched(K, 0), in_set(N, 0);
  std::vector<double> pull(N, 0.0), acc(K, 0.0);
  std::vector<Index> nodes, cand, seen, nbrs;
  std::vector<std::pair<double, Index>> ranked;
  Index next = num_labels;
  bool changed = false;

  // Adds up to kSuppressedInSet suppressed nodes attracted to `nodes`, most attracted first.
  auto add_suppressed = [&]() {
    cand.clear();
    for (const Index v : nodes) in_set[v_at(v)] = 1;
    for (const Index v : nodes)
      for (Index e = g.begin(v); e < g.end(v); ++e) {
        const Index u = g.nbr[v_at(e)];
        const double w = g.w[v_at(e)];
        if (!(w < 0.0) || label[v_at(u)] != kSink || in_set[v_at(u)]) continue;
        if (pull[v_at(u)] == 0.0) cand.push_back(u);
        pull[v_at(u)] += w;
      }
    ranked.clear();
    for (const Index u : cand) {
      ranked.push_back({pull[v_at(u)], u});
      pull[v_at(u)] = 0.0;
    }
    std::sort(ranked.begin(), ranked.end());
    for (std::size_t i = 0; i < ranked.size() && i < kSuppressedInSet; ++i) nodes.push_back(ranked[i].second);
    for (const Index v : nodes) in_set[v_at(v)] = 0;
  };
  // Hash of the set and its labelling (labels renumbered by first appearance).
  auto signature = [&]() {
    std::sort(nodes.begin(), nodes.end());
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ nodes.size();
    seen.clear();
    for (const Index v : nodes) {
      const Index l = label[v_at(v)];
      std::uint64_t id = 0;
      if (l >= 0) {
        auto it = std::find(seen.begin(), seen.end(), l);
        id = static_cast<std::uint64_t>(it - seen.begin()) + 1;
        if (it == seen.end()) seen.push_back(l);
      }
      h ^= (static_cast<std::uint64_t>(v) * 0x100000001B3ull + id) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    }
    return h;
  };
  auto attempt = [&](bool keep_count) {
    if (nodes.size() > kMaxSetNodes) return false;  // contracting it would take too long
    add_suppressed();
    const std::uint64_t h = signature();
    if (verified.count(h)) return false;
    std::vector<Index> labels_in_set;
    for (const Index v : nodes) {
      const Index l = label[v_at(v)];
      if (l >= 0 && std::find(labels_in_set.begin(), labels_in_set.end(), l) == labels_in_set.end())
        labels_in_set.push_back(l);
    }
    if (resolver.resolve(nodes, label, next, moved, bb_nodes, keep_count)) {
      for (const Index l : labels_in_set)
        if (l < num_labels) touched[v_at(l)] = 1;
      return true;
    }
    verified.insert(h);
    return false;
  };

  for (std::size_t a = 0; a < K; ++a) {
    if (members[a].empty() || touched[a]) continue;
    // The cluster on its own.
    nodes = members[a];
    changed |= attempt(false);
    if (touched[a]) continue;
    // With its most attracted neighbours.
    nbrs.clear();
    for (const Index v : members[a])
      for (Index e = g.begin(v); e < g.end(v); ++e) {
        const double w = g.w[v_at(e)];
        if (!(w < 0.0)) continue;
        const Index b = label[v_at(g.nbr[v_at(e)])];
        // Labels >= num_labels are new, i.e. changed in this pass.
        if (b < 0 || b >= num_labels || b == static_cast<Index>(a) || touched[v_at(b)]) continue;
        if (acc[v_at(b)] == 0.0) nbrs.push_back(b);
        acc[v_at(b)] += w;
      }
    ranked.clear();
    for (const Index b : nbrs) {
      if (acc[v_at(b)] < -kPairAttraction) ranked.push_back({acc[v_at(b)], b});
      acc[v_at(b)] = 0.0;
    }
    if (ranked.empty()) continue;
    std::sort(ranked.begin(), ranked.end());
    nodes = members[a];
    std::size_t added = 0;
    for (std::size_t i = 0; i < ranked.size() && added < kStarNeighbours; ++i) {
      const auto& mb = members[v_at(ranked[i].second)];
      // The most attracted neighbour always; others while the set stays near max_atoms.
      if (i > 0 && static_cast<std::int64_t>(nodes.size() + mb.size()) > max_atoms + kStarSlack) continue;
      nodes.insert(nodes.end(), mb.begin(), mb.end());
      ++added;
    }
    changed |= attempt(true);
  }
  return changed;
}

struct ComponentStats {
  std::int64_t klj_rounds = 0;
  bool exact = false;
  std::int64_t bb_nodes = 0;
};

// Solves one component (local graph and costs). Returns compact labels (or kSink).
std::vector<Index> solve_component(const Graph& g, const std::vector<double>& c, const PartitionSettings& s,
                                   double tol, std::uint64_t seed, ComponentStats& stats) {
  std::vector<Index> base = gaec(g, c, tol);
  suppress_positive_nodes(g, c, base, tol);
  compact_labels(base);
  if (s.method == PartitionMethod::gaec) return base;
  const double base_value = labelling_objective(g, c, base);
  std::vector<Index> label = base;
  Klj klj(g, c, tol);
  stats.klj_rounds = klj.run(label, s.max_klj_rounds);
  compact_labels(label);
  double value = labelling_objective(g, c, label);
  const bool small = g.n <= s.exact_max_nodes;
  if (small) {
    Exact exact(g, c, tol);
    stats.exact = exact.solve(label, value, s.exact_node_limit, stats.bb_nodes);
    compact_labels(label);
  }
  if (!stats.exact) {
    // Re-solve clusters and groups of clusters exactly, let KLj follow up, until nothing changes.
    std::vector<std::pair<Index, Index>> moved;
    std::unordered_set<std::uint64_t> verified;
    for (int pass = 0; pass < kResolvePasses; ++pass) {
      moved.clear();
      if (!resolve_pass(g, c, tol, label, s.resolve_max_nodes, s.resolve_node_limit, moved, verified, stats.bb_nodes))
        break;
      klj.run(label, s.max_klj_rounds, &moved);
      compact_labels(label);
    }
    if (small) {  // the branch and bound gave up: a hard instance, but a small one
      value = labelling_objective(g, c, label);
      perturbation_restarts(g, c, tol, klj, s.max_klj_rounds, s.restarts_per_node * g.n, seed, label, value);
    }
  }
  // Never worse than the GAEC labelling (compared on freshly computed objectives).
  if (labelling_objective(g, c, label) > base_value) return base;
  return label;
}

}  // namespace

PartitionResult partition(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
                          const std::vector<double>& edge_cost, const PartitionSettings& settings) {
  validate(node_cost, edges, edge_cost);
  if (settings.method != PartitionMethod::gaec && settings.method != PartitionMethod::gaec_klj)
    throw std::invalid_argument("settings.method is not a known partition method");
  if (!(settings.tolerance >= 0.0) || !std::isfinite(settings.tolerance))
    throw std::invalid_argument("settings.tolerance must be finite and >= 0");
  if (settings.max_klj_rounds < 0) throw std::invalid_argument("settings.max_klj_rounds must be >= 0");
  if (settings.restarts_per_node < 0) throw std::invalid_argument("settings.restarts_per_node must be >= 0");
  if (settings.exact_max_nodes < 0 || settings.exact_max_nodes > static_cast<std::int64_t>(kExactMaxNodes))
    throw std::invalid_argument("settings.exact_max_nodes must be in [0, " + std::to_string(kExactMaxNodes) + "]");
  if (settings.exact_node_limit < 0) throw std::invalid_argument("settings.exact_node_limit must be >= 0");
  if (settings.resolve_max_nodes < 0 || settings.resolve_max_nodes > static_cast<std::int64_t>(kExactMaxNodes))
    throw std::invalid_argument("settings.resolve_max_nodes must be in [0, " + std::to_string(kExactMaxNodes) + "]");
  if (settings.resolve_node_limit < 0) throw std::invalid_argument("settings.resolve_node_limit must be >= 0");

  const auto n = static_cast<Index>(node_cost.size());
  const Graph g = build_graph(n, edges, edge_cost);
  // The tolerance is relative to the largest cost: with huge constants in the instance
  // (the tracker's forced / forbidden links, +-1e6), rounding noise in gains is about
  // 1e-16 * 1e6 and must not count as an improvement, or KLj cycles on it.
  double scale = 1.0;
  for (const double c : node_cost) scale = std::max(scale, std::fabs(c));
  for (const double c : edge_cost) scale = std::max(scale, std::fabs(c));
  const double tol = settings.tolerance * scale;

  PartitionResult result;
  result.proven_optimal = settings.method == PartitionMethod::gaec_klj;
  std::vector<Index> label(static_cast<std::size_t>(n), kSink);
  std::vector<Index> local(static_cast<std::size_t>(n), -1);
  std::vector<double> local_cost;
  Index next = 0;
  const auto comps = attractive_components(g);
  for (std::size_t k = 0; k < comps.size(); ++k) {
    const auto& nodes = comps[k];
    if (nodes.size() == 1) {  // no attractive edge: active alone iff its cost is negative
      const auto v = static_cast<std::size_t>(nodes[0]);
      if (node_cost[v] < 0.0) label[v] = next++;
      continue;
    }
    local_cost.clear();
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      local[static_cast<std::size_t>(nodes[i])] = static_cast<Index>(i);
      local_cost.push_back(node_cost[static_cast<std::size_t>(nodes[i])]);
    }
    const Graph sub = induced_subgraph(g, nodes, local);
    ComponentStats stats;
    const std::vector<Index> sub_label =
        solve_component(sub, local_cost, settings, tol, 0x5eed0000ull + static_cast<std::uint64_t>(nodes[0]), stats);
    Index used = 0;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const Index l = sub_label[i];
      local[static_cast<std::size_t>(nodes[i])] = -1;
      if (l == kSink) continue;
      label[static_cast<std::size_t>(nodes[i])] = next + l;
      used = std::max(used, l + 1);
    }
    next += used;
    result.klj_rounds = std::max(result.klj_rounds, stats.klj_rounds);
    result.branch_and_bound_nodes += stats.bb_nodes;
    if (!stats.exact) result.proven_optimal = false;
  }
  result.num_clusters = compact_labels(label);
  result.objective = labelling_objective(g, node_cost, label);
  result.active.resize(label.size());
  for (std::size_t v = 0; v < label.size(); ++v) result.active[v] = label[v] != kSink ? 1 : 0;
  result.cluster = std::move(label);
  return result;
}

double objective(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
                 const std::vector<double>& edge_cost, const std::vector<std::uint8_t>& active,
                 const std::vector<std::int64_t>& cluster) {
  validate(node_cost, edges, edge_cost);
  const std::size_t n = node_cost.size();
  if (active.size() != n)
    throw std::invalid_argument("active must have one entry per node: got " + std::to_string(active.size()) +
                                " for " + std::to_string(n) + " nodes");
  if (cluster.size() != n)
    throw std::invalid_argument("cluster must have one entry per node: got " + std::to_string(cluster.size()) +
                                " for " + std::to_string(n) + " nodes");
  for (std::size_t v = 0; v < n; ++v) {
    if (active[v] && cluster[v] < 0)
      throw std::invalid_argument("cluster[" + std::to_string(v) + "] = " + std::to_string(cluster[v]) +
                                  " but the node is active (needs a cluster id >= 0)");
    if (!active[v] && cluster[v] != -1)
      throw std::invalid_argument("cluster[" + std::to_string(v) + "] = " + std::to_string(cluster[v]) +
                                  " but the node is suppressed (needs -1)");
  }
  double total = 0.0;
  for (std::size_t v = 0; v < n; ++v)
    if (active[v]) total += node_cost[v];
  for (std::size_t e = 0; e < edges.size(); ++e) {
    const auto a = static_cast<std::size_t>(edges[e][0]), b = static_cast<std::size_t>(edges[e][1]);
    if (active[a] && active[b] && cluster[a] == cluster[b]) total += edge_cost[e];
  }
  return total;
}

}  // namespace arttrack
