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
#include <utility>
#include <vector>

namespace arttrack {
namespace {

using Index = std::int64_t;
constexpr Index kSink = -1;  // label of suppressed nodes

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

  // label: compact cluster ids 0..K-1 or kSink; improved in place. Returns the rounds run.
  std::int64_t run(std::vector<Index>& label, std::int64_t max_rounds) {
    label_ = &label;
    Index num_labels = 0;
    for (const Index l : label) num_labels = std::max(num_labels, l + 1);
    members_.assign(static_cast<std::size_t>(num_labels), {});
    for (Index v = 0; v < g_.n; ++v)
      if (label[at(v)] != kSink) members_[at(label[at(v)])].push_back(v);
    changed_prev_.assign(members_.size(), 1);
    sink_changed_prev_ = true;

    std::int64_t rounds = 0;
    std::vector<Index> neighbours;
    while (rounds < max_rounds) {
      ++rounds;
      changed_cur_.assign(members_.size(), 0);
      sink_changed_cur_ = false;
      bool any = false;
      const auto labels_at_start = static_cast<Index>(members_.size());
      for (Index a = 0; a < labels_at_start; ++a) {
        if (members_[at(a)].empty()) continue;
        neighbour_clusters(a, neighbours);
        for (const Index b : neighbours) {
          if (members_[at(a)].empty()) break;
          if (members_[at(b)].empty() || !(dirty(a) || dirty(b))) continue;
          any |= improve_pair(a, b, link_[at(b)]);
        }
        if (!members_[at(a)].empty() && (dirty(a) || sink_dirty())) any |= improve_pair(a, kSink);
        if (!members_[at(a)].empty() && dirty(a)) any |= improve_pair(a, kNew);
      }
      if (sink_dirty()) any |= improve_pair(kSink, kNew);
      if (!any) break;
      changed_prev_ = changed_cur_;
      changed_prev_.resize(members_.size(), 1);
      sink_changed_prev_ = sink_changed_cur_;
    }
    return rounds;
  }

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
  void mark_changed(Index l) {
    if (l == kSink) {
      sink_changed_cur_ = true;
    } else if (l >= 0) {
      if (at(l) >= changed_cur_.size()) changed_cur_.resize(at(l) + 1, 0);
      changed_cur_[at(l)] = 1;
    }
  }

  // Clusters b > a worth pairing with a: joined to a by an attractive edge, or both
  // attracted by one suppressed node (via_sink_[b] set, so that such a node can bring them
  // together). Two clusters without an attractive edge between them gain nothing from
  // trading nodes that splitting each of them (the pair with kNew) cannot match, so only
  // attractive edges count. link_[b] says how (kDirect, kViaSink bits).
  void neighbour_clusters(Index a, std::vector<Index>& out) {
    out.clear();
    label_mark_.resize(members_.size(), -1);
    link_.resize(members_.size(), 0);
    ++scan_;
    const std::vector<Index>& label = *label_;
    auto visit = [&](Index lb, std::uint8_t how) {
      if (lb <= a) return;
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
    for (const auto& [v, s] : plan.assign) {
      Index l = s ? l1 : plan.l0;
      if (l == kSink && c_[at(v)] < 0.0) {  // outside, better alone than suppressed
        l = static_cast<Index>(members_.size());
        members_.emplace_back();
        mark_changed(l);
      }
      label[at(v)] = l;
      if (l >= 0) members_[at(l)].push_back(v);
    }
    mark_changed(plan.l0);
    mark_changed(l1);
    mark_changed(plan.emptied);
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

}  // namespace

PartitionResult partition(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
                          const std::vector<double>& edge_cost, const PartitionSettings& settings) {
  validate(node_cost, edges, edge_cost);
  if (settings.method != PartitionMethod::gaec && settings.method != PartitionMethod::gaec_klj)
    throw std::invalid_argument("settings.method is not a known partition method");
  if (!(settings.tolerance >= 0.0) || !std::isfinite(settings.tolerance))
    throw std::invalid_argument("settings.tolerance must be finite and >= 0");
  if (settings.max_klj_rounds < 0) throw std::invalid_argument("settings.max_klj_rounds must be >= 0");

  const auto n = static_cast<Index>(node_cost.size());
  const Graph g = build_graph(n, edges, edge_cost);
  // The tolerance is relative to the largest cost: with huge constants in the instance
  // (the tracker's forced / forbidden links, +-1e6), rounding noise in gains is about
  // 1e-16 * 1e6 and must not count as an improvement, or KLj cycles on it.
  double scale = 1.0;
  for (const double c : node_cost) scale = std::max(scale, std::fabs(c));
  for (const double c : edge_cost) scale = std::max(scale, std::fabs(c));
  const double tol = settings.tolerance * scale;
  std::vector<Index> label = gaec(g, node_cost, tol);
  suppress_positive_nodes(g, node_cost, label, tol);
  compact_labels(label);

  PartitionResult result;
  if (settings.method == PartitionMethod::gaec_klj) {
    Klj klj(g, node_cost, tol);
    result.klj_rounds = klj.run(label, settings.max_klj_rounds);
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
