// Shared argument checks for the bindings: dtype, shape, contiguity, finiteness.
// Every failure throws std::invalid_argument (ValueError in Python) naming the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace arttrack::bindings {
namespace py = pybind11;

inline std::string shape_str(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

// Returns `obj` as a C-contiguous array of dtype T. Rejects other dtypes instead of casting
// silently (a float64 map passed where float32 is expected is a caller bug worth reporting).
// `ndim` < 0 accepts any rank; `shape` entries < 0 are free.
template <typename T>
py::array_t<T, py::array::c_style> as_array(const py::handle& obj, const char* name, int ndim,
                                             std::vector<py::ssize_t> shape = {}) {
  if (!py::isinstance<py::array>(obj))
    throw std::invalid_argument(std::string(name) + " must be a numpy array, got " +
                                std::string(py::str(py::type::of(obj).attr("__name__"))));
  auto arr = py::reinterpret_borrow<py::array>(obj);
  if (!arr.dtype().equal(py::dtype::of<T>()))
    throw std::invalid_argument(std::string(name) + " must have dtype " +
                                std::string(py::str(py::dtype::of<T>())) + ", got " +
                                std::string(py::str(arr.dtype())));
  if (ndim >= 0 && arr.ndim() != ndim)
    throw std::invalid_argument(std::string(name) + " must be " + std::to_string(ndim) +
                                "-dimensional, got shape " + shape_str(arr));
  for (std::size_t i = 0; i < shape.size() && i < static_cast<std::size_t>(arr.ndim()); ++i)
    if (shape[i] >= 0 && arr.shape(static_cast<py::ssize_t>(i)) != shape[i])
      throw std::invalid_argument(std::string(name) + " has shape " + shape_str(arr) +
                                  ", dimension " + std::to_string(i) + " must be " +
                                  std::to_string(shape[i]));
  // Contiguous copy when needed (views and transposes are fine as input).
  return py::array_t<T, py::array::c_style>::ensure(arr);
}

template <typename T>
void require_finite(const py::array_t<T, py::array::c_style>& a, const char* name) {
  const T* p = a.data();
  const py::ssize_t n = a.size();
  for (py::ssize_t i = 0; i < n; ++i)
    if (!std::isfinite(static_cast<double>(p[i])))
      throw std::invalid_argument(std::string(name) + " contains NaN or infinity (first at flat index " +
                                  std::to_string(i) + ")");
}

}  // namespace arttrack::bindings
