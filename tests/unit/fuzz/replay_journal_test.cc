// The journal fuzz target's seeds and fixed crashes, replayed (replay.h).
#define LLVMFuzzerTestOneInput FuzzJournalInput
#include "fuzz/journal_fuzz.cc"
#undef LLVMFuzzerTestOneInput

#include "tests/unit/fuzz/replay.h"

TEST(SecurityFuzzReplayTest, JournalSeedsAndFixedCrashesPass) {
  EXPECT_GT(laneway::testing_util::ReplayFuzzInputs("journal", FuzzJournalInput), 0u);
}
