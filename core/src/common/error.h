// The core's error type: every failure carries a NicStatus (the C API's code) and a message a
// user can act on. The C API turns it into a status + nic_last_error().
#pragma once

#include <stdexcept>
#include <string>

#include "nic/nic.h"

namespace nic {

class Error : public std::runtime_error {
 public:
  Error(NicStatus status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  NicStatus status() const { return status_; }

 private:
  NicStatus status_;
};

// Throws Error(status, message) unless condition holds. A literal message costs nothing until
// it is thrown (checks inside per-symbol loops use this form).
inline void require(bool condition, NicStatus status, const char* message) {
  if (!condition) throw Error(status, message);
}
inline void require(bool condition, NicStatus status, const std::string& message) {
  if (!condition) throw Error(status, message);
}

}  // namespace nic
