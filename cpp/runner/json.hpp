// JSON of the runner's metadata, index and result files: nlohmann::json (Debian
// nlohmann-json3-dev) plus typed accessors whose errors name the file and the field, so
// that bad input ends as one readable line (std::runtime_error), never a library message
// about internal types.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arttrack::runner {

using Json = nlohmann::json;                 // documents read
using OrderedJson = nlohmann::ordered_json;  // documents written: keys stay in insertion order

// Parses a file. Python's json module writes NaN, Infinity and -Infinity for non-finite
// floats (allow_nan is its default, and arttrack.export and arttrack.preprocess keep it);
// those values are read as null. Errors: "<path>: invalid JSON at line L, column C: ...".
Json load_json(const std::string& path);

// One indented document with a final newline; NaN and infinities become null, and bytes
// that are not UTF-8 (file names from the input folder) are replaced.
std::string dump_json(const OrderedJson& doc);

// Typed access: std::runtime_error with `what` in the message on a missing key or a
// value of another type.
const Json& json_member(const Json& object, const std::string& key, const std::string& what);
double json_number(const Json& j, const std::string& what);
std::int64_t json_integer(const Json& j, const std::string& what);  // a whole number
const std::string& json_string(const Json& j, const std::string& what);
const Json::array_t& json_array(const Json& j, const std::string& what);
std::vector<std::int64_t> json_int_array(const Json& j, const std::string& what);
std::vector<double> json_number_array(const Json& j, const std::string& what);

}  // namespace arttrack::runner
