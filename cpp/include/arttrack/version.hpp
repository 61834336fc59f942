#pragma once

namespace arttrack {
// Version of the C++ core, kept equal to the Python package version.
const char* core_version() noexcept;
}  // namespace arttrack
