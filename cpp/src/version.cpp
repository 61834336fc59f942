#include "arttrack/version.hpp"

namespace arttrack {
const char* core_version() noexcept { return "0.1.0"; }
}  // namespace arttrack
