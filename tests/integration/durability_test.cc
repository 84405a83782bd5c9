// Durability with real binaries: an acknowledged turn is never lost — not when
// the supervisor is SIGKILLed, not across a graceful stop, not when the journal
// is damaged, not when its disk is full.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>

#include "common/file_lock.h"
#include "tests/integration/harness.h"

namespace laneway::testing {
namespace {

using common::Value;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

int64_t TurnIdOf(const std::string& json) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"turn_id\":([0-9]+)"))) return std::stoll(m[1]);
  return -1;
}

// Sends a turn and stops waiting almost at once: exit 4 with the turn pending.
int64_t SendPending(const TempHome& home, const std::string& agent, const std::string& session,
                    const std::string& message) {
  CliResult r = RunCli(home, {"agent", "--agent", agent, "--session", session, "--message", message,
                              "--timeout", "150ms", "--json"});
  EXPECT_EQ(r.code, 4) << r.out << r.err;
  EXPECT_TRUE(Contains(r.out, "\"status\":\"pending\"")) << r.out;
  return TurnIdOf(r.out);
}

std::string TwoAgentConfig(const TempHome& home, const std::string& supervisor_extra = "") {
  std::string script = home.AgentScript();
  return "[supervisor]\nheartbeat_interval = \"200ms\"\nheartbeat_timeout = \"4s\"\n"
         "drain_timeout = \"10s\"\n" +
         supervisor_extra +
         "\n"
         "[agents.main]\nrunner = \"exec\"\ncommand = [\"" +
         script +
         "\"]\nkill_grace = \"300ms\"\n"
         "[agents.retry]\nrunner = \"exec\"\ncommand = [\"" +
         script +
         "\"]\nkill_grace = \"300ms\"\n"
         "retry_on_restart = true\n";
}

CliResult Wait(const TempHome& home, int64_t id) {
  return RunCli(home, {"wait", std::to_string(id), "--json"});
}

TEST(DurabilityTest, SigkilledSupervisorLosesNoAcknowledgedTurn) {
  TempHome home;
  const std::string config = TwoAgentConfig(home);
  auto sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start(config)) << sup->Log();
  const int64_t a1 = SendPending(home, "main", "a", "gate-a1");   // running, no retry
  const int64_t a2 = SendPending(home, "main", "a", "gate-a2");   // queued
  const int64_t b1 = SendPending(home, "retry", "b", "gate-b1");  // running, retried
  const int64_t b2 = SendPending(home, "retry", "b", "gate-b2");  // queued
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "busy") == 2; }));
  std::vector<pid_t> old_workers;
  for (const Value& w : Workers(home).as_array())
    old_workers.push_back(static_cast<pid_t>(IntField(w, "pid")));
  ASSERT_EQ(old_workers.size(), 2u);

  sup->Signal(SIGKILL);
  EXPECT_EQ(sup->WaitExit(), 128 + SIGKILL);
  // Start the next one at once: orphans must be gone before new workers run
  // their sessions; the session lock guarantees it.
  home.OpenGate();
  SupervisorProcess next(home);
  ASSERT_TRUE(next.Start()) << next.Log();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(old_workers[0]) && ProcessGone(old_workers[1]); }));

  CliResult ra1 = Wait(home, a1);
  EXPECT_EQ(ra1.code, 1);
  EXPECT_TRUE(Contains(ra1.out, "\"status\":\"interrupted\"")) << ra1.out;
  EXPECT_TRUE(Contains(ra1.out, "retry_on_restart = false")) << ra1.out;
  for (auto [id, text] : {std::pair{a2, "gate-a2"}, {b1, "gate-b1"}, {b2, "gate-b2"}}) {
    CliResult r = Wait(home, id);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(Contains(r.out, std::string("\"reply\":\"reply:") + text + "\"")) << r.out;
  }
  // Exactly one outcome each: asking again gives the same answer, and the
  // counters add up.
  EXPECT_EQ(Wait(home, b1).out, Wait(home, b1).out);
  const Value s = Status(home);
  EXPECT_EQ(Counter(s, "recovered_unfinished"), 4) << common::ToJson(s);
  EXPECT_EQ(Counter(s, "recovered_turns"), 3) << common::ToJson(s);
  EXPECT_TRUE(Contains(next.Log(), "event=journal_recovered_turns")) << next.Log();
  // A new turn gets an id after the recovered ones.
  CliResult fresh = RunCli(home, {"agent", "--agent", "main", "--message", "new", "--json"});
  EXPECT_EQ(TurnIdOf(fresh.out), b2 + 1) << fresh.out;
  ExpectEveryTurnSettled(home);
}

