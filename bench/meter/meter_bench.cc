// Measures what the meter adds to LLM calls, side by side in one run: the same stub
// provider called directly (the baseline), through a relay that only copies bytes
// (bench/meter/byte_relay.cc: what one more hop costs on this machine, so the meter's
// 64-stream rate is also shown against it), through a meter enforcing locally, and (with
// --authority) through a meter reserving every call at a real budget authority: the
// operator on a local control plane, its ledger on that API server, TLS with the CA it
// publishes and a pod's bound token, as in production (bench/meter/bench_authority.h).
//   - non-streaming calls at a fixed rate (--rate, open loop over 8 connections; latency
//     counted from each call's scheduled start): p50/p99; --latencies FILE keeps each call's
//     schedule and latency, to see when the slow ones came;
//   - streaming calls one after another: time to the first event (TTFB) p50/p99;
//   - 64 concurrent streaming clients: calls per second;
//   - each meter's RSS at its peak under the 64 streams;
//   - with --authority, the reservations the authority made per committed call: above 1
//     by those the meter asked ahead and released unused (docs/meter.md#reservations-ahead).
// Each figure is the median over --rounds rounds; "added" is the meter's figure minus the
// direct one of the same round. The stub is an in-process HTTP/1.1 server answering the
// Anthropic Messages API with fixed usage; clients are raw keep-alive sockets.
//
// Usage: meter_bench [--calls N] [--seconds S] [--rate R] [--rounds N]
//                    [--authority CLUSTER --operator PATH] [--meter PATH] [--latencies FILE]
//                    [--request-bytes N]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/meter/bench_authority.h"
#include "meter/http_authority_client.h"

namespace {

using Clock = std::chrono::steady_clock;

int Listen(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 512) != 0) {
    std::perror("bind");
    std::exit(1);
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// What the benchmark started (the relay and the meters), stopped at exit however it exits
// (a failed call exits at once).
std::vector<pid_t> g_servers;
std::unique_ptr<agentbudget::bench::BenchAuthority> g_authority;

void StopServers() {
  for (const pid_t pid : g_servers) {
    ::kill(pid, SIGTERM);
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  g_servers.clear();
}

void StopEverything() {
  StopServers();
  g_authority.reset();
}

// Stops the servers and the authority, then ends the benchmark: a call that failed makes
// its figures meaningless. From any thread; the first caller ends the process.
[[noreturn]] void Fail(const std::string& what) {
  static std::once_flag once;
  std::call_once(once, [&what] {
    std::fprintf(stderr, "%s\n", what.c_str());
    StopEverything();
    std::_Exit(1);
  });
  std::abort();  // not reached: the first caller exits
}

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Buffered reads of one connection.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  bool Fill() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return false;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  // Reads up to and including `delim`.
  bool Until(const std::string& delim, std::string* out) {
    size_t pos;
    while ((pos = buf_.find(delim)) == std::string::npos) {
      if (!Fill()) {
        return false;
      }
    }
    *out = buf_.substr(0, pos + delim.size());
    buf_.erase(0, pos + delim.size());
    return true;
  }
  bool Exactly(size_t n, std::string* out) {
    while (buf_.size() < n) {
      if (!Fill()) {
        return false;
      }
    }
    *out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }

 private:
  int fd_;
  std::string buf_;
};

size_t ContentLength(const std::string& headers) {
  std::string lower = headers;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const size_t at = lower.find("content-length:");
  return at == std::string::npos ? 0 : std::strtoul(lower.c_str() + at + 15, nullptr, 10);
}

bool Chunked(const std::string& headers) {
  std::string lower = headers;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  return lower.find("transfer-encoding: chunked") != std::string::npos;
}

// Reads one HTTP response; `first_body_byte` gets the time the first body bytes arrived.
bool ReadResponse(Reader& reader, Clock::time_point* first_body_byte) {
  std::string headers;
  if (!reader.Until("\r\n\r\n", &headers)) {
    return false;
  }
  if (headers.rfind("HTTP/1.1 200", 0) != 0) {
    std::fprintf(stderr, "call answered %s\n", headers.substr(0, headers.find('\r')).c_str());
    return false;
  }
  std::string body;
  if (!Chunked(headers)) {
    const bool ok = reader.Exactly(ContentLength(headers), &body);
    *first_body_byte = Clock::now();
    return ok;
  }
  bool first = true;
  while (true) {
    std::string size_line;
    if (!reader.Until("\r\n", &size_line)) {
      return false;
    }
    const size_t size = std::strtoul(size_line.c_str(), nullptr, 16);
    if (first) {
      *first_body_byte = Clock::now();
      first = false;
    }
    if (size == 0) {
      std::string end;
      return reader.Until("\r\n", &end);
    }
    if (!reader.Exactly(size + 2, &body)) {
      return false;
    }
  }
}

const std::string kUsage =
    R"({"input_tokens":11,"cache_read_input_tokens":100,"cache_creation_input_tokens":20,"output_tokens":7})";

std::string StubJson() {
  return R"({"id":"msg_b","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"Hello from the bench stub."}],"stop_reason":"end_turn","usage":)" +
         kUsage + "}";
}

