// The contended paths of Mutex and SharedMutex; see mutex.h.

#include "util/mutex.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace bitcask::util {

namespace {

// Sleeps while *word == expected (returns at once if it is not, and may return spuriously).
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
}

// Wakes up to n threads asleep on word; returns how many it woke.
long FutexWake(std::atomic<uint32_t>* word, int n) {
  const long woken = ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, n,
                               nullptr, nullptr, 0);
  return woken < 0 ? 0 : woken;
}

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// A lock holder is usually about to let go (a write holds the writer's lock for well under a
// microsecond), so waiters spin this many times before they sleep.
constexpr int kSpins = 100;

}  // namespace

// ---- Mutex: 0 unlocked, 1 locked, 2 locked with possible sleepers -------------------------

void Mutex::LockContended() {
  for (int i = 0; i < kSpins; i++) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    if (s == kUnlocked) {
      if (state_.compare_exchange_weak(s, kLocked, std::memory_order_acquire)) return;
      continue;
    }
    if (s == kContended) break;  // others sleep already: join them
    CpuRelax();
  }
  // Taking the lock as kContended (not knowing whether others still sleep) costs at most one
  // needless wake-up at unlock.
  while (state_.exchange(kContended, std::memory_order_acquire) != kUnlocked) {
    FutexWait(&state_, kContended);
  }
}

void Mutex::WakeOne() { FutexWake(&state_, 1); }

// ---- SharedMutex --------------------------------------------------------------------------

uint32_t SharedMutex::SpinRead() {
  uint32_t s = state_.load(std::memory_order_relaxed);
  for (int i = 0; i < kSpins; i++) {
    if (!IsWriteLocked(s) || HasReadersWaiting(s) || HasWritersWaiting(s)) break;
    CpuRelax();
    s = state_.load(std::memory_order_relaxed);
  }
  return s;
}

uint32_t SharedMutex::SpinWrite() {
  uint32_t s = state_.load(std::memory_order_relaxed);
  for (int i = 0; i < kSpins; i++) {
    if (IsUnlocked(s) || HasWritersWaiting(s)) break;
    CpuRelax();
    s = state_.load(std::memory_order_relaxed);
  }
  return s;
}

void SharedMutex::LockSharedContended() {
  uint32_t s = SpinRead();
  for (;;) {
    if (ReadLockable(s)) {
      if (state_.compare_exchange_weak(s, s + kReadLocked, std::memory_order_acquire)) return;
      continue;
    }
    if ((s & kMask) == kMaxReaders) {
      std::fputs("bitcask: more than 2^30 - 2 readers hold one lock\n", stderr);
      std::abort();
    }
    // Say that a reader sleeps before sleeping, so that the unlock wakes it.
    if (!HasReadersWaiting(s)) {
      if (!state_.compare_exchange_weak(s, s | kReadersWaiting, std::memory_order_relaxed)) {
        continue;
      }
      s |= kReadersWaiting;
    }
    FutexWait(&state_, s);
    s = SpinRead();
  }
}

void SharedMutex::LockContended() {
  uint32_t s = SpinWrite();
  // Once this writer has slept, other writers may sleep too: it keeps their bit set when it
  // takes the lock, so that its unlock wakes the next one.
  uint32_t other_writers_waiting = 0;
  for (;;) {
    if (IsUnlocked(s)) {
      if (state_.compare_exchange_weak(s, s | kWriteLocked | other_writers_waiting,
                                       std::memory_order_acquire)) {
        return;
      }
      continue;
    }
    if (!HasWritersWaiting(s)) {
      if (!state_.compare_exchange_weak(s, s | kWritersWaiting, std::memory_order_relaxed)) {
        continue;
      }
    }
    other_writers_waiting = kWritersWaiting;
    // Read the counter before looking at the state once more: a wake-up between the two
    // changes the counter, and the wait below then returns at once.
    const uint32_t seq = writer_notify_.load(std::memory_order_acquire);
    s = state_.load(std::memory_order_relaxed);
    if (IsUnlocked(s) || !HasWritersWaiting(s)) continue;
    FutexWait(&writer_notify_, seq);
    s = SpinWrite();
  }
}

bool SharedMutex::WakeWriter() {
  writer_notify_.fetch_add(1, std::memory_order_release);
  return FutexWake(&writer_notify_, 1) > 0;
}

void SharedMutex::WakeWriterOrReaders(uint32_t s) {
  // Anyone may lock the mutex meanwhile; whoever does wakes the sleepers at its unlock, so a
  // failed exchange below means there is nothing left to do here.
  if (s == kWritersWaiting) {
    if (state_.compare_exchange_strong(s, 0, std::memory_order_relaxed)) {
      WakeWriter();
      return;
    }
  }
  if (s == (kReadersWaiting | kWritersWaiting)) {
    // The readers keep waiting; one writer goes first.
    if (!state_.compare_exchange_strong(s, kReadersWaiting, std::memory_order_relaxed)) return;
    if (WakeWriter()) return;
    // No writer was asleep (it was about to sleep, and will find the counter moved): wake the
    // readers rather than leave them behind a writer that may not come.
    s = kReadersWaiting;
  }
  if (s == kReadersWaiting) {
    if (state_.compare_exchange_strong(s, 0, std::memory_order_relaxed)) {
      FutexWake(&state_, INT_MAX);
    }
  }
}

}  // namespace bitcask::util
