// Node-labelling multicut: partition detections into people, suppressing false positives.
//
// Problem (DeeperCut / ArtTrack, Levinkov et al. CVPR 2017 "Joint graph decomposition and
// node labeling"): every node is either active or suppressed; active nodes are grouped into
// clusters. Minimise
//
//     sum_{i active} node_cost[i]
//   + sum_{edges {i,j}: i, j active and in the same cluster} edge_cost[e]
//
// Negative costs are attractive (costs are log((1-p)/p)). A suppressed node is alone; it
// pays nothing and none of its edges count.
//
// Both solvers split the instance into the components of the graph of attractive
// (negative) edges and solve each on its own. That is exact: a cluster spanning two of them
// can be split along repulsive edges only, which never costs.
//
// Solvers:
//   - gaec: greedy additive edge contraction generalised to node labelling. A cluster with
//     total cost C (node costs plus internal edge costs) contributes min(C, 0): it is active
//     when that pays, suppressed otherwise. Starting from singletons, the pair of clusters
//     whose contraction lowers the objective most is contracted (priority queue with lazy,
//     versioned entries) until no contraction helps. Clusters with C >= 0 are suppressed,
//     then single nodes whose marginal cost in their cluster is positive are suppressed.
//   - gaec_klj (default), per component:
//       1. gaec, then Kernighan-Lin with joins (KLj). Suppression is modelled as a sink
//          ("outside") side: a node there costs min(node_cost, 0), i.e. it ends up
//          suppressed, or alone in a new cluster when its cost is negative. A round visits
//          every pair of clusters joined by an attractive edge, every cluster with the sink,
//          every cluster with a new empty cluster, and the sink with a new empty cluster
//          (after the first round only what changed: pairs with a changed cluster, and
//          clusters next to a node that was suppressed or activated). For a pair it runs
//          one KL pass (repeatedly move the unlocked node with the best gain to the other
//          side, gains kept up to date incrementally), takes the best prefix of the move
//          sequence, compares with joining the two sides (for the sink: dissolving the
//          cluster) and applies the better one when it lowers the objective. Two clusters
//          attracted by a common suppressed node also get "join, then a KL pass between the
//          union and the sink". Stops when a round improves nothing.
//       2. Components with at most exact_max_nodes nodes: an exact repetitive branch and
//          bound (node order by attraction, bounds from the optima of the node suffixes),
//          started from the KLj labelling, limited to exact_node_limit search nodes.
//       3. Larger components, or when the search gave up: large-neighbourhood steps. Every
//          cluster, and every cluster with the (up to 3) clusters most attracted to it,
//          each with a few suppressed nodes attracted to it, is an instance of its own
//          (edges to the rest are cut either way) and is re-solved by the branch and bound,
//          contracted first to at most resolve_max_nodes atoms (the most attracted nodes of
//          a cluster merged first, so the current labelling remains a candidate); groups of
//          clusters may exchange nodes and merge but not split. KLj follows each pass; up to
//          three passes. This is what splits a cluster holding parts of two people, or
//          moves a tightly joined group from one cluster to another: KL moves node by node
//          and every single move of such a group loses.
//       4. When the branch and bound gave up on a small component: iterated local search,
//          restarts_per_node x nodes random perturbations (merge with a neighbouring
//          cluster, move a node to a neighbour's cluster, (de)activate a node, split a node
//          and some neighbours off), each followed by KLj from what it touched, kept only
//          when better.
//     Finally a component keeps the gaec labelling if that is better (it never is, up to
//     the tolerance), so gaec_klj is never worse than gaec.
//
// Edges: endpoints in [0, N), i != j, either order. Duplicate edges (including (i,j) and
// (j,i)) are allowed and their costs add up, in the solver and in objective() alike.
// Bad input throws std::invalid_argument; the library never prints.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace arttrack {

// One undirected edge {first, second}.
using PartitionEdge = std::array<std::int64_t, 2>;

enum class PartitionMethod {
  gaec,      // greedy additive edge contraction with node labelling
  gaec_klj,  // per component: gaec, KLj, then exact solution or exact re-solving of clusters
};

struct PartitionSettings {
  PartitionMethod method = PartitionMethod::gaec_klj;
  // Upper bound on KLj rounds (each round strictly improves, so this is only a safety net).
  std::int64_t max_klj_rounds = 1000;
  // Improvements not larger than tolerance * max(1, largest |cost|) are ignored; guards
  // against cycling on floating-point noise (also with huge constants in the instance).
  double tolerance = 1e-9;
  // gaec_klj only (see above). Components (of the graph of attractive edges) with at most
  // exact_max_nodes nodes are solved exactly, unless the branch and bound needs more than
  // exact_node_limit search nodes (then it keeps the best labelling found, never worse than
  // KLj's). At most 32.
  std::int64_t exact_max_nodes = 20;
  std::int64_t exact_node_limit = 100000;
  // Large-neighbourhood steps: re-solved sets are contracted to at most resolve_max_nodes
  // atoms (at most 32; 0 switches the steps off), resolve_node_limit search nodes each.
  std::int64_t resolve_max_nodes = 24;
  std::int64_t resolve_node_limit = 5000;
  // Perturbation restarts per node of a small component that the branch and bound gave up on.
  std::int64_t restarts_per_node = 4;
};

struct PartitionResult {
  std::vector<std::uint8_t> active;    // 1 = active, 0 = suppressed
  std::vector<std::int64_t> cluster;   // -1 for suppressed, else 0..num_clusters-1,
                                       // numbered in order of first appearance by node index
  std::int64_t num_clusters = 0;
  double objective = 0.0;              // objective of the returned labelling
  std::int64_t klj_rounds = 0;         // most KLj rounds of one component's first descent (0 for gaec)
  bool proven_optimal = false;         // gaec_klj: every component was solved exactly (up to the tolerance)
  std::int64_t branch_and_bound_nodes = 0;  // search nodes of the branch and bound, all components
};

// Solves the node-labelling multicut problem described above. Deterministic.
// Throws std::invalid_argument when edges.size() != edge_cost.size(), an endpoint is out of
// range, an edge is a self loop, a cost is NaN or infinite, or a setting is out of range.
PartitionResult partition(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
                          const std::vector<double>& edge_cost, const PartitionSettings& settings = {});

// Objective of a labelling, computed directly from the definition (independent of the solver).
// `active` and `cluster` have one entry per node; an active node needs cluster >= 0, a
// suppressed node cluster == -1. Throws std::invalid_argument on inconsistent input.
double objective(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
                 const std::vector<double>& edge_cost, const std::vector<std::uint8_t>& active,
                 const std::vector<std::int64_t>& cluster);

}  // namespace arttrack
