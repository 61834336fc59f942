// Ascend backend: an offline (.om) model through the CANN ACL runtime API.
// Compiled only when CMake found the CANN toolkit (ARTTRACK_HAVE_ACL), and in CI against
// declaration-only headers (acl_stub/, -DARTTRACK_ACL_STUB=ON) so that it keeps compiling.
// Every ACL resource is owned by its own guard, created only after the ones it depends on;
// a throw anywhere (a failed call, a bad model, bad_alloc) releases what was acquired so
// far in reverse order, and a finished backend does the same from its destructor.
#include <cstdint>
#include <memory>
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

// Deleter for a handle released by one ACL call. Release errors are not reported: they
// happen in destructors, often while another error is already on its way to the user.
template <auto Release>
struct AclRelease {
  template <typename T>
  void operator()(T* handle) const {
    Release(handle);
  }
};

using DescPtr = std::unique_ptr<aclmdlDesc, AclRelease<aclmdlDestroyDesc>>;
using DatasetPtr = std::unique_ptr<aclmdlDataset, AclRelease<aclmdlDestroyDataset>>;
using DataBufferPtr = std::unique_ptr<aclDataBuffer, AclRelease<aclDestroyDataBuffer>>;
using DeviceMemoryPtr = std::unique_ptr<void, AclRelease<aclrtFree>>;
using ContextPtr = std::unique_ptr<void, AclRelease<aclrtDestroyContext>>;  // aclrtContext is void*

// aclInit/aclFinalize: once per process.
class AclRuntime {
 public:
  AclRuntime() { check(aclInit(nullptr), "aclInit"); }
  ~AclRuntime() { aclFinalize(); }
  AclRuntime(const AclRuntime&) = delete;
  AclRuntime& operator=(const AclRuntime&) = delete;
};

// aclrtSetDevice/aclrtResetDevice.
class AclDevice {
 public:
  explicit AclDevice(int id) : id_(id) { check(aclrtSetDevice(id_), "aclrtSetDevice"); }
  ~AclDevice() { aclrtResetDevice(id_); }
  AclDevice(const AclDevice&) = delete;
  AclDevice& operator=(const AclDevice&) = delete;

 private:
  int id_;
};

ContextPtr create_context(int device_id) {
  aclrtContext context = nullptr;
  check(aclrtCreateContext(&context, device_id), "aclrtCreateContext");
  return ContextPtr(context);
}

// aclmdlLoadFromFile/aclmdlUnload.
class AclLoadedModel {
 public:
  explicit AclLoadedModel(const std::string& path) {
    aclError rc = aclmdlLoadFromFile(path.c_str(), &id_);
    if (rc != ACL_SUCCESS)
      throw std::runtime_error("cannot load model " + path + " (an .om file from ATC?): " +
                               acl_message("aclmdlLoadFromFile", rc));
  }
  ~AclLoadedModel() { aclmdlUnload(id_); }
  AclLoadedModel(const AclLoadedModel&) = delete;
  AclLoadedModel& operator=(const AclLoadedModel&) = delete;
  std::uint32_t id() const { return id_; }

 private:
  std::uint32_t id_ = 0;
};

DescPtr model_desc(const AclLoadedModel& model) {
  DescPtr desc(aclmdlCreateDesc());
  if (!desc) throw std::runtime_error("aclmdlCreateDesc failed");
  check(aclmdlGetDesc(desc.get(), model.id()), "aclmdlGetDesc");
  return desc;
}

// Device memory of one tensor and the aclDataBuffer that describes it (destroyed first).
struct DeviceTensor {
  DeviceMemoryPtr memory;
  DataBufferPtr buffer;
  std::size_t size = 0;
};

// A dataset of device tensors. The tensors go before the dataset (the order of ACL's
// samples): destroying a dataset does not touch its buffers.
class AclDataset {
 public:
  AclDataset() : dataset_(aclmdlCreateDataset()) {
    if (!dataset_) throw std::runtime_error("aclmdlCreateDataset failed");
  }