TEST(DurabilityTest, WaitFindsATurnAcceptedBeforeARestart) {
  TempHome home;
  auto sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start(ExecConfig(home))) << sup->Log();
  const int64_t running = SendPending(home, "main", "main", "gate-1");
  const int64_t queued = SendPending(home, "main", "main", "gate-2");
  // A waiter connected while the supervisor dies is told the turn is still pending.
  ASSERT_EQ(IntField(WorkerOf(home, "agent:main:main"), "queue_depth"), 1);
  // Two waiters are registered already: the CLIs above, which gave up waiting.
  auto waiter = RunCliAsync(home, {"wait", std::to_string(queued)});
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "waiting_clients") == 3; }));
  sup->Signal(SIGKILL);
  sup->WaitExit();
  CliResult lost = waiter.get();
  EXPECT_EQ(lost.code, 3);
  EXPECT_TRUE(Contains(lost.err, "laneway wait " + std::to_string(queued))) << lost.err;
  home.OpenGate();
  SupervisorProcess next(home);
  ASSERT_TRUE(next.Start()) << next.Log();
  CliResult r = RunCli(home, {"wait", std::to_string(queued)});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "reply:gate-2\n");
  EXPECT_EQ(Wait(home, running).code, 1);
  CliResult unknown = RunCli(home, {"wait", "999"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_TRUE(Contains(unknown.err, "unknown turn 999")) << unknown.err;
  ExpectEveryTurnSettled(home);
}

TEST(DurabilityTest, DownDrainsRunningTurnsKeepsQueuedOnesAndUpCarriesOn) {
  TempHome home;
  auto sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start(ExecConfig(home))) << sup->Log();
  auto running = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate-1"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  auto queued = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate-2", "--json"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "", 1));
  auto down = RunCliAsync(home, {"down"});
  ASSERT_TRUE(WaitFor([&] { return Status(home).GetBoolOr("shutting_down", false).value(); }));
  CliResult refused =
      RunCli(home, {"agent", "--agent", "main", "--session", "x", "--message", "late"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(Contains(refused.err, "shutting down")) << refused.err;
  home.OpenGate();  // the running turn finishes within drain_timeout
  CliResult r1 = running.get();
  EXPECT_EQ(r1.code, 0) << r1.err;
  EXPECT_EQ(r1.out, "reply:gate-1\n");
  CliResult r2 = queued.get();
  EXPECT_EQ(r2.code, 4) << r2.out << r2.err;  // still pending, kept in the journal
  const int64_t id2 = TurnIdOf(r2.out);
  EXPECT_GT(id2, 0) << r2.out;
  EXPECT_EQ(down.get().code, 0);
  EXPECT_EQ(sup->WaitExit(), 0);

  SupervisorProcess next(home);
  ASSERT_TRUE(next.Start()) << next.Log();
  CliResult after = RunCli(home, {"wait", std::to_string(id2)});
  EXPECT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(after.out, "reply:gate-2\n");
  ExpectEveryTurnSettled(home);
}

TEST(DurabilityTest, SigtermIsAGracefulStopToo) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "main", "--message", "x"}).code, 0);
  sup.Signal(SIGTERM);
  EXPECT_EQ(sup.WaitExit(), 0);
  EXPECT_TRUE(Contains(sup.Log(), "event=shutdown_started reason=SIGTERM")) << sup.Log();
  // The session index was written (by rename) and names the session.
  std::ifstream index(home.paths().session_index);
  std::string text((std::istreambuf_iterator<char>(index)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(Contains(text, "\"session\": \"agent:main:main\"")) << text;
  EXPECT_TRUE(Contains(text, "\"turns_total\": 1")) << text;
}

TEST(DurabilityTest, TornJournalTailAndFlippedByteAreRepairedAndReported) {
  TempHome home;
  {
    SupervisorProcess sup(home);
    ASSERT_TRUE(sup.Start()) << sup.Log();
    for (int i = 1; i <= 5; ++i) {
      ASSERT_EQ(
          RunCli(home, {"agent", "--agent", "main", "--message", "m" + std::to_string(i)}).code, 0);
    }
    ASSERT_EQ(RunCli(home, {"down"}).code, 0);
    sup.WaitExit();
  }
  const std::string journal = home.paths().journal_dir + "/journal.log";
  // A torn tail: the start of a frame header and a few bytes of payload.
  {
    std::ofstream(journal, std::ios::app | std::ios::binary) << std::string("NRJL\x40\x00\x00", 7);
  }
  {
    SupervisorProcess sup(home);
    ASSERT_TRUE(sup.Start()) << sup.Log();
    const Value s = Status(home);
    EXPECT_EQ(IntField(*s.Find("journal"), "truncated_bytes"), 7) << common::ToJson(s);
    EXPECT_TRUE(Contains(sup.Log(), "event=journal_repaired")) << sup.Log();
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(Wait(home, i).code, 0) << i;
    ASSERT_EQ(RunCli(home, {"down"}).code, 0);
    sup.WaitExit();
  }
  // A flipped byte inside an early record's payload.
  {
    std::fstream f(journal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(20);
    char c;
    f.get(c);
    f.seekp(20);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start()) << sup.Log();
  const Value s = Status(home);
  EXPECT_GE(IntField(*s.Find("journal"), "corrupt_records"), 1) << common::ToJson(s);
  // Records after the damaged one are still trusted: the last turn's outcome is known.
  CliResult last = Wait(home, 5);
  EXPECT_EQ(last.code, 0) << last.err;
  EXPECT_TRUE(Contains(last.out, "\"reply\":\"m5\"")) << last.out;
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "main", "--message", "after"}).out, "after\n");
}

