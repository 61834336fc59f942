// Minimal JSON reader and writer for the runner's metadata, index and result files.
// Supports the whole JSON grammar (RFC 8259) except that numbers are kept as double.
// Errors are reported as std::runtime_error naming the offset and what was expected.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace arttrack::runner {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  static Json parse(const std::string& text);         // throws std::runtime_error
  static Json load(const std::string& path);          // parse a file; errors name the path

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Typed accessors: throw std::runtime_error with `what` in the message on a type mismatch.
  double number(const std::string& what) const;
  std::int64_t integer(const std::string& what) const;  // must be a whole number
  const std::string& string(const std::string& what) const;
  const std::vector<Json>& array(const std::string& what) const;
  std::vector<std::int64_t> int_array(const std::string& what) const;
  std::vector<double> number_array(const std::string& what) const;

  bool has(const std::string& key) const;
  const Json& at(const std::string& key, const std::string& what) const;  // object member
  const std::map<std::string, Json>& object(const std::string& what) const;

 private:
  friend class JsonParser;
  Type type_ = Type::Null;
  bool bool_ = false;
  double num_ = 0.0;
  std::string str_;
  std::vector<Json> arr_;
  std::map<std::string, Json> obj_;
};

// Writing: a tiny streaming helper producing indented JSON.
std::string json_quote(const std::string& s);
std::string json_number(double v);  // finite: shortest round-trip form; NaN/inf -> null

}  // namespace arttrack::runner
