#include "store/sqlite_store.hpp"

#include "core/log.hpp"

#include <sqlite3.h>

#include <chrono>
#include <system_error>

namespace tandem::store {
namespace {

// Schema migrations, in order: migration i takes user_version i to i + 1.
// Append new entries; never edit a released one.
constexpr const char* kMigrations[] = {
    // 0 -> 1: users and bindings.
    R"sql(
CREATE TABLE IF NOT EXISTS users (
  name       TEXT NOT NULL PRIMARY KEY,
  realm      TEXT NOT NULL,
  ha1_md5    TEXT NOT NULL,
  ha1_sha256 TEXT NOT NULL,
  created    INTEGER NOT NULL  -- seconds since the Unix epoch
);
CREATE TABLE IF NOT EXISTS bindings (
  aor        TEXT NOT NULL,
  contact    TEXT NOT NULL,
  call_id    TEXT NOT NULL,
  cseq       INTEGER NOT NULL,
  expires    INTEGER NOT NULL,  -- absolute, seconds since the Unix epoch
  q          INTEGER NOT NULL,  -- q-value x 1000
  instance   TEXT NOT NULL DEFAULT '',
  reg_id     TEXT NOT NULL DEFAULT '',
  path       TEXT NOT NULL DEFAULT '',
  received   TEXT NOT NULL DEFAULT '',
  user_agent TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (aor, contact)
) WITHOUT ROWID;
)sql",
};
static_assert(std::size(kMigrations) == static_cast<std::size_t>(SqliteStore::kSchemaVersion));

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// A prepared statement, kept for the life of the store. Every use goes through
// a Use guard, which resets the statement and clears its bindings afterwards:
// an un-reset SELECT would hold a read snapshot and hide other processes'
// writes (the CLI's new users) from later lookups.
class SqliteStore::Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  class Use {
   public:
    explicit Use(Statement& s) : stmt_(s.stmt_) {}
    ~Use() {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    // Text is bound without copying: it must outlive the step() calls.
    bool bind(int index, std::string_view text) {
      return sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                               SQLITE_STATIC) == SQLITE_OK;
    }
    bool bind(int index, std::int64_t value) {
      return sqlite3_bind_int64(stmt_, index, value) == SQLITE_OK;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(stmt_); }

    std::string text(int column) const {
      const auto* p = sqlite3_column_text(stmt_, column);
      return p ? std::string(reinterpret_cast<const char*>(p),
                             static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
               : std::string();
    }
    std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

   private:
    sqlite3_stmt* stmt_;
  };

 private:
  sqlite3_stmt* stmt_;
};

// --- Opening ----------------------------------------------------------------

std::unique_ptr<SqliteStore> SqliteStore::open(const std::filesystem::path& dataDir,
                                               std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dataDir, ec);
  if (ec) {
    error = dataDir.string() + ": cannot create directory: " + ec.message();
    return nullptr;
  }
  if (!std::filesystem::is_directory(dataDir, ec)) {
    error = dataDir.string() + ": not a directory";
    return nullptr;
  }
  return openFile(dataDir / kFileName, error);
}

std::unique_ptr<SqliteStore> SqliteStore::openFile(const std::filesystem::path& file,
                                                   std::string& error) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    error = file.string() + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return nullptr;
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, file));
  std::string reason;
  if (!store->configure(reason) || !store->migrate(reason) || !store->prepareAll(reason)) {
    error = file.string() + ": " + reason;
    return nullptr;
  }
  return store;
}

SqliteStore::SqliteStore(sqlite3* db, std::filesystem::path path)
    : db_(db), path_(std::move(path)) {}

SqliteStore::~SqliteStore() {
  if (!pending_.empty() && !flush()) logError("flush at close");
  // Statements must be finalized before the connection closes.
  findUser_.reset();
  putUser_.reset();
  deleteUser_.reset();
  listUsers_.reset();
  loadBindings_.reset();
  putBinding_.reset();
  deleteBinding_.reset();
  begin_.reset();
  commit_.reset();
  rollback_.reset();
  dataVersion_.reset();
  sqlite3_close(db_);
}

