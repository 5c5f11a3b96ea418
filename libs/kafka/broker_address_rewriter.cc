#include "libs/kafka/broker_address_rewriter.h"

#include <algorithm>
#include <utility>

namespace es::kafka {
namespace {

constexpr int16_t kApiMetadata = 3;
constexpr int16_t kApiFindCoordinator = 10;
constexpr size_t kRequestHeaderSize = 12;  // size, api_key, api_version, correlation_id
constexpr size_t kResponseHeaderSize = 8;  // size, correlation_id

int32_t ReadInt32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<int32_t>((uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
                              (uint32_t{u[2]} << 8) | uint32_t{u[3]});
}

int16_t ReadInt16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<int16_t>((u[0] << 8) | u[1]);
}

void WriteInt32(int32_t value, char* p) {
  const auto v = static_cast<uint32_t>(value);
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

// Moves up to `want - buffer->size()` bytes from the front of `data` into `buffer`.
void Fill(std::string* buffer, size_t want, std::string_view* data) {
  const size_t take = std::min(want - buffer->size(), data->size());
  buffer->append(data->data(), take);
  data->remove_prefix(take);
}

}  // namespace

BrokerAddressRewriter::BrokerAddressRewriter(std::string host, std::map<int32_t, int32_t> ports)
    : host_(std::move(host)), ports_(std::move(ports)) {}

void BrokerAddressRewriter::OnClientBytes(std::string_view data) {
  while (!pass_through_ && !data.empty()) {
    if (request_left_ > 0) {
      const size_t skip = static_cast<size_t>(std::min<int64_t>(request_left_, data.size()));
      data.remove_prefix(skip);
      request_left_ -= static_cast<int64_t>(skip);
      continue;
    }
    Fill(&request_header_, kRequestHeaderSize, &data);
    if (request_header_.size() < kRequestHeaderSize) return;
    const int32_t size = ReadInt32(request_header_.data());
    if (size < static_cast<int32_t>(kRequestHeaderSize - 4)) {
      pass_through_ = true;
      return;
    }
    const int16_t api_key = ReadInt16(request_header_.data() + 4);
    if (api_key == kApiMetadata || api_key == kApiFindCoordinator) {
      pending_.insert(ReadInt32(request_header_.data() + 8));
    }
    request_left_ = size - static_cast<int64_t>(kRequestHeaderSize - 4);
    request_header_.clear();
  }
}

void BrokerAddressRewriter::OnBrokerBytes(std::string_view data, std::string* out) {
  while (!data.empty()) {
    if (pass_through_) {
      if (holding_) {
        out->append(held_);
        held_.clear();
        holding_ = false;
      }
      out->append(data.data(), data.size());
      return;
    }
    if (response_left_ > 0) {
      const size_t take = static_cast<size_t>(std::min<int64_t>(response_left_, data.size()));
      (holding_ ? held_ : *out).append(data.data(), take);
      data.remove_prefix(take);
      response_left_ -= static_cast<int64_t>(take);
      if (response_left_ == 0 && holding_) {
        RewriteFrame(&held_);
        out->append(held_);
        held_.clear();
        holding_ = false;
      }
      continue;
    }
    Fill(&response_header_, kResponseHeaderSize, &data);
    if (response_header_.size() < kResponseHeaderSize) return;
    const int32_t size = ReadInt32(response_header_.data());
    if (size < static_cast<int32_t>(kResponseHeaderSize - 4)) {
      pass_through_ = true;
      out->append(response_header_);
      response_header_.clear();
      continue;
    }
    const int32_t correlation_id = ReadInt32(response_header_.data() + 4);
    holding_ = pending_.erase(correlation_id) > 0 && size <= kMaxHeldFrame;
    (holding_ ? held_ : *out).append(response_header_);
    response_header_.clear();
    response_left_ = size - static_cast<int64_t>(kResponseHeaderSize - 4);
    if (response_left_ == 0 && holding_) {
      out->append(held_);
      held_.clear();
      holding_ = false;
    }
  }
}

void BrokerAddressRewriter::RewriteFrame(std::string* frame) const {
  if (host_.empty()) return;
  // Every protocol version encodes a broker as ... host (a length-prefixed string), port (int32)
  // ..., so "<host><4-byte port>" is found without parsing each version's layout. A false match
  // needs those exact bytes followed by one of the mapped ports, which nothing else in these
  // two responses (topic names, error messages) produces in practice.
  for (size_t at = frame->find(host_); at != std::string::npos;
       at = frame->find(host_, at + host_.size())) {
    const size_t port_at = at + host_.size();
    if (port_at + 4 > frame->size()) break;
    const auto replacement = ports_.find(ReadInt32(frame->data() + port_at));
    if (replacement != ports_.end()) WriteInt32(replacement->second, frame->data() + port_at);
  }
}

}  // namespace es::kafka
