// A gRPC callback-method message allocator that places each call's request and
// response on one protobuf Arena. A Retrieve response or Rank request carries
// hundreds of candidates (each a message with a string and sub-messages);
// parsed onto the heap that is hundreds of mallocs and frees per call, on an
// arena it is a few block allocations freed at once when the call ends.
//
//   ArenaMessageAllocator<v1::RankRequest, v1::RankResponse> allocator_;
//   ...in the service constructor:  SetMessageAllocatorFor_Rank(&allocator_);
//
// The allocator must outlive the server (gRPC keeps the pointer). Thread-safe:
// every call gets its own holder.
#pragma once

#include <grpcpp/support/message_allocator.h>

#include <cstddef>

#include "google/protobuf/arena.h"

namespace recsys {

// First arena block, embedded in the holder: most calls never allocate more.
inline constexpr size_t kCallArenaInitialBytes = 32 * 1024;

template <typename Request, typename Response>
class ArenaMessageAllocator : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(initial_)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }
    // The request lives on the arena: freed with it in Release().
    void FreeRequest() override {}

   private:
    static google::protobuf::ArenaOptions Options(char* block) {
      google::protobuf::ArenaOptions o;
      o.initial_block = block;
      o.initial_block_size = sizeof(initial_);
      o.start_block_size = 16 * 1024;
      o.max_block_size = 256 * 1024;
      return o;
    }
    alignas(std::max_align_t) char initial_[kCallArenaInitialBytes];
    google::protobuf::Arena arena_;  // after initial_: constructed from it
  };
};

// The same for raw callback methods (wire_limits.h), which parse the request
// themselves: one call's request and response on one arena, kept alive by
// whoever finishes the call (hold it in a shared_ptr captured by the
// completion).
template <typename Request, typename Response>
class CallMessages {
 public:
  CallMessages() : arena_(Options(initial_)) {
    request = google::protobuf::Arena::CreateMessage<Request>(&arena_);
    response = google::protobuf::Arena::CreateMessage<Response>(&arena_);
  }
  CallMessages(const CallMessages&) = delete;
  CallMessages& operator=(const CallMessages&) = delete;

  Request* request;
  Response* response;

 private:
  static google::protobuf::ArenaOptions Options(char* block) {
    google::protobuf::ArenaOptions o;
    o.initial_block = block;
    o.initial_block_size = kCallArenaInitialBytes;
    o.start_block_size = 16 * 1024;
    o.max_block_size = 256 * 1024;
    return o;
  }
  alignas(std::max_align_t) char initial_[kCallArenaInitialBytes];
  google::protobuf::Arena arena_;  // after initial_: constructed from it
};

}  // namespace recsys
