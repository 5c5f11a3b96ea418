#include "libs/kafka/embedded_broker.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <list>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "libs/kafka/broker_address_rewriter.h"
#include "libs/runtime/rdkafka_log.h"

// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

// How clients survive RestartEmpty(), and why every byte goes through the forwarder
// ---------------------------------------------------------------------------------
// Measured with librdkafka 2.0.2 (debug=broker,metadata,cgrp):
//  * A new mock cluster listens on new ephemeral ports. A client's broker handle for node id 1
//    then fails to reconnect ("connection refused"), and any later metadata response that lists
//    node 1 at another host:port makes rd_kafka_broker_update() post a NODE_UPDATE to it:
//    "Nodename changed from 127.0.0.1:A to 127.0.0.1:B", "Broker hostname updated", reconnect.
//    The only address that still works is the bootstrap one (librdkafka never forgets bootstrap
//    brokers), so a producer or an assign()-ed consumer recovers by itself in 0.1-0.5 s.
//  * A consumer in a group does not: its coordinator is a *logical* broker ("GroupCoordinator")
//    that copies the address of node N only when the coordinator id changes. After the restart
//    FindCoordinator again answers "id 1" (now at a new port), the id is unchanged, so the
//    logical broker keeps dialling the dead port, the group stays in wait-broker-transport,
//    commits fail with _WAIT_COORD, the session times out and the member never rejoins
//    (observed for 60 s).
// So the forwarder gives every mock broker a stable address and rewrites the ports advertised in
// Metadata and FindCoordinator responses to those addresses (BrokerAddressRewriter). Clients
// never learn a mock port; after a restart the same addresses lead to the new cluster and
// nothing in the client needs to change. Broker 1 is advertised at the bootstrap address itself
// and broker i at bootstrap_port + i - 1, so even a restarted broker *process* with the same
// flags keeps every address. With it, a group consumer keeps fetching at once; its heartbeats
// get GROUP_ID_NOT_FOUND from the new cluster until session.timeout.ms expires, then it rejoins
// (about session.timeout.ms + 3 s in all). The price is one more copy of every byte: produce and
// consume rates measured in-process stayed within ~10% of a direct connection.
//
// Other facts found on the way: the mock keeps no producer-id state across a restart and
// accepts an idempotent producer's next sequence number (a real broker that lost its log would
// answer UNKNOWN_PRODUCER_ID); a consumer positioned past the end of an emptied partition gets
// OFFSET_OUT_OF_RANGE and resets per auto.offset.reset; the cluster id ("mockCluster" + a hash
// of two pointers) sometimes stays the same across a restart, so clients cannot rely on it to
// notice one.

namespace es::kafka {
namespace {

constexpr int kMaxPartitions = 10000;
constexpr size_t kMaxTopicNameLength = 249;
constexpr int kMaxBrokers = 16;
constexpr size_t kPipeBufferSize = 256 * 1024;
constexpr char kMockHost[] = "127.0.0.1";  // what the mock brokers bind and advertise

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

bool IsLegalTopicName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicNameLength || name == "." || name == "..") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string ErrnoText(int err) { return std::strerror(err); }

void CloseFd(int fd) {
  if (fd >= 0) ::close(fd);
}

void SetNoDelay(int fd) {
  // Kafka requests are small and latency-bound: without TCP_NODELAY on both legs, Nagle's
  // algorithm adds up to 40 ms to each request that crosses the forwarder.
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    // MSG_NOSIGNAL: a peer that went away must end this connection, not the process (SIGPIPE).
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// Opens a TCP connection to `address`; returns the socket or -1.
int ConnectTo(const SocketAddress& address) {
  const int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    CloseFd(fd);
    return -1;
  }
  return fd;
}

// Copies bytes both ways between a client and a mock broker until either side closes or
// errors, or until someone calls shutdown() on one of the sockets (that is how the broker stops
// this loop). Responses pass through `rewriter`. Never closes the descriptors: the owner does
// that after joining, so a descriptor number is never reused while another thread might still
// call shutdown() on it.
void PipeBothWays(int client, int upstream, BrokerAddressRewriter* rewriter) {
  std::unique_ptr<char[]> buffer(new char[kPipeBufferSize]);
  std::string to_client;
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      ssize_t n;
      do {
        n = ::recv(fds[i].fd, buffer.get(), kPipeBufferSize, 0);
      } while (n < 0 && errno == EINTR);
      // Kafka never half-closes a connection, so EOF on either side ends both.
      if (n <= 0) return;
      const std::string_view bytes(buffer.get(), static_cast<size_t>(n));
      if (i == 0) {
        // Requests are seen before they are sent, so the rewriter knows which response to
        // hold before it can arrive.
        rewriter->OnClientBytes(bytes);
        if (!SendAll(upstream, bytes.data(), bytes.size())) return;
      } else {
        to_client.clear();
        rewriter->OnBrokerBytes(bytes, &to_client);
        if (!SendAll(client, to_client.data(), to_client.size())) return;
      }
    }
  }
}