std::string Chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

std::vector<std::string> StubEvents() {
  std::vector<std::string> events;
  events.push_back(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_b\","
      "\"model\":\"claude-haiku-4-5\",\"usage\":" + kUsage + "}}\n\n");
  for (int i = 0; i < 8; ++i) {
    events.push_back(
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"token \"}}\n\n");
  }
  events.push_back(
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}"
      "\n\n");
  events.push_back("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  return events;
}

// The stub provider: one thread per connection, keep-alive.
void ServeConnection(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  Reader reader(fd);
  const std::string json = StubJson();
  const std::vector<std::string> events = StubEvents();
  while (true) {
    std::string headers, body;
    if (!reader.Until("\r\n\r\n", &headers) || !reader.Exactly(ContentLength(headers), &body)) {
      break;
    }
    if (body.find("\"stream\":true") != std::string::npos) {
      if (!WriteAll(fd, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                        "transfer-encoding: chunked\r\n\r\n")) {
        break;
      }
      bool ok = true;
      for (const std::string& event : events) {
        ok = ok && WriteAll(fd, Chunk(event));
      }
      if (!ok || !WriteAll(fd, "0\r\n\r\n")) {
        break;
      }
    } else if (!WriteAll(fd, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             "content-length: " + std::to_string(json.size()) + "\r\n\r\n" +
                                 json)) {
      break;
    }
  }
  ::close(fd);
}

void RunStub(int listen_fd) {
  while (true) {
    const int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) {
      return;
    }
    std::thread(ServeConnection, fd).detach();
  }
}

// Bytes of earlier context every request carries (--request-bytes): an agent's requests
// hold its whole conversation, tens to hundreds of KB of code and tool results.
size_t context_bytes = 0;

// The context: source text as JSON escapes it (newlines, quotes, a tab).
std::string Context() {
  const std::string line = R"(    if (!parsed.ok()) {\n      return \"a tool's result\";\t}\n)";
  std::string context;
  while (context.size() < context_bytes) {
    context += line;
  }
  return context;
}

std::string Request(const std::string& path, bool stream) {
  static const std::string context = Context();
  const std::string earlier =
      context.empty() ? "" : R"({"role":"user","content":")" + context + R"("},)";
  const std::string body =
      std::string(R"({"model":"claude-haiku-4-5","max_tokens":64,)") +
      (stream ? R"("stream":true,)" : "") + R"("messages":[)" + earlier +
      R"({"role":"user","content":"Say hello to the benchmark."}]})";
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
         "x-api-key: placeholder\r\nanthropic-version: 2023-06-01\r\ncontent-length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

struct Sample {
  double total_us;
  double ttfb_us;
};

// Sequential calls on one keep-alive connection.
std::vector<Sample> Sequential(int port, const std::string& path, bool stream, int calls) {
  std::vector<Sample> samples;
  int fd = Connect(port);
  Reader* reader = new Reader(fd);
  const std::string request = Request(path, stream);
  for (int i = 0; i < calls; ++i) {
    const auto start = Clock::now();
    Clock::time_point first;
    if (!WriteAll(fd, request) || !ReadResponse(*reader, &first)) {
      Fail("call failed on port " + std::to_string(port));
    }
    const auto end = Clock::now();
    samples.push_back({std::chrono::duration<double, std::micro>(end - start).count(),
                       std::chrono::duration<double, std::micro>(first - start).count()});
  }
  delete reader;
  ::close(fd);
  return samples;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

long RssKb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

// `clients` threads, each streaming calls back to back for `seconds`; returns calls/s.
double Concurrent(int port, const std::string& path, int clients, double seconds) {
  std::atomic<long> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      const int fd = Connect(port);
      Reader reader(fd);
      const std::string request = Request(path, true);
      while (!stop.load()) {
        Clock::time_point first;
        if (!WriteAll(fd, request) || !ReadResponse(reader, &first)) {
          Fail("concurrent call failed");
        }
        done.fetch_add(1);
      }
      ::close(fd);
    });
  }
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) {
    t.join();
  }
  return static_cast<double>(done.load()) /
         std::chrono::duration<double>(Clock::now() - start).count();
}

