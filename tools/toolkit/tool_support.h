// What nic's programs (the CLI, nic-train, the benchmark engine) share beside PNG files and PSNR:
// one error type for the user, checked numbers from the command line, timing and folder listing.
#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "nic/nic.h"

namespace nic::tools {

// A failure to report to the user as it is (the program prints it and exits 1).
struct ToolError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The whole of `text` as a number; else ToolError "OPTION: 'TEXT' is not a number".
double parse_number(const std::string& option, const std::string& text);
// The whole of `text` as an integer in lo..hi; else ToolError "OPTION must be an integer in
// lo..hi".
int64_t parse_integer(const std::string& option, const std::string& text, int64_t lo, int64_t hi);

// ToolError "WHAT: STATUS: nic_last_error()" unless status is NIC_OK (programs on libnic only:
// it is in its own object file, so that nic-train, which has no libnic, does not pull it in).
void check(NicStatus status, const std::string& what);

double seconds_since(std::chrono::steady_clock::time_point start);

// The PNG files (.png in any case) directly in `folder`, sorted; ToolError if it cannot be read.
std::vector<std::string> list_png_files(const std::string& folder);

}  // namespace nic::tools
