// Mutex and SharedMutex: locks whose uncontended lock and unlock are one atomic instruction,
// inline, and whose waiters sleep in futex(2).
//
// Every lone put, get and delete takes one of these (the writer's Mutex, a keydir shard's
// SharedMutex, or both). Through glibc (std::mutex, pthread_rwlock) those calls were 135 of a
// delete's 1052 instructions and 70 of a get's 772 (callgrind, bench/op_count); here they are
// a handful. Both fit std::lock_guard, std::unique_lock and std::shared_lock.
//
// SharedMutex lets a waiting writer in before new readers: under a steady stream of readers a
// writer is not starved (glibc's default rwlock prefers readers; measured, one writer beside
// four reader threads fell to 47k puts/s). Readers that queue behind a writer are woken
// together when it is done. The state machine is the one Rust's standard library uses for
// its futex RwLock (library/std/src/sys/sync/rwlock/futex.rs), written here from its
// description.

#ifndef BITCASK_UTIL_MUTEX_H_
#define BITCASK_UTIL_MUTEX_H_

#include <atomic>
#include <cstdint>

#include "util/thread_annotations.h"

namespace bitcask::util {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() {
    uint32_t expected = kUnlocked;
    if (!state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire))
        [[unlikely]] {
      LockContended();
    }
  }
  bool try_lock() TRY_ACQUIRE(true) {
    uint32_t expected = kUnlocked;
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire);
  }
  void unlock() RELEASE() {
    if (state_.exchange(kUnlocked, std::memory_order_release) == kContended) [[unlikely]] {
      WakeOne();
    }
  }

 private:
  static constexpr uint32_t kUnlocked = 0;
  static constexpr uint32_t kLocked = 1;
  static constexpr uint32_t kContended = 2;  // locked, and a thread may be asleep waiting

  void LockContended();
  void WakeOne();

  std::atomic<uint32_t> state_{kUnlocked};
};

class CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() {
    uint32_t expected = 0;
    if (!state_.compare_exchange_strong(expected, kWriteLocked, std::memory_order_acquire))
        [[unlikely]] {
      LockContended();
    }
  }
  bool try_lock() TRY_ACQUIRE(true) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    while (IsUnlocked(s)) {
      if (state_.compare_exchange_weak(s, s + kWriteLocked, std::memory_order_acquire)) return true;
    }
    return false;
  }
  void unlock() RELEASE() {
    const uint32_t s = state_.fetch_sub(kWriteLocked, std::memory_order_release) - kWriteLocked;
    if (HasReadersWaiting(s) || HasWritersWaiting(s)) [[unlikely]]
      WakeWriterOrReaders(s);
  }

  void lock_shared() ACQUIRE_SHARED() {
    uint32_t s = state_.load(std::memory_order_relaxed);
    if (!ReadLockable(s) ||
        !state_.compare_exchange_weak(s, s + kReadLocked, std::memory_order_acquire)) [[unlikely]] {
      LockSharedContended();
    }
  }
  bool try_lock_shared() TRY_ACQUIRE_SHARED(true) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    while (ReadLockable(s)) {
      if (state_.compare_exchange_weak(s, s + kReadLocked, std::memory_order_acquire)) return true;
    }
    return false;
  }
  void unlock_shared() RELEASE_SHARED() {
    const uint32_t s = state_.fetch_sub(kReadLocked, std::memory_order_release) - kReadLocked;
    // Readers wait on a read-locked mutex only behind a waiting writer: the last reader out
    // lets the writer in.
    if (IsUnlocked(s) && HasWritersWaiting(s)) [[unlikely]]
      WakeWriterOrReaders(s);
  }

 private:
  // state_: the low 30 bits count readers, all ones meaning write-locked; then a bit for
  // readers asleep waiting and one for writers asleep waiting.
  static constexpr uint32_t kReadLocked = 1;
  static constexpr uint32_t kMask = (1u << 30) - 1;
  static constexpr uint32_t kWriteLocked = kMask;
  static constexpr uint32_t kMaxReaders = kMask - 1;
  static constexpr uint32_t kReadersWaiting = 1u << 30;
  static constexpr uint32_t kWritersWaiting = 1u << 31;

  static bool IsUnlocked(uint32_t s) { return (s & kMask) == 0; }
  static bool IsWriteLocked(uint32_t s) { return (s & kMask) == kWriteLocked; }
  static bool HasReadersWaiting(uint32_t s) { return (s & kReadersWaiting) != 0; }
  static bool HasWritersWaiting(uint32_t s) { return (s & kWritersWaiting) != 0; }
  // A reader may come in unless a writer holds the lock or waits for it (writers first), or
  // readers already wait (they are woken together), or the count is full.
  static bool ReadLockable(uint32_t s) {
    return (s & kMask) < kMaxReaders && !HasReadersWaiting(s) && !HasWritersWaiting(s);
  }

  void LockContended();
  void LockSharedContended();
  // Called with the mutex just released (state s, unlocked) and someone waiting.
  void WakeWriterOrReaders(uint32_t s);
  // Wakes one writer asleep on writer_notify_; false if none was asleep.
  bool WakeWriter();
  // Spins a little while the mutex is held and nobody sleeps on it; returns the last state.
  uint32_t SpinRead();
  uint32_t SpinWrite();

  std::atomic<uint32_t> state_{0};
  // Writers sleep on this counter, not on state_, so that waking one writer does not wake the
  // readers; it is bumped before each wake so that a writer about to sleep notices.
  std::atomic<uint32_t> writer_notify_{0};
};

// Holds a Mutex for its scope, as std::lock_guard, in a way the thread-safety analysis
// understands (libstdc++'s lock_guard carries no annotations).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~MutexLock() RELEASE() { mu_->unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Holds a SharedMutex exclusively for its scope.
class SCOPED_CAPABILITY WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~WriterLock() RELEASE() { mu_->unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_MUTEX_H_
