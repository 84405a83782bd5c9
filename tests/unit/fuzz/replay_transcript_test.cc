// The transcript fuzz target's seeds and fixed crashes, replayed (replay.h).
#define LLVMFuzzerTestOneInput FuzzTranscriptInput
#include "fuzz/transcript_fuzz.cc"
#undef LLVMFuzzerTestOneInput

#include "tests/unit/fuzz/replay.h"

TEST(SecurityFuzzReplayTest, TranscriptSeedsAndFixedCrashesPass) {
  EXPECT_GT(laneway::testing_util::ReplayFuzzInputs("transcript", FuzzTranscriptInput), 0u);
}
