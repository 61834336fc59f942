// CPU backend: the exported ONNX model through OpenCV's DNN module (compiled when CMake
// found OpenCV: ARTTRACK_HAVE_OPENCV).
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "backend.hpp"

#ifdef ARTTRACK_HAVE_OPENCV
#include <opencv2/core.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/dnn.hpp>

namespace arttrack::runner {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open model file " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw std::runtime_error("cannot read model file " + path);
  return ss.str();
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& opt) : opt_(opt) {
    if (opt.threads > 0) cv::setNumThreads(opt.threads);
    std::string bytes = read_file(opt.model_path);
    if (bytes.empty()) throw std::runtime_error("model file " + opt.model_path + " is empty");
    Shape declared;
    try {
      declared = onnx_input_shape(bytes, opt.input_name);
    } catch (const std::runtime_error& e) {
      throw std::runtime_error("model " + opt.model_path + ": " + e.what());
    }
    bool agree = declared.size() == opt.input_shape.size();
    for (std::size_t i = 0; agree && i < declared.size(); ++i)
      agree = declared[i] < 0 || declared[i] == opt.input_shape[i];
    if (!agree)
      throw std::runtime_error("model " + opt.model_path + " expects input '" + opt.input_name + "' of shape " +
                               shape_str(declared) + " but the metadata says " + shape_str(opt.input_shape) +
                               " (was the metadata written for another export?)");
    try {
      net_ = cv::dnn::readNetFromONNX(bytes.data(), bytes.size());
    } catch (const cv::Exception& e) {
      throw std::runtime_error("OpenCV DNN cannot load " + opt.model_path + ": " + e.msg);
    }
    if (net_.empty()) throw std::runtime_error("OpenCV DNN loaded an empty network from " + opt.model_path);
    net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    dims_.assign(opt.input_shape.begin(), opt.input_shape.end());
  }

  std::string name() const override { return "cpu (OpenCV " CV_VERSION " DNN)"; }

  std::vector<Tensor> run(const std::vector<float>& input) override {
    if (static_cast<std::int64_t>(input.size()) != shape_size(opt_.input_shape))
      throw std::runtime_error("input has " + std::to_string(input.size()) + " floats, expected " +
                               std::to_string(shape_size(opt_.input_shape)));
    // OpenCV does not write through the input blob; the const_cast only satisfies cv::Mat.
    cv::Mat blob(static_cast<int>(dims_.size()), dims_.data(), CV_32F, const_cast<float*>(input.data()));
    std::vector<cv::Mat> outs;
    try {
      net_.setInput(blob, opt_.input_name);
      net_.forward(outs, opt_.output_names);
    } catch (const cv::Exception& e) {
      throw std::runtime_error("OpenCV DNN inference failed: " + e.msg);
    }
    if (outs.size() != opt_.output_names.size())
      throw std::runtime_error("OpenCV DNN returned " + std::to_string(outs.size()) + " outputs, expected " +
                               std::to_string(opt_.output_names.size()));
    std::vector<Tensor> result(outs.size());
    for (std::size_t k = 0; k < outs.size(); ++k) {
      cv::Mat m = outs[k];
      if (m.depth() != CV_32F) throw std::runtime_error("output '" + opt_.output_names[k] + "' is not float32");
      if (!m.isContinuous()) m = m.clone();
      Tensor& t = result[k];
      t.name = opt_.output_names[k];
      for (int d = 0; d < m.dims; ++d) t.shape.push_back(m.size[d]);
      const auto* p = m.ptr<float>();
      t.data.assign(p, p + m.total());
    }
    return result;
  }

 private:
  BackendOptions opt_;
  cv::dnn::Net net_;
  std::vector<int> dims_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace arttrack::runner

#else  // no OpenCV at configure time

namespace arttrack::runner {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions&) {
  throw std::runtime_error(
      "this arttrack-infer was built without the cpu backend (CMake did not find OpenCV with the dnn "
      "module: apt-get install libopencv-dev and reconfigure); use --backend acl");
}

}  // namespace arttrack::runner

#endif
