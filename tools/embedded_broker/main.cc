// pathways-broker: librdkafka's mock cluster as a development Kafka broker on fixed addresses.
// See kUsage for flags, environment and exit codes.

#include <signal.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "libs/kafka/embedded_broker.h"

namespace {

constexpr char kUsage[] =
    R"(Usage: pathways-broker [--listen=HOST:PORT] [--topics=SPECS] [--brokers=N]

Runs librdkafka's in-memory mock Kafka cluster behind stable addresses, for development and
tests. Keeps nothing across restarts and at most ~5 MiB per partition. Clients must run on this
host (brokers are advertised as 127.0.0.1). Flags win over environment variables.

  --listen=HOST:PORT  bootstrap address, also broker 1's (env PATHWAYS_BROKER_LISTEN, default
                      127.0.0.1:9092); HOST must be 127.0.0.1, localhost or a wildcard address;
                      port 0 picks free ports, the bootstrap one is reported in the ready line
  --topics=SPECS      topics to create, "name:partitions,..." (env PATHWAYS_TOPICS, default
                      pathways.referral.events.v1:6,pathways.pathway.events.v1:6,
                      pathways.notify.events.v1:6,pathways.deadletter.v1:1,pathways.reporting.v1:6)
  --brokers=N         number of brokers, 1-16 (default 1); broker i listens on PORT+i-1
  --help              this text

When ready, prints one JSON line to stdout:
  {"level":"info","component":"broker","msg":"ready","bootstrap":"127.0.0.1:9092",...}
Stops on SIGTERM or SIGINT. For fault drills, SIGUSR1 takes every broker down (connections
closed, clients see connection failures; data kept) and SIGUSR2 brings them back. Restarting it with the same flags gives clients the same broker
addresses, so running services reconnect by themselves. Exit codes: 0 stopped by a signal or
--help, 1 invalid configuration or start failure, 2 a listen address is already in use.
)";

constexpr char kDefaultListen[] = "127.0.0.1:9092";
constexpr char kDefaultTopics[] =
    "pathways.referral.events.v1:6,pathways.pathway.events.v1:6,pathways.notify.events.v1:6,"
    "pathways.deadletter.v1:1,pathways.reporting.v1:6";

constexpr int kExitConfig = 1;
constexpr int kExitAddressInUse = 2;

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += "\"";
  return out;
}

// One structured log line; `fields` is pre-rendered JSON (",\"k\":v..."), possibly empty.
void Log(std::FILE* stream, std::string_view level, std::string_view msg,
         std::string_view fields = "") {
  const std::string line = absl::StrCat("{\"level\":", JsonString(level),
                                        ",\"component\":\"broker\",\"msg\":", JsonString(msg),
                                        std::string(fields), "}\n");
  std::fputs(line.c_str(), stream);
  std::fflush(stream);
}

struct Config {
  std::string listen = kDefaultListen;
  std::string topics = kDefaultTopics;
  int brokers = 1;
  bool help = false;
};

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

absl::StatusOr<int> ParseInt(std::string_view text, std::string_view what, int min, int max) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " must be an integer in [",
                                                   min, ", ", max, "], got \"", std::string(text),
                                                   "\""));
  }
  return value;
}

absl::StatusOr<Config> ParseFlags(int argc, char** argv) {
  Config config;
  config.listen = EnvOr("PATHWAYS_BROKER_LISTEN", config.listen);
  config.topics = EnvOr("PATHWAYS_TOPICS", config.topics);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    if (name == "--help" || name == "-h") {
      config.help = true;
    } else if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown or incomplete flag \"", std::string(arg), "\" (use --name=value)"));
    } else if (name == "--listen") {
      config.listen = std::string(value);
    } else if (name == "--topics") {
      config.topics = std::string(value);
    } else if (name == "--brokers") {
      absl::StatusOr<int> brokers = ParseInt(value, "--brokers", 1, 16);
      if (!brokers.ok()) return brokers.status();
      config.brokers = *brokers;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag \"", std::string(name), "\""));
    }
  }
  return config;
}

// "HOST:PORT" or "[IPV6]:PORT" into the broker options.
absl::Status ParseListen(std::string_view listen, es::kafka::EmbeddedBrokerOptions* options) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address must be HOST:PORT, got \"", std::string(listen), "\""));
  }
  std::string_view host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  absl::StatusOr<int> port = ParseInt(listen.substr(colon + 1), "listen port", 0, 65535);
  if (!port.ok()) return port.status();
  options->listen_host = std::string(host);
  options->bootstrap_port = *port;
  return absl::OkStatus();
}

int Run(int argc, char** argv) {
  absl::StatusOr<Config> config = ParseFlags(argc, argv);
  if (!config.ok()) {
    Log(stderr, "error", "invalid configuration",
        absl::StrCat(",\"error\":", JsonString(std::string(config.status().message()))));
    std::fputs("Try --help.\n", stderr);
    return kExitConfig;
  }
  if (config->help) {
    std::fputs(kUsage, stdout);
    return EXIT_SUCCESS;
  }

  es::kafka::EmbeddedBrokerOptions options;
  options.num_brokers = config->brokers;
  absl::Status listen = ParseListen(config->listen, &options);
  absl::StatusOr<std::vector<es::kafka::TopicSpec>> topics =
      es::kafka::ParseTopicSpecs(config->topics);
  if (!listen.ok() || !topics.ok()) {
    const absl::Status& bad = !listen.ok() ? listen : topics.status();
    Log(stderr, "error", "invalid configuration",
        absl::StrCat(",\"error\":", JsonString(std::string(bad.message()))));
    return kExitConfig;
  }
  options.topics = *std::move(topics);

  // Block the stop signals before any thread exists so that every thread (ours and librdkafka's)
  // inherits the mask and sigwait() below is the only place they are delivered.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGUSR1);
  sigaddset(&stop_signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Forwarded sockets use MSG_NOSIGNAL; this only guards against a stray write elsewhere.
  signal(SIGPIPE, SIG_IGN);

  const size_t topic_count = options.topics.size();
  absl::StatusOr<std::unique_ptr<es::kafka::EmbeddedBroker>> broker =
      es::kafka::EmbeddedBroker::Start(std::move(options));
  if (!broker.ok()) {
    const bool in_use = broker.status().code() == absl::StatusCode::kAlreadyExists;
    Log(stderr, "error", in_use ? "listen address already in use" : "cannot start broker",
        absl::StrCat(",\"listen\":", JsonString(config->listen),
                     ",\"error\":", JsonString(std::string(broker.status().message()))));
    return in_use ? kExitAddressInUse : kExitConfig;
  }
  Log(stdout, "info", "ready",
      absl::StrCat(",\"bootstrap\":", JsonString((*broker)->bootstrap_servers()),
                   ",\"topics\":", topic_count, ",\"brokers\":", config->brokers));

  int signal_number = 0;
  while (true) {
    if (sigwait(&stop_signals, &signal_number) != 0) continue;
    if (signal_number != SIGUSR1 && signal_number != SIGUSR2) break;
    const bool available = signal_number == SIGUSR2;
    absl::Status set = (*broker)->SetAvailable(available);
    Log(stdout, set.ok() ? "info" : "error", available ? "brokers up" : "brokers down",
        set.ok() ? "" : absl::StrCat(",\"error\":", JsonString(std::string(set.message()))));
  }
  Log(stdout, "info", "stopping",
      absl::StrCat(",\"signal\":", JsonString(signal_number == SIGTERM ? "SIGTERM" : "SIGINT")));
  broker->reset();
  Log(stdout, "info", "stopped");
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
