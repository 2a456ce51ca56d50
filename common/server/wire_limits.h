// Limits checked on a request's wire bytes before it is parsed.
//
// A parsed protobuf costs far more memory than its bytes when it is made of
// tiny repeated elements: an empty repeated string is 2 bytes on the wire and
// ~40 bytes parsed (pointer + std::string), an empty sub-message ~100. A
// request of millions of them would cost the server 20-50x its size before any
// validation could refuse it. Methods with such fields take the raw bytes
// (gRPC raw callback methods), pass them through CheckWireLimits, and parse
// only what fits:
//   - the message size (RESOURCE_EXHAUSTED above max_bytes: the per-method
//     receive limit);
//   - per field number: occurrences (max_count) and the length of each
//     length-delimited occurrence (max_length), recursively into sub-messages
//     (`nested`); fields without a rule are only skipped;
//   - the bytes must be well-formed protobuf wire format (INVALID_ARGUMENT
//     naming the offset otherwise: a garbage request gets a clear answer);
//   - with the message's `descriptor`: every sub-message is scanned (by its
//     descriptor), and fields the schema does not know, at any depth, are
//     counted: more than max_unknown_fields is INVALID_ARGUMENT. Protobuf keeps
//     unknown fields when it parses (a 2-byte unknown varint costs ~50 bytes
//     parsed), so without this cap a request padded with them costs 20x its
//     size; a handful from a newer client still passes.
// Cost: one pass over the bytes, no allocation (CodedInputStream over the
// buffer's slices).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace recsys {

struct WireFieldRule {
  int number = 0;
  const char* name = "";  // for error messages, e.g. "context_categories"
  int64_t max_count = std::numeric_limits<int64_t>::max();
  int64_t max_length = std::numeric_limits<int64_t>::max();
  // Rules inside each occurrence (a sub-message), or null.
  const std::vector<WireFieldRule>* nested = nullptr;
};

struct WireLimits {
  int64_t max_bytes = 1 << 20;
  std::vector<WireFieldRule> fields;
  // The request's type (e.g. v1::RecommendRequest::descriptor()); null: only
  // `fields` are checked and unruled fields are skipped unseen.
  const google::protobuf::Descriptor* descriptor = nullptr;
  // Unknown field occurrences allowed in the whole request (with `descriptor`).
  int64_t max_unknown_fields = 64;
};

// OK, or RESOURCE_EXHAUSTED (too large) / INVALID_ARGUMENT (a count or length
// over its rule, or malformed bytes). `buffer` is only read.
absl::Status CheckWireLimits(const grpc::ByteBuffer& buffer, const WireLimits& limits);
// The same over contiguous bytes (tests, fuzzing).
absl::Status CheckWireLimits(const void* data, size_t size, const WireLimits& limits);

// Parses `buffer` into `message` (which may live on an arena): INVALID_ARGUMENT
// if it does not parse.
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message);

// Serializes `message` into `buffer` (the raw method's response).
absl::Status SerializeResponse(const google::protobuf::Message& message, grpc::ByteBuffer* buffer);

}  // namespace recsys
