// Replays fuzz inputs through a fuzz target's entry point in the normal test
// build (no libFuzzer): the seed corpus fuzz/corpus/<target>/ and the inputs of
// crashes that were found and fixed, fuzz/regressions/<target>/. Each
// replay_<target>_test.cc includes its fuzz/<target>_fuzz.cc with
// LLVMFuzzerTestOneInput renamed, so a fixed crash stays fixed in every build
// (its target aborts on any broken property, so a regression fails the test).
#ifndef LANEWAY_TESTS_UNIT_FUZZ_REPLAY_H_
#define LANEWAY_TESTS_UNIT_FUZZ_REPLAY_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace laneway::testing_util {

using FuzzEntry = int (*)(const uint8_t*, size_t);

// Runs every file of fuzz/corpus/<target>/ and fuzz/regressions/<target>/;
// returns how many ran.
inline size_t ReplayFuzzInputs(const std::string& target, FuzzEntry entry) {
  size_t n = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const std::filesystem::path dir =
        std::filesystem::path(LANEWAY_SOURCE_DIR) / "fuzz" / kind / target;
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
      SCOPED_TRACE(e.path().string());
      entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++n;
    }
  }
  return n;
}

}  // namespace laneway::testing_util

#endif  // LANEWAY_TESTS_UNIT_FUZZ_REPLAY_H_