TEST(DurabilityTest, ReloadAppliesAValidConfigAndRefusesAnInvalidOne) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start("[agents.main]\nrunner = \"echo\"\n")) << sup.Log();
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "second", "--message", "x"}).code, 1);
  home.Write("laneway.toml",
             "[supervisor]\nmax_message_bytes = 2048\n[agents.main]\nrunner = \"echo\"\n"
             "[agents.second]\nrunner = \"echo\"\n");
  CliResult reload = RunCli(home, {"reload", "--json"});
  EXPECT_EQ(reload.code, 0) << reload.err;
  EXPECT_TRUE(Contains(reload.out, "\"needs_restart\":[\"supervisor.max_message_bytes\"]"))
      << reload.out;
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "second", "--message", "x"}).out, "x\n");

  home.Write("laneway.toml", "[agents.main]\nrunner = \"echo\"\nmax_queue = -4\n");
  CliResult bad = RunCli(home, {"reload"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(Contains(bad.err, "laneway.toml:3: agents.main.max_queue")) << bad.err;
  // The old config stays in force.
  EXPECT_EQ(RunCli(home, {"agent", "--agent", "second", "--message", "still"}).out, "still\n");

  // SIGHUP does the same.
  home.Write("laneway.toml",
             "[agents.main]\nrunner = \"echo\"\n[agents.third]\nrunner = \"echo\"\n");
  sup.Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] {
    return RunCli(home, {"agent", "--agent", "third", "--message", "hup"}).out == "hup\n";
  }));
  EXPECT_TRUE(Contains(sup.Log(), "event=config_reloaded")) << sup.Log();
  EXPECT_TRUE(Contains(sup.Log(), "event=reload_refused")) << sup.Log();
}

// Fills the journal's file system and checks the promise (docs/journal.md, "A full
// disk"): new turns are refused retryably, never acknowledged and lost; a turn
// accepted before the disk filled finishes, and its outcome is told once the journal
// holds it, so that no restart can contradict it; once space is back, all flows.
void CheckFullJournal(TempHome& home, const std::function<void()>& make_full,
                      const std::function<void()>& free_space) {
  auto running = RunCliAsync(home, {"agent", "--agent", "main", "--message", "gate-before"});
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  make_full();
  std::string big(3000, 'x');
  CliResult refused;
  std::vector<int64_t> pending;  // acknowledged, outcome not yet told
  for (int i = 0; i < 200; ++i) {
    refused = RunCli(home, {"agent", "--agent", "main", "--session", "s" + std::to_string(i),
                            "--message", big, "--timeout", "150ms", "--json"});
    if (refused.code == 4) pending.push_back(TurnIdOf(refused.out));
    if (refused.code != 0 && refused.code != 4) break;
  }
  EXPECT_EQ(refused.code, 1) << refused.out << refused.err;
  const std::string said = refused.out + refused.err;  // --json: the outcome on stdout
  EXPECT_TRUE(Contains(said, "not accepted: the journal")) << said;
  EXPECT_TRUE(Contains(said, "retry later")) << said;
  EXPECT_GE(IntField(*Status(home).Find("counters"), "journal_errors"), 1);
  // The turn accepted before the disk filled still finishes; so do those
  // acknowledged meanwhile. Each is told its outcome, once, when it is journaled.
  home.OpenGate();
  free_space();
  CliResult r = running.get();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "reply:gate-before\n");
  for (int64_t id : pending) EXPECT_EQ(Wait(home, id).code, 0) << "turn " << id;
  ASSERT_TRUE(WaitFor([&] {
    return RunCli(home, {"agent", "--agent", "main", "--session", "after", "--message", "ok"})
               .code == 0;
  }));
  // Status, not the log: under RLIMIT_FSIZE the log file is over the limit too, and
  // its lines from that time are cut or lost.
  const Value after = Status(home);
  EXPECT_TRUE(after.Find("journal")->GetBoolOr("ok", false).value()) << common::ToJson(after);
  EXPECT_GE(IntField(*after.Find("counters"), "journal_rewrites"), 1) << common::ToJson(after);
  ExpectEveryTurnSettled(home);
}

