#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "common/event_loops.h"
#include "common/result.h"
#include "meter/upstream_client.h"

namespace agentbudget::meter {

struct BeastUpstreamOptions {
  std::string base_url;  // "https://api.anthropic.com", "http://127.0.0.1:8080/prefix"
  // Extra CAs for an https base URL, from a PEM file and as PEM text; the provider's
  // certificate and host name are always verified.
  std::string ca_file;
  std::string ca_pem;
  std::string ca_pem_name = "the CA bundle given as text";  // how errors name ca_pem
  // Whether the system's CAs are trusted besides those. When false and no CA is given, the
  // system's are trusted still (there would be nothing to verify against otherwise).
  bool system_cas = true;
  // How long the provider may stay silent: connecting, and between any two reads or writes.
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
  // A pooled connection idle this long is closed: shorter than the providers' own idle
  // timeouts, so that a request is rarely sent on a connection the provider is closing.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(15);
  // Idle connections kept at most; one more released is closed.
  size_t max_idle = 256;
  // Bytes read from the provider at once, and the most one piece of an answer's body holds:
  // a request in flight holds the connection's read buffer of this size and a piece no
  // larger than its largest read.
  size_t read_buffer = 16 * 1024;
  // Unset: the client runs `threads` event loops of its own. Set: it runs on these (see
  // BeastUpstreamClient), which must outlive the client and be stopped before it is
  // destroyed.
  EventLoops* loops = nullptr;
  size_t threads = 1;
};

// UpstreamClient on Boost.Beast and Asio, with TLS by OpenSSL for https: a pool of
// keep-alive connections, each used by one request at a time and returned once its answer
// was read to the end. A request that fails on a reused connection before any byte of an
// answer arrived (the provider closed it while idle) is sent once more on a new connection.
// The connections in flight and idle are bounded by the callers' requests and max_idle
// (per loop). A request runs on the loop of the thread that sends it when that is one of the
// client's loops (a server's handler on shared EventLoops: the call and its upstream
// exchange then share one thread, and the answer's pieces reach the caller without a hop),
// else on the next loop in turn; each loop pools its own idle connections.
// Thread-safe. Destroying the client stops its own loops.
// REQUIRES (of the caller): every UpstreamBody is destroyed before the client; with
// options.loops, the loops are stopped before the client is destroyed.
class BeastUpstreamClient final : public UpstreamClient {
 public:
  // Fails with kInvalidArgument for a malformed base URL (see ParseBaseUrl), an unreadable
  // CA file, a CA file or PEM text that holds no certificate, zero threads or a read_buffer
  // of 0.
  static Result<std::unique_ptr<BeastUpstreamClient>> Create(BeastUpstreamOptions options);
  ~BeastUpstreamClient() override;

  void Send(UpstreamRequest request, std::function<void(UpstreamOutcome)> done) override;

  // Pooled connections now idle (for tests and metrics).
  size_t idle_connections() const;

  class Impl;

 private:
  explicit BeastUpstreamClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace agentbudget::meter
