#include "operator/authority/pg_connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "common/log.h"

namespace agentbudget::authority {
namespace {

using SteadyClock = std::chrono::steady_clock;

// libpq's message without its trailing newline.
std::string Message(const char* text) {
  std::string message = text != nullptr ? text : "";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  return message;
}

// SQLSTATEs a later attempt may not meet: the server going away or refusing connections
// for now, a statement cancelled by statement_timeout, a serialization or deadlock
// failure, a lock not granted in time, and resources running out.
bool Transient(const std::string& state) {
  return state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 || state.rfind("57", 0) == 0 ||
         state == "40001" || state == "40P01" || state == "55P03";
}

}  // namespace

int64_t PgRows::Affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples != nullptr && *tuples != '\0' ? std::atoll(tuples) : 0;
}

PgConnection::PgConnection(std::string conninfo, std::chrono::milliseconds timeout)
    : conninfo_(std::move(conninfo)), timeout_(timeout) {}

PgConnection::~PgConnection() { Reset(); }

void PgConnection::Reset() {
  if (connection_ != nullptr) {
    PQfinish(connection_);
    connection_ = nullptr;
  }
}

Error PgConnection::Broken(const std::string& what) {
  std::string message = "postgresql: " + what;
  if (connection_ != nullptr) {
    const std::string detail = Message(PQerrorMessage(connection_));
    if (!detail.empty()) {
      message += ": " + detail;
    }
  }
  Reset();
  return Unavailable(message);
}

Status PgConnection::Connect() {
  if (connection_ != nullptr && PQstatus(connection_) == CONNECTION_OK) {
    return OkStatus();
  }
  Reset();
  // The caller's string first (expand_dbname), then what the store needs on top of it: the
  // server gives up a statement after the timeout too, so a stuck statement frees its locks.
  const std::string connect_seconds =
      std::to_string(std::max<int64_t>(2, (timeout_.count() + 999) / 1000));
  const std::string options = "-c statement_timeout=" + std::to_string(timeout_.count()) +
                              " -c lock_timeout=" + std::to_string(timeout_.count());
  const char* keywords[] = {"dbname", "connect_timeout", "options", "application_name",
                            "keepalives_idle", nullptr};
  const char* values[] = {conninfo_.c_str(), connect_seconds.c_str(), options.c_str(),
                          "agentbudget-operator", "10", nullptr};
  connection_ = PQconnectdbParams(keywords, values, 1);
  if (connection_ == nullptr) {
    return Unavailable("postgresql: out of memory opening a connection");
  }
  if (PQstatus(connection_) != CONNECTION_OK) {
    return Broken("cannot connect");
  }
  // The server's notices ("relation ... already exists, skipping") go to the debug log,
  // not to stderr.
  PQsetNoticeProcessor(
      connection_, [](void*, const char* notice) { log::Debug("postgresql", {{"notice", Message(notice)}}); },
      nullptr);
  return OkStatus();
}

Status PgConnection::Send(const std::string& sql, const std::vector<const char*>& params,
                          bool with_params) {
  if (Status connected = Connect(); !connected.ok()) {
    return connected;
  }
  const int sent =
      with_params ? PQsendQueryParams(connection_, sql.c_str(), static_cast<int>(params.size()),
                                      nullptr, params.data(), nullptr, nullptr, 0)
                  : PQsendQuery(connection_, sql.c_str());
  if (sent != 1) {
    return Broken("cannot send a statement");
  }
  return OkStatus();
}

Result<PgRows> PgConnection::Receive(SteadyClock::time_point deadline) {
  const int socket = PQsocket(connection_);
  // Flushes what is left of the request, then waits for the whole answer.
  while (true) {
    const int flushed = PQflush(connection_);
    if (flushed < 0) {
      return Broken("cannot send a statement");
    }
    if (flushed == 0 && PQisBusy(connection_) == 0) {
      break;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      return Broken("no answer within " + std::to_string(timeout_.count()) + " ms");
    }
    pollfd descriptor{socket, static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0)), 0};
    const int ready = poll(&descriptor, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return Broken(std::string("poll: ") + std::strerror(errno));
    }
    if (ready > 0 && (descriptor.revents & (POLLIN | POLLERR | POLLHUP)) != 0 &&
        PQconsumeInput(connection_) != 1) {
      return Broken("connection lost");
    }
  }
  // Every result of the request; the last one (or the first error) is the answer.
  std::optional<PgRows> answer;
  std::optional<Error> failure;
  while (PGresult* result = PQgetResult(connection_)) {
    PgRows rows(result);
    const ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      answer.emplace(std::move(rows));
      continue;
    }
    if (!failure) {
      const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
      const std::string code = state != nullptr ? state : "";
      const std::string message = "postgresql: " + Message(PQresultErrorMessage(result));
      failure = Transient(code) ? Unavailable(message) : Internal(message);
    }
  }
  if (PQstatus(connection_) != CONNECTION_OK) {
    return Broken("connection lost");
  }
  if (failure) {
    return *std::move(failure);
  }
  if (!answer) {
    return Internal("postgresql: a statement returned no result");
  }
  return *std::move(answer);
}

Result<PgRows> PgConnection::Exec(const std::string& sql, const std::vector<const char*>& params) {
  const auto deadline = SteadyClock::now() + timeout_;
  if (Status sent = Send(sql, params, true); !sent.ok()) {
    return std::move(sent).error();
  }
  return Receive(deadline);
}

Status PgConnection::ExecScript(const std::string& sql) {
  const auto deadline = SteadyClock::now() + timeout_;
  if (Status sent = Send(sql, {}, false); !sent.ok()) {
    return sent;
  }
  auto rows = Receive(deadline);
  if (!rows.ok()) {
    return std::move(rows).error();
  }
  return OkStatus();
}

}  // namespace agentbudget::authority
