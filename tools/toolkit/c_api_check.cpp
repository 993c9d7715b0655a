#include "toolkit/tool_support.h"

namespace nic::tools {

void check(NicStatus status, const std::string& what) {
  if (status != NIC_OK)
    throw ToolError(what + ": " + nic_status_string(status) + ": " + nic_last_error());
}

}  // namespace nic::tools
