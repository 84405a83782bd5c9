// The core fuzz target's seeds and fixed crashes, replayed (replay.h).
#define LLVMFuzzerTestOneInput FuzzCoreInput
#include "fuzz/core_fuzz.cc"
#undef LLVMFuzzerTestOneInput

#include "tests/unit/fuzz/replay.h"

TEST(SecurityFuzzReplayTest, CoreSeedsAndFixedCrashesPass) {
  EXPECT_GT(laneway::testing_util::ReplayFuzzInputs("core", FuzzCoreInput), 0u);
}
