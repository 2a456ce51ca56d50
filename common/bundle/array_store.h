// ArrayStore<T>: the storage of a large model array, either owned (a
// std::vector, as fit code builds it) or a read-only view of a memory-mapped
// bundle file (as ModelBundle::Load gives it; see mapping.h for the lifetime
// rules: the view keeps its mapping alive).
//
// Reading is the same either way: data(), size(), operator[], begin()/end()
// and an implicit std::span<const T>. Elements are never written through an
// ArrayStore; building goes through the vector-like calls below (push_back,
// reserve, assign, ...). Called on a mapped array, those first copy it into
// an owned vector (a mapped file is never written).
// Copying an owned ArrayStore copies the vector; copying a mapped one shares
// the mapping. Equality compares elements, whatever the storage.
// Thread-safety: const methods are safe to call concurrently.
#pragma once

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "common/bundle/mapping.h"

namespace recsys {

template <typename T>
class ArrayStore {
 public:
  using value_type = T;
  using size_type = size_t;
  using const_iterator = const T*;
  using iterator = const T*;  // read-only either way

  ArrayStore() = default;
  ArrayStore(std::vector<T> owned) : owned_(std::move(owned)) { Sync(); }  // NOLINT: implicit
  ArrayStore(std::initializer_list<T> values) : owned_(values) { Sync(); }
  // A view of `values`, which must lie inside `mapping`.
  ArrayStore(std::shared_ptr<const Mapping> mapping, std::span<const T> values)
      : mapping_(std::move(mapping)), data_(values.data()), size_(values.size()) {}

  ArrayStore(const ArrayStore& other) { *this = other; }
  ArrayStore(ArrayStore&& other) noexcept { *this = std::move(other); }
  ArrayStore& operator=(const ArrayStore& other) {
    if (this == &other) return *this;
    mapping_ = other.mapping_;
    if (mapping_) {
      owned_.clear();
      data_ = other.data_;
      size_ = other.size_;
    } else {
      owned_ = other.owned_;
      Sync();
    }
    return *this;
  }
  ArrayStore& operator=(ArrayStore&& other) noexcept {
    if (this == &other) return *this;
    mapping_ = std::move(other.mapping_);
    owned_ = std::move(other.owned_);
    data_ = mapping_ ? other.data_ : owned_.data();
    size_ = mapping_ ? other.size_ : owned_.size();
    other.mapping_.reset();
    other.owned_.clear();
    other.Sync();
    return *this;
  }

  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  const T& front() const { return data_[0]; }
  const T& back() const { return data_[size_ - 1]; }
  std::span<const T> span() const { return {data_, size_}; }
  operator std::span<const T>() const { return span(); }  // NOLINT: implicit
  // True when the elements are a view of a mapped file.
  bool mapped() const { return mapping_ != nullptr; }
  std::vector<T> ToVector() const { return std::vector<T>(begin(), end()); }

  // Building (owned storage; a mapped array is copied first).
  void push_back(T v) { Owned().push_back(v), Sync(); }
  void pop_back() { Owned().pop_back(), Sync(); }
  void clear() { Owned().clear(), Sync(); }
  void reserve(size_t n) { Owned().reserve(n), Sync(); }
  size_t capacity() const { return mapping_ ? size_ : owned_.capacity(); }
  void resize(size_t n, const T& v = T()) { Owned().resize(n, v), Sync(); }
  void assign(size_t n, const T& v) { Owned().assign(n, v), Sync(); }
  template <typename It>
  void assign(It first, It last) {
    Owned().assign(first, last), Sync();
  }
  template <typename It>
  void append(It first, It last) {
    Owned().insert(owned_.end(), first, last), Sync();
  }

  friend bool operator==(const ArrayStore& a, const ArrayStore& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const ArrayStore& a, const std::vector<T>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  std::vector<T>& Owned() {
    if (mapping_) {
      owned_.assign(data_, data_ + size_);
      mapping_.reset();
    }
    return owned_;
  }
  void Sync() {
    data_ = owned_.data();
    size_ = owned_.size();
  }

  std::shared_ptr<const Mapping> mapping_;  // set: a view of this mapping
  std::vector<T> owned_;                    // the elements when not mapped
  const T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace recsys
