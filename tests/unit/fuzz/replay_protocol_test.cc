// The protocol fuzz target's seeds and fixed crashes, replayed (replay.h).
#define LLVMFuzzerTestOneInput FuzzProtocolInput
#include "fuzz/protocol_fuzz.cc"
#undef LLVMFuzzerTestOneInput

#include "tests/unit/fuzz/replay.h"

TEST(SecurityFuzzReplayTest, ProtocolSeedsAndFixedCrashesPass) {
  EXPECT_GT(laneway::testing_util::ReplayFuzzInputs("protocol", FuzzProtocolInput), 0u);
}
