#pragma once

// A gRPC callback-API message allocator that puts a unary call's request and response on one
// protobuf arena, freed in one go when the call is done. For answers made of many small
// messages (a page of 50 worklist entries holds ~500 strings) this replaces hundreds of
// malloc/free pairs per call with a few block allocations.
//
// Register once per method before the server starts, e.g.
//   SetMessageAllocatorFor_GetWorklist(&worklist_allocator_);
// The allocator must outlive the server. Thread-safe (it holds no state).

#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"

namespace es::rpc {

template <typename Request, typename Response>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  // `initial_block_bytes`: the arena's first block, sized to hold a typical call whole.
  explicit ArenaMessageAllocator(size_t initial_block_bytes = 32 * 1024)
      : initial_block_bytes_(initial_block_bytes) {}

  grpc::MessageHolder<Request, Response>* AllocateMessages() override {
    return new Holder(initial_block_bytes_);
  }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    explicit Holder(size_t initial_block_bytes) : arena_(Options(initial_block_bytes)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(size_t initial_block_bytes) {
      google::protobuf::ArenaOptions options;
      options.start_block_size = initial_block_bytes;
      options.max_block_size = 4 * initial_block_bytes;
      return options;
    }
    google::protobuf::Arena arena_;
  };

  const size_t initial_block_bytes_;
};

}  // namespace es::rpc
