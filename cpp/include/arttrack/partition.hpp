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
// Solvers:
//   - gaec: greedy additive edge contraction generalised to node labelling. A cluster with
//     total cost C (node costs plus internal edge costs) contributes min(C, 0): it is active
//     when that pays, suppressed otherwise. Starting from singletons, the pair of clusters
//     whose contraction lowers the objective most is contracted (priority queue with lazy,
//     versioned entries) until no contraction helps. Clusters with C >= 0 are suppressed,
//     then single nodes whose marginal cost in their cluster is positive are suppressed.
//   - gaec_klj: gaec followed by Kernighan-Lin with joins. Suppression is modelled as a sink
//     ("outside") side: a node there costs min(node_cost, 0), i.e. it ends up suppressed,
//     or alone in a new cluster when its cost is negative. Each round visits every pair of
//     clusters joined by an attractive edge, every cluster with the sink, every cluster
//     with a new empty cluster, and the sink with a new empty cluster (after the first
//     round only pairs touched since the previous round). For a pair it runs one KL pass
//     (repeatedly move the unlocked node with the best gain to the other side, gains kept
//     up to date incrementally), takes the best prefix of the move sequence, compares with
//     joining the two sides (for the sink: dissolving the cluster) and applies the better
//     one when it lowers the objective. Two clusters attracted by a common suppressed node
//     also get "join, then a KL pass between the union and the sink". Stops when a round
//     improves nothing.
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
  gaec_klj,  // gaec, then Kernighan-Lin with joins (incl. activation / suppression moves)
};

struct PartitionSettings {
  PartitionMethod method = PartitionMethod::gaec_klj;
  // Upper bound on KLj rounds (each round strictly improves, so this is only a safety net).
  std::int64_t max_klj_rounds = 1000;
  // Improvements not larger than tolerance * max(1, largest |cost|) are ignored; guards
  // against cycling on floating-point noise (also with huge constants in the instance).
  double tolerance = 1e-9;
};

struct PartitionResult {
  std::vector<std::uint8_t> active;    // 1 = active, 0 = suppressed
  std::vector<std::int64_t> cluster;   // -1 for suppressed, else 0..num_clusters-1,
                                       // numbered in order of first appearance by node index
  std::int64_t num_clusters = 0;
  double objective = 0.0;              // objective of the returned labelling
  std::int64_t klj_rounds = 0;         // KLj rounds run (0 for gaec)
};

// Solves the node-labelling multicut problem described above. Deterministic.
// Throws std::invalid_argument when edges.size() != edge_cost.size(), an endpoint is out of
// range, an edge is a self loop, or a cost is NaN or infinite.
PartitionResult partition(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
                          const std::vector<double>& edge_cost, const PartitionSettings& settings = {});

// Objective of a labelling, computed directly from the definition (independent of the solver).
// `active` and `cluster` have one entry per node; an active node needs cluster >= 0, a
// suppressed node cluster == -1. Throws std::invalid_argument on inconsistent input.
double objective(const std::vector<double>& node_cost, const std::vector<PartitionEdge>& edges,
                 const std::vector<double>& edge_cost, const std::vector<std::uint8_t>& active,
                 const std::vector<std::int64_t>& cluster);

}  // namespace arttrack
