#pragma once

// librdkafka's own log lines as the project's JSON log lines.
//
// By default librdkafka prints "%3|1795...|FAIL|rdkafka#producer-1| ..." to stderr, which breaks
// the promise that every line a service writes is a JSON object. UseJsonLogging() routes a
// client's lines through es::runtime::Log instead:
//   {"ts":...,"level":"error","component":"outbox.relay","msg":"127.0.0.1:9092/bootstrap: Connect
//    to ipv4#127.0.0.1:9092 failed: Connection refused
//    ...","fac":"FAIL","client":"pathways#producer-1"}
// Syslog levels map to LogLevel: 0-3 error, 4 warning, 5-6 info, 7 debug. librdkafka writes its
// `debug` contexts at level 7, so they only appear with SetMinLogLevel(LogLevel::kDebug).
// The message text is passed as-is: librdkafka's messages name brokers, topics, partitions and
// offsets, never record keys or values.

#include <librdkafka/rdkafka.h>

#include <string>

namespace es::runtime {

// Makes every client created from `conf` (and from rd_kafka_conf_dup() copies of it) log through
// es::runtime::Log with `component`, the librdkafka facility ("fac") and the client's name
// ("client", from client.id). Call once per configuration object, before rd_kafka_new(); a
// second call on the same object keeps the first component. The log callback runs on
// librdkafka's internal threads; es::runtime::Log is thread-safe.
void UseJsonLogging(rd_kafka_conf_t* conf, const std::string& component);

// What to do with `conf` after rd_kafka_new(conf) returned nullptr: normally the application
// still owns it and destroys it. But librdkafka up to its fix of November 2025 frees a
// configuration's interceptors on that failure path (confluentinc/librdkafka#4142), and
// UseJsonLogging() registers one, so destroying the configuration then is a double free: a
// service given e.g. an unreadable ssl.key.location crashed with SIGSEGV instead of reporting the
// error. The configuration is therefore left alone: a few KiB per failed client creation (at
// start, or per back-off retry of the relay's or dead-letter producer's re-creation while a TLS
// file stays unreadable).
inline void AbandonConfAfterFailedNew(rd_kafka_conf_t* /*conf*/) {}

}  // namespace es::runtime
