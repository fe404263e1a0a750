#include "store/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace tandem::store {
namespace {

namespace fs = std::filesystem;
using registrar::Binding;
using registrar::UserRecord;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tandem-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root = tmpl;
    dataDir = root / "var" / "data";  // does not exist yet: open() creates it
  }
  void TearDown() override { fs::remove_all(root); }

  std::unique_ptr<SqliteStore> open() {
    std::string error;
    auto store = SqliteStore::open(dataDir, error);
    EXPECT_TRUE(store) << error;
    EXPECT_TRUE(error.empty());
    return store;
  }

  static Binding binding(std::string aor, std::string contact, std::int64_t expires = 2'000'000) {
    Binding b;
    b.aor = std::move(aor);
    b.contact = std::move(contact);
    b.callId = "call-1@host";
    b.cseq = 4'000'000'000u;  // above INT32_MAX: must round-trip
    b.expires = expires;
    b.qTimes1000 = 500;
    b.instance = "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";
    b.regId = "1";
    b.path = "<sip:edge1.example.com;lr>,<sip:edge2.example.com;lr>";
    b.received = "udp:192.0.2.1:5060";
    b.source.connection = 42;
    b.userAgent = "Phone/1.0";
    return b;
  }

  static UserRecord user(std::string name, std::string ha1 = "aa") {
    return {std::move(name), "example.com", ha1 + "-md5", ha1 + "-sha256"};
  }

  static void sortBindings(std::vector<Binding>& v) {
    std::sort(v.begin(), v.end(),
              [](const Binding& a, const Binding& b) { return a.contact < b.contact; });
  }

  fs::path root;
  fs::path dataDir;
};

// --- Opening and schema -------------------------------------------------------

TEST_F(SqliteStoreTest, CreatesDirectoryAndDatabase) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_TRUE(fs::is_regular_file(dataDir / "tandem.db"));
  EXPECT_EQ(store->path(), dataDir / "tandem.db");
  EXPECT_EQ(store->schemaVersion(), SqliteStore::kSchemaVersion);
}

TEST_F(SqliteStoreTest, UsesWal) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->putUser(user("alice")));
  EXPECT_TRUE(fs::exists(dataDir / "tandem.db-wal"));
}

TEST_F(SqliteStoreTest, ErrorOnUnusableDirectoryNamesThePath) {
  // A regular file where a directory should be: fails even when run as root.
  fs::create_directories(root);
  const auto file = root / "plainfile";
  std::ofstream(file) << "x";
  std::string error;
  EXPECT_FALSE(SqliteStore::open(file / "sub", error));
  EXPECT_NE(error.find((file / "sub").string()), std::string::npos) << error;

  error.clear();
  EXPECT_FALSE(SqliteStore::open(file, error));
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
}

TEST_F(SqliteStoreTest, ErrorOnCorruptDatabaseNamesThePathAndReason) {
  fs::create_directories(dataDir);
  std::ofstream(dataDir / "tandem.db") << std::string(4096, 'z');
  std::string error;
  EXPECT_FALSE(SqliteStore::open(dataDir, error));
  EXPECT_NE(error.find((dataDir / "tandem.db").string()), std::string::npos) << error;
  EXPECT_NE(error.find("not a database"), std::string::npos) << error;
}

TEST_F(SqliteStoreTest, MigrationIsIdempotent) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->putUser(user("alice")));
  }
  for (int i = 0; i < 3; ++i) {
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->schemaVersion(), SqliteStore::kSchemaVersion);
    EXPECT_EQ(store->listUsers().size(), 1u);
  }
}