// One client connection being forwarded to a mock broker.
struct ForwardedConnection {
  ForwardedConnection(int client, int upstream, std::map<int32_t, int32_t> ports)
      : client_fd(client), upstream_fd(upstream), rewriter(kMockHost, std::move(ports)) {}

  const int client_fd;
  const int upstream_fd;
  BrokerAddressRewriter rewriter;  // used only by `thread`
  std::atomic<bool> done{false};
  std::thread thread;
};

// A mock cluster and the librdkafka handle that owns it (the cluster runs on its own thread).
// Not thread-safe: used under EmbeddedBroker::Impl's mutex, or by the one thread destroying it.
class MockCluster {
 public:
  static absl::StatusOr<std::unique_ptr<MockCluster>> Create(int num_brokers,
                                                             const std::vector<TopicSpec>& topics);

  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // May take up to ~1 s: rd_kafka_mock_cluster_destroy() joins an internal broker thread of the
  // owning handle that only notices its termination when its 1 s queue wait times out (seen in
  // gdb: the mock thread in thrd_join, the broker thread in cnd_timedwait).
  ~MockCluster() {
    // The cluster must go before the handle that owns it.
    if (cluster_ != nullptr) {
      AwaitMockSettled();
      rd_kafka_mock_cluster_destroy(cluster_);
    }
    if (handle_ != nullptr) rd_kafka_destroy(handle_);
  }

  int num_brokers() const { return static_cast<int>(brokers_.size()); }
  // Where broker `index + 1` listens, and the port it advertises.
  const SocketAddress& broker_address(int index) const { return brokers_[index].address; }
  int32_t broker_port(int index) const { return brokers_[index].port; }

  // Sets every broker up or down. Down closes the brokers' connections and listeners but keeps
  // their ports bound, so no other cluster can take them while this one exists.
  absl::Status SetAllBrokersUp(bool up) {
    for (int32_t id = 1; id <= num_brokers(); ++id) {
      AwaitMockSettled();
      const rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(cluster_, id)
                                         : rd_kafka_mock_broker_set_down(cluster_, id);
      last_call_done_ = std::chrono::steady_clock::now();
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::InternalError(absl::StrCat("setting mock broker ", id,
                                                up ? " up: " : " down: ", rd_kafka_err2str(err)));
      }
    }
    return absl::OkStatus();
  }

 private:
  struct Broker {
    SocketAddress address;
    int32_t port = 0;
  };

  MockCluster() = default;

  // Works around a lost wake-up in librdkafka 2.0.2's mock cluster, measured here: about one
  // mock call in five that followed another one at once (topic create, broker up/down, destroy)
  // took 1000 ms instead of <1 ms. The mock thread serves its op queue as soon as poll() returns
  // and only afterwards drains its wake-up pipe, so an op enqueued in between (e.g. right after
  // the previous call's reply) loses its wake-up and waits for the 1 s poll timeout. Leaving
  // 2 ms between calls removed every stall in 72 of 72 back-to-back calls.
  void AwaitMockSettled() {
    constexpr std::chrono::milliseconds kMockCallSpacing(2);
    const auto earliest = last_call_done_ + kMockCallSpacing;
    const auto now = std::chrono::steady_clock::now();
    if (now < earliest) std::this_thread::sleep_for(earliest - now);
  }

  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::vector<Broker> brokers_;  // in broker id order: brokers_[0] is broker 1
  std::chrono::steady_clock::time_point last_call_done_;
};

