#pragma once
// Users and registration bindings in one embedded SQLite database,
// `<dataDir>/tandem.db`.
//
// Users are read straight from the database on every lookup, so a user added
// by `tandem user add` (another process) while the server runs is seen at once:
// WAL mode lets that writer and this reader proceed together, and no statement
// is left holding a read snapshot between calls.
//
// Bindings are write-behind: putBinding / deleteBinding only queue the change
// (the last change per (aor, contact) wins) and flush() applies the queue in one
// transaction. The server flushes every ~200 ms and at shutdown; the queue is
// also flushed when it grows past kAutoFlushThreshold. A crash loses at most
// the unflushed changes; clients re-register anyway.
//
// Thread-safety: none. Use one SqliteStore from one thread (the server's loop,
// or the CLI). Several SqliteStore objects, in one or several processes, may
// share a database file.

#include "registrar/location.hpp"

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace tandem::store {

class SqliteStore final : public registrar::UserStore, public registrar::BindingStore {
 public:
  // The schema this build writes (PRAGMA user_version). Opening a database at a
  // lower version migrates it; a higher version is refused.
  static constexpr int kSchemaVersion = 1;
  // Pending binding changes that trigger a flush on their own. Large enough
  // that a registration storm is committed in big transactions, small enough
  // that one flush stays well under a millisecond per hundred rows.
  static constexpr std::size_t kAutoFlushThreshold = 1000;
  // How long a statement waits for another connection's write lock (the CLI
  // writes one row at a time, so waits are short).
  static constexpr int kBusyTimeoutMs = 5000;
  static constexpr const char* kFileName = "tandem.db";

  // Opens or creates `<dataDir>/tandem.db`, creating `dataDir` if needed, and
  // migrates the schema. On failure returns nullptr and sets `error` to a
  // message naming the path and SQLite's (or the file system's) reason.
  static std::unique_ptr<SqliteStore> open(const std::filesystem::path& dataDir,
                                           std::string& error);
  // Same, for a database file named directly (":memory:" works too).
  static std::unique_ptr<SqliteStore> openFile(const std::filesystem::path& file,
                                               std::string& error);

  // Flushes pending binding changes (failures are logged).
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // registrar::UserStore. putUser keeps the `created` time of a replaced user.
  std::optional<registrar::UserRecord> findUser(std::string_view name) override;
  bool putUser(const registrar::UserRecord& user) override;
  bool deleteUser(std::string_view name) override;
  std::vector<registrar::UserRecord> listUsers() override;  // ordered by name
  // PRAGMA data_version: changes when another connection (the CLI) commits.
  std::uint64_t usersVersion() override;

  // registrar::BindingStore. putBinding / deleteBinding queue and return true;
  // they return false only when the automatic flush they triggered failed (the
  // change stays queued and is retried by the next flush). loadBindings flushes
  // first and returns every binding (with pending changes applied even if that
  // flush failed); `source` is not persisted and reads back empty.
  std::vector<registrar::Binding> loadBindings() override;
  bool putBinding(const registrar::Binding& binding) override;
  bool deleteBinding(std::string_view aor, std::string_view contact) override;
  // Applies the queued changes in one transaction. On failure the transaction
  // is rolled back, the changes stay queued, and false is returned.
  bool flush() override;

  // Overrides kBusyTimeoutMs (tests use a short wait).
  void setBusyTimeout(int milliseconds);

  std::size_t pendingWrites() const { return pending_.size(); }
  const std::filesystem::path& path() const { return path_; }
  int schemaVersion();

 private:
  class Statement;
  using Key = std::pair<std::string, std::string>;  // (aor, contact)

  SqliteStore(sqlite3* db, std::filesystem::path path);
  bool configure(std::string& error);
  bool migrate(std::string& error);
  bool prepareAll(std::string& error);
  bool exec(const char* sql);
  void logError(std::string_view what);

  sqlite3* db_;
  std::filesystem::path path_;

  // Prepared once, reused for every call.
  std::unique_ptr<Statement> findUser_;
  std::unique_ptr<Statement> putUser_;
  std::unique_ptr<Statement> deleteUser_;
  std::unique_ptr<Statement> listUsers_;
  std::unique_ptr<Statement> loadBindings_;
  std::unique_ptr<Statement> putBinding_;
  std::unique_ptr<Statement> deleteBinding_;
  std::unique_ptr<Statement> begin_;
  std::unique_ptr<Statement> commit_;
  std::unique_ptr<Statement> rollback_;
  std::unique_ptr<Statement> dataVersion_;

  // Write-behind queue: the latest change per binding; nullopt means delete.
  std::map<Key, std::optional<registrar::Binding>> pending_;
};

}  // namespace tandem::store