// One call of FixedRate: when it was scheduled (from the phase's start) and its latency.
struct Paced {
  double at_ms = 0;
  double latency_us = 0;
};

// Non-streaming calls at `rate` per second for `seconds`, over 8 keep-alive connections
// each sending on its own schedule; each latency runs from the call's scheduled start, so a
// slow answer delays (and counts against) the calls queued behind it. In schedule order.
std::vector<Paced> FixedRate(int port, const std::string& path, double rate, double seconds) {
  constexpr int kConnections = 8;
  const auto interval = std::chrono::duration<double>(kConnections / rate);
  const int per_connection = static_cast<int>(rate * seconds / kConnections);
  std::vector<std::vector<Paced>> latencies(kConnections);
  std::vector<std::thread> threads;
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      const int fd = Connect(port);
      Reader reader(fd);
      const std::string request = Request(path, false);
      const auto offset = std::chrono::duration<double>(1.0 / rate) * c;
      for (int i = 0; i < per_connection; ++i) {
        const auto scheduled = start + std::chrono::duration_cast<Clock::duration>(
                                           offset + interval * i);
        std::this_thread::sleep_until(scheduled);
        Clock::time_point first;
        if (!WriteAll(fd, request) || !ReadResponse(reader, &first)) {
          Fail("call failed on port " + std::to_string(port));
        }
        latencies[c].push_back(
            {std::chrono::duration<double, std::milli>(scheduled - start).count(),
             std::chrono::duration<double, std::micro>(Clock::now() - scheduled).count()});
      }
      ::close(fd);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::vector<Paced> all;
  for (const auto& l : latencies) {
    all.insert(all.end(), l.begin(), l.end());
  }
  std::sort(all.begin(), all.end(),
            [](const Paced& a, const Paced& b) { return a.at_ms < b.at_ms; });
  return all;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// One way to reach the stub: directly, or through a meter process.
struct Target {
  std::string name;
  int port = 0;
  std::string path;
  pid_t pid = -1;  // the meter's, for its RSS
};

// What one round measured of one target.
struct Figures {
  double p50 = 0, p99 = 0, ttfb50 = 0, ttfb99 = 0, rate = 0, rss_mb = 0;
};

// `paced`, when set, gets a line per paced call: target, round, scheduled ms, latency us.
Figures Measure(const Target& target, int calls, double seconds, double rate, int round,
                FILE* paced) {
  Figures f;
  std::vector<double> latency;
  for (const Paced& call : FixedRate(target.port, target.path, rate, seconds)) {
    latency.push_back(call.latency_us);
    if (paced != nullptr) {
      std::fprintf(paced, "%s %d %.3f %.0f\n", target.name.c_str(), round, call.at_ms,
                   call.latency_us);
    }
  }
  f.p50 = Percentile(latency, 0.50);
  f.p99 = Percentile(latency, 0.99);
  std::vector<double> ttfb;
  for (const Sample& s : Sequential(target.port, target.path, true, calls)) {
    ttfb.push_back(s.ttfb_us);
  }
  f.ttfb50 = Percentile(ttfb, 0.50);
  f.ttfb99 = Percentile(ttfb, 0.99);
  std::atomic<long> rss_peak{0};
  std::atomic<bool> sampling{target.pid > 0};
  std::thread sampler([&] {
    while (sampling.load()) {
      rss_peak = std::max(rss_peak.load(), RssKb(target.pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  f.rate = Concurrent(target.port, target.path, 64, seconds);
  sampling = false;
  sampler.join();
  f.rss_mb = rss_peak.load() / 1024.0;
  return f;
}

// Starts `args` (the binary first) in a process of its own, its stderr to /dev/null; its
// pid, once it accepts on `port`.
pid_t StartServer(std::vector<std::string> args, int port) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execv(args.front().c_str(), argv.data());
    std::perror("exec");
    std::_Exit(127);
  }
  g_servers.push_back(pid);
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int probe = -1;
  while ((probe = Connect(port)) < 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (probe < 0) {
    std::fprintf(stderr, "%s did not start on port %d\n", args.front().c_str(), port);
    std::exit(1);
  }
  ::close(probe);
  return pid;
}

// Starts a meter in front of `upstream` with `extra` flags; its pid, once it accepts.
pid_t StartMeter(const std::string& binary, int port, const std::string& upstream,
                 const std::string& spool, std::vector<std::string> extra) {
  std::vector<std::string> args = {binary,        "--listen",
                                   "127.0.0.1:" + std::to_string(port),
                                   "--anthropic-upstream", upstream,
                                   "--openai-upstream",    upstream,
                                   "--spool-dir",          spool,
                                   "--log-level",          "error"};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartServer(std::move(args), port);
}

int FreeLoopbackPort() {
  int port = 0;
  ::close(Listen(&port));
  return port;
}

// The sum over every series of counter `name` in the Prometheus text at 127.0.0.1:`port`
// /metrics; -1 when it cannot be read.
double MetricSum(int port, const std::string& name) {
  const int fd = Connect(port);
  if (fd < 0 || !WriteAll(fd, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")) {
    if (fd >= 0) {
      ::close(fd);
    }
    return -1;
  }
  std::string text;
  char chunk[16384];
  for (ssize_t n; (n = ::recv(fd, chunk, sizeof(chunk), 0)) > 0;) {
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  double sum = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + "{", 0) == 0 || line.rfind(name + " ", 0) == 0) {
      sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  return sum;
}

// Reservations one after another through the meter's own authority client (TLS, the bound
// token, keep-alive): the round trip each call through a meter with an authority waits
// for before it is forwarded. Microseconds at p50 and p99. Keys are new in each `round`:
// a replayed key would time the authority's replay, not a reservation.
std::pair<double, double> ReserveRoundTrip(const agentbudget::bench::BenchAuthority& authority,
                                           int calls, int round) {
  namespace meter = agentbudget::meter;
  meter::HttpAuthorityClient::Options options;
  options.base_url = authority.url();
  options.ca_file = authority.ca_file();
  options.token_file = authority.token_file();
  auto client = meter::HttpAuthorityClient::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "authority client: %s\n", client.error().message.c_str());
    std::exit(1);
  }
  std::vector<double> micros;
  const std::string prefix =
      "bench-" + std::to_string(::getpid()) + "-" + std::to_string(round) + "-";
  for (int i = 0; i < calls; ++i) {
    meter::ReserveRequest request;
    request.idempotency_key = prefix + std::to_string(i);
    request.provider = "anthropic";
    request.model = "claude-sonnet-4-5";
    request.estimate_cost = agentbudget::core::Money::FromMicros(1);
    request.estimate_tokens = 1;
    const auto start = Clock::now();
    std::promise<agentbudget::Result<meter::Reservation>> answered;
    (*client)->Reserve(request, [&answered](agentbudget::Result<meter::Reservation> answer) {
      answered.set_value(std::move(answer));
    });
    auto reserved = answered.get_future().get();
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!reserved.ok()) {
      std::fprintf(stderr, "reserve: %s\n", reserved.error().message.c_str());
      std::exit(1);
    }
    (void)(*client)->Release(reserved->id, request.idempotency_key + "-release");
  }
  return {Percentile(micros, 0.5), Percentile(micros, 0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  std::string meter = AGENTBUDGET_METER_BINARY;
  std::string operator_binary = AGENTBUDGET_OPERATOR_BINARY;
  std::string cluster;
  int calls = 1000;
  int rounds = 3;
  double seconds = 3;
  double rate = 1000;
  FILE* paced = nullptr;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--meter" && has_value) {
      meter = argv[i + 1];
    } else if (flag == "--operator" && has_value) {
      operator_binary = argv[i + 1];
    } else if (flag == "--authority" && has_value) {
      cluster = argv[i + 1];
    } else if (flag == "--calls" && has_value && std::atoi(argv[i + 1]) > 0) {
      calls = std::atoi(argv[i + 1]);
    } else if (flag == "--rounds" && has_value && std::atoi(argv[i + 1]) > 0) {
      rounds = std::atoi(argv[i + 1]);
    } else if (flag == "--seconds" && has_value && std::atof(argv[i + 1]) > 0) {
      seconds = std::atof(argv[i + 1]);
    } else if (flag == "--rate" && has_value && std::atof(argv[i + 1]) > 0) {
      rate = std::atof(argv[i + 1]);
    } else if (flag == "--request-bytes" && has_value && std::atoi(argv[i + 1]) >= 0) {
      context_bytes = static_cast<size_t>(std::atoi(argv[i + 1]));
    } else if (flag == "--latencies" && has_value) {
      paced = std::fopen(argv[i + 1], "w");
      if (paced == nullptr) {
        std::fprintf(stderr, "cannot write %s: %s\n", argv[i + 1], std::strerror(errno));
        return 2;
      }
    } else {
      std::fprintf(flag == "--help" ? stdout : stderr,
                   "usage: meter_bench [--calls N] [--seconds S] [--rate R] [--rounds N]\n"
                   "                   [--authority CLUSTER [--operator PATH]] [--meter PATH]\n"
                   "                   [--latencies FILE] [--request-bytes N]\n"
                   "  Added latency at a fixed rate, stream TTFB, 64-stream throughput and RSS\n"
                   "  of the meter (and, with --authority, of a meter reserving at a real\n"
                   "  budget authority on local cluster CLUSTER), against direct calls and\n"
                   "  a relay that only copies bytes (the cost of the hop alone).\n"
                   "  --latencies FILE writes each paced call: target, round, the ms it was\n"
                   "  scheduled at from the phase's start, its latency in us.\n"
                   "  --request-bytes N adds about N bytes of earlier conversation to every\n"
                   "  request (default 0: a one-line request).\n");
      return flag == "--help" ? 0 : 2;
    }
  }
  std::atexit(StopEverything);
  int stub_port = 0;
  const int stub_fd = Listen(&stub_port);
  std::thread(RunStub, stub_fd).detach();
  const std::string upstream = "http://127.0.0.1:" + std::to_string(stub_port);
  const std::string dir = "/tmp/meter-bench-" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());

  std::vector<Target> targets = {{"direct", stub_port, "/v1/messages", -1}};
  const int relay_port = FreeLoopbackPort();
  targets.push_back({"relay", relay_port, "/v1/messages",
                     StartServer({AGENTBUDGET_RELAY_BINARY, "--listen",
                                  "127.0.0.1:" + std::to_string(relay_port), "--upstream",
                                  "127.0.0.1:" + std::to_string(stub_port)},
                                 relay_port)});
  const int local_port = FreeLoopbackPort();
  targets.push_back({"meter", local_port, "/anthropic/v1/messages",
                     StartMeter(meter, local_port, upstream, dir + "/spool-local", {})});
  if (!cluster.empty()) {
    auto started = agentbudget::bench::BenchAuthority::Start(cluster, operator_binary, dir);
    if (!started.ok()) {
      std::fprintf(stderr, "authority: %s\n", started.error().message.c_str());
      return 1;
    }
    g_authority = std::move(started).value();
    const auto& authority = g_authority;
    const int port = FreeLoopbackPort();
    // failureMode Closed: a call the authority did not reserve fails the benchmark rather
    // than pass on the local envelope alone.
    const pid_t pid = StartMeter(meter, port, upstream, dir + "/spool-authority",
                                 {"--authority-url", authority->url(), "--authority-ca-file",
                                  authority->ca_file(), "--authority-token-file",
                                  authority->token_file(), "--failure-mode", "Closed",
                                  "--run", authority->run()});
    targets.push_back({"meter+authority", port, "/anthropic/v1/messages", pid});
  }
  // Warm-up; for the authority, until it answers (its informers sync after start).
  for (const Target& target : targets) {
    const auto deadline = Clock::now() + std::chrono::minutes(2);
    while (true) {
      const int fd = Connect(target.port);
      Reader reader(fd);
      Clock::time_point first;
      const bool ok = WriteAll(fd, Request(target.path, false)) && ReadResponse(reader, &first);
      ::close(fd);
      if (ok) {
        break;
      }
      if (Clock::now() > deadline) {
        std::fprintf(stderr, "%s never answered 200\n", target.name.c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    Sequential(target.port, target.path, false, 200);
  }

  // figures[target][round]; targets[0] is direct, targets[kRelay] the byte relay.
  constexpr size_t kRelay = 1;
  std::vector<std::vector<Figures>> figures(targets.size());
  std::vector<double> reserve50;
  std::vector<double> reserve99;
  for (int round = 0; round < rounds; ++round) {
    for (size_t t = 0; t < targets.size(); ++t) {
      figures[t].push_back(Measure(targets[t], calls, seconds, rate, round, paced));
    }
    if (g_authority != nullptr) {
      const auto [p50, p99] = ReserveRoundTrip(*g_authority, calls, round);
      reserve50.push_back(p50);
      reserve99.push_back(p99);
    }
  }
  const auto median = [&](size_t t, double Figures::*field, bool added) {
    std::vector<double> values;
    for (int r = 0; r < rounds; ++r) {
      values.push_back(figures[t][r].*field - (added ? figures[0][r].*field : 0));
    }
    return Median(values);
  };
  std::printf("meter_bench: medians of %d rounds; %.0f non-streaming calls/s for %.0f s, %d "
              "streaming calls, 64 streams for %.0f s\n",
              rounds, rate, seconds, calls, seconds);
  for (size_t t = 0; t < targets.size(); ++t) {
    std::printf("%-16s latency us p50 %.0f p99 %.0f | TTFB us p50 %.0f p99 %.0f | "
                "64 streams %.0f calls/s",
                targets[t].name.c_str(), median(t, &Figures::p50, false),
                median(t, &Figures::p99, false), median(t, &Figures::ttfb50, false),
                median(t, &Figures::ttfb99, false), median(t, &Figures::rate, false));
    if (t == 0) {
      std::printf("\n");
      continue;
    }
    const auto ratio = [&](size_t baseline) {
      std::vector<double> ratios;
      for (int r = 0; r < rounds; ++r) {
        ratios.push_back(figures[t][r].rate / figures[baseline][r].rate);
      }
      return Median(ratios);
    };
    std::printf(" (%.2fx direct", ratio(0));
    if (t > kRelay) {
      std::printf(", %.2fx relay", ratio(kRelay));
    }
    std::printf(") | RSS peak %.1f MB\n", median(t, &Figures::rss_mb, false));
    std::printf("%-16s added     p50 %.0f p99 %.0f | added   p50 %.0f p99 %.0f\n", "",
                median(t, &Figures::p50, true), median(t, &Figures::p99, true),
                median(t, &Figures::ttfb50, true), median(t, &Figures::ttfb99, true));
  }
  if (g_authority != nullptr) {
    std::printf("authority reserve round trip (the meter's client, one at a time) us p50 %.0f "
                "p99 %.0f\n",
                Median(reserve50), Median(reserve99));
    std::fflush(stdout);
    // The meters stop (sending every commit and releasing what they held), then the
    // operator's counters are read once it refreshed them: every reservation it granted or
    // denied, less the round trips above, against the calls committed.
    StopServers();
    std::this_thread::sleep_for(std::chrono::seconds(6));
    const double decisions =
        MetricSum(g_authority->ops_port(), "agentbudget_reservation_decisions_total") -
        static_cast<double>(rounds) * calls;
    const double commits = MetricSum(g_authority->ops_port(), "agentbudget_ledger_commits_total");
    std::printf("authority: %.0f reservations for %.0f committed calls through the meter "
                "(%.3f per call)\n",
                decisions, commits, commits > 0 ? decisions / commits : 0.0);
  }
  std::fflush(stdout);
  if (paced != nullptr) {
    std::fclose(paced);
  }
  StopEverything();
  std::system(("rm -rf " + dir).c_str());
  return 0;
}