TEST_F(SqliteStoreTest, RefusesNewerSchema) {
  { ASSERT_TRUE(open()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dataDir / "tandem.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::string error;
  EXPECT_FALSE(SqliteStore::open(dataDir, error));
  EXPECT_NE(error.find("schema version 99"), std::string::npos) << error;
}

TEST_F(SqliteStoreTest, InMemoryDatabase) {
  std::string error;
  auto store = SqliteStore::openFile(":memory:", error);
  ASSERT_TRUE(store) << error;
  EXPECT_TRUE(store->putUser(user("alice")));
  EXPECT_TRUE(store->findUser("alice"));
}

// --- Users --------------------------------------------------------------------

TEST_F(SqliteStoreTest, UsersCrud) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->findUser("alice"));
  EXPECT_TRUE(store->listUsers().empty());

  ASSERT_TRUE(store->putUser(user("bob", "b1")));
  ASSERT_TRUE(store->putUser(user("alice", "a1")));
  auto alice = store->findUser("alice");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->realm, "example.com");
  EXPECT_EQ(alice->ha1Md5, "a1-md5");
  EXPECT_EQ(alice->ha1Sha256, "a1-sha256");

  ASSERT_TRUE(store->putUser(user("alice", "a2")));  // replace: new password
  EXPECT_EQ(store->findUser("alice")->ha1Md5, "a2-md5");

  const auto all = store->listUsers();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alice");  // ordered by name
  EXPECT_EQ(all[1].name, "bob");

  EXPECT_TRUE(store->deleteUser("alice"));
  EXPECT_FALSE(store->deleteUser("alice"));
  EXPECT_FALSE(store->findUser("alice"));
  EXPECT_EQ(store->listUsers().size(), 1u);
}

TEST_F(SqliteStoreTest, UserNamesAreExactAndBinarySafe) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->putUser(user("Alice")));
  EXPECT_FALSE(store->findUser("alice"));
  EXPECT_FALSE(store->findUser("Alic"));
  const std::string odd("a'b\"c;--\0d", 10);
  ASSERT_TRUE(store->putUser(user(odd)));
  auto found = store->findUser(odd);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, odd);
}

TEST_F(SqliteStoreTest, WritesOfAnotherConnectionAreSeenAtOnce) {
  // The server holds one store open while `tandem user add` writes through another.
  auto server = open();
  auto cli = open();
  ASSERT_TRUE(server && cli);
  EXPECT_FALSE(server->findUser("carol"));
  EXPECT_TRUE(server->listUsers().empty());
  ASSERT_TRUE(cli->putUser(user("carol", "c1")));
  auto carol = server->findUser("carol");
  ASSERT_TRUE(carol);
  EXPECT_EQ(carol->ha1Md5, "c1-md5");
  ASSERT_TRUE(cli->putUser(user("carol", "c2")));
  EXPECT_EQ(server->findUser("carol")->ha1Md5, "c2-md5");
  ASSERT_TRUE(cli->deleteUser("carol"));
  EXPECT_FALSE(server->findUser("carol"));
}

// --- Bindings -----------------------------------------------------------------

TEST_F(SqliteStoreTest, BindingsSurviveCloseAndReopen) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->putBinding(binding("alice@example.com", "sip:alice@192.0.2.1")));
    ASSERT_TRUE(store->putBinding(binding("alice@example.com", "sip:alice@192.0.2.2")));
    ASSERT_TRUE(store->flush());
  }
  auto store = open();
  ASSERT_TRUE(store);
  auto loaded = store->loadBindings();
  ASSERT_EQ(loaded.size(), 2u);
  sortBindings(loaded);
  const auto expected = binding("alice@example.com", "sip:alice@192.0.2.1");
  const auto& b = loaded[0];
  EXPECT_EQ(b.aor, expected.aor);
  EXPECT_EQ(b.contact, expected.contact);
  EXPECT_EQ(b.callId, expected.callId);
  EXPECT_EQ(b.cseq, expected.cseq);
  EXPECT_EQ(b.expires, expected.expires);
  EXPECT_EQ(b.qTimes1000, expected.qTimes1000);
  EXPECT_EQ(b.instance, expected.instance);
  EXPECT_EQ(b.regId, expected.regId);
  EXPECT_EQ(b.path, expected.path);
  EXPECT_EQ(b.received, expected.received);
  EXPECT_EQ(b.userAgent, expected.userAgent);
  EXPECT_EQ(b.source.connection, 0u);  // not persisted
  EXPECT_EQ(loaded[1].contact, "sip:alice@192.0.2.2");
}

TEST_F(SqliteStoreTest, CloseFlushesPendingWrites) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->putBinding(binding("alice@example.com", "sip:alice@192.0.2.1")));
  }
  EXPECT_EQ(open()->loadBindings().size(), 1u);
}

