#include "e2e/support/postgres_server.h"

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "e2e/support/command.h"
#include "tests/meter/free_port.h"

namespace agentbudget::e2e {
namespace {

constexpr const char* kUser = "agentbudget-pg";

// The bin directory of the newest PostgreSQL Debian installed, or "".
std::string PostgresBin() {
  std::string best;
  int best_version = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version &&
        std::filesystem::exists(entry.path() / "bin" / "initdb", error)) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

// The command prefix that runs a server tool as a non-root user.
std::vector<std::string> AsServerUser() {
  if (getuid() != 0) {
    return {};
  }
  return {"runuser", "-u", kUser, "--"};
}

// Creates the system user the server runs as when this process is root; hands it `dir`.
Status PrepareUser(const std::string& dir) {
  if (getuid() != 0) {
    return OkStatus();
  }
  if (getpwnam(kUser) == nullptr) {
    // A concurrent test may create it first; what counts is that it exists afterwards.
    auto added = RunCommand({"useradd", "--system", "--no-create-home", "--shell",
                             "/usr/sbin/nologin", kUser});
    if (getpwnam(kUser) == nullptr) {
      return Internal(std::string("cannot create user ") + kUser + ": " +
                      (added.ok() ? added->output : added.error().message));
    }
  }
  const passwd* user = getpwnam(kUser);
  if (chown(dir.c_str(), user->pw_uid, user->pw_gid) != 0) {
    return Internal("cannot hand " + dir + " to " + kUser);
  }
  return OkStatus();
}

Status Run(std::vector<std::string> argv) {
  std::vector<std::string> command = AsServerUser();
  command.insert(command.end(), argv.begin(), argv.end());
  auto ran = RunCommand(command);
  if (!ran.ok()) {
    return std::move(ran).error();
  }
  if (ran->exit_code != 0) {
    return Internal(argv[0] + " failed (exit " + std::to_string(ran->exit_code) +
                    "): " + ran->output);
  }
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  const std::string bin = PostgresBin();
  if (bin.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "no PostgreSQL server binaries under /usr/lib/postgresql: install Debian "
                     "package postgresql (scripts/setup --packages)");
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "agentbudget-pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return Internal("cannot create a directory for PostgreSQL");
  }
  std::unique_ptr<PostgresServer> server(
      new PostgresServer(bin, pattern, meter::testing::FreePort()));
  if (Status user = PrepareUser(server->dir_); !user.ok()) {
    return std::move(user).error();
  }
  if (Status created = Run({bin + "/initdb", "--pgdata=" + server->dir_ + "/data",
                            "--username=agentbudget", "--auth=trust", "--encoding=UTF8",
                            "--locale=C", "--no-sync"});
      !created.ok()) {
    return std::move(created).error();
  }
  if (Status started = server->Resume(); !started.ok()) {
    return std::move(started).error();
  }
  return server;
}

PostgresServer::~PostgresServer() {
  Thaw().ok();
  PgCtl("stop -m immediate").ok();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PostgresServer::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=agentbudget dbname=postgres";
}

std::string PostgresServer::Log() const {
  std::ifstream log(dir_ + "/log");
  std::stringstream text;
  text << log.rdbuf();
  return text.str();
}

Status PostgresServer::PgCtl(const std::string& action) {
  std::vector<std::string> argv = {bin_ + "/pg_ctl", "--pgdata=" + dir_ + "/data", "--wait",
                                   "--timeout=60", "--log=" + dir_ + "/log"};
  std::istringstream words(action);
  for (std::string word; words >> word;) {
    argv.push_back(word);
  }
  return Run(std::move(argv));
}

Status PostgresServer::Stop() { return PgCtl("stop -m fast"); }

Status PostgresServer::Resume() {
  return Run({bin_ + "/pg_ctl", "--pgdata=" + dir_ + "/data", "--wait", "--timeout=60",
              "--log=" + dir_ + "/log", "start",
              "--options=-p " + std::to_string(port_) +
                  " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir_});
}

Status PostgresServer::SignalAll(int signal) {
  std::ifstream pid_file(dir_ + "/data/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pid_file >> postmaster) || postmaster <= 0) {
    return Internal("the PostgreSQL server is not running");
  }
  // The postmaster and its children (the backends and background workers).
  std::vector<pid_t> processes = {postmaster};
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const pid_t pid = std::atoi(entry.path().filename().c_str());
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (pid <= 0 || !std::getline(stat, line) || line.rfind(')') == std::string::npos) {
      continue;
    }
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string state;
    pid_t parent = 0;
    if (fields >> state >> parent && parent == postmaster) {
      processes.push_back(pid);
    }
  }
  for (pid_t pid : processes) {
    kill(pid, signal);
  }
  return OkStatus();
}

Status PostgresServer::Freeze() { return SignalAll(SIGSTOP); }
Status PostgresServer::Thaw() { return SignalAll(SIGCONT); }

}  // namespace agentbudget::e2e
