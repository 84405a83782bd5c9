#include "common/paths.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.h"

namespace laneway::common {
namespace {

using ::laneway::testing_util::TempDir;

using namespace std::string_literals;

// Sets an environment variable for one scope and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value == nullptr) {
      unsetenv(name);
    } else {
      setenv(name, value, 1);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// ---- layout ------------------------------------------------------------------

TEST(PathsTest, PathsForHomeLaysOutEverythingUnderHome) {
  Paths p = PathsForHome("/srv/lw");
  EXPECT_EQ(p.home, "/srv/lw");
  EXPECT_EQ(p.run_dir, "/srv/lw/run");
  EXPECT_EQ(p.control_socket, "/srv/lw/run/control.sock");
  EXPECT_EQ(p.worker_socket, "/srv/lw/run/workers.sock");
  EXPECT_EQ(p.instance_lock, "/srv/lw/run/supervisor.lock");
  EXPECT_EQ(p.journal_dir, "/srv/lw/journal");
  EXPECT_EQ(p.config_file, "/srv/lw/laneway.toml");
  EXPECT_EQ(p.session_index, "/srv/lw/sessions.json");
  EXPECT_EQ(p.control_endpoint(), "ipc:///srv/lw/run/control.sock");
  EXPECT_EQ(p.worker_endpoint(), "ipc:///srv/lw/run/workers.sock");
}

TEST(PathsTest, SessionFilesLiveInTheAgentsSessionsDirWithEscapedNames) {
  Paths p = PathsForHome("/h");
  EXPECT_EQ(p.SessionsDir("main"), "/h/agents/main/sessions");
  EXPECT_EQ(p.TranscriptPath("main", "agent:main:chat"),
            "/h/agents/main/sessions/agent%3Amain%3Achat.jsonl");
  EXPECT_EQ(p.SessionLockPath("main", "agent:main:chat"),
            "/h/agents/main/sessions/agent%3Amain%3Achat.lock");
}

TEST(PathsTest, AgentIdCannotEscapeTheAgentsDir) {
  Paths p = PathsForHome("/h");
  EXPECT_EQ(p.SessionsDir("../x"), "/h/agents/%2E%2E%2Fx/sessions");
  EXPECT_EQ(p.SessionsDir(".."), "/h/agents/%2E%2E/sessions");
}

TEST(PathsTest, ResolvePathsPrefersLanewayHome) {
  ScopedEnv lw("LANEWAY_HOME", "/custom/home");
  Result<Paths> p = ResolvePaths();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->home, "/custom/home");
}

TEST(PathsTest, ResolvePathsFallsBackToDotLanewayInHome) {
  ScopedEnv lw("LANEWAY_HOME", nullptr);
  ScopedEnv home("HOME", "/home/someone");
  Result<Paths> p = ResolvePaths();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->home, "/home/someone/.laneway");
  EXPECT_EQ(p->run_dir, "/home/someone/.laneway/run");
}

TEST(PathsTest, ResolvePathsFailsWithNeitherVariable) {
  ScopedEnv lw("LANEWAY_HOME", "");
  ScopedEnv home("HOME", nullptr);
  EXPECT_FALSE(ResolvePaths().ok());
}

// ---- session keys --------------------------------------------------------------

TEST(SessionKeyTest, BareNameBecomesFullKeyOfTheAgent) {
  Result<std::string> k = NormalizeSessionKey("main", "chat-42");
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(*k, "agent:main:chat-42");
  EXPECT_EQ(*NormalizeSessionKey("ops", "main"), "agent:ops:main");
}

TEST(SessionKeyTest, FullKeyOfTheSameAgentIsKept) {
  EXPECT_EQ(*NormalizeSessionKey("main", "agent:main:chat"), "agent:main:chat");
  EXPECT_EQ(*NormalizeSessionKey("main", "agent:main:a:b:c"), "agent:main:a:b:c");
}

TEST(SessionKeyTest, NormalizingIsIdempotent) {
  Result<std::string> once = NormalizeSessionKey("main", "x");
  ASSERT_TRUE(once.ok());
  Result<std::string> twice = NormalizeSessionKey("main", *once);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(*twice, *once);
}