TEST_F(SqliteStoreTest, WritesAreDeferredUntilFlush) {
  auto store = open();
  auto observer = open();
  ASSERT_TRUE(store && observer);
  ASSERT_TRUE(store->putBinding(binding("alice@example.com", "sip:a@192.0.2.1")));
  EXPECT_EQ(store->pendingWrites(), 1u);
  EXPECT_TRUE(observer->loadBindings().empty());  // not yet written

  ASSERT_TRUE(store->flush());
  EXPECT_EQ(store->pendingWrites(), 0u);
  EXPECT_EQ(observer->loadBindings().size(), 1u);

  ASSERT_TRUE(store->deleteBinding("alice@example.com", "sip:a@192.0.2.1"));
  EXPECT_EQ(observer->loadBindings().size(), 1u);
  ASSERT_TRUE(store->flush());
  EXPECT_TRUE(observer->loadBindings().empty());
  EXPECT_TRUE(store->flush());  // nothing pending: a no-op
}

TEST_F(SqliteStoreTest, LastChangePerBindingWins) {
  auto store = open();
  ASSERT_TRUE(store);
  auto b = binding("alice@example.com", "sip:a@192.0.2.1");
  ASSERT_TRUE(store->putBinding(b));
  b.cseq = 7;
  ASSERT_TRUE(store->putBinding(b));
  EXPECT_EQ(store->pendingWrites(), 1u);
  ASSERT_TRUE(store->putBinding(binding("bob@example.com", "sip:b@192.0.2.9")));
  ASSERT_TRUE(store->deleteBinding("bob@example.com", "sip:b@192.0.2.9"));
  ASSERT_TRUE(store->deleteBinding("carol@example.com", "sip:never-stored"));
  ASSERT_TRUE(store->flush());

  const auto loaded = store->loadBindings();
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].cseq, 7u);
}

TEST_F(SqliteStoreTest, LoadFlushesPendingFirst) {
  auto store = open();
  auto observer = open();
  ASSERT_TRUE(store && observer);
  ASSERT_TRUE(store->putBinding(binding("alice@example.com", "sip:a@192.0.2.1")));
  ASSERT_TRUE(store->putBinding(binding("alice@example.com", "sip:a@192.0.2.2")));
  EXPECT_EQ(store->loadBindings().size(), 2u);
  EXPECT_EQ(store->pendingWrites(), 0u);
  EXPECT_EQ(observer->loadBindings().size(), 2u);
}

TEST_F(SqliteStoreTest, FlushesOnItsOwnWhenTheQueueIsLong) {
  auto store = open();
  auto observer = open();
  ASSERT_TRUE(store && observer);
  for (std::size_t i = 0; i < SqliteStore::kAutoFlushThreshold; ++i)
    ASSERT_TRUE(store->putBinding(binding("u@example.com", "sip:c" + std::to_string(i))));
  EXPECT_EQ(store->pendingWrites(), SqliteStore::kAutoFlushThreshold);
  EXPECT_TRUE(observer->loadBindings().empty());
  ASSERT_TRUE(store->putBinding(binding("u@example.com", "sip:one-more")));
  EXPECT_EQ(store->pendingWrites(), 0u);
  EXPECT_EQ(observer->loadBindings().size(), SqliteStore::kAutoFlushThreshold + 1);
}

TEST_F(SqliteStoreTest, FailedFlushKeepsChangesQueued) {
  auto store = open();
  auto other = open();
  ASSERT_TRUE(store && other);
  ASSERT_TRUE(store->putBinding(binding("alice@example.com", "sip:a@192.0.2.1")));

  // Another connection holds the write lock for longer than the store waits.
  store->setBusyTimeout(50);
  sqlite3* locker = nullptr;
  ASSERT_EQ(sqlite3_open((dataDir / "tandem.db").c_str(), &locker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(locker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_FALSE(store->flush());
  EXPECT_EQ(store->pendingWrites(), 1u);
  ASSERT_EQ(sqlite3_exec(locker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(locker);

  EXPECT_TRUE(store->flush());
  EXPECT_EQ(other->loadBindings().size(), 1u);
}

}  // namespace
}  // namespace tandem::store

namespace tandem::store {
namespace {

TEST(SqliteStoreVersion, ChangesWhenAnotherConnectionWritesUsers) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("tandem-version-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string error;
  auto server = SqliteStore::open(dir, error);
  auto cli = SqliteStore::open(dir, error);
  ASSERT_TRUE(server && cli) << error;
  const auto before = server->usersVersion();
  EXPECT_EQ(server->usersVersion(), before);
  ASSERT_TRUE(cli->putUser({"alice", "example.test", "a", "b"}));
  EXPECT_NE(server->usersVersion(), before);
  server.reset();
  cli.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tandem::store
