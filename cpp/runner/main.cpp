// arttrack-infer: run an exported arttrack network over preprocessed float32 binaries.
//
//   arttrack-infer --model FILE --meta META.json --input BINDIR --output OUTDIR
//                  [--backend cpu|acl] [--device-id N] [--threads N] [--warmup N]
//                  [--decode [--nms-radius R] [--min-score S]]
//
// Inputs: BINDIR/index.json (written by `python -m arttrack.preprocess`) lists the .bin
// files in order; without it every *.bin in BINDIR is read in name order. Each .bin holds
// one image: C*H*W float32 values (the metadata's input shape without the batch axis).
// Outputs: OUTDIR/<stem>_<k>.bin for output k (metadata order) of input <stem>.bin, each
// one image's (1, C, h, w) float32 tensor; OUTDIR/runner.json with shapes, the file list
// and latency; with --decode also OUTDIR/predictions.json from the arttrack C++ core.
// Exit status: 0 on success, 1 on a runtime error (bad input, model, I/O), 2 on bad usage.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "arttrack/geometry.hpp"
#include "arttrack/peaks.hpp"
#include "arttrack/version.hpp"
#include "backend.hpp"
#include "json.hpp"

namespace fs = std::filesystem;
using namespace arttrack::runner;

namespace arttrack::runner {

std::int64_t shape_size(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace arttrack::runner

namespace {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* kUsage =
    "usage: arttrack-infer --model FILE --meta META.json --input BINDIR --output OUTDIR\n"
    "                      [--backend cpu|acl] [--device-id N] [--threads N] [--warmup N]\n"
    "                      [--decode] [--nms-radius R] [--min-score S]\n"
    "\n"
    "Runs an exported arttrack network over preprocessed float32 binaries\n"
    "(python -m arttrack.preprocess) and writes one .bin per output tensor per input\n"
    "(<stem>_0.bin, <stem>_1.bin, ... in the metadata's output order) and runner.json\n"
    "(shapes, files, latency mean/p50/p95).\n"
    "\n"
    "  --model FILE     cpu: the exported .onnx; acl: the .om converted from it with ATC\n"
    "  --meta FILE      metadata JSON written by python -m arttrack.export (<model>.json)\n"
    "  --input DIR      preprocessed binaries (+ index.json)\n"
    "  --output DIR     where the outputs go (created)\n"
    "  --backend NAME   cpu (OpenCV DNN, default) or acl (Ascend, when built with CANN)\n"
    "  --device-id N    acl device (default 0)\n"
    "  --threads N      cpu threads (default: OpenCV's choice)\n"
    "  --warmup N       untimed runs on the first input before timing (default 1)\n"
    "  --decode         also decode with the arttrack C++ core (single-person argmax with\n"
    "                   locref, and per-joint peaks) into predictions.json\n"
    "  --nms-radius R   peaks: suppression radius in cells (default 5)\n"
    "  --min-score S    peaks: detection threshold (default 0.2)\n";

struct Args {
  std::string model, meta, input, output, backend = "cpu";
  int device_id = 0, threads = 0, warmup = 1;
  bool decode = false;
  std::int64_t nms_radius = 5;
  double min_score = 0.2;
};

long parse_int(const std::string& flag, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || x < lo || x > hi)
    throw UsageError(flag + " wants an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                     v + "'");
  return x;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (f == "-h" || f == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (f == "--version") {
      std::cout << "arttrack-infer " << arttrack::core_version() << "\n";
      std::exit(0);
    }
    if (f == "--decode") {
      a.decode = true;
      continue;
    }
    std::string value;
    auto eq = f.find('=');
    if (f.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = f.substr(eq + 1);
      f = f.substr(0, eq);
    } else {
      if (i + 1 >= argc) throw UsageError(f + " needs a value");
      value = argv[++i];
    }
    if (f == "--model") a.model = value;
    else if (f == "--meta") a.meta = value;
    else if (f == "--input") a.input = value;
    else if (f == "--output") a.output = value;
    else if (f == "--backend") a.backend = value;
    else if (f == "--device-id") a.device_id = static_cast<int>(parse_int(f, value, 0, 1023));
    else if (f == "--threads") a.threads = static_cast<int>(parse_int(f, value, 0, 4096));
    else if (f == "--warmup") a.warmup = static_cast<int>(parse_int(f, value, 0, 1000));
    else if (f == "--nms-radius") a.nms_radius = parse_int(f, value, 0, 1000000);
    else if (f == "--min-score") {
      char* end = nullptr;
      a.min_score = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(a.min_score))
        throw UsageError("--min-score wants a finite number, got '" + value + "'");
    } else {
      throw UsageError("unknown argument '" + f + "'");
    }
  }
  for (auto [flag, v] : {std::pair{"--model", &a.model}, {"--meta", &a.meta}, {"--input", &a.input},
                         {"--output", &a.output}})
    if (v->empty()) throw UsageError(std::string(flag) + " is required");
  if (a.backend != "cpu" && a.backend != "acl") throw UsageError("--backend must be cpu or acl, got '" + a.backend + "'");
  return a;
}

struct OutputSpec {
  std::string name;
  Shape shape;  // full batch shape from the metadata
};

struct Meta {
  std::string input_name, layout;
  Shape input_shape;
  std::vector<OutputSpec> outputs;
  double stride = 0.0;
  std::optional<double> locref_stdev;
  std::int64_t num_joints = 0;
};

Meta load_meta(const std::string& path) {
  Json j = load_json(path);
  Meta m;
  std::string where = path;
  const Json& in = json_member(j, "input", where);
  m.input_name = json_string(json_member(in, "name", where + " input"), where + " input.name");
  m.input_shape = json_int_array(json_member(in, "shape", where + " input"), where + " input.shape");
  m.layout = in.contains("layout") ? json_string(in["layout"], where + " input.layout") : "NCHW";
  if (m.input_shape.size() != 4)
    throw std::runtime_error(where + ": input.shape must have 4 dimensions, got " + shape_str(m.input_shape));
  for (auto d : m.input_shape)
    if (d < 1) throw std::runtime_error(where + ": input.shape " + shape_str(m.input_shape) + " has a dimension < 1");
  if (m.layout != "NCHW" && m.layout != "NHWC")
    throw std::runtime_error(where + ": input.layout must be NCHW or NHWC, got " + m.layout);
  for (const Json& o : json_array(json_member(j, "outputs", where), where + " outputs")) {
    OutputSpec s;
    s.name = json_string(json_member(o, "name", where + " outputs[]"), where + " outputs[].name");
    s.shape = json_int_array(json_member(o, "shape", where + " outputs[]"), where + " outputs[].shape");
    if (s.shape.empty() || s.shape[0] != m.input_shape[0])
      throw std::runtime_error(where + ": output " + s.name + " shape " + shape_str(s.shape) +
                               " does not start with the batch size " + std::to_string(m.input_shape[0]));
    m.outputs.push_back(s);
  }
  if (m.outputs.empty()) throw std::runtime_error(where + ": no outputs listed");
  m.stride = json_number(json_member(j, "stride", where), where + " stride");
  if (!(m.stride > 0)) throw std::runtime_error(where + ": stride must be > 0");
  if (j.contains("locref_stdev")) m.locref_stdev = json_number(j["locref_stdev"], where + " locref_stdev");
  if (j.contains("num_joints")) m.num_joints = json_integer(j["num_joints"], where + " num_joints");
  return m;
}

struct Entry {
  std::string file;                  // relative to the input dir
  std::optional<Json> record;        // the index.json record, when there is one
};

std::vector<Entry> list_inputs(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw std::runtime_error("input directory " + dir.string() + " does not exist");
  std::vector<Entry> out;
  fs::path index = dir / "index.json";
  if (fs::exists(index)) {
    Json j = load_json(index.string());
    const Json& entries = j.is_object() ? json_member(j, "entries", index.string()) : j;
    for (const Json& e : json_array(entries, index.string() + " entries")) {
      Entry en;
      en.file = json_string(json_member(e, "file", index.string() + " entry"), index.string() + " entry file");
      en.record = e;
      out.push_back(std::move(en));
    }
  } else {
    for (const auto& p : fs::directory_iterator(dir))
      if (p.is_regular_file() && p.path().extension() == ".bin") out.push_back({p.path().filename().string(), {}});
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.file < b.file; });
  }
  if (out.empty()) throw std::runtime_error("no inputs in " + dir.string() + " (no index.json entries or *.bin files)");
  return out;
}

