// Pod-mutation admission latency (p50/p99), admissions per second and RSS of one webhook
// server process, measured by posting AdmissionReviews directly over keep-alive TLS
// connections. The server runs in a forked child (the webhook's own HTTPS server, handler
// and cache, fed with one namespace and one AgentWorkload), so its RSS is its own.
//
// Baseline, measured in the same run: the same server answering a fixed AdmissionReview
// response on /noop without decoding the request (TLS, HTTP parsing, the event loop).
// Each round measures the baseline, then pod mutation; the figures are medians of the
// rounds, and the ratio says what share of the server's capacity the admission rules cost.
//
//   webhook_bench [--seconds N per measurement] [--rounds N] [--connections N] [--workers N]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "common/log.h"
#include "tests/common/test_tls.h"
#include "webhook/admission_handler.h"

namespace {

using namespace agentbudget;
using SteadyClock = std::chrono::steady_clock;

class NoFanout : public webhook::FanoutCounter {
 public:
  Result<webhook::FanoutClaim> Claim(const webhook::FanoutRequest&) override {
    return webhook::FanoutClaim{true, 1};
  }
};

int64_t RssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoll(line.substr(6));
    }
  }
  return -1;
}

// The child: serve until the parent closes `control`.
int Serve(uint16_t port, size_t workers, const testing::CertificateFiles& certs, int ready,
          int control) {
  log::Configure("webhook-bench", log::Level::kWarn);
  webhook::ClusterCache cache;
  cache.PutNamespace({{"metadata",
                       {{"name", "payments"},
                        {"labels",
                         {{"agentbudget.io/inject", "enabled"},
                          {"agentbudget.io/team", "payments"}}}}}});
  Status put = cache.PutWorkload(
      {{"metadata", {{"name", "pr-review"}, {"namespace", "payments"}}},
       {"spec",
        {{"selector", {{"matchLabels", {{"agentbudget.io/workload", "pr-review"}}}}},
         {"class", "AutonomousBounded"},
         {"attribution", {{"workflow", "pr-review"}, {"repo", "acme/payments"}}},
         {"models", {{"allowed", {"claude-sonnet-4-5"}}}},
         {"perRun", {{"maxRuntime", "1h"}}},
         {"meter", {{"credentialsSecretRef", {{"name", "llm-keys"}}}}}}}});
  if (!put.ok()) {
    return 1;
  }
  NoFanout fanout;
  webhook::WebhookMetrics metrics(std::make_shared<prometheus::Registry>());
  webhook::AdmissionHandler handler(cache, fanout, nullptr, webhook::MeterSettings{}, metrics);
  http::Router router;
  router.Add("POST", "/mutate", [&](const http::Request& r) { return handler.Mutate(r); });
  router.Add("POST", "/noop", [](const http::Request&) {
    http::Response response;
    response.headers["Content-Type"] = "application/json";
    response.body = webhook::EncodeAdmissionReview("noop", webhook::AdmissionDecision::Allow());
    return response;
  });
  http::ServerOptions options;
  options.port = port;
  options.worker_threads = workers;
  options.tls = http::TlsOptions{certs.cert_file, certs.key_file};
  auto server = http::HttpServer::Start(options, std::move(router));
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.error().ToString().c_str());
    return 1;
  }
  (void)::write(ready, "r", 1);
  char c;
  while (::read(control, &c, 1) > 0) {
  }
  (*server)->Stop();
  return 0;
}

std::string Review(int i, const std::string& path) {
  nlohmann::json review = {
      {"apiVersion", "admission.k8s.io/v1"},
      {"kind", "AdmissionReview"},
      {"request",
       {{"uid", "bench-" + std::to_string(i)},
        {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
        {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
        {"namespace", "payments"},
        {"operation", "CREATE"},
        {"userInfo", {{"username", "system:serviceaccount:ci:runner"}}},
        {"object",
         {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"generateName", "agent-"},
            {"namespace", "payments"},
            {"labels", {{"agentbudget.io/workload", "pr-review"}, {"app", "agent"}}}}},
          {"spec",
           {{"containers",
             {{{"name", "agent"},
               {"image", "registry/agent:1"},
               {"env", {{{"name", "ANTHROPIC_MODEL"}, {"value", "claude-sonnet-4-5"}}}},
               {"resources", {{"requests", {{"cpu", "1"}, {"memory", "1Gi"}}}}}}}},
            {"restartPolicy", "Never"}}}}}}}};
  std::string body = review.dump();
  return "POST " + path + " HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// One keep-alive TLS connection posting reviews back to back; records each latency.
struct Connection {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;

