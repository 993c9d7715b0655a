#include "io/file_bytes.h"

#include <fstream>

#include "common/error.h"

namespace nic {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(bool(in), NIC_ERROR_IO, "cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  require(size >= 0 && bool(in), NIC_ERROR_IO, "cannot read '" + path + "'");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  require(in.gcount() == size, NIC_ERROR_IO, "cannot read '" + path + "'");
  return bytes;
}

}  // namespace nic
