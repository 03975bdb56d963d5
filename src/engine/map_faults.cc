#include "engine/map_faults.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace bitcask::engine::map_faults {

namespace internal {
// One slot per mapping: a data file or a hint file each. The process cannot hold more
// mappings than vm.max_map_count (65530 by default), so the slots do not run out before mmap
// does. A free slot has begin 0; a claimed one gets its end last, and loses it first, so the
// handler never sees a range that is not whole. Static storage: the pages of slots never
// claimed are never touched.
Slot slots[kSlots];
std::atomic<uint64_t> fault_count{0};
}  // namespace internal

namespace {

using internal::fault_count;
using internal::kSlots;
using internal::Slot;
using internal::slots;

std::atomic<size_t> slots_used{0};  // no slot at or past this was ever claimed
std::atomic<size_t> next_free{0};   // where the next search for a free slot starts

struct sigaction previous;  // written once, before our handler can run
uintptr_t page_size = 4096;
std::once_flag install_once;

// The slot whose mapping holds addr, or -1.
int SlotOf(uintptr_t addr) {
  const size_t n = slots_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    const uintptr_t end = slots[i].end.load(std::memory_order_acquire);
    if (addr < end && slots[i].begin.load(std::memory_order_acquire) <= addr) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// What would have happened without us.
void PassOn(int sig, siginfo_t* info, void* context) {
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    if ((previous.sa_flags & SA_SIGINFO) != 0) {
      previous.sa_sigaction(sig, info, context);
    } else {
      previous.sa_handler(sig);
    }
    return;
  }
  // The default action (a SIGBUS from a fault cannot be ignored): the signal, blocked while
  // this handler runs, is delivered as it returns and ends the process with a core dump.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGBUS, &dfl, nullptr);
  ::raise(SIGBUS);
}

void OnSigbus(int sig, siginfo_t* info, void* context) {
  const int saved_errno = errno;
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  // si_code > 0: raised by the kernel for an access (not sent with kill).
  const int slot = info->si_code > 0 && addr != 0 ? SlotOf(addr) : -1;
  if (slot >= 0) {
    // The raw system call: sanitizers intercept mmap, and this runs inside a signal handler.
    const uintptr_t page = addr & ~(page_size - 1);
    const long mapped = ::syscall(SYS_mmap, page, page_size, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (mapped == static_cast<long>(page)) {
      // Lock-free atomics only: safe in a signal handler.
      Slot& s = slots[slot];
      uintptr_t first = s.first_fault.load(std::memory_order_relaxed);
      while (page < first && !s.first_fault.compare_exchange_weak(first, page)) {
      }
      uintptr_t end = s.end_fault.load(std::memory_order_relaxed);
      while (page + page_size > end && !s.end_fault.compare_exchange_weak(end, page + page_size)) {
      }
      s.faulted.store(true, std::memory_order_release);
      fault_count.fetch_add(1, std::memory_order_acq_rel);
      errno = saved_errno;
      return;  // the access runs again, on the zero page
    }
  }
  errno = saved_errno;
  PassOn(sig, info, context);
}

void Install() {
  if (const long p = ::sysconf(_SC_PAGESIZE); p > 0) page_size = static_cast<uintptr_t>(p);
  struct sigaction ours = {};
  ours.sa_sigaction = OnSigbus;
  ours.sa_flags = SA_SIGINFO;
  sigemptyset(&ours.sa_mask);
  ::sigaction(SIGBUS, &ours, &previous);
}

}  // namespace

int Register(const void* begin, size_t length) {
  std::call_once(install_once, Install);
  const uintptr_t b = reinterpret_cast<uintptr_t>(begin);
  const size_t start = next_free.load(std::memory_order_relaxed);
  for (size_t k = 0; k < kSlots; k++) {
    const size_t i = (start + k) % kSlots;
    uintptr_t expected = 0;
    if (slots[i].begin.load(std::memory_order_relaxed) != 0 ||
        !slots[i].begin.compare_exchange_strong(expected, b, std::memory_order_acq_rel)) {
      continue;
    }
    slots[i].faulted.store(false, std::memory_order_relaxed);
    slots[i].first_fault.store(UINTPTR_MAX, std::memory_order_relaxed);
    slots[i].end_fault.store(0, std::memory_order_relaxed);
    slots[i].end.store(b + length, std::memory_order_release);
    size_t used = slots_used.load(std::memory_order_relaxed);
    while (used < i + 1 &&
           !slots_used.compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
    }
    next_free.store((i + 1) % kSlots, std::memory_order_relaxed);
    return static_cast<int>(i);
  }
  return -1;
}

void Unregister(int slot) {
  if (slot < 0) return;
  slots[slot].end.store(0, std::memory_order_release);
  slots[slot].begin.store(0, std::memory_order_release);
}

bool Faulted(const void* p) {
  return FaultFlag(SlotOf(reinterpret_cast<uintptr_t>(p)))->load(std::memory_order_acquire);
}

bool FaultedIn(const void* p, size_t n) {
  const int slot = SlotOf(reinterpret_cast<uintptr_t>(p));
  if (slot < 0 || !slots[slot].faulted.load(std::memory_order_acquire)) return false;
  const uintptr_t b = reinterpret_cast<uintptr_t>(p);
  return slots[slot].first_fault.load(std::memory_order_acquire) < b + n &&
         b < slots[slot].end_fault.load(std::memory_order_acquire);
}

std::string Explanation() {
  return "a page of the file could not be read through its memory mapping (SIGBUS): another "
         "program cut the file short, or the disk failed to read it; it reads as zeros until "
         "the store is opened again";
}

}  // namespace bitcask::engine::map_faults