TEST(DurabilityTest, FullFileSystemRefusesNewTurnsRetryablyAndRecovers) {
  TempHome home;
  const std::string dir = home.paths().journal_dir;
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "); JournalFileSizeLimit covers the same path";
  }
  struct Unmount {
    std::string d;
    ~Unmount() { ::umount2(d.c_str(), MNT_DETACH); }
  } unmount{dir};
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  const std::string filler = dir + "/filler";
  CheckFullJournal(
      home,
      [&] {
        // Fill what is left, to the last byte the file system gives.
        int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        std::string block(4096, 'f');
        while (::write(fd, block.data(), block.size()) > 0) {
        }
        while (::write(fd, block.data(), 1) > 0) {
        }
        ::close(fd);
      },
      [&] { ::unlink(filler.c_str()); });
}

TEST(DurabilityTest, JournalFileSizeLimitRefusesNewTurnsRetryablyAndRecovers) {
  TempHome home;
  SupervisorProcess sup(home);
  ASSERT_TRUE(sup.Start(ExecConfig(home))) << sup.Log();
  const std::string journal = home.paths().journal_dir + "/journal.log";
  CheckFullJournal(
      home,
      [&] {
        struct stat st;
        ASSERT_EQ(::stat(journal.c_str(), &st), 0);
        ASSERT_EQ(SetFileSizeLimit(sup.pid(), st.st_size + 1000), "");
      },
      [&] { ASSERT_EQ(SetFileSizeLimit(sup.pid(), kNoFileSizeLimit), ""); });
}

}  // namespace
}  // namespace laneway::testing

namespace laneway::testing {
namespace {

TEST(DurabilityTest, TurnRunningThroughMaxAttemptsSupervisorDeathsEndsPoison) {
  TempHome home;
  const std::string config =
      "[agents.main]\nrunner = \"exec\"\ncommand = [\"" + home.AgentScript() +
      "\"]\nkill_grace = \"200ms\"\nretry_on_restart = true\nmax_attempts = 2\n";
  auto first = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(first->Start(config)) << first->Log();
  const int64_t id = SendPending(home, "main", "main", "gate-poison");
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "busy") == 1; }));
  first->Signal(SIGKILL);
  first->WaitExit();
  // Attempt 2, after the restart; the supervisor dies again.
  auto second = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(second->Start()) << second->Log();
  ASSERT_TRUE(WaitFor([&] { return IntField(Status(home), "busy") == 1; }));
  second->Signal(SIGKILL);
  second->WaitExit();
  SupervisorProcess third(home);
  ASSERT_TRUE(third.Start()) << third.Log();
  CliResult r = Wait(home, id);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.out, "\"status\":\"failed\"")) << r.out;
  EXPECT_TRUE(Contains(r.out, "poison")) << r.out;
  EXPECT_TRUE(Contains(r.out, "max_attempts = 2")) << r.out;
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing

namespace laneway::testing {
namespace {

// A turn given straight to an idle worker has its start record written in the same
// batch as its accept record. After a crash it must count as running, not queued.
TEST(DurabilityTest, TurnDispatchedToAnIdleWorkerIsRecordedAsStarted) {
  TempHome home;
  auto sup = std::make_unique<SupervisorProcess>(home);
  ASSERT_TRUE(sup->Start(ExecConfig(home))) << sup->Log();
  ASSERT_EQ(RunCli(home, {"agent", "--agent", "main", "--message", "warm up"}).code, 0);
  ASSERT_EQ(StrField(WorkerOf(home, "agent:main:main"), "state"), "idle");
  const int64_t id = SendPending(home, "main", "main", "gate-warm");
  ASSERT_TRUE(WaitForWorker(home, "agent:main:main", "busy"));
  sup->Signal(SIGKILL);
  sup->WaitExit();
  home.OpenGate();
  SupervisorProcess next(home);
  ASSERT_TRUE(next.Start()) << next.Log();
  CliResult r = Wait(home, id);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(Contains(r.out, "\"status\":\"interrupted\"")) << r.out;
  ExpectEveryTurnSettled(home);
}

}  // namespace
}  // namespace laneway::testing