TEST(SessionKeyTest, NormalizedKeyOfALongBareNameNormalizesAgain) {
  // The 256-byte limit is on the full key: "agent:main:" + 245 bytes fits exactly.
  Result<std::string> once = NormalizeSessionKey("main", std::string(245, 'a'));
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(once->size(), 256u);
  EXPECT_TRUE(NormalizeSessionKey("main", *once).ok()) << once->size() << " bytes";
  EXPECT_FALSE(NormalizeSessionKey("main", std::string(246, 'a')).ok());
}

TEST(SessionKeyTest, FullKeyOfAnotherAgentIsRejectedNamingBoth) {
  Result<std::string> k = NormalizeSessionKey("main", "agent:ops:chat");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(k.status().message().find("ops"), std::string::npos) << k.status().message();
  EXPECT_NE(k.status().message().find("main"), std::string::npos) << k.status().message();
  // A prefix of the agent's id is another agent.
  EXPECT_FALSE(NormalizeSessionKey("main", "agent:mai:chat").ok());
  EXPECT_FALSE(NormalizeSessionKey("mai", "agent:main:chat").ok());
}

TEST(SessionKeyTest, EmptyKeyIsRejected) {
  Result<std::string> k = NormalizeSessionKey("main", "");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), Status::Code::kInvalidArgument);
}

TEST(SessionKeyTest, KeysOverTwoHundredFiftySixBytesAreRejected) {
  EXPECT_TRUE(NormalizeSessionKey("main", std::string(200, 'a')).ok());
  EXPECT_FALSE(NormalizeSessionKey("main", std::string(257, 'a')).ok());
  EXPECT_FALSE(NormalizeSessionKey("main", std::string(100000, 'a')).ok());
  std::string full = "agent:main:" + std::string(256 - 11, 'b');
  ASSERT_EQ(full.size(), 256u);
  EXPECT_TRUE(NormalizeSessionKey("main", full).ok());
  EXPECT_FALSE(NormalizeSessionKey("main", full + "b").ok());
}

TEST(SessionKeyTest, ControlCharactersAreRejected) {
  for (std::string bad : {"a\nb"s, "a\0b"s, "\tx"s, "x\x1f"s, "x\x7f"s, "agent:main:a\rb"s}) {
    SCOPED_TRACE(bad);
    Result<std::string> k = NormalizeSessionKey("main", bad);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), Status::Code::kInvalidArgument);
  }
  // Non-ASCII UTF-8 is not a control character.
  EXPECT_TRUE(NormalizeSessionKey("main", "caf\xc3\xa9").ok());
}

