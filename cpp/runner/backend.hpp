// Inference backends of arttrack-infer: one model, one fixed-shape float32 input, several
// float32 outputs, synchronous execution. Errors are std::runtime_error with a message
// meant for the user (the caller prints it and exits non-zero).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace arttrack::runner {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_size(const Shape& s);
std::string shape_str(const Shape& s);

struct Tensor {
  std::string name;
  Shape shape;
  std::vector<float> data;
};

struct BackendOptions {
  std::string model_path;
  std::string input_name;                 // from the metadata
  Shape input_shape;                      // from the metadata (N, C, H, W)
  std::vector<std::string> output_names;  // from the metadata, in order
  int device_id = 0;                      // acl
  int threads = 0;                        // cpu: 0 = library default
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Runs the model on one input batch of shape_size(input_shape) floats. Returns the outputs
  // in metadata order (the backend maps its own order onto the metadata's names).
  virtual std::vector<Tensor> run(const std::vector<float>& input) = 0;
};

// CPU backend: ONNX through OpenCV's DNN module. Throws std::runtime_error on an
// unreadable or unsupported model, or a model whose input shape disagrees with options.
std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

// Ascend backend through CANN ACL (an .om model). Only linked when the CANN toolkit was
// found at configure time; otherwise has_acl_backend() is false and make_acl_backend throws.
bool has_acl_backend();
std::unique_ptr<Backend> make_acl_backend(const BackendOptions& options);

// Input dimensions of the graph input `input_name` in an ONNX file's bytes (-1 for a
// symbolic dimension). Throws std::runtime_error when the bytes are not an ONNX model or
// have no such input.
Shape onnx_input_shape(const std::string& model_bytes, const std::string& input_name);

}  // namespace arttrack::runner
