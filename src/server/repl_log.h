// The replication stream of a server, as Redis numbers it: every byte ever appended has an
// offset (the first is 1), master_repl_offset is the last one's. The log keeps the most recent
// repl-backlog-size bytes (the backlog a reconnecting replica resumes from with PSYNC) and,
// beyond that, whatever a replica still has to receive: each reader (a replica being sent the
// stream) pins the bytes from its position on, up to a hard limit past which the slowest
// reader is dropped (Redis's client-output-buffer-limit for replicas).

#ifndef BITCASK_SERVER_REPL_LOG_H_
#define BITCASK_SERVER_REPL_LOG_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace bitcask::server {

class ReplicationLog {
 public:
  // A reader is dropped once the log would hold more than this for it.
  static constexpr uint64_t kReaderHardLimit = uint64_t{256} << 20;

  explicit ReplicationLog(uint64_t backlog_size) : backlog_size_(backlog_size) {}

  // Appends bytes; returns the offset of the last one. on_append (if set) is called after,
  // outside the lock.
  uint64_t Append(std::string_view bytes);
  // Called after every Append (from the appending thread): wakes the senders.
  void SetOnAppend(std::function<void()> fn);

  uint64_t offset() const;
  // The offset of the first byte held (offset() + 1 when none is).
  uint64_t first_offset() const;
  uint64_t held() const;
  uint64_t backlog_size() const;
  void SetBacklogSize(uint64_t bytes);

  // Empties the log; the next byte appended will have offset + 1.
  void Reset(uint64_t offset);

  // Whether a reader may start at `from` (the first byte it wants): from is in
  // [first_offset(), offset() + 1].
  bool Covers(uint64_t from) const;

  // Readers: a reader's position is the first byte it has not received. AddReader returns
  // its id, or -1 if `from` is not held. Read copies up to max bytes from the reader's
  // position into *out (appending) and moves it on; false if the reader was dropped (it fell
  // more than kReaderHardLimit behind) or does not exist.
  int64_t AddReader(uint64_t from);
  bool Read(int64_t reader, size_t max, std::string* out);
  uint64_t ReaderPosition(int64_t reader) const;
  void RemoveReader(int64_t reader);

 private:
  // Drops chunks no reader needs beyond the backlog's size, and readers past the hard limit.
  void TrimLocked();
  uint64_t HeldLocked() const { return end_ - start_; }

  mutable std::mutex mu_;
  uint64_t backlog_size_;
  // Bytes [start_, end_) of the stream (offsets start_ + 1 .. end_), in chunks.
  std::deque<std::string> chunks_;
  uint64_t start_ = 0;                   // bytes before the first chunk
  uint64_t end_ = 0;                     // bytes ever appended: master_repl_offset
  std::atomic<uint64_t> end_seen_{0};    // end_, for offset() without the lock
  std::map<int64_t, uint64_t> readers_;  // id -> bytes it has received (its position - 1)
  int64_t next_reader_ = 1;
  std::function<void()> on_append_;
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_REPL_LOG_H_