absl::StatusOr<std::unique_ptr<MockCluster>> MockCluster::Create(
    int num_brokers, const std::vector<TopicSpec>& topics) {
  std::unique_ptr<MockCluster> mock(new MockCluster());
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The owning handle never connects anywhere; warnings only, so that its "no bootstrap.servers"
  // notice does not clutter the logs.
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "client.id", "pathways-embedded-broker", errstr, sizeof(errstr)) !=
          RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("mock cluster handle configuration: ", errstr));
  }
  // The mock brokers log through this handle too (e.g. a client that disconnects mid-request).
  runtime::UseJsonLogging(conf, "kafka.broker");
  mock->handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (mock->handle_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new() takes ownership only on success
    return absl::InternalError(absl::StrCat("creating the mock cluster handle: ", errstr));
  }
  mock->cluster_ = rd_kafka_mock_cluster_new(mock->handle_, num_brokers);
  if (mock->cluster_ == nullptr) {
    return absl::InternalError("rd_kafka_mock_cluster_new failed");
  }
  mock->last_call_done_ = std::chrono::steady_clock::now();

  // "127.0.0.1:port1,127.0.0.1:port2,...", in broker id order.
  std::string_view bootstraps = rd_kafka_mock_cluster_bootstraps(mock->cluster_);
  while (!bootstraps.empty()) {
    const size_t comma = bootstraps.find(',');
    const std::string_view entry = bootstraps.substr(0, comma);
    bootstraps.remove_prefix(comma == std::string_view::npos ? bootstraps.size() : comma + 1);
    const size_t colon = entry.rfind(':');
    Broker broker;
    const std::string_view port_text = entry.substr(colon + 1);
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), broker.port);
    if (colon == std::string_view::npos || entry.substr(0, colon) != kMockHost ||
        ec != std::errc() || end != port_text.data() + port_text.size()) {
      return absl::InternalError(
          absl::StrCat("unexpected mock broker address: ", std::string(entry)));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(broker.port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::memcpy(&broker.address.storage, &address, sizeof(address));
    broker.address.length = sizeof(address);
    mock->brokers_.push_back(broker);
  }
  if (mock->num_brokers() != num_brokers) {
    return absl::InternalError(absl::StrCat("mock cluster reports ", mock->num_brokers(),
                                            " brokers, expected ", num_brokers));
  }

  // Topics are created here, before anyone can reach the cluster: a metadata request that names
  // an unknown topic would otherwise auto-create it with 4 partitions.
  const int replication = std::min(num_brokers, 3);
  for (const TopicSpec& topic : topics) {
    mock->AwaitMockSettled();
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mock->cluster_, topic.name.c_str(),
                                                               topic.partitions, replication);
    mock->last_call_done_ = std::chrono::steady_clock::now();
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError(
          absl::StrCat("creating topic ", topic.name, ": ", rd_kafka_err2str(err)));
    }
  }
  return mock;
}

// Destroys replaced and stopped mock clusters on background threads, one per cluster, so that
// neither RestartEmpty() nor ~EmbeddedBroker waits for librdkafka's teardown (up to ~1 s each,
// see ~MockCluster; test suites create many brokers). Process-wide and thread-safe; its
// destructor, run at exit, waits for the clusters still being destroyed.
class ClusterReaper {
 public:
  // The broker calls this before it creates anything, so the reaper is constructed before, and
  // destroyed after, every broker (static objects die in reverse order of construction).
  static ClusterReaper& Get() {
    static ClusterReaper reaper;
    return reaper;
  }

