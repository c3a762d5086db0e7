#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace agentbudget::e2e {

// A throwaway PostgreSQL server for tests and benchmarks, from Debian's `postgresql`
// binaries (/usr/lib/postgresql/<version>/bin): initdb into a fresh temporary directory,
// then pg_ctl start, listening on 127.0.0.1 on a free port and on a Unix socket in that
// directory, trust authentication for superuser "agentbudget". PostgreSQL refuses to run as
// root, so when this process is root the server runs as the system user agentbudget-pg
// (created when missing) and owns the directory. The destructor stops the server at once
// and removes the directory. Not thread-safe.
class PostgresServer {
 public:
  // Fails with kFailedPrecondition naming the package when the binaries are missing, with
  // kInternal carrying the tool's output when initdb or pg_ctl fails.
  static Result<std::unique_ptr<PostgresServer>> Start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // A libpq connection string for database "postgres".
  std::string conninfo() const;
  // The server's log so far (for failure messages).
  std::string Log() const;

  // Stops the server (pg_ctl stop -m fast: connections are closed) and starts it again on
  // the same port and data.
  Status Stop();
  Status Resume();
  // Freezes every server process (SIGSTOP), as a hung machine would, and thaws them.
  Status Freeze();
  Status Thaw();

 private:
  PostgresServer(std::string bin, std::string dir, int port)
      : bin_(std::move(bin)), dir_(std::move(dir)), port_(port) {}
  Status PgCtl(const std::string& action);
  Status SignalAll(int signal);

  const std::string bin_;
  const std::string dir_;
  const int port_;
};

}  // namespace agentbudget::e2e
