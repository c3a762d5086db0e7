// byte_relay: a TCP relay that copies bytes between each client connection and an upstream
// connection of its own, on the meter's event loops (common/event_loops.h), and does
// nothing else: no HTTP parsing, no accounting. meter_bench runs it as a second baseline,
// the cost of one more hop on this machine, so the meter's figures read as that hop plus
// what the meter does on top of it.
//
// Usage: byte_relay --listen 127.0.0.1:PORT --upstream 127.0.0.1:PORT
// It runs until it is killed.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "common/event_loops.h"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// One client and its upstream connection, each direction copied a read at a time; either
// side ending or failing closes both.
class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket client)
      : client_(std::move(client)), upstream_(client_.get_executor()) {}

  tcp::socket::executor_type executor() { return client_.get_executor(); }

  void Start(const tcp::endpoint& upstream) {
    upstream_.async_connect(upstream, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) {
        self->Close();
        return;
      }
      self->client_.set_option(tcp::no_delay(true), ec);
      self->upstream_.set_option(tcp::no_delay(true), ec);
      self->Copy(self->client_, self->upstream_, self->to_upstream_);
      self->Copy(self->upstream_, self->client_, self->to_client_);
    });
  }

 private:
  using Buffer = std::array<char, 16384>;

  void Copy(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
    from.async_read_some(
        asio::buffer(buffer),
        [self = shared_from_this(), &from, &to, &buffer](boost::system::error_code ec, size_t n) {
          if (ec) {
            self->Close();
            return;
          }
          asio::async_write(to, asio::buffer(buffer.data(), n),
                            [self, &from, &to, &buffer](boost::system::error_code ec, size_t) {
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->Copy(from, to, buffer);
                            });
        });
  }

  void Close() {
    boost::system::error_code ignored;
    client_.close(ignored);
    upstream_.close(ignored);
  }

  tcp::socket client_;
  tcp::socket upstream_;
  Buffer to_upstream_;
  Buffer to_client_;
};

// "127.0.0.1:8080" as an endpoint; exits naming the flag when it is not one.
tcp::endpoint Endpoint(const std::string& flag, const std::string& text) {
  const size_t colon = text.rfind(':');
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(text.substr(0, colon), ec);
  const int port = colon == std::string::npos ? 0 : std::atoi(text.c_str() + colon + 1);
  if (ec || port <= 0 || port > 65535) {
    std::fprintf(stderr, "byte_relay: %s wants ADDRESS:PORT, got \"%s\"\n", flag.c_str(),
                 text.c_str());
    std::exit(2);
  }
  return {address, static_cast<unsigned short>(port)};
}

void Accept(tcp::acceptor& acceptor, agentbudget::EventLoops& loops,
            const tcp::endpoint& upstream) {
  acceptor.async_accept(loops.loop(loops.Next()),
                        [&acceptor, &loops, upstream](boost::system::error_code ec,
                                                      tcp::socket client) {
                          if (!ec) {
                            // The session starts on the loop its sockets belong to.
                            auto session = std::make_shared<Session>(std::move(client));
                            asio::post(session->executor(),
                                       [session, upstream] { session->Start(upstream); });
                          }
                          Accept(acceptor, loops, upstream);
                        });
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  std::string upstream;
  bool help = false;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--listen" && has_value) {
      listen = argv[i + 1];
    } else if (flag == "--upstream" && has_value) {
      upstream = argv[i + 1];
    } else {
      help = flag == "--help";
      listen.clear();
      break;
    }
  }
  if (listen.empty() || upstream.empty()) {
    std::fprintf(help ? stdout : stderr,
                 "usage: byte_relay --listen ADDRESS:PORT --upstream ADDRESS:PORT\n"
                 "  Copies bytes between each connection accepted on --listen and a\n"
                 "  connection of its own to --upstream, until it is killed: meter_bench's\n"
                 "  baseline for the cost of one more hop.\n");
    return help ? 0 : 2;
  }
  const tcp::endpoint to = Endpoint("--upstream", upstream);
  // One loop per core, up to 4, as the meter's proxy has.
  agentbudget::EventLoops loops(std::clamp(std::thread::hardware_concurrency(), 1u, 4u), "relay");
  const tcp::endpoint at = Endpoint("--listen", listen);
  tcp::acceptor acceptor(loops.loop(0));
  boost::system::error_code ec;
  if (acceptor.open(at.protocol(), ec); !ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(at, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    std::fprintf(stderr, "byte_relay: listen on %s: %s\n", listen.c_str(), ec.message().c_str());
    return 1;
  }
  Accept(acceptor, loops, to);
  for (;;) {
    ::pause();  // the loops' threads relay until the process is killed
  }
}
