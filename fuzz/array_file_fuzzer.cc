// Fuzzes the array-file parser (common/bundle/array_file.h): the same bytes as
// a float, int32, int64 and string array, through a Mapping made from memory.
// Checks that an accepted array has 1..4 dimensions whose product is its
// element count, and that every element can be read.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/bundle/array_file.h"
#include "common/bundle/mapping.h"
#include "fuzz/fuzz_support.h"

namespace {

using recsys::fuzz::Check;

template <typename T>
void MapAndTouch(const std::shared_ptr<const recsys::Mapping>& file) {
  auto array = recsys::MapArray<T>(file);
  if (!array.ok()) {
    Check(array.status().message().find(file->path()) != absl::string_view::npos,
          absl::StrCat("error does not name the file: ", array.status().ToString()));
    return;
  }
  Check(!array->dims.empty() && array->dims.size() <= 4, "1..4 dimensions");
  uint64_t elements = 1;
  for (uint64_t d : array->dims) elements *= d;
  Check(elements == array->values.size(), "prod(dims) == element count");
  // Every element must be inside the mapping (ASan sees a read past it).
  uint64_t acc = 0;
  for (size_t i = 0; i < array->values.size(); ++i) {
    const T v = array->values[i];
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    acc ^= bits;
  }
  volatile uint64_t sink = acc;
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = recsys::Mapping::FromBytes("fuzz.arr", recsys::fuzz::AsView(data, size));
  MapAndTouch<float>(file);
  MapAndTouch<int32_t>(file);
  MapAndTouch<int64_t>(file);
  auto strings = recsys::ParseStringArray(*file);
  if (strings.ok()) {
    // The payload is exactly the records: re-encoding them gives the file's tail.
    std::string payload;
    for (const std::string& s : *strings) {
      const uint32_t n = static_cast<uint32_t>(s.size());
      payload.append(reinterpret_cast<const char*>(&n), 4);
      payload.append(s);
    }
    Check(payload.size() <= size &&
              file->bytes().substr(size - payload.size()) == payload,
          "string records re-encode to the payload");
  }
  return 0;
}
