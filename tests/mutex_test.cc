// Mutex and SharedMutex (engine/mutex.h): mutual exclusion, shared readers, writer preference,
// and that sleepers are woken. Part of the ThreadSanitizer suite: a lock that let two holders
// in would show there as a data race on the plain fields the tests guard with it.

#include "util/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace bitcask::engine {
namespace {

using namespace std::chrono_literals;

// Waits until done reaches n; a deadlock fails the test (and ends the process, since its
// threads cannot be joined) instead of hanging it.
void AwaitOrAbort(const std::atomic<int>& done, int n, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (done.load() < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "%s: only %d of %d threads finished in 60 s: a lost wake-up\n", what,
                   done.load(), n);
      std::abort();
    }
    std::this_thread::sleep_for(1ms);
  }
}

TEST(MutexTest, ExcludesAndWakesSleepers) {
  util::Mutex mu;
  uint64_t counter = 0;  // plain: the lock is all that orders the increments
  int inside = 0;
  std::atomic<int> done{0};
  constexpr int kThreads = 4, kRounds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; i++) {
        std::lock_guard l(mu);
        EXPECT_EQ(inside++, 0);
        counter++;
        // Now and then hold the lock long enough that the others go to sleep on it.
        if ((i + t) % 1000 == 0) std::this_thread::sleep_for(200us);
        inside--;
      }
      done++;
    });
  }
  AwaitOrAbort(done, kThreads, "util::Mutex");
  for (auto& th : threads) th.join();
  EXPECT_EQ(counter, uint64_t{kThreads} * kRounds);
}

TEST(MutexTest, TryLock) {
  util::Mutex mu;
  ASSERT_TRUE(mu.try_lock());
  std::thread([&] { EXPECT_FALSE(mu.try_lock()); }).join();
  mu.unlock();
  std::thread([&] {
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
  }).join();
}

TEST(SharedMutexTest, ReadersShareWritersExclude) {
  util::SharedMutex mu;
  mu.lock_shared();
  std::thread([&] {
    EXPECT_TRUE(mu.try_lock_shared());  // a second reader
    EXPECT_FALSE(mu.try_lock());        // no writer while readers hold it
    mu.unlock_shared();
  }).join();
  mu.unlock_shared();
  mu.lock();
  std::thread([&] {
    EXPECT_FALSE(mu.try_lock_shared());
    EXPECT_FALSE(mu.try_lock());
  }).join();
  mu.unlock();
  std::thread([&] {
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
  }).join();
}

// Writers keep a == b, changing them one at a time with a pause between; readers must never
// see them differ. Threads hold the lock now and then long enough for others to sleep.
TEST(SharedMutexTest, ReadersNeverSeeAWriteHalfDone) {
  util::SharedMutex mu;
  uint64_t a = 0, b = 0;
  int writers_inside = 0;
  std::atomic<int> readers_inside{0};
  std::atomic<int> done{0};
  std::atomic<uint64_t> torn{0};
  constexpr int kWriters = 2, kReaders = 3, kRounds = 5000;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kRounds; i++) {
        std::unique_lock l(mu);
        EXPECT_EQ(writers_inside++, 0);
        EXPECT_EQ(readers_inside.load(), 0);
        a++;
        if ((i + w) % 500 == 0) std::this_thread::sleep_for(200us);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        b++;
        writers_inside--;
      }
      done++;
    });
  }
  for (int r = 0; r < kReaders; r++) {
    threads.emplace_back([&, r] {
      for (int i = 0; i < 2 * kRounds; i++) {
        std::shared_lock l(mu);
        readers_inside++;
        if (a != b) torn++;
        if ((i + r) % 700 == 0) std::this_thread::sleep_for(200us);
        readers_inside--;
      }
      done++;
    });
  }
  AwaitOrAbort(done, kWriters + kReaders, "util::SharedMutex");
  for (auto& th : threads) th.join();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_EQ(a, uint64_t{kWriters} * kRounds);
  EXPECT_EQ(b, a);
}

// A writer waiting behind a reader stops new readers from coming in (else a steady stream of
// readers could starve it), and gets the lock when the reader leaves.
TEST(SharedMutexTest, AWaitingWriterGoesBeforeNewReaders) {
  util::SharedMutex mu;
  mu.lock_shared();
  std::atomic<bool> writer_in{false};
  std::thread writer([&] {
    mu.lock();
    writer_in = true;
    mu.unlock();
  });
  // Once the writer waits (spun, then asleep), a new reader is refused.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    if (mu.try_lock_shared()) {
      mu.unlock_shared();
      std::this_thread::sleep_for(1ms);
    } else {
      refused = true;
    }
  }
  EXPECT_TRUE(refused) << "a reader got in ahead of a waiting writer for 10 s";
  EXPECT_FALSE(writer_in.load());
  // A reader that blocks now queues behind the writer and is woken after it.
  std::atomic<bool> reader_in{false};
  std::thread reader([&] {
    std::shared_lock l(mu);
    EXPECT_TRUE(writer_in.load());
    reader_in = true;
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(reader_in.load());
  mu.unlock_shared();
  writer.join();
  reader.join();
  EXPECT_TRUE(writer_in.load());
  EXPECT_TRUE(reader_in.load());
}

// Every kind of call from every thread at once, in random order: nobody is left asleep.
TEST(SharedMutexTest, MixedLoadFinishes) {
  util::SharedMutex mu;
  uint64_t value = 0;
  uint64_t writes = 0;  // counted under the lock
  std::atomic<int> done{0};
  constexpr int kThreads = 6, kRounds = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kRounds; i++) {
        const unsigned pick = rng() % 8;
        const bool linger = rng() % 200 == 0;
        if (pick == 0) {
          if (mu.try_lock()) {
            value++;
            writes++;
            mu.unlock();
          }
        } else if (pick == 1) {
          if (mu.try_lock_shared()) {
            EXPECT_EQ(value, writes);
            mu.unlock_shared();
          }
        } else if (pick < 4) {
          std::unique_lock l(mu);
          value++;
          writes++;
          if (linger) std::this_thread::sleep_for(100us);
        } else {
          std::shared_lock l(mu);
          EXPECT_EQ(value, writes);
          if (linger) std::this_thread::sleep_for(100us);
        }
      }
      done++;
    });
  }
  AwaitOrAbort(done, kThreads, "util::SharedMutex mixed");
  for (auto& th : threads) th.join();
  EXPECT_EQ(value, writes);
}

}  // namespace
}  // namespace bitcask::engine
