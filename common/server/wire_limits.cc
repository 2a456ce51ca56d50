#include "common/server/wire_limits.h"

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"

namespace recsys {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedInputStream;

// Nesting deeper than this is refused (our messages nest 3 levels).
constexpr int kMaxDepth = 8;

absl::Status Malformed(const CodedInputStream& in, const std::string& where) {
  return absl::InvalidArgumentError(absl::StrCat("undecodable request: malformed protobuf at byte ",
                                                 in.CurrentPosition(), where.empty() ? "" : " in ",
                                                 where));
}

// What a scan of one request carries through its levels.
struct ScanState {
  const WireLimits& limits;
  int64_t unknown = 0;
};

const std::vector<WireFieldRule> kNoRules;

absl::Status Scan(CodedInputStream& in, const std::vector<WireFieldRule>& rules,
                  const google::protobuf::Descriptor* descriptor, const std::string& where,
                  int depth, ScanState& state) {
  if (depth > kMaxDepth) return Malformed(in, where);
  std::vector<int64_t> counts(rules.size(), 0);
  while (true) {
    const uint32_t tag = in.ReadTag();
    // 0: the end of the (limited) input, a read error or a zero tag; only the
    // first leaves no bytes before the limit (checked after the loop).
    if (tag == 0) break;
    const int number = static_cast<int>(WireFormatLite::GetTagFieldNumber(tag));
    const auto type = WireFormatLite::GetTagWireType(tag);
    if (number == 0) return Malformed(in, where);
    const WireFieldRule* rule = nullptr;
    size_t index = 0;
    for (; index < rules.size(); ++index) {
      if (rules[index].number == number) {
        rule = &rules[index];
        break;
      }
    }
    const google::protobuf::FieldDescriptor* field =
        descriptor == nullptr ? nullptr : descriptor->FindFieldByNumber(number);
    // A known number with the wrong wire type is kept as an unknown field too.
    if (field != nullptr &&
        type != WireFormatLite::WireTypeForFieldType(
                    static_cast<WireFormatLite::FieldType>(field->type())) &&
        !(field->is_packable() && type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
      field = nullptr;
    }
    if (descriptor != nullptr && field == nullptr &&
        ++state.unknown > state.limits.max_unknown_fields) {
      return absl::InvalidArgumentError(absl::StrCat(
          "undecodable request: more than ", state.limits.max_unknown_fields,
          " fields this server does not know (", descriptor->full_name(), " field ", number,
          where.empty() ? "" : " in ", where, ")"));
    }
    if (rule != nullptr && ++counts[index] > rule->max_count) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, where.empty() ? "" : ".", rule->name, ": more than ", rule->max_count,
          " entries"));
    }
    if (type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length) || static_cast<int64_t>(length) > in.BytesUntilTotalBytesLimit()) {
        return Malformed(in, where);
      }
      if (rule != nullptr && static_cast<int64_t>(length) > rule->max_length) {
        return absl::InvalidArgumentError(absl::StrCat(where, where.empty() ? "" : ".", rule->name,
                                                       ": an entry of ", length,
                                                       " bytes (at most ", rule->max_length, ")"));
      }
      const bool is_message =
          field != nullptr && field->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE;
      if ((rule != nullptr && rule->nested != nullptr) || is_message) {
        const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(length));
        const std::string inner = absl::StrCat(where, where.empty() ? "" : ".",
                                               rule != nullptr ? rule->name : field->name());
        const std::vector<WireFieldRule>& nested =
            rule != nullptr && rule->nested != nullptr ? *rule->nested : kNoRules;
        if (absl::Status s = Scan(in, nested, is_message ? field->message_type() : nullptr, inner,
                                  depth + 1, state);
            !s.ok()) {
          return s;
        }
        if (in.BytesUntilLimit() != 0) return Malformed(in, inner);
        in.PopLimit(limit);
      } else if (!in.Skip(static_cast<int>(length))) {
        return Malformed(in, where);
      }
    } else if (type == WireFormatLite::WIRETYPE_START_GROUP ||
               type == WireFormatLite::WIRETYPE_END_GROUP) {
      return Malformed(in, where);  // groups: none of our messages use them
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return Malformed(in, where);
    }
  }
  // ReadTag returned 0: fine at the end of the input or of a sub-message.
  if (in.BytesUntilLimit() > 0) return Malformed(in, where);
  return absl::OkStatus();
}

absl::Status CheckStream(google::protobuf::io::ZeroCopyInputStream* stream, int64_t size,
                         const WireLimits& limits) {
  if (size > limits.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "request of ", size, " bytes is larger than this method accepts (", limits.max_bytes,
        " bytes)"));
  }
  CodedInputStream in(stream);
  in.SetTotalBytesLimit(static_cast<int>(size));
  const CodedInputStream::Limit limit = in.PushLimit(static_cast<int>(size));
  ScanState state{limits};
  absl::Status s = Scan(in, limits.fields, limits.descriptor, "", 0, state);
  in.PopLimit(limit);
  return s;
}

}  // namespace

absl::Status CheckWireLimits(const grpc::ByteBuffer& buffer, const WireLimits& limits) {
  const int64_t size = static_cast<int64_t>(buffer.Length());
  if (size > limits.max_bytes) return CheckStream(nullptr, size, limits);
  // ProtoBufferReader takes a non-const buffer but only reads it.
  grpc::ByteBuffer copy(buffer);  // shares the slices (reference counts)
  grpc::ProtoBufferReader reader(&copy);
  return CheckStream(&reader, size, limits);
}

absl::Status CheckWireLimits(const void* data, size_t size, const WireLimits& limits) {
  google::protobuf::io::ArrayInputStream stream(data, static_cast<int>(std::min<size_t>(
                                                          size, std::numeric_limits<int>::max())));
  return CheckStream(&stream, static_cast<int64_t>(size), limits);
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  grpc::ByteBuffer copy(buffer);
  grpc::ProtoBufferReader reader(&copy);
  if (!message->ParseFromZeroCopyStream(&reader)) {
    return absl::InvalidArgumentError(
        absl::StrCat("undecodable request: not a valid ", message->GetTypeName()));
  }
  return absl::OkStatus();
}

absl::Status SerializeResponse(const google::protobuf::Message& message, grpc::ByteBuffer* buffer) {
  bool own_buffer = false;
  const grpc::Status s =
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, buffer, &own_buffer);
  if (!s.ok()) return absl::InternalError(absl::StrCat("serializing the response: ", s.error_message()));
  return absl::OkStatus();
}

}  // namespace recsys
