#include "server/repl_log.h"

#include <algorithm>

namespace bitcask::server {

namespace {
constexpr size_t kChunkBytes = 64 * 1024;
}  // namespace

uint64_t ReplicationLog::Append(std::string_view bytes) {
  std::function<void()> notify;
  uint64_t end;
  {
    std::lock_guard l(mu_);
    while (!bytes.empty()) {
      if (chunks_.empty() || chunks_.back().size() >= kChunkBytes) {
        chunks_.emplace_back();
        chunks_.back().reserve(kChunkBytes);
      }
      std::string& last = chunks_.back();
      const size_t n = std::min(bytes.size(), kChunkBytes - last.size());
      last.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      end_ += n;
    }
    TrimLocked();
    end = end_;
    end_seen_.store(end_, std::memory_order_release);
    notify = on_append_;
  }
  if (notify) notify();
  return end;
}

void ReplicationLog::SetOnAppend(std::function<void()> fn) {
  std::lock_guard l(mu_);
  on_append_ = std::move(fn);
}

uint64_t ReplicationLog::offset() const { return end_seen_.load(std::memory_order_acquire); }

uint64_t ReplicationLog::first_offset() const {
  std::lock_guard l(mu_);
  return start_ + 1;
}

uint64_t ReplicationLog::held() const {
  std::lock_guard l(mu_);
  return HeldLocked();
}

uint64_t ReplicationLog::backlog_size() const {
  std::lock_guard l(mu_);
  return backlog_size_;
}

void ReplicationLog::SetBacklogSize(uint64_t bytes) {
  std::lock_guard l(mu_);
  backlog_size_ = bytes;
  TrimLocked();
}

void ReplicationLog::Reset(uint64_t offset) {
  std::lock_guard l(mu_);
  chunks_.clear();
  start_ = end_ = offset;
  end_seen_.store(end_, std::memory_order_release);
  readers_.clear();  // they were reading another stream
}

bool ReplicationLog::Covers(uint64_t from) const {
  std::lock_guard l(mu_);
  return from >= start_ + 1 && from <= end_ + 1;
}

int64_t ReplicationLog::AddReader(uint64_t from) {
  std::lock_guard l(mu_);
  if (from < start_ + 1 || from > end_ + 1) return -1;
  const int64_t id = next_reader_++;
  readers_[id] = from - 1;
  return id;
}

bool ReplicationLog::Read(int64_t reader, size_t max, std::string* out) {
  std::lock_guard l(mu_);
  auto it = readers_.find(reader);
  if (it == readers_.end()) return false;
  uint64_t pos = it->second;  // bytes the reader has
  uint64_t chunk_start = start_;
  for (const std::string& chunk : chunks_) {
    if (max == 0) break;
    const uint64_t chunk_end = chunk_start + chunk.size();
    if (pos < chunk_end) {
      const size_t from = static_cast<size_t>(pos - chunk_start);
      const size_t n = std::min(max, chunk.size() - from);
      out->append(chunk, from, n);
      pos += n;
      max -= n;
    }
    chunk_start = chunk_end;
  }
  it->second = pos;
  TrimLocked();
  return true;
}

uint64_t ReplicationLog::ReaderPosition(int64_t reader) const {
  std::lock_guard l(mu_);
  auto it = readers_.find(reader);
  return it == readers_.end() ? 0 : it->second + 1;
}

void ReplicationLog::RemoveReader(int64_t reader) {
  std::lock_guard l(mu_);
  readers_.erase(reader);
  TrimLocked();
}

void ReplicationLog::TrimLocked() {
  // Past the hard limit, the readers furthest behind are dropped (they resync).
  while (!readers_.empty() && HeldLocked() > std::max(backlog_size_, kReaderHardLimit)) {
    auto slowest =
        std::min_element(readers_.begin(), readers_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    if (end_ - slowest->second <= std::max(backlog_size_, kReaderHardLimit)) break;
    readers_.erase(slowest);
  }
  uint64_t needed = end_;  // the first byte some reader still has to receive (as a count)
  for (const auto& [id, pos] : readers_) needed = std::min(needed, pos);
  while (!chunks_.empty()) {
    const uint64_t first_end = start_ + chunks_.front().size();
    // Keep the backlog's size, and what a reader still needs.
    if (end_ - first_end < backlog_size_ || first_end > needed) break;
    start_ = first_end;
    chunks_.pop_front();
  }
}

}  // namespace bitcask::server