  void add(std::size_t size) {
    DeviceTensor t;
    t.size = size;
    void* memory = nullptr;
    check(aclrtMalloc(&memory, size, ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc");
    t.memory.reset(memory);
    t.buffer.reset(aclCreateDataBuffer(memory, size));
    if (!t.buffer) throw std::runtime_error("aclCreateDataBuffer failed");
    tensors_.push_back(std::move(t));
    check(aclmdlAddDatasetBuffer(dataset_.get(), tensors_.back().buffer.get()), "aclmdlAddDatasetBuffer");
  }

  aclmdlDataset* get() const { return dataset_.get(); }
  void* memory(std::size_t k) const { return tensors_[k].memory.get(); }
  std::size_t size(std::size_t k) const { return tensors_[k].size; }

 private:
  DatasetPtr dataset_;
  std::vector<DeviceTensor> tensors_;
};

Shape dims_of(const aclmdlIODims& d) { return Shape(d.dims, d.dims + d.dimCount); }

class AclBackend final : public Backend {
 public:
  explicit AclBackend(const BackendOptions& opt)
      : opt_(opt),
        runtime_(),
        device_(opt.device_id),
        context_(create_context(opt.device_id)),
        model_(opt.model_path),
        desc_(model_desc(model_)) {
    aclrtRunMode mode = ACL_HOST;
    check(aclrtGetRunMode(&mode), "aclrtGetRunMode");
    on_device_ = mode == ACL_DEVICE;

    if (aclmdlGetNumInputs(desc_.get()) != 1)
      throw std::runtime_error("model " + opt.model_path + " has " + std::to_string(aclmdlGetNumInputs(desc_.get())) +
                               " inputs, expected 1");
    aclmdlIODims in_dims{};
    check(aclmdlGetInputDims(desc_.get(), 0, &in_dims), "aclmdlGetInputDims");
    Shape declared = dims_of(in_dims);
    if (declared != opt.input_shape)
      throw std::runtime_error("model " + opt.model_path + " expects input of shape " + shape_str(declared) +
                               " but the metadata says " + shape_str(opt.input_shape));
    std::size_t in_bytes = aclmdlGetInputSizeByIndex(desc_.get(), 0);
    if (in_bytes != static_cast<std::size_t>(shape_size(opt.input_shape)) * sizeof(float))
      throw std::runtime_error("model input takes " + std::to_string(in_bytes) + " bytes, not float32 " +
                               shape_str(opt.input_shape) + " (converted with AIPP or fp16 input? use --input_fp16_nodes none)");
    input_.add(in_bytes);

    std::size_t n_out = aclmdlGetNumOutputs(desc_.get());
    if (n_out != opt.output_names.size())
      throw std::runtime_error("model has " + std::to_string(n_out) + " outputs but the metadata lists " +
                               std::to_string(opt.output_names.size()));
    for (std::size_t k = 0; k < n_out; ++k) {
      if (aclmdlGetOutputDataType(desc_.get(), k) != ACL_FLOAT)
        throw std::runtime_error("model output " + std::to_string(k) +
                                 " is not float32 (convert with --output_type=FP32)");
      aclmdlIODims d{};
      check(aclmdlGetOutputDims(desc_.get(), k, &d), "aclmdlGetOutputDims");
      out_shapes_.push_back(dims_of(d));
      std::size_t bytes = aclmdlGetOutputSizeByIndex(desc_.get(), k);
      if (bytes != static_cast<std::size_t>(shape_size(out_shapes_.back())) * sizeof(float))
        throw std::runtime_error("model output " + std::to_string(k) + " size disagrees with its dims");
      output_.add(bytes);
    }
  }

  std::string name() const override { return "acl (Ascend device " + std::to_string(opt_.device_id) + ")"; }

  std::vector<Tensor> run(const std::vector<float>& input) override {
    std::size_t bytes = input.size() * sizeof(float);
    if (bytes != input_.size(0))
      throw std::runtime_error("input has " + std::to_string(bytes) + " bytes, the model takes " +
                               std::to_string(input_.size(0)));
    check(aclrtMemcpy(input_.memory(0), input_.size(0), input.data(), bytes,
                      on_device_ ? ACL_MEMCPY_DEVICE_TO_DEVICE : ACL_MEMCPY_HOST_TO_DEVICE),
          "aclrtMemcpy (input)");
    check(aclmdlExecute(model_.id(), input_.get(), output_.get()), "aclmdlExecute");
    std::vector<Tensor> out(out_shapes_.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
      out[k].name = opt_.output_names[k];
      out[k].shape = out_shapes_[k];
      out[k].data.resize(output_.size(k) / sizeof(float));
      check(aclrtMemcpy(out[k].data.data(), output_.size(k), output_.memory(k), output_.size(k),
                        on_device_ ? ACL_MEMCPY_DEVICE_TO_DEVICE : ACL_MEMCPY_DEVICE_TO_HOST),
            "aclrtMemcpy (output)");
    }
    return out;
  }

 private:
  // Declaration order is construction order, and each guard needs the ones above it;
  // destruction (also of the members built when a constructor throws) runs in reverse:
  // datasets, model description, model, context, device, then aclFinalize.
  BackendOptions opt_;
  AclRuntime runtime_;
  AclDevice device_;
  ContextPtr context_;
  AclLoadedModel model_;
  DescPtr desc_;
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
