// Minimal test harness for the C++ unit tests (no third-party framework needed).
// Each test file defines TEST cases with ARTTRACK_TEST(name) and ends with ARTTRACK_TEST_MAIN().
#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace arttrack_test {

struct Registry {
  std::vector<std::pair<std::string, std::function<void()>>> tests;
  static Registry& get() {
    static Registry r;
    return r;
  }
};

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { Registry::get().tests.emplace_back(name, std::move(fn)); }
};

inline int run_all() {
  int failed = 0;
  for (auto& [name, fn] : Registry::get().tests) {
    try {
      fn();
      std::printf("[ PASS ] %s\n", name.c_str());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("[ FAIL ] %s: %s\n", name.c_str(), e.what());
    }
  }
  std::printf("%zu tests, %d failed\n", Registry::get().tests.size(), failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace arttrack_test

#define ARTTRACK_CAT2(a, b) a##b
#define ARTTRACK_CAT(a, b) ARTTRACK_CAT2(a, b)
#define ARTTRACK_TEST(name)                                                                  \
  static void name();                                                                        \
  static arttrack_test::Registrar ARTTRACK_CAT(registrar_, name)(#name, name);               \
  static void name()

#define CHECK(cond)                                                                          \
  do {                                                                                       \
    if (!(cond))                                                                             \
      throw arttrack_test::Failure(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                   ": CHECK(" #cond ") failed");                            \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                \
  do {                                                                                       \
    double va_ = (a), vb_ = (b);                                                             \
    if (!(std::fabs(va_ - vb_) <= (tol)))                                                    \
      throw arttrack_test::Failure(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                   ": " #a " = " + std::to_string(va_) + " vs " #b " = " +  \
                                   std::to_string(vb_));                                     \
  } while (0)

#define CHECK_THROWS(expr, ExcType)                                                          \
  do {                                                                                       \
    bool thrown_ = false;                                                                    \
    try {                                                                                    \
      expr;                                                                                  \
    } catch (const ExcType&) {                                                               \
      thrown_ = true;                                                                        \
    }                                                                                        \
    if (!thrown_)                                                                            \
      throw arttrack_test::Failure(std::string(__FILE__) + ":" + std::to_string(__LINE__) + \
                                   ": expected " #ExcType " from " #expr);                  \
  } while (0)

#define ARTTRACK_TEST_MAIN() \
  int main() { return arttrack_test::run_all(); }