TEST(SessionKeyTest, MalformedFullKeysAreRejected) {
  for (const char* bad : {"agent:", "agent:main", "agent:main:", "agent::chat", "agent::"}) {
    SCOPED_TRACE(bad);
    Result<std::string> k = NormalizeSessionKey("main", bad);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(SessionKeyTest, AgentOfSessionKeyExtractsTheAgent) {
  EXPECT_EQ(AgentOfSessionKey("agent:main:chat"), "main");
  EXPECT_EQ(AgentOfSessionKey("agent:ops:a:b"), "ops");
  EXPECT_EQ(AgentOfSessionKey("agent:x:y"), "x");
}

TEST(SessionKeyTest, AgentOfSessionKeyIsEmptyForOtherForms) {
  for (const char* k : {"", "chat", "agent", "agent:", "agent:main", "agent:main:", "agent::x",
                        "Agent:main:x", "xagent:main:x", " agent:main:x"}) {
    EXPECT_EQ(AgentOfSessionKey(k), "") << '"' << k << '"';
  }
}

// ---- file names ----------------------------------------------------------------

TEST(EscapeFileNameTest, KeepsSafeCharacters) {
  const std::string safe = "ABCXYZabcxyz0189_-";
  EXPECT_EQ(EscapeFileName(safe), safe);
  EXPECT_EQ(EscapeFileName(""), "");
}

TEST(EscapeFileNameTest, EscapesEverythingElseAsPercentHex) {
  EXPECT_EQ(EscapeFileName("a/b"), "a%2Fb");
  EXPECT_EQ(EscapeFileName("."), "%2E");
  EXPECT_EQ(EscapeFileName(".."), "%2E%2E");
  EXPECT_EQ(EscapeFileName("%"), "%25");
  EXPECT_EQ(EscapeFileName("a:b"), "a%3Ab");
  EXPECT_EQ(EscapeFileName(" "), "%20");
  EXPECT_EQ(EscapeFileName("\\"), "%5C");
  EXPECT_EQ(EscapeFileName("\xff"), "%FF");
  EXPECT_EQ(EscapeFileName("\0"s), "%00");
  EXPECT_EQ(EscapeFileName("\xc3\xa9"), "%C3%A9");
}

TEST(EscapeFileNameTest, EveryByteOutsideTheSafeSetIsEscaped) {
  for (int c = 0; c < 256; ++c) {
    std::string in(1, static_cast<char>(c));
    std::string out = EscapeFileName(in);
    bool safe = std::isalnum(c) || c == '_' || c == '-';
    if (safe && c < 128) {
      EXPECT_EQ(out, in) << c;
    } else {
      ASSERT_EQ(out.size(), 3u) << c;
      EXPECT_EQ(out[0], '%') << c;
    }
    EXPECT_EQ(out.find('/'), std::string::npos) << c;
    EXPECT_EQ(out.find('\0'), std::string::npos) << c;
  }
}

TEST(EscapeFileNameTest, DistinctKeysMapToDistinctNames) {
  const std::vector<std::string> keys = {
      "a/b",   "a%2Fb", "a%2fb", "a_b",   "a-b", "a.b", "a:b", "a%3Ab", "a b", "ab",     "a%b",
      "a%25b", "%",     "%25",   "%2525", ".",   "..",  "%2E", "",      "A/B", "a\xff"s, "a%FF"};
  std::set<std::string> names;
  for (const std::string& k : keys) names.insert(EscapeFileName(k));
  EXPECT_EQ(names.size(), keys.size());
}

TEST(EscapeFileNameTest, EveryAcceptedSessionKeyFitsInOneFileName) {
  const std::vector<std::string> names = {std::string(256, 'a'), std::string(85, '.'),
                                          std::string(30 * 3, '\xe4')};
  for (const std::string& name : names) {
    Result<std::string> key = NormalizeSessionKey("main", name);
    if (!key.ok()) continue;  // rejecting it is also fine
    EXPECT_LE(EscapeFileName(*key).size() + std::string(".jsonl").size(),
              static_cast<size_t>(NAME_MAX))
        << *key;
  }
}

// ---- MakeDirs ------------------------------------------------------------------

TEST(MakeDirsTest, CreatesNestedDirectoriesWithMode) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/a/b/c";
  Status s = MakeDirs(dir, 0700);
  ASSERT_TRUE(s.ok()) << s.message();
  for (const std::string& d : {tmp.path() + "/a", tmp.path() + "/a/b", dir}) {
    struct stat st;
    ASSERT_EQ(stat(d.c_str(), &st), 0) << d;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << d;
    EXPECT_EQ(st.st_mode & 0077, 0u) << d;  // nothing for group or others
  }
}

TEST(MakeDirsTest, SucceedsWhenTheDirectoryExists) {
  TempDir tmp;
  EXPECT_TRUE(MakeDirs(tmp.path(), 0700).ok());
  EXPECT_TRUE(MakeDirs(tmp.path() + "/x", 0700).ok());
  EXPECT_TRUE(MakeDirs(tmp.path() + "/x", 0700).ok());
  EXPECT_TRUE(MakeDirs(tmp.path() + "/x/y/", 0700).ok());
  EXPECT_TRUE(std::filesystem::is_directory(tmp.path() + "/x/y"));
}

TEST(MakeDirsTest, FailsOnAPathThroughARegularFile) {
  TempDir tmp;
  const std::string file = tmp.path() + "/file";
  std::ofstream(file) << "x";
  Status s = MakeDirs(file + "/sub/dir", 0700);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(file), std::string::npos) << s.message();
  EXPECT_FALSE(std::filesystem::exists(file + "/sub"));
}

TEST(MakeDirsTest, FailsWhenThePathIsARegularFile) {
  TempDir tmp;
  const std::string file = tmp.path() + "/file";
  std::ofstream(file) << "x";
  Status s = MakeDirs(file, 0700);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
}

TEST(MakeDirsTest, RejectsEmptyPath) {
  Status s = MakeDirs("", 0700);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace laneway::common
