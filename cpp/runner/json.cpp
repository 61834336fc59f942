#include "json.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace arttrack::runner {

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}

  Json parse_document() {
    Json v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("end of input");
    return v;
  }

 private:
  const std::string& s_;
  std::size_t pos_ = 0;
  static constexpr int kMaxDepth = 256;

  [[noreturn]] void fail(const std::string& expected) const {
    std::ostringstream os;
    os << "invalid JSON at offset " << pos_ << ": expected " << expected;
    throw std::runtime_error(os.str());
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool consume(const char* lit) {
    std::size_t n = std::char_traits<char>::length(lit);
    if (s_.compare(pos_, n, lit) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("less nesting");
    skip_ws();
    if (pos_ >= s_.size()) fail("a value");
    Json v;
    char c = s_[pos_];
    if (c == '{') {
      v.type_ = Json::Type::Object;
      ++pos_;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return v;
      }
      for (;;) {
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != '"') fail("a string key");
        std::string key = parse_string();
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != ':') fail("':'");
        ++pos_;
        v.obj_[key] = parse_value(depth + 1);
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return v;
        }
        fail("',' or '}'");
      }
    }
    if (c == '[') {
      v.type_ = Json::Type::Array;
      ++pos_;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return v;
      }
      for (;;) {
        v.arr_.push_back(parse_value(depth + 1));
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          return v;
        }
        fail("',' or ']'");
      }
    }
    if (c == '"') {
      v.type_ = Json::Type::String;
      v.str_ = parse_string();
      return v;
    }
    if (consume("true")) {
      v.type_ = Json::Type::Bool;
      v.bool_ = true;
      return v;
    }
    if (consume("false")) {
      v.type_ = Json::Type::Bool;
      return v;
    }
    if (consume("null")) return v;
    // Python's json writes NaN/Infinity for non-finite floats; accept them.
    if (consume("NaN")) {
      v.type_ = Json::Type::Number;
      v.num_ = std::nan("");
      return v;
    }
    if (consume("Infinity")) {
      v.type_ = Json::Type::Number;
      v.num_ = HUGE_VAL;
      return v;
    }
    if (consume("-Infinity")) {
      v.type_ = Json::Type::Number;
      v.num_ = -HUGE_VAL;
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t start = pos_;
      if (s_[pos_] == '-') ++pos_;
      auto digits = [&] {
        std::size_t d0 = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        return pos_ > d0;
      };
      if (!digits()) fail("digits");
      if (pos_ < s_.size() && s_[pos_] == '.') {
        ++pos_;
        if (!digits()) fail("digits after '.'");
      }
      if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
        ++pos_;
        if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
        if (!digits()) fail("exponent digits");
      }
      v.type_ = Json::Type::Number;
      v.num_ = std::strtod(s_.substr(start, pos_ - start).c_str(), nullptr);
      return v;
    }
    fail("a value");
  }

  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("4 hex digits");
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<std::uint32_t>(h - 'A' + 10);
      else fail("a hex digit");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (pos_ >= s_.size()) fail("closing '\"'");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("no control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("an escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            pos_ += 2;
            std::uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("a valid escape");
      }
    }
  }
};

Json Json::parse(const std::string& text) { return JsonParser(text).parse_document(); }

Json Json::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw std::runtime_error("cannot read " + path);
  try {
    return parse(ss.str());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

static const char* type_name(Json::Type t) {
  switch (t) {
    case Json::Type::Null: return "null";
    case Json::Type::Bool: return "a boolean";
    case Json::Type::Number: return "a number";
    case Json::Type::String: return "a string";
    case Json::Type::Array: return "an array";
    case Json::Type::Object: return "an object";
  }
  return "?";
}

[[noreturn]] static void type_error(const std::string& what, const char* want, Json::Type got) {
  throw std::runtime_error(what + " must be " + want + ", got " + type_name(got));
}

double Json::number(const std::string& what) const {
  if (type_ != Type::Number) type_error(what, "a number", type_);
  return num_;
}

std::int64_t Json::integer(const std::string& what) const {
  double v = number(what);
  if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) > 9.0e15) type_error(what, "an integer", type_);
  return static_cast<std::int64_t>(v);
}

const std::string& Json::string(const std::string& what) const {
  if (type_ != Type::String) type_error(what, "a string", type_);
  return str_;
}

const std::vector<Json>& Json::array(const std::string& what) const {
  if (type_ != Type::Array) type_error(what, "an array", type_);
  return arr_;
}

std::vector<std::int64_t> Json::int_array(const std::string& what) const {
  std::vector<std::int64_t> out;
  const auto& a = array(what);
  for (std::size_t i = 0; i < a.size(); ++i) out.push_back(a[i].integer(what + "[" + std::to_string(i) + "]"));
  return out;
}

std::vector<double> Json::number_array(const std::string& what) const {
  std::vector<double> out;
  const auto& a = array(what);
  for (std::size_t i = 0; i < a.size(); ++i) out.push_back(a[i].number(what + "[" + std::to_string(i) + "]"));
  return out;
}

bool Json::has(const std::string& key) const { return type_ == Type::Object && obj_.count(key) > 0; }

const Json& Json::at(const std::string& key, const std::string& what) const {
  if (type_ != Type::Object) type_error(what, "an object", type_);
  auto it = obj_.find(key);
  if (it == obj_.end()) throw std::runtime_error(what + " has no key '" + key + "'");
  return it->second;
}

const std::map<std::string, Json>& Json::object(const std::string& what) const {
  if (type_ != Type::Object) type_error(what, "an object", type_);
  return obj_;
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace arttrack::runner
