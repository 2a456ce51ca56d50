#include "gateway/http/json_print.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace recsys::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Length of the valid UTF-8 sequence at s[i], 0 if there is none.
size_t Utf8SequenceLength(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = 0;
  uint32_t min = 0;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// Whether every message type reachable from `d` is covered (no maps, only
// recsys.* types). Cached per descriptor.
bool Covered(const Descriptor* d, int depth = 0) {
  static absl::Mutex mu;
  static auto* cache = new std::unordered_map<const Descriptor*, bool>();
  {
    absl::MutexLock lock(&mu);
    if (auto it = cache->find(d); it != cache->end()) return it->second;
  }
  bool ok = depth < 16 && absl::StartsWith(d->full_name(), "recsys.");
  for (int i = 0; ok && i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map()) ok = false;
    if (ok && f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && f->message_type() != d) {
      ok = Covered(f->message_type(), depth + 1);
    }
  }
  absl::MutexLock lock(&mu);
  (*cache)[d] = ok;
  return ok;
}

template <typename Float>
void AppendFloat(Float v, std::string* out) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr);
  }
}

void AppendMessage(const Message& m, std::string* out);

// One value of `f` (index `i` when repeated, else -1).
void AppendValue(const Message& m, const Reflection& r, const FieldDescriptor* f, int i,
                 std::string* out) {
  const bool rep = i >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      absl::StrAppend(out, rep ? r.GetRepeatedInt32(m, f, i) : r.GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      absl::StrAppend(out, rep ? r.GetRepeatedUInt32(m, f, i) : r.GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      absl::StrAppend(out, "\"", rep ? r.GetRepeatedInt64(m, f, i) : r.GetInt64(m, f), "\"");
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      absl::StrAppend(out, "\"", rep ? r.GetRepeatedUInt64(m, f, i) : r.GetUInt64(m, f), "\"");
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      AppendFloat(rep ? r.GetRepeatedFloat(m, f, i) : r.GetFloat(m, f), out);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      AppendFloat(rep ? r.GetRepeatedDouble(m, f, i) : r.GetDouble(m, f), out);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r.GetRepeatedBool(m, f, i) : r.GetBool(m, f)) ? "true" : "false");
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int v = rep ? r.GetRepeatedEnumValue(m, f, i) : r.GetEnumValue(m, f);
      if (const auto* e = f->enum_type()->FindValueByNumber(v); e != nullptr) {
        absl::StrAppend(out, "\"", e->name(), "\"");
      } else {
        absl::StrAppend(out, v);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s =
          rep ? r.GetRepeatedStringReference(m, f, i, &scratch) : r.GetStringReference(m, f, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        absl::StrAppend(out, "\"", absl::Base64Escape(s), "\"");
      } else {
        AppendJsonString(s, out);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      AppendMessage(rep ? r.GetRepeatedMessage(m, f, i) : r.GetMessage(m, f), out);
      break;
  }
}

void AppendMessage(const Message& m, std::string* out) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection& r = *m.GetReflection();
  out->push_back('{');
  bool first = true;
  for (int k = 0; k < d->field_count(); ++k) {
    const FieldDescriptor* f = d->field(k);
    if (!f->is_repeated() && (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE ||
                              f->has_presence()) &&
        !r.HasField(m, f)) {
      continue;  // unset messages (and unset optional scalars) are left out
    }
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, "\"", f->json_name(), "\":");
    if (f->is_repeated()) {
      out->push_back('[');
      const int n = r.FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (i > 0) out->push_back(',');
        AppendValue(m, r, f, i, out);
      }
      out->push_back(']');
    } else {
      AppendValue(m, r, f, -1, out);
    }
  }
  out->push_back('}');
}

}  // namespace

void AppendJsonString(const std::string& s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out->append("\\ufffd");
      ++i;
      continue;
    }
    if (n > 1) {
      out->append(s, i, n);
    } else if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
    } else {
      out->push_back(static_cast<char>(c));
    }
    i += n;
  }
  out->push_back('"');
}

bool AppendJson(const Message& message, std::string* out) {
  if (!Covered(message.GetDescriptor())) return false;
  AppendMessage(message, out);
  return true;
}

}  // namespace recsys::gateway