bool SqliteStore::configure(std::string& error) {
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  // WAL: readers (the server) and a writer (the CLI) do not block each other,
  // and a commit is one sequential append. NORMAL sync is durable across
  // process crashes and loses at most the last commits on power loss, which
  // registrations survive (clients re-register).
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr) != SQLITE_OK) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  if (!exec("PRAGMA synchronous=NORMAL")) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool SqliteStore::migrate(std::string& error) {
  const int current = schemaVersion();
  if (current < 0) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  if (current == kSchemaVersion) return true;
  if (current > kSchemaVersion) {
    error = "schema version " + std::to_string(current) + " is newer than this build supports (" +
            std::to_string(kSchemaVersion) + ")";
    return false;
  }
  // IMMEDIATE: two processes opening a new database at once migrate one after
  // the other; the second re-reads the version and finds nothing to do.
  if (!exec("BEGIN IMMEDIATE")) {
    error = sqlite3_errmsg(db_);
    return false;
  }
  int version = schemaVersion();
  for (; version >= 0 && version < kSchemaVersion; ++version) {
    if (!exec(kMigrations[version])) break;
  }
  if (version != kSchemaVersion ||
      !exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str()) || !exec("COMMIT")) {
    error = std::string("migration to schema version ") + std::to_string(version + 1) +
            " failed: " + sqlite3_errmsg(db_);
    exec("ROLLBACK");
    return false;
  }
  core::logger("store")->info("{}: schema migrated from version {} to {}", path_.string(), current,
                              kSchemaVersion);
  return true;
}

bool SqliteStore::prepareAll(std::string& error) {
  const auto prepare = [&](std::unique_ptr<Statement>& out, const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      error = sqlite3_errmsg(db_);
      return false;
    }
    out = std::make_unique<Statement>(stmt);
    return true;
  };
  return prepare(findUser_, "SELECT name, realm, ha1_md5, ha1_sha256 FROM users WHERE name = ?1") &&
         prepare(putUser_,
                 "INSERT INTO users (name, realm, ha1_md5, ha1_sha256, created) "
                 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
                 "realm = excluded.realm, ha1_md5 = excluded.ha1_md5, "
                 "ha1_sha256 = excluded.ha1_sha256") &&
         prepare(deleteUser_, "DELETE FROM users WHERE name = ?1") &&
         prepare(dataVersion_, "PRAGMA data_version") &&
         prepare(listUsers_, "SELECT name, realm, ha1_md5, ha1_sha256 FROM users ORDER BY name") &&
         prepare(loadBindings_,
                 "SELECT aor, contact, call_id, cseq, expires, q, instance, reg_id, path, "
                 "received, user_agent FROM bindings") &&
         prepare(putBinding_,
                 "INSERT OR REPLACE INTO bindings (aor, contact, call_id, cseq, expires, q, "
                 "instance, reg_id, path, received, user_agent) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)") &&
         prepare(deleteBinding_, "DELETE FROM bindings WHERE aor = ?1 AND contact = ?2") &&
         prepare(begin_, "BEGIN IMMEDIATE") && prepare(commit_, "COMMIT") &&
         prepare(rollback_, "ROLLBACK");
}

bool SqliteStore::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

void SqliteStore::logError(std::string_view what) {
  core::logger("store")->error("{}: {}: {}", path_.string(), what, sqlite3_errmsg(db_));
}

void SqliteStore::setBusyTimeout(int milliseconds) {
  sqlite3_busy_timeout(db_, milliseconds);
}

int SqliteStore::schemaVersion() {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &stmt, nullptr) != SQLITE_OK) return -1;
  const int version = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  return version;
}

// --- Users ------------------------------------------------------------------

namespace {

template <class Use>
registrar::UserRecord readUser(const Use& row) {
  return {row.text(0), row.text(1), row.text(2), row.text(3)};
}

}  // namespace

std::optional<registrar::UserRecord> SqliteStore::findUser(std::string_view name) {
  Statement::Use q(*findUser_);
  if (!q.bind(1, name)) return std::nullopt;
  const int rc = q.step();
  if (rc == SQLITE_ROW) return readUser(q);
  if (rc != SQLITE_DONE) logError("findUser");
  return std::nullopt;
}