void read_bin(const fs::path& path, float* dst, std::int64_t count, const Shape& per_image) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::runtime_error("cannot open input " + path.string());
  auto bytes = static_cast<std::int64_t>(f.tellg());
  std::int64_t want = count * static_cast<std::int64_t>(sizeof(float));
  if (bytes != want)
    throw std::runtime_error("input " + path.string() + " has " + std::to_string(bytes) + " bytes, expected " +
                             std::to_string(want) + " (float32 " + shape_str(per_image) +
                             "); was it preprocessed for this model's metadata?");
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(dst), want)) throw std::runtime_error("cannot read input " + path.string());
}

void write_bin(const fs::path& path, const float* src, std::int64_t count) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot create " + path.string());
  f.write(reinterpret_cast<const char*>(src), count * static_cast<std::int64_t>(sizeof(float)));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

void write_text(const fs::path& path, const std::string& text) {
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error("cannot create " + tmp.string());
    f << text;
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

double percentile(std::vector<double> v, double q) {  // linear interpolation (numpy default)
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  auto lo = static_cast<std::size_t>(std::floor(pos));
  std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// Letterbox geometry of one index record (input pixel -> original image pixel:
// arttrack::to_original, the core's one implementation); none without a record.
std::optional<arttrack::Letterbox> geometry_of(const Entry& e) {
  arttrack::Letterbox g;
  if (!e.record || !e.record->contains("scale") || !e.record->contains("pad")) return std::nullopt;
  const Json& r = *e.record;
  auto scale = json_number_array(r["scale"], e.file + " scale");
  auto pad = json_number_array(r["pad"], e.file + " pad");
  if (scale.size() != 2 || pad.size() != 2 || !(scale[0] > 0) || !(scale[1] > 0))
    throw std::runtime_error("index entry " + e.file + ": scale and pad must be [x, y] pairs, scale > 0");
  g.scale_x = scale[0];
  g.scale_y = scale[1];
  g.pad_x = pad[0];
  g.pad_y = pad[1];
  if (r.contains("crop")) {
    auto crop = json_number_array(r["crop"], e.file + " crop");
    if (crop.size() != 4) throw std::runtime_error("index entry " + e.file + ": crop must be [x0, y0, x1, y1]");
    g.crop_x = crop[0];
    g.crop_y = crop[1];
  }
  return g;
}

// (1, C, H, W) slice -> (H, W, C) row-major
std::vector<float> nchw_to_hwc(const float* p, std::int64_t c, std::int64_t h, std::int64_t w) {
  std::vector<float> out(static_cast<std::size_t>(c * h * w));
  for (std::int64_t k = 0; k < c; ++k)
    for (std::int64_t i = 0; i < h * w; ++i) out[static_cast<std::size_t>(i * c + k)] = p[k * h * w + i];
  return out;
}

OrderedJson decode_one(const Meta& meta, const Args& args, const Entry& entry,
                       const std::vector<const float*>& outs, double locref_stdev) {
  int ip = -1, il = -1;
  for (std::size_t k = 0; k < meta.outputs.size(); ++k) {
    if (meta.outputs[k].name == "part_prob") ip = static_cast<int>(k);
    if (meta.outputs[k].name == "locref") il = static_cast<int>(k);
  }
  const Shape& ps = meta.outputs[static_cast<std::size_t>(ip)].shape;
  std::int64_t J = ps[1], H = ps[2], W = ps[3];
  std::vector<float> score = nchw_to_hwc(outs[static_cast<std::size_t>(ip)], J, H, W);
  std::vector<float> loc;
  arttrack::LocrefMapView lv;
  if (il >= 0) {
    loc = nchw_to_hwc(outs[static_cast<std::size_t>(il)], 2 * J, H, W);  // (H, W, 2J) == (H, W, J, 2)
    lv.data = loc.data();
    lv.shape = {H, W, J, 2};
  }
  arttrack::ScoreMapView sv;
  sv.data = score.data();
  sv.shape = {H, W, J};
  std::vector<float> pose(static_cast<std::size_t>(3 * J));
  arttrack::argmax_pose(sv, lv, meta.stride, locref_stdev, pose.data());
  arttrack::PeakParams pp;
  pp.stride = meta.stride;
  pp.nms_radius = args.nms_radius;
  pp.min_score = args.min_score;
  pp.locref_stdev = locref_stdev;
  arttrack::Peaks peaks = arttrack::find_peaks(sv, lv, pp);
  const std::optional<arttrack::Letterbox> geometry = geometry_of(entry);
  const arttrack::Letterbox g = geometry.value_or(arttrack::Letterbox{});  // identity

  OrderedJson out;
  out["file"] = entry.file;
  if (entry.record && entry.record->contains("image"))
    out["image"] = json_string((*entry.record)["image"], entry.file + " image");
  if (entry.record && entry.record->contains("person") && (*entry.record)["person"].is_number())
    out["person"] = json_integer((*entry.record)["person"], entry.file + " person");
  out["coordinates"] = geometry ? "original" : "input";
  OrderedJson joints = OrderedJson::array();
  for (std::int64_t j = 0; j < J; ++j) {
    auto [x, y] = arttrack::to_original(g, pose[static_cast<std::size_t>(3 * j)], pose[static_cast<std::size_t>(3 * j + 1)]);
    joints.push_back({x, y, pose[static_cast<std::size_t>(3 * j + 2)]});
  }
  out["joints"] = std::move(joints);
  OrderedJson peak_list = OrderedJson::array();
  for (std::int64_t n = 0; n < peaks.size(); ++n) {
    auto un = static_cast<std::size_t>(n);
    auto [x, y] = arttrack::to_original(g, peaks.xy[2 * un], peaks.xy[2 * un + 1]);
    peak_list.push_back({peaks.part[un], x, y, peaks.score[un]});
  }
  out["peaks"] = std::move(peak_list);
  return out;
}

int run(const Args& args) {
  Meta meta = load_meta(args.meta);
  const std::int64_t batch = meta.input_shape[0];
  Shape per_image(meta.input_shape.begin() + 1, meta.input_shape.end());
  const std::int64_t image_floats = shape_size(per_image);

  int part_idx = -1;
  for (std::size_t k = 0; k < meta.outputs.size(); ++k)
    if (meta.outputs[k].name == "part_prob") part_idx = static_cast<int>(k);
  double locref_stdev = meta.locref_stdev.value_or(7.2801);
  if (args.decode) {
    if (part_idx < 0) throw std::runtime_error(args.meta + ": --decode needs a 'part_prob' output");
    if (meta.outputs[static_cast<std::size_t>(part_idx)].shape.size() != 4)
      throw std::runtime_error(args.meta + ": part_prob must be 4-dimensional (N, J, H, W)");
    if (!meta.locref_stdev)
      std::cerr << "arttrack-infer: note: " << args.meta << " has no locref_stdev; using 7.2801\n";
  }

  std::vector<Entry> entries = list_inputs(args.input);

  BackendOptions bo;
  bo.model_path = args.model;
  bo.input_name = meta.input_name;
  bo.input_shape = meta.input_shape;
  for (const auto& o : meta.outputs) bo.output_names.push_back(o.name);
  bo.device_id = args.device_id;
  bo.threads = args.threads;
  if (!fs::is_regular_file(args.model)) throw std::runtime_error("model file " + args.model + " does not exist or is not a regular file");
  std::unique_ptr<Backend> backend = args.backend == "acl" ? make_acl_backend(bo) : make_cpu_backend(bo);

  fs::create_directories(args.output);
  std::vector<float> input(static_cast<std::size_t>(batch * image_floats));
  std::vector<double> latency_ms;  // per image (batch time / images in the batch)
  OrderedJson records = OrderedJson::array(), predictions = OrderedJson::array();
  double warmup_ms = 0.0;

  auto check_outputs = [&](const std::vector<Tensor>& outs) {
    if (outs.size() != meta.outputs.size())
      throw std::runtime_error("the model returned " + std::to_string(outs.size()) + " outputs, the metadata lists " +
                               std::to_string(meta.outputs.size()));
    for (std::size_t k = 0; k < outs.size(); ++k)
      if (outs[k].shape != meta.outputs[k].shape)
        throw std::runtime_error("model output '" + meta.outputs[k].name + "' has shape " + shape_str(outs[k].shape) +
                                 " but the metadata says " + shape_str(meta.outputs[k].shape) +
                                 " (model and metadata from different exports?)");
  };

  for (std::size_t first = 0; first < entries.size(); first += static_cast<std::size_t>(batch)) {
    std::size_t n = std::min(entries.size() - first, static_cast<std::size_t>(batch));
    std::fill(input.begin(), input.end(), 0.0f);  // a short last batch is padded with zeros
    for (std::size_t b = 0; b < n; ++b)
      read_bin(fs::path(args.input) / entries[first + b].file, input.data() + b * static_cast<std::size_t>(image_floats),
               image_floats, per_image);
    if (first == 0 && args.warmup > 0) {
      auto t0 = std::chrono::steady_clock::now();
      for (int w = 0; w < args.warmup; ++w) check_outputs(backend->run(input));
      warmup_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / args.warmup;
    }
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Tensor> outs = backend->run(input);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    check_outputs(outs);
    for (std::size_t b = 0; b < n; ++b) {
      latency_ms.push_back(ms / static_cast<double>(n));
      const Entry& e = entries[first + b];
      std::string stem = fs::path(e.file).stem().string();
      OrderedJson files = OrderedJson::array();
      std::vector<const float*> slices;
      for (std::size_t k = 0; k < outs.size(); ++k) {
        std::int64_t per = shape_size(outs[k].shape) / batch;
        const float* p = outs[k].data.data() + b * static_cast<std::size_t>(per);
        slices.push_back(p);
        std::string name = stem + "_" + std::to_string(k) + ".bin";
        write_bin(fs::path(args.output) / name, p, per);
        files.push_back(name);
      }
      records.push_back({{"file", e.file}, {"outputs", std::move(files)}, {"latency_ms", ms / static_cast<double>(n)}});
      if (args.decode) {
        try {
          predictions.push_back(decode_one(meta, args, e, slices, locref_stdev));
        } catch (const std::invalid_argument& ex) {
          throw std::runtime_error("decoding " + e.file + ": " + ex.what());
        }
      }
    }
  }

  double sum = 0.0;
  for (double v : latency_ms) sum += v;
  double mean = sum / static_cast<double>(latency_ms.size());
  const double nan = std::nan("");  // written as null
  OrderedJson out_specs = OrderedJson::array();
  for (std::size_t k = 0; k < meta.outputs.size(); ++k) {
    Shape s = meta.outputs[k].shape;
    s[0] = 1;
    out_specs.push_back({{"index", k}, {"name", meta.outputs[k].name}, {"shape", s}, {"dtype", "float32"},
                         {"layout", "NCHW"}, {"suffix", "_" + std::to_string(k) + ".bin"}});
  }
  OrderedJson doc;
  doc["runner"] = std::string("arttrack-infer ") + arttrack::core_version();
  doc["backend"] = backend->name();
  doc["model"] = fs::absolute(args.model).string();
  doc["meta"] = fs::absolute(args.meta).string();
  doc["input_dir"] = fs::absolute(args.input).string();
  doc["input"] = {{"name", meta.input_name}, {"shape", meta.input_shape}, {"layout", meta.layout}};
  doc["batch"] = batch;
  doc["threads"] = args.threads;
  doc["outputs"] = std::move(out_specs);
  doc["num_images"] = latency_ms.size();
  doc["latency_ms"] = {{"mean", mean},
                       {"p50", percentile(latency_ms, 50)},
                       {"p95", percentile(latency_ms, 95)},
                       {"min", *std::min_element(latency_ms.begin(), latency_ms.end())},
                       {"max", *std::max_element(latency_ms.begin(), latency_ms.end())},
                       {"warmup", args.warmup > 0 ? warmup_ms : nan}};
  doc["images_per_second"] = mean > 0 ? 1000.0 / mean : nan;
  doc["entries"] = std::move(records);
  write_text(fs::path(args.output) / "runner.json", dump_json(doc));

  if (args.decode) {
    OrderedJson pred;
    pred["stride"] = meta.stride;
    pred["locref_stdev"] = locref_stdev;
    pred["nms_radius"] = args.nms_radius;
    pred["min_score"] = args.min_score;
    pred["joints_format"] = "[x, y, score] per joint (single-person argmax with locref)";
    pred["peaks_format"] = "[joint, x, y, score]";
    pred["predictions"] = std::move(predictions);
    write_text(fs::path(args.output) / "predictions.json", dump_json(pred));
  }
  std::cerr << "arttrack-infer: " << latency_ms.size() << " images, " << backend->name() << ", mean "
            << mean << " ms/image, outputs in " << args.output << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse_args(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "arttrack-infer: error: " << e.what() << "\n" << kUsage;
    return 2;
  }
  try {
    return run(args);
  } catch (const std::exception& e) {
    std::cerr << "arttrack-infer: error: " << e.what() << "\n";
    return 1;
  }
}
