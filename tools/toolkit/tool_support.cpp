#include "toolkit/tool_support.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>

namespace nic::tools {

double parse_number(const std::string& option, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || errno == ERANGE || !std::isfinite(v))
    throw ToolError(option + ": '" + text + "' is not a number");
  return v;
}

int64_t parse_integer(const std::string& option, const std::string& text, int64_t lo, int64_t hi) {
  const double v = parse_number(option, text);
  if (v != std::floor(v) || v < double(lo) || v > double(hi))
    throw ToolError(option + " must be an integer in " + std::to_string(lo) + ".." +
                    std::to_string(hi));
  return int64_t(v);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::string> list_png_files(const std::string& folder) {
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (entry.is_regular_file(ec) && ext == ".png") paths.push_back(entry.path().string());
  }
  if (ec) throw ToolError("cannot list " + folder + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace nic::tools