  bool Open(uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return false;
    }
    ctx = SSL_CTX_new(TLS_client_method());
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    return SSL_connect(ssl) == 1;
  }
  // Sends one request and reads one response; false on any failure or a non-200.
  bool RoundTrip(const std::string& request, std::string& buffer) {
    if (SSL_write(ssl, request.data(), static_cast<int>(request.size())) <= 0) {
      return false;
    }
    buffer.clear();
    char chunk[16384];
    for (;;) {
      auto end = buffer.find("\r\n\r\n");
      if (end != std::string::npos) {
        auto cl = buffer.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) {
          size_t length = std::strtoul(buffer.c_str() + cl + 16, nullptr, 10);
          if (buffer.size() >= end + 4 + length) {
            return buffer.compare(0, 12, "HTTP/1.1 200") == 0;
          }
        }
      }
      int n = SSL_read(ssl, chunk, sizeof(chunk));
      if (n <= 0) {
        return false;
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
  }
  ~Connection() {
    if (ssl != nullptr) {
      SSL_free(ssl);
    }
    if (ctx != nullptr) {
      SSL_CTX_free(ctx);
    }
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

// One measurement: `connections` keep-alive connections posting to `path` for `seconds`.
struct Figures {
  int64_t count = 0;
  int64_t failures = 0;
  double rate = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
  int64_t rss_peak = 0;
};

Figures Measure(uint16_t port, const std::string& path, int connections, int seconds,
                pid_t server) {
  std::vector<std::string> requests;
  for (int i = 0; i < 1000; ++i) {
    requests.push_back(Review(i, path));
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failures{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  const auto start = SteadyClock::now();
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      Connection conn;
      if (!conn.Open(port)) {
        ++failures;
        return;
      }
      std::string buffer;
      for (size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const auto sent = SteadyClock::now();
        if (!conn.RoundTrip(requests[(i + static_cast<size_t>(t) * 7) % requests.size()], buffer)) {
          ++failures;
          return;
        }
        latencies[static_cast<size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count());
      }
    });
  }
  Figures f;
  const auto end = start + std::chrono::seconds(seconds);
  while (SteadyClock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // RSS sampling period
    f.rss_peak = std::max(f.rss_peak, RssKib(server));
  }
  stop = true;
  for (std::thread& t : threads) {
    t.join();
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::vector<double> all;
  for (const auto& v : latencies) {
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  f.failures = failures.load();
  f.count = static_cast<int64_t>(all.size());
  if (all.empty()) {
    f.failures = std::max<int64_t>(f.failures, 1);
    return f;
  }
  auto pct = [&](double p) {
    return all[std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())))];
  };
  f.rate = static_cast<double>(all.size()) / elapsed;
  f.p50 = pct(0.50);
  f.p90 = pct(0.90);
  f.p99 = pct(0.99);
  f.max = all.back();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 3;
  int rounds = 3;
  int connections = 8;
  size_t workers = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int value = std::atoi(argv[i + 1]);
    if (flag == "--seconds") {
      seconds = value;
    } else if (flag == "--rounds" && value > 0) {
      rounds = value;
    } else if (flag == "--connections") {
      connections = value;
    } else if (flag == "--workers") {
      workers = static_cast<size_t>(value);
    } else {
      std::fprintf(stderr, "usage: webhook_bench [--seconds N] [--rounds N] [--connections N] "
                   "[--workers N]\n");
      return 2;
    }
  }
  testing::TempDir dir;
  auto certs = testing::WriteSelfSignedCertificate(dir.path(), "bench", "webhook-bench");
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(addr);
  if (!certs.ok() || ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    std::fprintf(stderr, "set-up failed\n");
    return 1;
  }
  ::close(sock);
  const uint16_t port = ntohs(addr.sin_port);
  int ready[2];
  int control[2];
  if (::pipe(ready) != 0 || ::pipe(control) != 0) {
    return 1;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(ready[0]);
    ::close(control[1]);
    ::_exit(Serve(port, workers, *certs, ready[1], control[0]));
  }
  ::close(ready[1]);
  ::close(control[0]);
  char c;
  if (::read(ready[0], &c, 1) != 1) {
    std::fprintf(stderr, "the server did not start\n");
    return 1;
  }
  const int64_t rss_rest = RssKib(child);

  std::vector<Figures> noop;
  std::vector<Figures> mutate;
  int64_t rss_peak = rss_rest;
  int64_t failures = 0;
  std::printf("webhook pod mutation, direct AdmissionReview POSTs over TLS keep-alive\n");
  std::printf("  connections %d, server workers %zu, %d rounds of %d s per path\n", connections,
              workers, rounds, seconds);
  for (int round = 0; round < rounds; ++round) {
    for (const char* path : {"/noop", "/mutate"}) {
      Figures f = Measure(port, path, connections, seconds, child);
      std::printf("  round %d %-7s %7.0f/s  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f ms  "
                  "(%lld admissions, %lld failures)\n",
                  round + 1, path, f.rate, f.p50, f.p90, f.p99, f.max,
                  static_cast<long long>(f.count), static_cast<long long>(f.failures));
      rss_peak = std::max(rss_peak, f.rss_peak);
      failures += f.failures;
      (std::string(path) == "/noop" ? noop : mutate).push_back(f);
    }
  }
  ::close(control[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  auto median = [](const std::vector<Figures>& v, double Figures::*field) {
    std::vector<double> values;
    for (const Figures& f : v) {
      values.push_back(f.*field);
    }
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  std::printf("medians of %d rounds:\n", rounds);
  for (const auto* set : {&noop, &mutate}) {
    std::printf("  %-7s %7.0f/s  p50 %.3f  p90 %.3f  p99 %.3f ms\n",
                set == &noop ? "/noop" : "/mutate", median(*set, &Figures::rate),
                median(*set, &Figures::p50), median(*set, &Figures::p90),
                median(*set, &Figures::p99));
  }
  std::printf("  mutate/noop throughput ratio %.2f\n",
              median(mutate, &Figures::rate) / median(noop, &Figures::rate));
  std::printf("  server RSS: at rest %lld KiB, peak under load %lld KiB\n",
              static_cast<long long>(rss_rest), static_cast<long long>(rss_peak));
  return failures == 0 ? 0 : 1;
}
