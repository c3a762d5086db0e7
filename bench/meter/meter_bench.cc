// Measures what the meter adds to LLM calls, against a baseline that calls the same stub
// provider directly, in the same run:
//   - non-streaming calls: latency p50/p99, direct and through the meter;
//   - streaming calls: time to the first event (TTFB), direct and through the meter;
//   - 64 concurrent streaming clients: calls per second, direct and through the meter;
//   - the meter's RSS idle and at its peak under that load.
// The stub is an in-process HTTP/1.1 server answering the Anthropic Messages API with
// fixed usage; clients are raw keep-alive sockets, so neither adds framework overhead.
//
// Usage: meter_bench [--meter PATH] [--calls N] [--seconds S]
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
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

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

std::string Request(const std::string& path, bool stream) {
  const std::string body =
      std::string(R"({"model":"claude-haiku-4-5","max_tokens":64,)") +
      (stream ? R"("stream":true,)" : "") +
      R"("messages":[{"role":"user","content":"Say hello to the benchmark."}]})";
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
      std::fprintf(stderr, "call failed on port %d\n", port);
      std::exit(1);
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
          std::fprintf(stderr, "concurrent call failed\n");
          std::exit(1);
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

}  // namespace

int main(int argc, char** argv) {
  std::string meter = AGENTBUDGET_METER_BINARY;
  int calls = 2000;
  double seconds = 5;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--meter" && has_value) {
      meter = argv[i + 1];
    } else if (flag == "--calls" && has_value && std::atoi(argv[i + 1]) > 0) {
      calls = std::atoi(argv[i + 1]);
    } else if (flag == "--seconds" && has_value && std::atof(argv[i + 1]) > 0) {
      seconds = std::atof(argv[i + 1]);
    } else {
      std::fprintf(flag == "--help" ? stdout : stderr,
                   "usage: meter_bench [--calls N] [--seconds S] [--meter PATH]\n"
                   "  Added latency, stream TTFB, 64-stream throughput and RSS of the meter,\n"
                   "  each against a direct-to-stub baseline measured in the same run.\n");
      return flag == "--help" ? 0 : 2;
    }
  }
  int stub_port = 0;
  const int stub_fd = Listen(&stub_port);
  std::thread(RunStub, stub_fd).detach();

  int meter_port = 0;
  ::close(Listen(&meter_port));
  const std::string listen = "127.0.0.1:" + std::to_string(meter_port);
  const std::string upstream = "http://127.0.0.1:" + std::to_string(stub_port);
  const std::string spool = "/tmp/meter-bench-spool-" + std::to_string(::getpid());
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(meter.c_str(), meter.c_str(), "--listen", listen.c_str(), "--anthropic-upstream",
            upstream.c_str(), "--openai-upstream", upstream.c_str(), "--spool-dir",
            spool.c_str(), "--log-level", "error", static_cast<char*>(nullptr));
    std::perror("exec meter");
    std::_Exit(127);
  }
  // Wait (with a deadline) for the meter to accept connections.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  int probe = -1;
  while ((probe = Connect(meter_port)) < 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (probe < 0) {
    std::fprintf(stderr, "meter did not start\n");
    ::kill(pid, SIGTERM);
    return 1;
  }
  ::close(probe);

  const std::string direct = "/v1/messages";
  const std::string metered = "/anthropic/v1/messages";
  Sequential(stub_port, direct, false, 200);  // warm-up
  Sequential(meter_port, metered, false, 200);
  const long rss_idle = RssKb(pid);

  std::vector<double> d_total, m_total, d_ttfb, m_ttfb;
  for (const Sample& s : Sequential(stub_port, direct, false, calls)) d_total.push_back(s.total_us);
  for (const Sample& s : Sequential(meter_port, metered, false, calls)) m_total.push_back(s.total_us);
  for (const Sample& s : Sequential(stub_port, direct, true, calls / 2)) d_ttfb.push_back(s.ttfb_us);
  for (const Sample& s : Sequential(meter_port, metered, true, calls / 2)) m_ttfb.push_back(s.ttfb_us);

  std::atomic<long> rss_peak{0};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling.load()) {
      rss_peak = std::max(rss_peak.load(), RssKb(pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const double direct_rate = Concurrent(stub_port, direct, 64, seconds);
  const double meter_rate = Concurrent(meter_port, metered, 64, seconds);
  sampling = false;
  sampler.join();

  const double dp50 = Percentile(d_total, 0.50), dp99 = Percentile(d_total, 0.99);
  const double mp50 = Percentile(m_total, 0.50), mp99 = Percentile(m_total, 0.99);
  const double dt50 = Percentile(d_ttfb, 0.50), dt99 = Percentile(d_ttfb, 0.99);
  const double mt50 = Percentile(m_ttfb, 0.50), mt99 = Percentile(m_ttfb, 0.99);
  std::printf("meter_bench: %d non-streaming and %d streaming calls, 64 streams for %.0f s\n",
              calls, calls / 2, seconds);
  std::printf("non-streaming latency us  direct p50 %.0f p99 %.0f | meter p50 %.0f p99 %.0f | "
              "added p50 %.0f p99 %.0f | ratio p50 %.2fx p99 %.2fx\n",
              dp50, dp99, mp50, mp99, mp50 - dp50, mp99 - dp99, mp50 / dp50, mp99 / dp99);
  std::printf("stream TTFB us            direct p50 %.0f p99 %.0f | meter p50 %.0f p99 %.0f | "
              "added p50 %.0f p99 %.0f | ratio p50 %.2fx\n",
              dt50, dt99, mt50, mt99, mt50 - dt50, mt99 - dt99, mt50 / dt50);
  std::printf("64 concurrent streams     direct %.0f calls/s | meter %.0f calls/s | ratio %.2fx\n",
              direct_rate, meter_rate, meter_rate / direct_rate);
  std::printf("meter RSS                 idle %.1f MB | peak under 64 streams %.1f MB\n",
              rss_idle / 1024.0, rss_peak.load() / 1024.0);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::system(("rm -rf " + spool).c_str());
  return 0;
}
