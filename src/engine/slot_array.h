// SlotArray: a zero-filled array for hash-table slots, on transparent huge pages when large.
//
// A large keydir's slot tables are read at random. On 4 KiB pages nearly every such read
// also misses the TLB, and a page walk is slow (very slow under virtualisation: measured,
// loading 10M keys spent more time in TLB misses than in the table logic). Arrays of 2 MiB
// and more are therefore mapped on their own and marked MADV_HUGEPAGE; smaller ones come
// from the heap. Fresh anonymous memory is already zero, so large arrays are not cleared.

#ifndef BITCASK_ENGINE_SLOT_ARRAY_H_
#define BITCASK_ENGINE_SLOT_ARRAY_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>

namespace bitcask::engine {

template <typename T>
class SlotArray {
  static_assert(std::is_trivially_copyable_v<T>, "slots are raw memory");

 public:
  SlotArray() = default;
  explicit SlotArray(size_t n) : size_(n) {
    const size_t bytes = n * sizeof(T);
    if (bytes >= kHugePage) {
      // Over-map by one huge page so the array can start on a 2 MiB boundary.
      mapped_ = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
      void* p =
          ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      base_ = p;
      char* aligned = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(p) + kHugePage - 1) &
                                              ~uintptr_t{kHugePage - 1});
      ::madvise(aligned, mapped_ - static_cast<size_t>(aligned - static_cast<char*>(p)),
                MADV_HUGEPAGE);  // advisory
      data_ = reinterpret_cast<T*>(aligned);
    } else if (n > 0) {
      data_ = static_cast<T*>(std::calloc(n, sizeof(T)));
      if (data_ == nullptr) throw std::bad_alloc();
    }
  }
  SlotArray(SlotArray&& o) noexcept { *this = std::move(o); }
  SlotArray& operator=(SlotArray&& o) noexcept {
    if (this != &o) {
      Free();
      data_ = std::exchange(o.data_, nullptr);
      base_ = std::exchange(o.base_, nullptr);
      mapped_ = std::exchange(o.mapped_, 0);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  SlotArray(const SlotArray&) = delete;
  SlotArray& operator=(const SlotArray&) = delete;
  ~SlotArray() { Free(); }

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  bool empty() const { return data_ == nullptr; }
  size_t size() const { return size_; }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;

  void Free() {
    if (base_ != nullptr) {
      ::munmap(base_, mapped_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    base_ = nullptr;
  }

  T* data_ = nullptr;
  void* base_ = nullptr;  // the mapping, for large arrays
  size_t mapped_ = 0;
  size_t size_ = 0;
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_SLOT_ARRAY_H_
