// Reads the declared input shape of an ONNX model by walking the protobuf wire format
// (ModelProto.graph.input[].type.tensor_type.shape.dim[]), without a protobuf library.
// OpenCV's DNN API cannot give this shape (checked with OpenCV 4.6, Debian 12): a loaded
// cv::dnn::Net has Net::setInputShape but no getter, and Net::getLayerShapes only propagates
// a shape the caller supplies (for the input layer an empty one stays empty; for later
// layers it fails), so a model exported at another size would only show up later as
// outputs of the wrong shape, with no word about the input. Debian's libonnx-dev (generated
// onnx.pb.h) plus libprotobuf-dev could parse it, at the cost of two more build
// dependencies for these three message levels.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "backend.hpp"

namespace arttrack::runner {
namespace {

struct Field {
  std::uint32_t number = 0;
  std::uint32_t wire = 0;
  std::uint64_t varint = 0;  // wire type 0
  const char* data = nullptr;  // wire type 2
  std::size_t size = 0;
};

class Reader {
 public:
  Reader(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  bool done() const { return p_ >= end_; }

  bool next(Field& f) {
    if (done()) return false;
    std::uint64_t key = varint();
    f = Field{};
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire = static_cast<std::uint32_t>(key & 7);
    if (f.number == 0) throw std::runtime_error("field number 0");
    switch (f.wire) {
      case 0: f.varint = varint(); break;
      case 1: skip(8); break;
      case 2: {
        std::uint64_t n = varint();
        if (n > static_cast<std::uint64_t>(end_ - p_)) throw std::runtime_error("truncated field");
        f.data = p_;
        f.size = static_cast<std::size_t>(n);
        p_ += n;
        break;
      }
      case 5: skip(4); break;
      default: throw std::runtime_error("unsupported wire type");
    }
    return true;
  }

 private:
  const char* p_;
  const char* end_;

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) throw std::runtime_error("truncated varint");
      auto b = static_cast<unsigned char>(*p_++);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw std::runtime_error("varint too long");
  }
  void skip(std::size_t n) {
    if (n > static_cast<std::size_t>(end_ - p_)) throw std::runtime_error("truncated field");
    p_ += n;
  }
};

// TensorShapeProto -> dims (dim_value, or -1 for dim_param / unknown)
Shape parse_shape(const char* p, std::size_t n) {
  Shape out;
  Reader r(p, n);
  Field f;
  while (r.next(f)) {
    if (f.number != 1 || f.wire != 2) continue;  // dim
    std::int64_t value = -1;
    Reader d(f.data, f.size);
    Field g;
    while (d.next(g)) {
      if (g.number == 1 && g.wire == 0) value = static_cast<std::int64_t>(g.varint);
    }
    out.push_back(value);
  }
  return out;
}

// ValueInfoProto -> (name, dims); has_shape false when no tensor shape is declared
bool parse_value_info(const char* p, std::size_t n, std::string& name, Shape& shape) {
  bool has_shape = false;
  Reader r(p, n);
  Field f;
  while (r.next(f)) {
    if (f.number == 1 && f.wire == 2) {
      name.assign(f.data, f.size);
    } else if (f.number == 2 && f.wire == 2) {  // TypeProto
      Reader t(f.data, f.size);
      Field g;
      while (t.next(g)) {
        if (g.number != 1 || g.wire != 2) continue;  // tensor_type
        Reader tt(g.data, g.size);
        Field h;
        while (tt.next(h)) {
          if (h.number == 2 && h.wire == 2) {
            shape = parse_shape(h.data, h.size);
            has_shape = true;
          }
        }
      }
    }
  }
  return has_shape;
}

}  // namespace

Shape onnx_input_shape(const std::string& bytes, const std::string& input_name) {
  std::string found_names;
  bool have_graph = false;
  bool have_ir = false;
  try {
    Reader model(bytes.data(), bytes.size());
    Field f;
    while (model.next(f)) {
      if (f.number == 1 && f.wire == 0) have_ir = true;  // ir_version
      if (f.number != 7 || f.wire != 2) continue;         // graph
      have_graph = true;
      Reader graph(f.data, f.size);
      Field g;
      while (graph.next(g)) {
        if (g.number != 11 || g.wire != 2) continue;  // input
        std::string name;
        Shape shape;
        bool has_shape = parse_value_info(g.data, g.size, name, shape);
        if (name == input_name) {
          if (!has_shape) throw std::runtime_error("input '" + name + "' declares no tensor shape");
          return shape;
        }
        found_names += (found_names.empty() ? "" : ", ") + ("'" + name + "'");
      }
    }
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).rfind("input '", 0) == 0) throw;
    throw std::runtime_error(std::string("not a readable ONNX model (") + e.what() + ")");
  }
  if (!have_graph || !have_ir) throw std::runtime_error("not an ONNX model (no ir_version/graph)");
  throw std::runtime_error("the ONNX graph has no input '" + input_name + "' (inputs: " +
                           (found_names.empty() ? std::string("none") : found_names) + ")");
}

}  // namespace arttrack::runner