  ClusterReaper(const ClusterReaper&) = delete;
  ClusterReaper& operator=(const ClusterReaper&) = delete;

  ~ClusterReaper() {
    absl::MutexLock lock(&mu_);
    for (const auto& job : jobs_) job->thread.join();
  }

  // Takes `cluster` offline (connections and listeners closed at once, as if the broker process
  // had died) and destroys it in the background. If it cannot be taken offline it is destroyed
  // here instead, which is slower but has the same effect.
  void Retire(std::unique_ptr<MockCluster> cluster) {
    if (!cluster->SetAllBrokersUp(false).ok()) {
      cluster.reset();
      return;
    }
    absl::MutexLock lock(&mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if ((*it)->done.load(std::memory_order_acquire)) {
        (*it)->thread.join();
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
    auto job = std::make_unique<Job>();
    Job* raw = job.get();
    raw->thread = std::thread([raw, cluster = std::move(cluster)]() mutable {
      cluster.reset();
      raw->done.store(true, std::memory_order_release);
    });
    jobs_.push_back(std::move(job));
  }

 private:
  struct Job {
    std::atomic<bool> done{false};
    std::thread thread;
  };

  ClusterReaper() = default;

  absl::Mutex mu_;
  std::list<std::unique_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
};

// Creates a listening socket on host:port. kAlreadyExists when the address is taken,
// kInvalidArgument when clients could not reach it as 127.0.0.1 (the host every mock broker
// advertises, and therefore the host in every forwarded address).
absl::StatusOr<int> Listen(const std::string& host, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  const std::string port_text = std::to_string(port);
  const int gai =
      ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &result);
  if (gai != 0 || result == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen host \"", host, "\" cannot be resolved: ", ::gai_strerror(gai)));
  }
  const std::string where = absl::StrCat(host, ":", port);
  bool reachable_as_loopback = false;
  if (result->ai_family == AF_INET) {
    const in_addr_t ip =
        ntohl(reinterpret_cast<const sockaddr_in*>(result->ai_addr)->sin_addr.s_addr);
    reachable_as_loopback = ip == INADDR_LOOPBACK || ip == INADDR_ANY;
  } else if (result->ai_family == AF_INET6) {
    // Dual-stack wildcard: accepts IPv4 connections to 127.0.0.1 too.
    reachable_as_loopback =
        IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(result->ai_addr)->sin6_addr);
  }
  if (!reachable_as_loopback) {
    ::freeaddrinfo(result);
    return absl::InvalidArgumentError(absl::StrCat(
        "listen host \"", host, "\" must be 127.0.0.1 (or a name for it) or a wildcard address: ",
        "the brokers are advertised as 127.0.0.1"));
  }
  const int fd = ::socket(result->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    const int err = errno;
    ::freeaddrinfo(result);
    return absl::InternalError(absl::StrCat("socket(): ", ErrnoText(err)));
  }
  // SO_REUSEADDR lets a restarted broker reuse a port with connections in TIME_WAIT; unlike
  // SO_REUSEPORT it still refuses a port that another process is listening on.
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (result->ai_family == AF_INET6) {
    int zero = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
  }
  if (::bind(fd, result->ai_addr, result->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const int err = errno;
    ::freeaddrinfo(result);
    CloseFd(fd);
    if (err == EADDRINUSE) {
      return absl::AlreadyExistsError(absl::StrCat("listen address ", where, " is already in use"));
    }
    return absl::UnavailableError(absl::StrCat("cannot listen on ", where, ": ", ErrnoText(err)));
  }
  ::freeaddrinfo(result);
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    const int err = errno;
    CloseFd(fd);
    return absl::InternalError(absl::StrCat("getsockname(): ", ErrnoText(err)));
  }
  *bound_port = bound.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                    : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  return fd;
}

