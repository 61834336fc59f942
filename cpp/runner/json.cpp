#include "json.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace arttrack::runner {
namespace {

// Python's non-finite literals become null outside strings (nlohmann::json follows RFC 8259,
// which has no such values). Each replacement keeps the literal's length, a blank before
// NaN included, so the line and column in a later error message still match the file.
std::string python_literals_to_null(const std::string& text) {
  static const std::pair<const char*, const char*> kLiterals[] = {
      {"-Infinity", "null     "}, {"Infinity", "null    "}, {"NaN", "null"}};
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) out += text[++i];
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const auto& [literal, null] : kLiterals) {
      std::size_t n = std::strlen(literal);
      bool whole = text.compare(i, n, literal) == 0 &&
                   (i + n == text.size() || !std::isalnum(static_cast<unsigned char>(text[i + n])));
      if (!whole) continue;
      if (std::strlen(null) > n && !out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      out += null;
      i += n - 1;
      replaced = true;
      break;
    }
    if (!replaced) out += c;
  }
  return out;
}

// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while
// parsing value - invalid literal; last read: '...'" -> "invalid JSON at line 1, column 5:
// syntax error while parsing value - invalid literal". The token read so far is left out:
// it can be binary, or the rest of the file after an unterminated string.
std::string describe(const nlohmann::json::exception& e) {
  std::string msg = e.what();
  std::size_t close = msg.find("] ");
  if (msg.rfind("[json.exception.", 0) == 0 && close != std::string::npos) msg.erase(0, close + 2);
  std::size_t last = msg.find("; last read: '");
  if (last != std::string::npos) msg.erase(last, msg.rfind('\'') + 1 - last);  // names after it have no quote
  const std::string at = "parse error at ";
  if (msg.rfind(at, 0) == 0) return "invalid JSON at " + msg.substr(at.size());
  return "invalid JSON: " + msg;
}

const char* type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "a number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::binary:
    case Json::value_t::discarded: break;
  }
  return "another type";
}

[[noreturn]] void type_error(const std::string& what, const char* want, const Json& got) {
  throw std::runtime_error(what + " must be " + want + ", got " + type_name(got));
}

}  // namespace

Json load_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw std::runtime_error("cannot read " + path);
  try {
    return Json::parse(python_literals_to_null(ss.str()));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": " + describe(e));
  }
}

std::string dump_json(const OrderedJson& doc) {
  return doc.dump(1, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

const Json& json_member(const Json& object, const std::string& key, const std::string& what) {
  if (!object.is_object()) type_error(what, "an object", object);
  auto it = object.find(key);
  if (it == object.end()) throw std::runtime_error(what + " has no key '" + key + "'");
  return *it;
}

double json_number(const Json& j, const std::string& what) {
  if (!j.is_number()) type_error(what, "a number", j);
  return j.get<double>();
}

std::int64_t json_integer(const Json& j, const std::string& what) {
  // nlohmann keeps whole numbers written without '.' or exponent exactly (as unsigned when
  // not negative); a float counts when it is whole and exact in a double.
  if (j.is_number_unsigned()) {
    if (j.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      type_error(what, "an integer below 2^63", j);
    return static_cast<std::int64_t>(j.get<std::uint64_t>());
  }
  if (j.is_number_integer()) return j.get<std::int64_t>();
  double v = json_number(j, what);
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9.0e15) type_error(what, "an integer", j);
  return static_cast<std::int64_t>(v);
}

const std::string& json_string(const Json& j, const std::string& what) {
  if (!j.is_string()) type_error(what, "a string", j);
  return j.get_ref<const std::string&>();
}

const Json::array_t& json_array(const Json& j, const std::string& what) {
  if (!j.is_array()) type_error(what, "an array", j);
  return j.get_ref<const Json::array_t&>();
}

std::vector<std::int64_t> json_int_array(const Json& j, const std::string& what) {
  std::vector<std::int64_t> out;
  const auto& a = json_array(j, what);
  for (std::size_t i = 0; i < a.size(); ++i) out.push_back(json_integer(a[i], what + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<double> json_number_array(const Json& j, const std::string& what) {
  std::vector<double> out;
  const auto& a = json_array(j, what);
  for (std::size_t i = 0; i < a.size(); ++i) out.push_back(json_number(a[i], what + "[" + std::to_string(i) + "]"));
  return out;
}

}  // namespace arttrack::runner
