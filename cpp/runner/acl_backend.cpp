// Ascend backend: an offline (.om) model through the CANN ACL runtime API.
// Compiled only when CMake found the CANN toolkit (ARTTRACK_HAVE_ACL); every resource is
// owned by AclBackend and released in reverse order by its destructor, on every path
// (a failed constructor runs the destructor of the members already built).
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend.hpp"

#ifdef ARTTRACK_HAVE_ACL
#include "acl/acl.h"

namespace arttrack::runner {
namespace {

std::string acl_message(const char* call, aclError code) {
  std::string msg = std::string(call) + " failed with ACL error " + std::to_string(static_cast<long long>(code));
  const char* recent = aclGetRecentErrMsg();
  if (recent != nullptr && recent[0] != '\0') msg += std::string(": ") + recent;
  return msg;
}

void check(aclError code, const char* call) {
  if (code != ACL_SUCCESS) throw std::runtime_error(acl_message(call, code));
}

// aclInit/aclFinalize may be called once per process.
struct AclRuntime {
  AclRuntime() { check(aclInit(nullptr), "aclInit"); }
  ~AclRuntime() { aclFinalize(); }
  AclRuntime(const AclRuntime&) = delete;
  AclRuntime& operator=(const AclRuntime&) = delete;
};

struct AclDevice {
  int id;
  aclrtContext context = nullptr;
  explicit AclDevice(int device_id) : id(device_id) {
    check(aclrtSetDevice(id), "aclrtSetDevice");
    aclError rc = aclrtCreateContext(&context, id);
    if (rc != ACL_SUCCESS) {
      aclrtResetDevice(id);
      throw std::runtime_error(acl_message("aclrtCreateContext", rc));
    }
  }
  ~AclDevice() {
    if (context != nullptr) aclrtDestroyContext(context);
    aclrtResetDevice(id);
  }
  AclDevice(const AclDevice&) = delete;
  AclDevice& operator=(const AclDevice&) = delete;
};

struct AclModel {
  std::uint32_t id = 0;
  bool loaded = false;
  aclmdlDesc* desc = nullptr;
  explicit AclModel(const std::string& path) {
    aclError rc = aclmdlLoadFromFile(path.c_str(), &id);
    if (rc != ACL_SUCCESS)
      throw std::runtime_error("cannot load model " + path + " (an .om file from ATC?): " +
                               acl_message("aclmdlLoadFromFile", rc));
    loaded = true;
    desc = aclmdlCreateDesc();
    if (desc == nullptr) throw std::runtime_error("aclmdlCreateDesc failed");
    check(aclmdlGetDesc(desc, id), "aclmdlGetDesc");
  }
  ~AclModel() {
    if (desc != nullptr) aclmdlDestroyDesc(desc);
    if (loaded) aclmdlUnload(id);
  }
  AclModel(const AclModel&) = delete;
  AclModel& operator=(const AclModel&) = delete;
};

// A dataset of device buffers, one per tensor.
struct AclDataset {
  aclmdlDataset* dataset = nullptr;
  std::vector<void*> memory;
  std::vector<aclDataBuffer*> buffers;
  std::vector<std::size_t> sizes;
  AclDataset() {
    dataset = aclmdlCreateDataset();
    if (dataset == nullptr) throw std::runtime_error("aclmdlCreateDataset failed");
  }
  void add(std::size_t size) {
    void* mem = nullptr;
    check(aclrtMalloc(&mem, size, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
    memory.push_back(mem);
    aclDataBuffer* buf = aclCreateDataBuffer(mem, size);
    if (buf == nullptr) throw std::runtime_error("aclCreateDataBuffer failed");
    buffers.push_back(buf);
    sizes.push_back(size);
    check(aclmdlAddDatasetBuffer(dataset, buf), "aclmdlAddDatasetBuffer");
  }
  ~AclDataset() {
    for (aclDataBuffer* b : buffers) aclDestroyDataBuffer(b);
    for (void* m : memory) aclrtFree(m);
    if (dataset != nullptr) aclmdlDestroyDataset(dataset);
  }
  AclDataset(const AclDataset&) = delete;
  AclDataset& operator=(const AclDataset&) = delete;
};

Shape dims_of(const aclmdlIODims& d) { return Shape(d.dims, d.dims + d.dimCount); }

class AclBackend final : public Backend {
 public:
  explicit AclBackend(const BackendOptions& opt)
      : opt_(opt), runtime_(), device_(opt.device_id), model_(opt.model_path) {
    aclrtRunMode mode;
    check(aclrtGetRunMode(&mode), "aclrtGetRunMode");
    on_device_ = mode == ACL_DEVICE;

    if (aclmdlGetNumInputs(model_.desc) != 1)
      throw std::runtime_error("model " + opt.model_path + " has " + std::to_string(aclmdlGetNumInputs(model_.desc)) +
                               " inputs, expected 1");
    aclmdlIODims in_dims;
    check(aclmdlGetInputDims(model_.desc, 0, &in_dims), "aclmdlGetInputDims");
    Shape declared = dims_of(in_dims);
    if (declared != opt.input_shape)
      throw std::runtime_error("model " + opt.model_path + " expects input of shape " + shape_str(declared) +
                               " but the metadata says " + shape_str(opt.input_shape));
    std::size_t in_bytes = aclmdlGetInputSizeByIndex(model_.desc, 0);
    if (in_bytes != static_cast<std::size_t>(shape_size(opt.input_shape)) * sizeof(float))
      throw std::runtime_error("model input takes " + std::to_string(in_bytes) + " bytes, not float32 " +
                               shape_str(opt.input_shape) + " (converted with AIPP or fp16 input? use --input_fp16_nodes none)");
    input_.add(in_bytes);

    std::size_t n_out = aclmdlGetNumOutputs(model_.desc);
    if (n_out != opt.output_names.size())
      throw std::runtime_error("model has " + std::to_string(n_out) + " outputs but the metadata lists " +
                               std::to_string(opt.output_names.size()));
    for (std::size_t k = 0; k < n_out; ++k) {
      if (aclmdlGetOutputDataType(model_.desc, k) != ACL_FLOAT)
        throw std::runtime_error("model output " + std::to_string(k) +
                                 " is not float32 (convert with --output_type=FP32)");
      aclmdlIODims d;
      check(aclmdlGetOutputDims(model_.desc, k, &d), "aclmdlGetOutputDims");
      out_shapes_.push_back(dims_of(d));
      std::size_t bytes = aclmdlGetOutputSizeByIndex(model_.desc, k);
      if (bytes != static_cast<std::size_t>(shape_size(out_shapes_.back())) * sizeof(float))
        throw std::runtime_error("model output " + std::to_string(k) + " size disagrees with its dims");
      output_.add(bytes);
    }
  }

  std::string name() const override { return "acl (Ascend device " + std::to_string(opt_.device_id) + ")"; }

  std::vector<Tensor> run(const std::vector<float>& input) override {
    std::size_t bytes = input.size() * sizeof(float);
    if (bytes != input_.sizes[0])
      throw std::runtime_error("input has " + std::to_string(bytes) + " bytes, the model takes " +
                               std::to_string(input_.sizes[0]));
    check(aclrtMemcpy(input_.memory[0], input_.sizes[0], input.data(), bytes,
                      on_device_ ? ACL_MEMCPY_DEVICE_TO_DEVICE : ACL_MEMCPY_HOST_TO_DEVICE),
          "aclrtMemcpy (input)");
    check(aclmdlExecute(model_.id, input_.dataset, output_.dataset), "aclmdlExecute");
    std::vector<Tensor> out(out_shapes_.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
      out[k].name = opt_.output_names[k];
      out[k].shape = out_shapes_[k];
      out[k].data.resize(output_.sizes[k] / sizeof(float));
      check(aclrtMemcpy(out[k].data.data(), output_.sizes[k], output_.memory[k], output_.sizes[k],
                        on_device_ ? ACL_MEMCPY_DEVICE_TO_DEVICE : ACL_MEMCPY_DEVICE_TO_HOST),
            "aclrtMemcpy (output)");
    }
    return out;
  }

 private:
  // Declaration order is construction order; destruction runs in reverse: datasets,
  // model, device/context, then aclFinalize.
  BackendOptions opt_;
  AclRuntime runtime_;
  AclDevice device_;
  AclModel model_;
  AclDataset input_;
  AclDataset output_;
  std::vector<Shape> out_shapes_;
  bool on_device_ = false;
};

}  // namespace

bool has_acl_backend() { return true; }

std::unique_ptr<Backend> make_acl_backend(const BackendOptions& options) {
  return std::make_unique<AclBackend>(options);
}

}  // namespace arttrack::runner

#else  // no CANN toolkit at configure time

namespace arttrack::runner {

bool has_acl_backend() { return false; }

std::unique_ptr<Backend> make_acl_backend(const BackendOptions&) {
  throw std::runtime_error(
      "this arttrack-infer was built without the Ascend ACL backend (CMake did not find the CANN "
      "toolkit: set ASCEND_TOOLKIT_HOME, e.g. source /usr/local/Ascend/ascend-toolkit/set_env.sh, and "
      "reconfigure)");
}

}  // namespace arttrack::runner

#endif