std::string BootstrapHost(const std::string& listen_host) {
  // A wildcard address is not something a client can connect to; the brokers are advertised as
  // 127.0.0.1, so the bootstrap address says the same.
  if (listen_host.empty() || listen_host == "0.0.0.0" || listen_host == "::" ||
      listen_host == "[::]") {
    return kMockHost;
  }
  return listen_host;
}

}  // namespace

absl::StatusOr<std::vector<TopicSpec>> ParseTopicSpecs(std::string_view text) {
  std::vector<TopicSpec> specs;
  if (Trim(text).empty()) return specs;
  std::set<std::string, std::less<>> seen;
  int index = 0;
  for (;;) {
    ++index;
    const size_t comma = text.find(',');
    const std::string_view entry = Trim(text.substr(0, comma));
    auto bad = [&](std::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("topic spec entry ", index, " (\"",
                                                     std::string(entry), "\"): ", std::string(why),
                                                     "; expected name:partitions"));
    };
    const size_t colon = entry.rfind(':');
    if (entry.empty()) return bad("empty entry");
    if (colon == std::string_view::npos) return bad("missing \":partitions\"");
    const std::string_view name = Trim(entry.substr(0, colon));
    const std::string_view count = Trim(entry.substr(colon + 1));
    if (!IsLegalTopicName(name)) {
      return bad("topic name must be 1-249 characters of [A-Za-z0-9._-]");
    }
    int partitions = 0;
    const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), partitions);
    if (count.empty() || ec != std::errc() || end != count.data() + count.size()) {
      return bad("partition count is not an integer");
    }
    if (partitions < 1 || partitions > kMaxPartitions) {
      return bad(absl::StrCat("partition count must be in [1, ", kMaxPartitions, "]"));
    }
    if (!seen.emplace(name).second) return bad("duplicate topic name");
    specs.push_back(TopicSpec{std::string(name), partitions});
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return specs;
}