std::uint64_t SqliteStore::usersVersion() {
  Statement::Use q(*dataVersion_);
  if (q.step() != SQLITE_ROW) {
    logError("data_version");
    return 0;
  }
  return static_cast<std::uint64_t>(q.integer(0));
}

bool SqliteStore::putUser(const registrar::UserRecord& user) {
  Statement::Use q(*putUser_);
  if (!q.bind(1, user.name) || !q.bind(2, user.realm) || !q.bind(3, user.ha1Md5) ||
      !q.bind(4, user.ha1Sha256) || !q.bind(5, unixNow()) || q.step() != SQLITE_DONE) {
    logError("putUser");
    return false;
  }
  return true;
}

bool SqliteStore::deleteUser(std::string_view name) {
  Statement::Use q(*deleteUser_);
  if (!q.bind(1, name) || q.step() != SQLITE_DONE) {
    logError("deleteUser");
    return false;
  }
  return sqlite3_changes(db_) > 0;
}

std::vector<registrar::UserRecord> SqliteStore::listUsers() {
  std::vector<registrar::UserRecord> users;
  Statement::Use q(*listUsers_);
  int rc;
  while ((rc = q.step()) == SQLITE_ROW)
    users.push_back(readUser(q));
  if (rc != SQLITE_DONE) logError("listUsers");
  return users;
}

// --- Bindings ---------------------------------------------------------------

std::vector<registrar::Binding> SqliteStore::loadBindings() {
  if (!flush()) logError("flush before load");
  std::vector<registrar::Binding> bindings;
  {
    Statement::Use q(*loadBindings_);
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      registrar::Binding b;
      b.aor = q.text(0);
      b.contact = q.text(1);
      if (pending_.count({b.aor, b.contact})) continue;  // superseded by a queued change
      b.callId = q.text(2);
      b.cseq = static_cast<std::uint32_t>(q.integer(3));
      b.expires = q.integer(4);
      b.qTimes1000 = static_cast<int>(q.integer(5));
      b.instance = q.text(6);
      b.regId = q.text(7);
      b.path = q.text(8);
      b.received = q.text(9);
      b.userAgent = q.text(10);
      bindings.push_back(std::move(b));
    }
    if (rc != SQLITE_DONE) logError("loadBindings");
  }
  for (const auto& [key, change] : pending_) {
    if (change) {
      bindings.push_back(*change);
    }
  }
  return bindings;
}

bool SqliteStore::putBinding(const registrar::Binding& binding) {
  pending_.insert_or_assign(Key{binding.aor, binding.contact}, binding);
  return pending_.size() <= kAutoFlushThreshold || flush();
}

bool SqliteStore::deleteBinding(std::string_view aor, std::string_view contact) {
  pending_.insert_or_assign(Key{std::string(aor), std::string(contact)}, std::nullopt);
  return pending_.size() <= kAutoFlushThreshold || flush();
}

bool SqliteStore::flush() {
  if (pending_.empty()) return true;
  {
    Statement::Use begin(*begin_);
    if (begin.step() != SQLITE_DONE) {
      logError("begin flush");
      return false;
    }
  }
  bool ok = true;
  for (const auto& [key, change] : pending_) {
    if (change) {
      const auto& b = *change;
      Statement::Use q(*putBinding_);
      ok = q.bind(1, b.aor) && q.bind(2, b.contact) && q.bind(3, b.callId) &&
           q.bind(4, static_cast<std::int64_t>(b.cseq)) && q.bind(5, b.expires) &&
           q.bind(6, static_cast<std::int64_t>(b.qTimes1000)) && q.bind(7, b.instance) &&
           q.bind(8, b.regId) && q.bind(9, b.path) && q.bind(10, b.received) &&
           q.bind(11, b.userAgent) && q.step() == SQLITE_DONE;
    } else {
      Statement::Use q(*deleteBinding_);
      ok = q.bind(1, key.first) && q.bind(2, key.second) && q.step() == SQLITE_DONE;
    }
    if (!ok) break;
  }
  if (ok) {
    Statement::Use commit(*commit_);
    ok = commit.step() == SQLITE_DONE;
  }
  if (!ok) {
    logError("flush");
    Statement::Use rollback(*rollback_);
    rollback.step();
    return false;
  }
  pending_.clear();
  return true;
}

}  // namespace tandem::store
