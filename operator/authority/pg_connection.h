#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "common/result.h"

namespace agentbudget::authority {

// The result of one statement, owning its PGresult. A move-only value.
class PgRows {
 public:
  explicit PgRows(PGresult* result) : result_(result, &PQclear) {}

  int size() const { return PQntuples(result_.get()); }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // The text of a field; "" for NULL. Valid while this object lives.
  const char* Text(int row, int column) const { return PQgetvalue(result_.get(), row, column); }
  // The number of rows an INSERT, UPDATE or DELETE touched.
  int64_t Affected() const;

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> result_;
};

// One libpq connection to PostgreSQL, (re)opened on demand. Every call has a deadline
// enforced on this side (the server may be down, or stopped, or slow): past it the
// connection is dropped (the server rolls back its open transaction) and the call fails
// with kUnavailable, as it does when the server cannot be reached; the next call
// reconnects. Statement errors the server reports fail with kInternal carrying its message,
// or kUnavailable when a later attempt may not meet them (the server shutting down or
// refusing connections, a cancelled statement, a serialization, deadlock or lock failure,
// resources running out).
// Not thread-safe: one user at a time.
class PgConnection {
 public:
  // `conninfo` is a libpq connection string or URI (it may hold a password: it is never
  // logged, and error messages never quote it).
  PgConnection(std::string conninfo, std::chrono::milliseconds timeout);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with text parameters ($1, $2, ...; nullptr stands for NULL).
  Result<PgRows> Exec(const std::string& sql, const std::vector<const char*>& params = {});

  // Runs statements without parameters (several separated by ';' allowed).
  Status ExecScript(const std::string& sql);

  // Drops the connection; the next call reconnects.
  void Reset();

 private:
  Status Connect();
  Status Send(const std::string& sql, const std::vector<const char*>& params, bool with_params);
  Result<PgRows> Receive(std::chrono::steady_clock::time_point deadline);
  Error Broken(const std::string& what);

  const std::string conninfo_;
  const std::chrono::milliseconds timeout_;
  PGconn* connection_ = nullptr;
};

}  // namespace agentbudget::authority
