#pragma once

// A small HTTP/1.1 server for tests of HTTP clients: listens on 127.0.0.1 on a free port, answers
// each request with the next scripted response (status, optional delay), records every request
// in arrival order, and closes the connection after each answer. Each connection gets its own
// thread, so a delayed answer (a client made to time out) does not hold up the next request.
// Thread-safe.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace notify::test_support {

class TestHttpServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;

    std::string Header(const std::string& lower_name) const {
      auto it = headers.find(lower_name);
      return it == headers.end() ? "" : it->second;
    }
  };

  struct Response {
    int status = 200;
    absl::Duration delay = absl::ZeroDuration();  // before answering (to make clients time out)
    std::string body = "{}";
  };

  TestHttpServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) std::abort();
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;  // the kernel picks a free port
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listener_, 16) != 0) {
      std::abort();
    }
    socklen_t size = sizeof(address);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }

  ~TestHttpServer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
    for (std::thread& worker : workers_) worker.join();
    ::close(listener_);
  }

  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& path = "/notify") const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  // Answers the next requests with these, in order; once they run out, with `fallback`.
  void Script(std::vector<Response> responses) {
    std::lock_guard<std::mutex> lock(mutex_);
    script_.insert(script_.end(), responses.begin(), responses.end());
  }
  void SetFallback(Response response) {
    std::lock_guard<std::mutex> lock(mutex_);
    fallback_ = response;
  }

  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
  }

 private:
  static constexpr int kReadTimeoutMs = 2000;

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  }

  void Serve() {
    while (!Stopping()) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      workers_.emplace_back([this, connection] {
        Handle(connection);
        ::close(connection);
      });
    }
  }

  // Reads until `done` says the buffer is complete; false on timeout, EOF or error.
  template <typename Done>
  static bool ReadUntil(int fd, std::string& buffer, Done done) {
    char chunk[4096];
    while (!done(buffer)) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, kReadTimeoutMs) <= 0) return false;
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    return true;
  }

  void Handle(int fd) {
    std::string buffer;
    if (!ReadUntil(fd, buffer,
                   [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; })) {
      return;
    }
    const size_t head_end = buffer.find("\r\n\r\n");
    Request request;
    std::vector<std::string> lines = absl::StrSplit(buffer.substr(0, head_end), "\r\n");
    std::vector<std::string> start = absl::StrSplit(lines[0], ' ');
    if (start.size() >= 2) {
      request.method = start[0];
      request.target = start[1];
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      request.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    if (!absl::SimpleAtoi(request.Header("content-length"), &length)) length = 0;
    const size_t body_start = head_end + 4;
    if (!ReadUntil(fd, buffer,
                   [&](const std::string& b) { return b.size() >= body_start + length; })) {
      return;
    }
    request.body = buffer.substr(body_start, length);

    Response response;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      requests_.push_back(std::move(request));
      if (script_.empty()) {
        response = fallback_;
      } else {
        response = script_.front();
        script_.pop_front();
      }
      // Interruptible, so a destructor does not wait out a long scripted delay.
      wake_.wait_for(lock, absl::ToChronoMilliseconds(response.delay),
                     [this] { return stopping_; });
    }
    const std::string reply = absl::StrCat(
        "HTTP/1.1 ", response.status, " Scripted\r\nContent-Type: application/json\r\n",
        "Content-Length: ", response.body.size(), "\r\nConnection: close\r\n\r\n", response.body);
    // MSG_NOSIGNAL: a client that gave up (timed out) must not kill the test with SIGPIPE.
    ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  }

  int listener_ = -1;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;             // guarded by mutex_
  std::deque<Response> script_;       // guarded by mutex_
  Response fallback_;                 // guarded by mutex_
  std::vector<Request> requests_;     // guarded by mutex_
  std::thread thread_;                // accepts
  std::vector<std::thread> workers_;  // one per connection; touched by thread_, then ~
};

}  // namespace notify::test_support
