#include "supervisor/journal_syncer.h"

#include <gtest/gtest.h>
#include <poll.h>

#include "tests/unit/supervisor/journal_records.h"
#include "tests/unit/temp_dir.h"

namespace laneway::supervisor {
namespace {

using ::laneway::testing_util::TempDir;
using namespace ::laneway::supervisor::test_records;

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

TEST(JournalSyncerTest, ReportsEachRequestedBatchDurableThroughItsFd) {
  TempDir dir;
  JournalRecovery rec;
  auto journal = Journal::Open({dir.path(), true, nullptr}, &rec);
  ASSERT_TRUE(journal.ok());
  auto syncer = StartJournalSyncer(journal->get());
  ASSERT_TRUE(syncer.ok());
  JournalSyncer& s = **syncer;
  EXPECT_TRUE(s.idle());
  EXPECT_FALSE(Readable(s.done_fd(), 0));
  for (uint64_t batch = 1; batch <= 3; ++batch) {
    (*journal)->Append(Accept(batch));
    ASSERT_TRUE((*journal)->Write().ok());
    s.Submit(batch);
    EXPECT_FALSE(s.idle());
    ASSERT_TRUE(Readable(s.done_fd(), 10000));  // bounded wait on the real fdatasync
    SyncDone done = s.Take();
    EXPECT_EQ(done.batch, batch);
    EXPECT_TRUE(done.status.ok()) << done.status.message();
    EXPECT_TRUE(s.idle());
    EXPECT_FALSE(Readable(s.done_fd(), 0));
  }
  // What was written and synced is what a reopen recovers.
  syncer->reset();
  journal->reset();
  JournalRecovery again;
  ASSERT_TRUE(Journal::Open({dir.path(), true, nullptr}, &again).ok());
  ASSERT_EQ(again.records.size(), 3u);
  EXPECT_EQ(again.records[2], Accept(3));
}

TEST(JournalSyncerTest, WriteWithoutSyncStillReachesTheFile) {
  TempDir dir;
  JournalRecovery rec;
  auto journal = Journal::Open({dir.path(), true, nullptr}, &rec);
  ASSERT_TRUE(journal.ok());
  (*journal)->Append(Accept(7));
  ASSERT_TRUE((*journal)->Write().ok());
  EXPECT_EQ((*journal)->pending(), 0u);
  EXPECT_GT((*journal)->size_bytes(), 0u);
  ASSERT_TRUE((*journal)->Sync().ok());
}

}  // namespace
}  // namespace laneway::supervisor
