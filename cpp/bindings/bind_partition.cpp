// Bindings for the node-labelling multicut: partition, partition_objective.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "arttrack/partition.hpp"
#include "checks.hpp"

namespace arttrack::bindings {
namespace {

struct Problem {
  std::vector<double> node_cost;
  std::vector<PartitionEdge> edges;
  std::vector<double> edge_cost;
};

// Checks dtypes and shapes (ValueError naming the argument) and copies into the core's types.
// Index ranges and self loops are checked by the core with the GIL released.
Problem get_problem(const py::handle& node_cost, const py::handle& edges, const py::handle& edge_cost) {
  auto nc = as_array<double>(node_cost, "node_cost", 1);
  auto ed = as_array<std::int64_t>(edges, "edges", 2, {-1, 2});
  auto ec = as_array<double>(edge_cost, "edge_cost", 1, {ed.shape(0)});
  require_finite(nc, "node_cost");
  require_finite(ec, "edge_cost");
  Problem p;
  p.node_cost.assign(nc.data(), nc.data() + nc.size());
  p.edges.resize(static_cast<std::size_t>(ed.shape(0)));
  static_assert(sizeof(PartitionEdge) == 2 * sizeof(std::int64_t), "PartitionEdge must be two packed int64");
  if (!p.edges.empty()) std::memcpy(p.edges.data(), ed.data(), p.edges.size() * sizeof(PartitionEdge));
  p.edge_cost.assign(ec.data(), ec.data() + ec.size());
  return p;
}

PartitionMethod parse_method(const std::string& method) {
  if (method == "gaec") return PartitionMethod::gaec;
  if (method == "gaec+klj") return PartitionMethod::gaec_klj;
  throw std::invalid_argument("method must be 'gaec' or 'gaec+klj', got '" + method + "'");
}

}  // namespace

void bind_partition(py::module_& m) {
  m.def(
      "partition",
      [](const py::handle& node_cost, const py::handle& edges, const py::handle& edge_cost,
         const std::string& method, std::int64_t max_klj_rounds, double tolerance, std::int64_t restarts_per_node,
         std::int64_t exact_max_nodes, std::int64_t exact_node_limit, std::int64_t resolve_max_nodes,
         std::int64_t resolve_node_limit) {
        PartitionSettings settings;
        settings.method = parse_method(method);
        settings.max_klj_rounds = max_klj_rounds;
        settings.tolerance = tolerance;
        settings.restarts_per_node = restarts_per_node;
        settings.exact_max_nodes = exact_max_nodes;
        settings.exact_node_limit = exact_node_limit;
        settings.resolve_max_nodes = resolve_max_nodes;
        settings.resolve_node_limit = resolve_node_limit;
        Problem p = get_problem(node_cost, edges, edge_cost);
        PartitionResult r;
        {
          py::gil_scoped_release release;
          r = partition(p.node_cost, p.edges, p.edge_cost, settings);
        }
        if (r.num_clusters > std::numeric_limits<std::int32_t>::max())
          throw std::invalid_argument("too many clusters for an int32 cluster array");
        const auto n = static_cast<py::ssize_t>(r.active.size());
        py::array_t<bool> active(n);
        py::array_t<std::int32_t> cluster(n);
        bool* a = active.mutable_data();
        std::int32_t* c = cluster.mutable_data();
        for (py::ssize_t i = 0; i < n; ++i) {
          a[i] = r.active[static_cast<std::size_t>(i)] != 0;
          c[i] = static_cast<std::int32_t>(r.cluster[static_cast<std::size_t>(i)]);
        }
        return py::make_tuple(active, cluster, r.objective, r.klj_rounds, r.proven_optimal, r.branch_and_bound_nodes);
      },
      py::arg("node_cost"), py::arg("edges"), py::arg("edge_cost"), py::arg("method") = "gaec+klj",
      py::arg("max_klj_rounds") = PartitionSettings{}.max_klj_rounds,
      py::arg("tolerance") = PartitionSettings{}.tolerance,
      py::arg("restarts_per_node") = PartitionSettings{}.restarts_per_node,
      py::arg("exact_max_nodes") = PartitionSettings{}.exact_max_nodes,
      py::arg("exact_node_limit") = PartitionSettings{}.exact_node_limit,
      py::arg("resolve_max_nodes") = PartitionSettings{}.resolve_max_nodes,
      py::arg("resolve_node_limit") = PartitionSettings{}.resolve_node_limit,
      "Node-labelling multicut. node_cost (N,) float64, edges (E, 2) int64, edge_cost (E,) float64; "
      "method 'gaec' or 'gaec+klj'. Returns (active (N,) bool, cluster (N,) int32 with -1 for "
      "suppressed nodes, objective float, klj_rounds int, proven_optimal bool, branch_and_bound_nodes int).");

  m.def(
      "partition_objective",
      [](const py::handle& node_cost, const py::handle& edges, const py::handle& edge_cost, const py::handle& active,
         const py::handle& cluster) {
        Problem p = get_problem(node_cost, edges, edge_cost);
        const auto n = static_cast<py::ssize_t>(p.node_cost.size());
        auto act = as_array<bool>(active, "active", 1, {n});
        std::vector<std::uint8_t> act_v(static_cast<std::size_t>(n));
        for (py::ssize_t i = 0; i < n; ++i) act_v[static_cast<std::size_t>(i)] = act.data()[i] ? 1 : 0;
        std::vector<std::int64_t> cl_v;
        if (py::isinstance<py::array>(cluster) &&
            py::reinterpret_borrow<py::array>(cluster).dtype().is(py::dtype::of<std::int64_t>())) {
          auto cl = as_array<std::int64_t>(cluster, "cluster", 1, {n});
          cl_v.assign(cl.data(), cl.data() + cl.size());
        } else {
          auto cl = as_array<std::int32_t>(cluster, "cluster", 1, {n});
          cl_v.assign(cl.data(), cl.data() + cl.size());
        }
        double value = 0.0;
        {
          py::gil_scoped_release release;
          value = objective(p.node_cost, p.edges, p.edge_cost, act_v, cl_v);
        }
        return value;
      },
      py::arg("node_cost"), py::arg("edges"), py::arg("edge_cost"), py::arg("active"), py::arg("cluster"),
      "Objective of a node-labelling multicut labelling: sum of node costs of active nodes plus "
      "edge costs of edges inside clusters. active (N,) bool, cluster (N,) int32 or int64 "
      "(-1 exactly for suppressed nodes).");
}

}  // namespace arttrack::bindings
