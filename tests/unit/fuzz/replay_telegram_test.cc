// The telegram fuzz target's seeds and fixed crashes, replayed (replay.h).
#define LLVMFuzzerTestOneInput FuzzTelegramInput
#include "fuzz/telegram_fuzz.cc"
#undef LLVMFuzzerTestOneInput

#include "tests/unit/fuzz/replay.h"

TEST(SecurityFuzzReplayTest, TelegramSeedsAndFixedCrashesPass) {
  EXPECT_GT(laneway::testing_util::ReplayFuzzInputs("telegram", FuzzTelegramInput), 0u);
}
