#include "common/http_server.h"

#include <gtest/gtest.h>
#include <prometheus/counter.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/http_request_target.h"
#include "common/metrics_endpoint.h"
#include "tests/common/test_tls.h"

namespace agentbudget::http {
namespace {

using testing::BodyOf;
using testing::RawHttpExchange;
using testing::StatusOf;

Request MakeRequest(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

Handler Named(std::string name) {
  return [name](const Request&) { return Response::Text(200, name); };
}

TEST(RouterTest, LongestMatchingPrefixWins) {
  Router router;
  router.Add("GET", "/v1", Named("v1"));
  router.Add("GET", "/v1/runs", Named("runs"));
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/v1/runs/abc")).body, "runs");
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/v1/budgets")).body, "v1");
}

TEST(RouterTest, PrefixDoesNotMatchInsideAPathSegment) {
  Router router;
  router.Add("GET", "/v1/runs", Named("runs"));
  EXPECT_EQ(router.Dispatch(MakeRequest("GET", "/v1/runsx")).status, 404);
}

TEST(RouterTest, KnownPathWithOtherMethodIsAnswered405WithAllow) {
  Router router;
  router.Add("POST", "/mutate", Named("mutate"));
  Response r = router.Dispatch(MakeRequest("GET", "/mutate"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["Allow"], "POST");
}

TEST(RouterTest, WildcardMethodMatchesAnyMethod) {
  Router router;
  router.Add("*", "/", Named("any"));
  EXPECT_EQ(router.Dispatch(MakeRequest("DELETE", "/x/y")).body, "any");
}

TEST(ResponseTest, ErrorsMapToTheirHttpStatusAndJsonBody) {
  Response r = Response::FromError(MakeError(ErrorCode::kConflict, "reused key"));
  EXPECT_EQ(r.status, 409);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "conflict");
  EXPECT_EQ(body["error"]["message"], "reused key");
}

TEST(RequestTargetTest, DecodesThePathAndKeepsTheQueryRaw) {
  auto target = ParseRequestTarget("/a%20b/c%2Fd?x=%20&y");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->path, "/a b/c/d");
  EXPECT_EQ(target->query, "x=%20&y");
}

TEST(RequestTargetTest, RefusesTargetsThatAreNotPaths) {
  EXPECT_FALSE(ParseRequestTarget("").ok());
  EXPECT_FALSE(ParseRequestTarget("http://example.com/").ok());
  EXPECT_FALSE(ParseRequestTarget("*").ok());
}

TEST(RequestTargetTest, RefusesBadEscapesAndEncodedNul) {
  EXPECT_FALSE(ParseRequestTarget("/a%2").ok());
  EXPECT_FALSE(ParseRequestTarget("/a%zz").ok());
  auto nul = ParseRequestTarget("/a%00b");
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().message.find("NUL"), std::string::npos);
}

// A plain TCP connection to the test server, closed by the destructor.
class Socket {
 public:
  explicit Socket(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Socket() { ::close(fd_); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // What arrives next (one read), or "" after `deadline`.
  std::string ReadSome(std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    pollfd p{fd_, POLLIN, 0};
    char buf[4096];
    if (::poll(&p, 1, static_cast<int>(deadline.count())) <= 0) {
      return "";
    }
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  // A chunked answer up to its terminating chunk, or what arrived before a read found
  // nothing for five seconds.
  std::string ReadUntilLastChunk() {
    std::string answer;
    while (answer.find("0\r\n\r\n") == std::string::npos) {
      const std::string more = ReadSome();
      if (more.empty()) {
        break;
      }
      answer += more;
    }
    return answer;
  }
  // Whether ReadUntilClosed saw the server close (rather than its deadline pass).
  bool closed() const { return closed_; }
  // Everything received until the server closes, or `deadline` passes.
  std::string ReadUntilClosed(std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + deadline;
    char buf[4096];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        return out;
      }
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed_ = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
};

// `count` connections to `port`, each closed when the vector goes.
std::vector<std::unique_ptr<Socket>> Connect(uint16_t port, int count) {
  std::vector<std::unique_ptr<Socket>> sockets;
  for (int i = 0; i < count; ++i) {
    sockets.push_back(std::make_unique<Socket>(port));
  }
  return sockets;
}

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

class HttpServerTest : public ::testing::Test {
 protected:
  std::unique_ptr<HttpServer> StartServer(Router router, ServerOptions options = {}) {
    auto server = HttpServer::Start(std::move(options), std::move(router));
    EXPECT_TRUE(server.ok()) << (server.ok() ? "" : server.error().ToString());
    return server.ok() ? std::move(server).value() : nullptr;
  }
  // A server answering every request 200 "ok".
  std::unique_ptr<HttpServer> StartOkServer(ServerOptions options = {}) {
    Router router;
    router.Add("*", "/", Named("ok"));
    return StartServer(std::move(router), std::move(options));
  }
  // A server answering every POST / with its body.
  std::unique_ptr<HttpServer> StartEchoServer() {
    Router router;
    router.Add("POST", "/", [](const Request& r) { return Response::Text(200, r.body); });
    return StartServer(std::move(router));
  }
  // The server's answer to `request` over plain HTTP, or "" when the exchange failed.
  static std::string Answer(uint16_t port, const std::string& request) {
    auto exchange = RawHttpExchange(port, request, false);
    return exchange.ok() ? exchange->response : "";
  }
  // The status of a plain GET /, or -1 when the exchange failed.
  static int StatusOfGet(uint16_t port) {
    return StatusOf(Answer(port, "GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  }
};

TEST_F(HttpServerTest, HandlerSeesMethodPathQueryHeadersAndBody) {
  Router router;
  router.Add("POST", "/echo", [](const Request& r) {
    return Response::Json(200, {{"method", r.method},
                                {"path", r.path},
                                {"query", r.query},
                                {"header", r.Header("x-trace")},
                                {"body", r.body}});
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  auto exchange = RawHttpExchange(server->port(),
                                  "POST /echo/a%20b?x=1&y=2 HTTP/1.1\r\nHost: t\r\n"
                                  "X-Trace: abc\r\nContent-Length: 5\r\n\r\nhello",
                                  /*tls=*/false);
  ASSERT_TRUE(exchange.ok());
  ASSERT_EQ(StatusOf(exchange->response), 200) << exchange->response;
  auto body = nlohmann::json::parse(BodyOf(exchange->response));
  EXPECT_EQ(body["method"], "POST");
  EXPECT_EQ(body["path"], "/echo/a b");
  EXPECT_EQ(body["query"], "x=1&y=2");
  EXPECT_EQ(body["header"], "abc");
  EXPECT_EQ(body["body"], "hello");
}

TEST_F(HttpServerTest, DeclaredBodyOverTheLimitIsRefusedWith413) {
  Router router;
  router.Add("POST", "/", Named("ok"));
  ServerOptions options;
  options.max_body_bytes = 64;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  // The client streams its body; the server answers long before the declared 100 MB.
  auto exchange = RawHttpExchange(server->port(),
                                  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n" +
                                      std::string(256 * 1024, 'x'),
                                  false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 413) << exchange->response;
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIsRefusedWith413) {
  Router router;
  router.Add("POST", "/", Named("ok"));
  ServerOptions options;
  options.max_body_bytes = 64;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  std::string chunks;
  for (int i = 0; i < 10; ++i) {
    chunks += "10\r\n" + std::string(16, 'x') + "\r\n";
  }
  auto exchange = RawHttpExchange(
      server->port(),
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n",
      false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 413) << exchange->response;
}

TEST_F(HttpServerTest, ChunkedBodyUnderTheLimitReachesTheHandler) {
  auto server = StartEchoServer();
  ASSERT_NE(server, nullptr);
  auto exchange = RawHttpExchange(
      server->port(),
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(BodyOf(exchange->response), "abc");
}

TEST_F(HttpServerTest, HandlerExceptionIsAnswered500) {
  Router router;
  router.Add("GET", "/", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  auto exchange = RawHttpExchange(server->port(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n", false);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 500);
}

TEST_F(HttpServerTest, StalledClientDoesNotHoldTheOnlyWorker) {
  ServerOptions options;
  options.worker_threads = 1;
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  // Promises 100 bytes, sends 3, then stalls (until the deadline closes the socket).
  std::thread stalled([&] {
    auto r = RawHttpExchange(server->port(),
                             "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc", false,
                             TLS1_3_VERSION, std::chrono::milliseconds(1500));
    EXPECT_TRUE(r.ok());
  });
  const auto start = std::chrono::steady_clock::now();
  auto exchange = RawHttpExchange(server->port(), "GET / HTTP/1.1\r\nHost: t\r\n\r\n", false);
  const auto took = std::chrono::steady_clock::now() - start;
  stalled.join();
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 200);
  EXPECT_LT(took, std::chrono::milliseconds(1000));
}

TEST_F(HttpServerTest, OperationalRoutesReportHealthReadinessAndMetrics) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("agentbudget_test_total").Help("t").Register(*registry).Add({})
      .Increment();
  std::atomic<bool> ready{false};
  Router router;
  AddOperationalRoutes(
      router,
      [&ready]() -> Status {
        return ready ? OkStatus() : MakeError(ErrorCode::kFailedPrecondition, "caches syncing");
      },
      registry);
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  auto get = [&](const std::string& path) {
    auto r = RawHttpExchange(server->port(), "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n", false);
    return r.ok() ? r->response : std::string();
  };
  EXPECT_EQ(StatusOf(get("/healthz")), 200);
  std::string not_ready = get("/readyz");
  EXPECT_EQ(StatusOf(not_ready), 503);
  EXPECT_NE(BodyOf(not_ready).find("caches syncing"), std::string::npos);
  ready = true;
  EXPECT_EQ(StatusOf(get("/readyz")), 200);
  EXPECT_NE(BodyOf(get("/metrics")).find("agentbudget_test_total 1"), std::string::npos);
}

TEST_F(HttpServerTest, KeepAliveConnectionServesPipelinedRequestsInOrder) {
  Router router;
  router.Add("GET", "/", [](const Request& r) { return Response::Text(200, r.path); });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Socket client(server->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET /first HTTP/1.1\r\nHost: t\r\n\r\n"
                          "GET /second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  const std::string answers = client.ReadUntilClosed();
  EXPECT_EQ(CountOf(answers, "HTTP/1.1 200"), 2u) << answers;
  EXPECT_LT(answers.find("/first"), answers.find("/second"));
}

TEST_F(HttpServerTest, RequestThatStopsArrivingIsAnswered408) {
  ServerOptions options;
  options.request_timeout = std::chrono::milliseconds(200);
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  Socket client(server->port());
  ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  const std::string answer = client.ReadUntilClosed();
  EXPECT_EQ(StatusOf(answer), 408) << answer;
  EXPECT_NE(BodyOf(answer).find("did not arrive within 200 ms"), std::string::npos);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedWithoutAnAnswer) {
  ServerOptions options;
  options.idle_timeout = std::chrono::milliseconds(100);
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  Socket client(server->port());
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.ReadUntilClosed(std::chrono::seconds(10)), "");
  EXPECT_TRUE(client.closed());
}

// A stopping server with a drain period answers a request on a keep-alive connection it
// already had, with Connection: close, and stops once that connection ended: a drain longer
// than the test's timeout would fail it if waited out.
TEST_F(HttpServerTest, AStoppingServerAnswersWhatArrivesOnOpenConnectionsAndClosesThem) {
  ServerOptions options;
  options.drain = std::chrono::seconds(600);
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  Socket pooled(port);
  ASSERT_TRUE(pooled.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string first = pooled.ReadSome();
  ASSERT_EQ(StatusOf(first), 200) << first;
  EXPECT_EQ(first.find("Connection: close"), std::string::npos) << first;

  std::thread stopping([&server] { server->Stop(); });
  // Draining once new connections are refused.
  while (Socket(port).connected()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(pooled.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string last = pooled.ReadUntilClosed(std::chrono::seconds(30));
  EXPECT_EQ(StatusOf(last), 200) << last;
  EXPECT_NE(last.find("Connection: close"), std::string::npos) << last;
  EXPECT_TRUE(pooled.closed());
  stopping.join();
}

TEST_F(HttpServerTest, OversizedHeadersAreAnswered431) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  const std::string answer = Answer(
      server->port(), "GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4096, 'x') + "\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 431) << answer;
}

TEST_F(HttpServerTest, MalformedRequestIsAnswered400NamingTheRule) {
  auto server = StartOkServer();
  ASSERT_NE(server, nullptr);
  const std::string bad_escape = Answer(server->port(), "GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(StatusOf(bad_escape), 400);
  EXPECT_NE(BodyOf(bad_escape).find("two hex digits"), std::string::npos);
  const std::string garbage = Answer(server->port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_EQ(StatusOf(garbage), 400) << garbage;
}

TEST_F(HttpServerTest, ExpectContinueIsHonouredBeforeTheBody) {
  auto server = StartEchoServer();
  ASSERT_NE(server, nullptr);
  Socket client(server->port());
  ASSERT_TRUE(client.Send("POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                          "Content-Length: 5\r\nConnection: close\r\n\r\n"));
  // The interim answer comes before the body is sent.
  EXPECT_EQ(client.ReadSome(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.Send("hello"));
  const std::string final_answer = client.ReadUntilClosed();
  EXPECT_EQ(StatusOf(final_answer), 200) << final_answer;
  EXPECT_EQ(BodyOf(final_answer), "hello");
}

TEST_F(HttpServerTest, ManyIdleKeepAliveClientsHoldNoThread) {
  ServerOptions options;
  options.worker_threads = 1;
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  const auto idle = Connect(server->port(), 500);
  // Half of them sent a partial request and stalled, too.
  for (size_t i = 0; i < idle.size(); i += 2) {
    ASSERT_TRUE(idle[i]->connected());
    ASSERT_TRUE(idle[i]->Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nab"));
  }
  EXPECT_EQ(StatusOfGet(server->port()), 200);
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitAreAnswered503) {
  ServerOptions options;
  options.max_connections = 4;
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  const auto held = Connect(server->port(), 4);
  for (const auto& socket : held) {
    // An answered request proves the server has accepted (and counted) the connection.
    ASSERT_TRUE(socket->Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    ASSERT_EQ(StatusOf(socket->ReadSome()), 200);
  }
  EXPECT_EQ(StatusOfGet(server->port()), 503);
}

TEST_F(HttpServerTest, ConnectionChurnIsServedAndLeavesNoConnectionOpen) {
  ServerOptions options;
  options.max_connections = 8;
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  // Far more connections, one after another, than the server may hold open at once: each
  // must be released when its client goes, or the later ones would be refused 503.
  for (int i = 0; i < 300; ++i) {
    auto exchange = RawHttpExchange(server->port(),
                                    "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", false);
    ASSERT_TRUE(exchange.ok());
    ASSERT_EQ(StatusOf(exchange->response), 200) << "connection " << i;
  }
}

// A stream handler writing `chunks` one after another, each once the previous was written,
// then ending (or aborting, when `abort`).
StreamHandler Streaming(std::vector<std::string> chunks, bool abort) {
  return [chunks = std::move(chunks), abort](Request&&, std::shared_ptr<ResponseWriter> writer) {
    auto next = std::make_shared<std::function<void(size_t)>>();
    *next = [writer, chunks, abort, weak = std::weak_ptr(next)](size_t i) {
      if (i == chunks.size()) {
        if (abort) {
          writer->Abort();
        } else {
          writer->End({});
        }
        return;
      }
      writer->Write(chunks[i], [i, next = weak.lock()](bool written) {
        if (written && next) {
          (*next)(i + 1);
        }
      });
    };
    writer->Begin(200, {{"Content-Type", "text/event-stream"}}, {},
                  [next](bool written) {
                    if (written) {
                      (*next)(0);
                    }
                  });
  };
}

TEST_F(HttpServerTest, AStreamedAnswerIsChunkedAndTheConnectionServesTheNextRequest) {
  Router router;
  router.AddStream("GET", "/stream", Streaming({"first\n", "second\n"}, /*abort=*/false));
  router.Add("GET", "/", Named("plain"));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Socket socket(server->port());
  ASSERT_TRUE(socket.Send("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string answer = socket.ReadUntilLastChunk();
  EXPECT_EQ(StatusOf(answer), 200);
  EXPECT_NE(answer.find("Transfer-Encoding: chunked"), std::string::npos) << answer;
  EXPECT_NE(answer.find("6\r\nfirst\n\r\n7\r\nsecond\n\r\n0\r\n\r\n"), std::string::npos)
      << answer;
  ASSERT_TRUE(socket.Send("GET /other HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(BodyOf(socket.ReadSome()), "plain");
}

TEST_F(HttpServerTest, TheFirstChunkComesWithTheHeadersAndTheLastWithTheTerminatingChunk) {
  Router router;
  router.AddStream("GET", "/", [](Request&&, std::shared_ptr<ResponseWriter> writer) {
    writer->Begin(200, {{"Content-Type", "text/event-stream"}}, "first\n",
                  [writer](bool written) {
                    if (written) {
                      writer->End("last\n");
                    }
                  });
  });
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Socket socket(server->port());
  ASSERT_TRUE(socket.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string answer = socket.ReadUntilLastChunk();
  EXPECT_EQ(StatusOf(answer), 200);
  EXPECT_NE(answer.find("\r\n\r\n6\r\nfirst\n\r\n5\r\nlast\n\r\n0\r\n\r\n"), std::string::npos)
      << answer;
}

TEST_F(HttpServerTest, AServerOnSharedLoopsRunsEachHandlerOnTheLoopOfItsConnection) {
  auto loops = std::make_unique<EventLoops>(2);
  Router router;
  router.Add("GET", "/", [&loops](const Request&) {
    bool on_a_loop = false;
    for (size_t i = 0; i < loops->size(); ++i) {
      on_a_loop = on_a_loop || loops->loop(i).get_executor().running_in_this_thread();
    }
    return Response::Text(200, on_a_loop ? "on a loop" : "elsewhere");
  });
  ServerOptions options;
  options.loops = loops.get();
  auto server = StartServer(std::move(router), std::move(options));
  ASSERT_NE(server, nullptr);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(BodyOf(Answer(server->port(), "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")),
              "on a loop");
  }
  loops->Stop();
  server->Stop();
  // The listening socket is closed: a new connection is refused.
  EXPECT_FALSE(Socket(server->port()).connected());
}

TEST_F(HttpServerTest, AnAbortedStreamClosesWithoutTheTerminatingChunk) {
  Router router;
  router.AddStream("GET", "/", Streaming({"partial\n"}, /*abort=*/true));
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Socket socket(server->port());
  ASSERT_TRUE(socket.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string answer = socket.ReadUntilClosed();
  EXPECT_TRUE(socket.closed());
  EXPECT_NE(answer.find("partial"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("0\r\n\r\n"), std::string::npos) << answer;
}

TEST_F(HttpServerTest, AWriterDroppedUnusedClosesTheConnection) {
  Router router;
  router.AddStream("GET", "/", [](Request&&, std::shared_ptr<ResponseWriter>) {});
  auto server = StartServer(std::move(router));
  ASSERT_NE(server, nullptr);
  Socket socket(server->port());
  ASSERT_TRUE(socket.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(socket.ReadUntilClosed(), "");
  EXPECT_TRUE(socket.closed());
}

TEST_F(HttpServerTest, TheRefusalHookShapesARefusedRequest) {
  ServerOptions options;
  options.max_body_bytes = 4;
  std::string seen_target;
  options.refusal = [&seen_target](int status, const std::string& message,
                                   std::string_view target) {
    seen_target = std::string(target);
    return Response::Text(status, "shaped: " + message);
  };
  auto server = StartOkServer(options);
  ASSERT_NE(server, nullptr);
  const std::string answer =
      Answer(server->port(), "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n");
  EXPECT_EQ(StatusOf(answer), 413);
  EXPECT_EQ(BodyOf(answer), "shaped: request body exceeds 4 bytes");
  EXPECT_EQ(seen_target, "/big");
}

TEST_F(HttpServerTest, ABlockedHandlerHoldsOnlyItsOwnThread) {
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;
  bool release = false;
  Router router;
  router.Add("GET", "/block", [&](const Request&) {
    std::unique_lock<std::mutex> lock(mu);
    blocked = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return Response::Text(200, "released");
  });
  router.Add("GET", "/", Named("ok"));
  ServerOptions options;
  options.worker_threads = 2;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  std::thread blocker([&] {
    EXPECT_EQ(BodyOf(Answer(server->port(), "GET /block HTTP/1.1\r\nHost: t\r\n\r\n")),
              "released");
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return blocked; });
  }
  // One thread is held by /block; the other serves every other connection.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(StatusOfGet(server->port()), 200);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  blocker.join();
}

TEST_F(HttpServerTest, StopClosesIdleConnections) {
  auto server = StartOkServer();
  ASSERT_NE(server, nullptr);
  Socket client(server->port());
  ASSERT_TRUE(client.Send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_EQ(StatusOf(client.ReadSome()), 200);
  server->Stop();
  // The keep-alive connection ends (EOF or reset) instead of idling until the client gives up.
  EXPECT_EQ(client.ReadUntilClosed(std::chrono::seconds(10)), "");
  EXPECT_TRUE(client.closed());
}

class HttpsServerTest : public HttpServerTest {
 protected:
  void SetUp() override {
    auto files = testing::WriteSelfSignedCertificate(dir_.path(), "serving", "first");
    ASSERT_TRUE(files.ok());
    files_ = *files;
  }
  ServerOptions TlsOptionsFor(std::chrono::milliseconds interval) {
    ServerOptions options;
    options.tls = TlsOptions{files_.cert_file, files_.key_file, interval};
    return options;
  }
  testing::TempDir dir_;
  testing::CertificateFiles files_;
};

TEST_F(HttpsServerTest, ServesTls12AndRefusesTls11) {
  Router router;
  router.Add("GET", "/", Named("ok"));
  auto server = StartServer(std::move(router), TlsOptionsFor(std::chrono::seconds(1)));
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->url().rfind("https://", 0), 0u);
  const std::string get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  auto tls12 = RawHttpExchange(server->port(), get, true, TLS1_2_VERSION);
  ASSERT_TRUE(tls12.ok());
  EXPECT_EQ(StatusOf(tls12->response), 200);
  auto tls11 = RawHttpExchange(server->port(), get, true, TLS1_1_VERSION);
  EXPECT_FALSE(tls11.ok());
}

TEST_F(HttpsServerTest, OversizedBodyIsAnswered413WhileTheClientKeepsSending) {
  Router router;
  router.Add("POST", "/", Named("ok"));
  ServerOptions options = TlsOptionsFor(std::chrono::seconds(1));
  options.max_body_bytes = 64;
  auto server = StartServer(std::move(router), options);
  ASSERT_NE(server, nullptr);
  // Over TLS the client sends the whole 1 MiB before reading: the server must drain it after
  // answering, or closing with unread bytes resets the connection and the 413 is lost.
  auto exchange = RawHttpExchange(server->port(),
                                  "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n" +
                                      std::string(1 << 20, 'x'),
                                  true);
  ASSERT_TRUE(exchange.ok());
  EXPECT_EQ(StatusOf(exchange->response), 413) << exchange->response;
}

TEST_F(HttpsServerTest, RotatedCertificateIsServedWithoutRestart) {
  Router router;
  router.Add("GET", "/", Named("ok"));
  auto server = StartServer(std::move(router), TlsOptionsFor(std::chrono::milliseconds(0)));
  ASSERT_NE(server, nullptr);
  const std::string get = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  auto before = RawHttpExchange(server->port(), get, true);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->peer_subject, "/CN=first");
  ASSERT_TRUE(testing::WriteSelfSignedCertificate(dir_.path(), "serving", "second").ok());
  auto after = RawHttpExchange(server->port(), get, true);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->peer_subject, "/CN=second");
  EXPECT_EQ(server->certificate_reloads(), 1u);
}

TEST_F(HttpsServerTest, StartFailsClearlyWhenTheKeyFileIsMissing) {
  ServerOptions options;
  options.tls = TlsOptions{files_.cert_file, dir_.path() + "/absent.key"};
  auto server = HttpServer::Start(options, Router());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(server.error().message.find("absent.key"), std::string::npos);
}

}  // namespace
}  // namespace agentbudget::http
