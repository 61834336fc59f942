// arttrack._core: thin pybind11 bindings over the pure C++ core in cpp/src.
// One bind_*.cpp per area registers its functions; this file only assembles the module.
#include <pybind11/pybind11.h>

#include "arttrack/version.hpp"

namespace py = pybind11;

namespace arttrack::bindings {
// Each area adds its declaration here and its call below.
void bind_peaks(py::module_& m);
void bind_pairwise(py::module_& m);
void bind_assemble(py::module_& m);
void bind_partition(py::module_& m);
void bind_tracking(py::module_& m);
void bind_geometry(py::module_& m);
}  // namespace arttrack::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "arttrack C++ core: peaks, pairwise terms, partitioning, tracking, input geometry";
  m.attr("__version__") = arttrack::core_version();
  arttrack::bindings::bind_peaks(m);
  arttrack::bindings::bind_pairwise(m);
  arttrack::bindings::bind_assemble(m);
  arttrack::bindings::bind_partition(m);
  arttrack::bindings::bind_tracking(m);
  arttrack::bindings::bind_geometry(m);
}
