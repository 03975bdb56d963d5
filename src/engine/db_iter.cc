// DBIter: ordered iteration over the keydir's ordered index (see keydir.cc).
//
// Keys come in batches. For a batch, every shard gives its next few keys in the direction of
// travel, each shard under its own lock, never all at once. A batch ends at the smallest
// (largest, walking down) "last key" among the shards that had more, so within a batch
// nothing is skipped; the next batch starts after the last key handed out. Between batches
// no position is kept in any index structure, so merges, arena rebuilds and writes in between
// cannot invalidate anything. A value is read when the iterator arrives at its key; a key
// deleted by then is skipped.

#include <algorithm>
#include <mutex>
#include <shared_mutex>

#include "engine/db_impl.h"

namespace bitcask::engine {

namespace {

class DBIter final : public Iterator {
 public:
  // With a failed `status`, the iterator is never valid and reports it.
  DBIter(DB* db, Keydir* keydir, const IteratorOptions& o, Status status)
      : db_(db), keydir_(keydir), status_(std::move(status)) {
    has_lower_ = !o.lower_bound.empty() || !o.prefix.empty();
    lower_ = std::max(o.lower_bound, o.prefix);
    has_upper_ = !o.upper_bound.empty();
    upper_ = o.upper_bound;
    std::string after_prefix;
    if (!o.prefix.empty() && PrefixSuccessor(o.prefix, &after_prefix)) {
      if (!has_upper_ || after_prefix < upper_) upper_ = after_prefix;
      has_upper_ = true;
    }
  }

  bool Valid() const override { return pos_ < batch_.size(); }

  void SeekToFirst() override {
    Fill(true, nullptr, true);
    Settle();
  }
  void SeekToLast() override {
    Fill(false, nullptr, true);
    Settle();
  }
  void Seek(std::string_view target) override {
    if (has_lower_ && target < lower_) target = lower_;
    Fill(true, &target, true);
    Settle();
  }
  void SeekForPrev(std::string_view target) override {
    if (has_upper_ && target >= upper_) {
      Fill(false, nullptr, true);  // everything below upper_
    } else {
      Fill(false, &target, true);
    }
    Settle();
  }
  void Next() override {
    if (!forward_) {
      const std::string at = batch_[pos_];
      const std::string_view from(at);
      Fill(true, &from, false);
    } else {
      pos_++;
    }
    Settle();
  }
  void Prev() override {
    if (forward_) {
      const std::string at = batch_[pos_];
      const std::string_view from(at);
      Fill(false, &from, false);
    } else {
      pos_++;
    }
    Settle();
  }

  std::string_view key() const override { return batch_[pos_]; }
  std::string_view value() const override { return value_; }
  Status status() const override { return status_; }

 private:
  // Replaces the batch with the next keys walking up (forward) or down from `from` (the range
  // boundary if null), `from` itself included if `inclusive`.
  void Fill(bool forward, const std::string_view* from, bool inclusive) {
    forward_ = forward;
    batch_.clear();
    pos_ = 0;
    if (!status_.ok()) return;
    const std::string_view lower(lower_), upper(upper_);
    if (from == nullptr) {
      if (forward && has_lower_) {
        from = &lower;
      } else if (!forward && has_upper_) {
        from = &upper;
        inclusive = false;
      }
    }
    const std::string_view* limit =
        forward ? (has_upper_ ? &upper : nullptr) : (has_lower_ ? &lower : nullptr);
    // Few keys per shard at first (a short scan reads little); more as the scan goes on.
    const size_t per_shard = per_shard_;
    per_shard_ = std::min<size_t>(per_shard_ * 2, 256);

    bool all_exhausted = true;
    bool have_cut = false;
    std::string cut;  // no key beyond it may be handed out in this batch
    std::vector<std::string> got;
    for (unsigned i = 0; i < Keydir::kNumShards; i++) {
      KeydirShard& shard = keydir_->shard(i);
      got.clear();
      bool exhausted;
      {
        std::shared_lock sl(shard.mu);
        if (shard.closed) {
          status_ = Status::Closed();
          return;
        }
        if (shard.OrderedReady()) {
          exhausted = Collect(shard, forward, from, inclusive, limit, per_shard, &got);
        } else {
          sl.unlock();
          std::unique_lock xl(shard.mu);
          shard.PrepareOrdered();
          exhausted = Collect(shard, forward, from, inclusive, limit, per_shard, &got);
        }
      }
      if (!exhausted) {
        all_exhausted = false;
        if (!have_cut || (forward ? got.back() < cut : got.back() > cut)) cut = got.back();
        have_cut = true;
      }
      for (auto& k : got) batch_.push_back(std::move(k));
    }
    if (forward) {
      std::sort(batch_.begin(), batch_.end());
      if (have_cut) batch_.erase(std::upper_bound(batch_.begin(), batch_.end(), cut), batch_.end());
    } else {
      std::sort(batch_.begin(), batch_.end(), std::greater<>());
      if (have_cut) {
        batch_.erase(std::upper_bound(batch_.begin(), batch_.end(), cut, std::greater<>()),
                     batch_.end());
      }
    }
    exhausted_ = all_exhausted;
  }

  static bool Collect(const KeydirShard& shard, bool forward, const std::string_view* from,
                      bool inclusive, const std::string_view* limit, size_t max,
                      std::vector<std::string>* out) {
    return forward ? shard.CollectAscending(from, inclusive, limit, max, out)
                   : shard.CollectDescending(from, inclusive, limit, max, out);
  }

  // Moves to the first key at or after pos_ (in the direction of travel) whose value can
  // still be read, refilling the batch as it runs out.
  void Settle() {
    while (true) {
      if (pos_ == batch_.size()) {
        if (exhausted_ || batch_.empty()) {
          batch_.clear();
          pos_ = 0;
          return;
        }
        const std::string last = batch_.back();
        const std::string_view from(last);
        Fill(forward_, &from, false);
        continue;
      }
      const Status s = db_->Get(batch_[pos_], &value_);
      if (s.ok()) return;
      if (!s.IsNotFound()) {
        status_ = s;
        batch_.clear();
        pos_ = 0;
        return;
      }
      pos_++;  // deleted since the batch was taken
    }
  }

  DB* const db_;
  Keydir* const keydir_;
  Status status_;
  bool has_lower_ = false, has_upper_ = false;
  std::string lower_, upper_;  // inclusive, exclusive
  std::vector<std::string> batch_;
  size_t pos_ = 0;
  bool forward_ = true;
  bool exhausted_ = true;  // no keys beyond the batch in the direction of travel
  size_t per_shard_ = 4;
  std::string value_;
};

}  // namespace

std::unique_ptr<Iterator> DBImpl::NewIterator(const IteratorOptions& options) {
  return std::make_unique<DBIter>(this, &keydir_, options,
                                  Forked() ? ForkedChildError() : Status::OK());
}

}  // namespace bitcask::engine