// Owns the forwarder (one accept thread for all listeners plus one thread per forwarded
// connection) and the current mock cluster. Listener i forwards to mock broker i + 1 and is the
// address that broker is advertised at. `mu_` serialises restarts, availability changes and the
// choice of upstream for a new connection, so a connection is never forwarded to a cluster that
// is being replaced. Connection threads never take `mu_`, so holding it while joining them
// cannot deadlock.
class EmbeddedBroker::Impl {
 public:
  Impl(const EmbeddedBrokerOptions& options, std::vector<int> listen_fds,
       std::vector<int32_t> listen_ports, int wake_fd, std::unique_ptr<MockCluster> cluster)
      : reaper_(ClusterReaper::Get()),
        num_brokers_(options.num_brokers),
        topics_(options.topics),
        listen_fds_(std::move(listen_fds)),
        listen_ports_(std::move(listen_ports)),
        wake_fd_(wake_fd),
        cluster_(std::move(cluster)) {}

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    const uint64_t one = 1;
    // An eventfd write of 1 cannot fail short of a counter overflow; the acceptor wakes up.
    if (::write(wake_fd_, &one, sizeof(one)) < 0) {
      // Nothing else can wake the acceptor; shutting a listener down makes poll() return.
      ::shutdown(listen_fds_.front(), SHUT_RDWR);
    }
    if (acceptor_.joinable()) acceptor_.join();
    absl::MutexLock lock(&mu_);
    CloseConnectionsLocked();
    if (cluster_ != nullptr) reaper_.Retire(std::move(cluster_));
    for (const int fd : listen_fds_) CloseFd(fd);
    CloseFd(wake_fd_);
  }

  void StartAccepting() {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  absl::Status RestartEmpty() {
    absl::MutexLock lock(&mu_);
    // Retiring closes the old brokers' connections, forwarded ones included, as if the broker
    // process had died; clients reconnect to the same forwarder addresses and reach the new
    // cluster.
    if (cluster_ != nullptr) reaper_.Retire(std::move(cluster_));
    // Also catches a forwarded connection that the mock had not registered yet.
    CloseConnectionsLocked();
    absl::StatusOr<std::unique_ptr<MockCluster>> cluster =
        MockCluster::Create(num_brokers_, topics_);
    if (!cluster.ok()) return cluster.status();
    cluster_ = *std::move(cluster);
    available_ = true;
    return absl::OkStatus();
  }

  absl::Status SetAvailable(bool available) {
    absl::MutexLock lock(&mu_);
    if (cluster_ == nullptr) {
      return absl::FailedPreconditionError("no mock cluster: an earlier restart failed");
    }
    absl::Status status = cluster_->SetAllBrokersUp(available);
    if (!status.ok()) return status;
    available_ = available;
    // The mock drops its own connections when a broker goes down; closing the client side too
    // makes every forwarded connection fail at the same moment.
    if (!available) CloseConnectionsLocked();
    return absl::OkStatus();
  }

 private:
  void AcceptLoop() {
    std::vector<pollfd> fds;
    for (const int fd : listen_fds_) fds.push_back({fd, POLLIN, 0});
    fds.push_back({wake_fd_, POLLIN, 0});
    for (;;) {
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds.back().revents != 0) return;
      for (size_t i = 0; i + 1 < fds.size(); ++i) {
        if ((fds[i].revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) return;
        if ((fds[i].revents & POLLIN) == 0) continue;
        const int client = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) {
          // EAGAIN/ECONNABORTED: the client left before we got to it. Out of descriptors or
          // memory: the pending connection keeps the listener readable, so back off instead of
          // spinning, and keep the forwarder alive.
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            ::poll(&fds.back(), 1, 100);
          }
          continue;
        }
        SetNoDelay(client);
        if (!Forward(client, static_cast<int>(i))) return;
      }
    }
  }

  // Starts forwarding `client` to broker `index + 1`; returns false when stopping.
  bool Forward(int client, int index) {
    absl::MutexLock lock(&mu_);
    ReapFinishedLocked();
    if (stopping_) {
      CloseFd(client);
      return false;
    }
    // Broker down or cluster missing: closing at once gives the client the same connection
    // failure as a real broker that is down, and it retries with backoff.
    if (cluster_ == nullptr || !available_) {
      CloseFd(client);
      return true;
    }
    // A blocking connect under the lock is fine: the target is a loopback port that either
    // accepts or refuses at once.
    const int upstream = ConnectTo(cluster_->broker_address(index));
    if (upstream < 0) {
      CloseFd(client);
      return true;
    }
    SetNoDelay(upstream);
    std::map<int32_t, int32_t> ports;
    for (int i = 0; i < cluster_->num_brokers(); ++i) {
      ports[cluster_->broker_port(i)] = listen_ports_[i];
    }
    auto connection = std::make_unique<ForwardedConnection>(client, upstream, std::move(ports));
    ForwardedConnection* raw = connection.get();
    connection->thread = std::thread([raw] {
      PipeBothWays(raw->client_fd, raw->upstream_fd, &raw->rewriter);
      raw->done.store(true, std::memory_order_release);
    });
    connections_.push_back(std::move(connection));
    return true;
  }

  void ReapFinishedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto it = connections_.begin(); it != connections_.end();) {
      ForwardedConnection& connection = **it;
      if (!connection.done.load(std::memory_order_acquire)) {
        ++it;
        continue;
      }
      connection.thread.join();
      CloseFd(connection.client_fd);
      CloseFd(connection.upstream_fd);
      it = connections_.erase(it);
    }
  }

  void CloseConnectionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // shutdown() wakes a pipe thread blocked in poll() or send(); the descriptors stay open
    // (and their numbers reserved) until the thread has been joined.
    for (const auto& connection : connections_) {
      ::shutdown(connection->client_fd, SHUT_RDWR);
      ::shutdown(connection->upstream_fd, SHUT_RDWR);
    }
    for (const auto& connection : connections_) {
      connection->thread.join();
      CloseFd(connection->client_fd);
      CloseFd(connection->upstream_fd);
    }
    connections_.clear();
  }

  ClusterReaper& reaper_;
  const int num_brokers_;
  const std::vector<TopicSpec> topics_;
  const std::vector<int> listen_fds_;        // [i]: the address broker i + 1 is advertised at
  const std::vector<int32_t> listen_ports_;  // their ports
  const int wake_fd_;
  std::thread acceptor_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool available_ ABSL_GUARDED_BY(mu_) = true;
  std::unique_ptr<MockCluster> cluster_ ABSL_GUARDED_BY(mu_);
  std::list<std::unique_ptr<ForwardedConnection>> connections_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(
    EmbeddedBrokerOptions options) {
  if (options.bootstrap_port < 0 || options.bootstrap_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap_port must be in [0, 65535], got ", options.bootstrap_port));
  }
  if (options.num_brokers < 1 || options.num_brokers > kMaxBrokers) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_brokers must be in [1, ", kMaxBrokers, "], got ", options.num_brokers));
  }
  if (options.bootstrap_port != 0 && options.bootstrap_port + options.num_brokers - 1 > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("ports ", options.bootstrap_port, "-",
                                                   options.bootstrap_port + options.num_brokers - 1,
                                                   " do not all exist"));
  }
  std::set<std::string, std::less<>> names;
  for (const TopicSpec& topic : options.topics) {
    if (!IsLegalTopicName(topic.name) || topic.partitions < 1 ||
        topic.partitions > kMaxPartitions || !names.insert(topic.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad topic \"", topic.name, "\" with ", topic.partitions,
                       " partitions (legal unique name, 1-", kMaxPartitions, " partitions)"));
    }
  }
  ClusterReaper::Get();  // constructed before any cluster; see ClusterReaper::Get()

  // Bind first: a taken port should fail before any cluster threads exist. Connections that
  // arrive before the acceptor starts wait in the backlog, i.e. until the topics exist.
  std::vector<int> listen_fds;
  std::vector<int32_t> listen_ports;
  auto close_all = [&listen_fds] {
    for (const int fd : listen_fds) CloseFd(fd);
  };
  for (int i = 0; i < options.num_brokers; ++i) {
    const int port = options.bootstrap_port == 0 ? 0 : options.bootstrap_port + i;
    int bound_port = 0;
    absl::StatusOr<int> fd = Listen(options.listen_host, port, &bound_port);
    if (!fd.ok()) {
      close_all();
      return fd.status();
    }
    listen_fds.push_back(*fd);
    listen_ports.push_back(bound_port);
  }
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    close_all();
    return absl::InternalError(absl::StrCat("eventfd(): ", ErrnoText(err)));
  }
  absl::StatusOr<std::unique_ptr<MockCluster>> cluster =
      MockCluster::Create(options.num_brokers, options.topics);
  if (!cluster.ok()) {
    close_all();
    CloseFd(wake_fd);
    return cluster.status();
  }
  options.bootstrap_port = listen_ports.front();
  auto impl = std::make_unique<Impl>(options, std::move(listen_fds), std::move(listen_ports),
                                     wake_fd, *std::move(cluster));
  impl->StartAccepting();
  return std::unique_ptr<EmbeddedBroker>(new EmbeddedBroker(std::move(options), std::move(impl)));
}

EmbeddedBroker::EmbeddedBroker(EmbeddedBrokerOptions options, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), impl_(std::move(impl)) {}

EmbeddedBroker::~EmbeddedBroker() = default;

std::string EmbeddedBroker::bootstrap_servers() const {
  return absl::StrCat(BootstrapHost(options_.listen_host), ":", options_.bootstrap_port);
}

absl::Status EmbeddedBroker::RestartEmpty() { return impl_->RestartEmpty(); }

absl::Status EmbeddedBroker::SetAvailable(bool available) { return impl_->SetAvailable(available); }

}  // namespace es::kafka
