#include "server/transaction.h"

#include <algorithm>
#include <chrono>

namespace bitcask::server {

namespace {

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t ExpiryOf(const WriteOptions& options) {
  if (options.expire_at_ms != 0 || options.ttl_ms == 0) return options.expire_at_ms;
  const uint64_t now = NowMs();
  return options.ttl_ms > UINT64_MAX - now ? UINT64_MAX : now + options.ttl_ms;
}

}  // namespace

// ---- Writes -------------------------------------------------------------------------------

void TransactionView::Set(std::string_view key, std::string_view value, uint64_t expire_at_ms) {
  auto it = writes_.find(key);
  if (it == writes_.end()) it = writes_.emplace(std::string(key), Entry()).first;
  it->second.value.assign(value);
  it->second.expire_at_ms = expire_at_ms;
  it->second.deleted = false;
}

void TransactionView::Erase(std::string_view key) {
  auto it = writes_.find(key);
  if (it == writes_.end()) it = writes_.emplace(std::string(key), Entry()).first;
  it->second = Entry();
  it->second.deleted = true;
}

Status TransactionView::Put(std::string_view key, std::string_view value,
                            const WriteOptions& options) {
  if (Status s = ValidateKey(key); !s.ok()) return s;
  if (Status s = ValidateValue(key, value); !s.ok()) return s;
  sync_ |= options.sync;
  Set(key, value, ExpiryOf(options));
  return Status::OK();
}

Status TransactionView::Delete(std::string_view key, const WriteOptions& options) {
  const Status present = Contains(key);  // checks the key's size too
  if (!present.ok()) return present;     // NotFound: nothing to delete, as the store says
  sync_ |= options.sync;
  Erase(key);
  return Status::OK();
}

Status TransactionView::Write(const WriteBatch& batch, const WriteOptions& options) {
  // All or nothing, as the store's Write: check every operation first.
  struct Checker : WriteBatch::Handler {
    Status status;
    void Put(std::string_view k, std::string_view v, uint64_t) override {
      if (status.ok()) status = ValidateKey(k);
      if (status.ok()) status = ValidateValue(k, v);
    }
    void Delete(std::string_view k) override {
      if (status.ok()) status = ValidateKey(k);
    }
  } checker;
  batch.Iterate(&checker);
  if (!checker.status.ok()) return checker.status;
  struct Applier : WriteBatch::Handler {
    TransactionView* view;
    void Put(std::string_view k, std::string_view v, uint64_t expire_at_ms) override {
      view->Set(k, v, expire_at_ms);
    }
    void Delete(std::string_view k) override { view->Erase(k); }
  } applier;
  applier.view = this;
  batch.Iterate(&applier);
  sync_ |= options.sync;
  return Status::OK();
}

Status TransactionView::Update(std::string_view key, const DB::UpdateFn& update,
                               const WriteOptions& options) {
  std::string current;
  uint64_t expiry = 0;
  const Status s = GetWithExpiry(key, &current, &expiry);
  if (!s.ok() && !s.IsNotFound()) return s;
  if (s.IsNotFound()) expiry = 0;
  std::string next;
  switch (update(s.ok() ? &current : nullptr, &expiry, &next)) {
    case DB::UpdateAction::kKeep:
      return Status::OK();
    case DB::UpdateAction::kPut:
      if (Status v = ValidateValue(key, next); !v.ok()) return v;
      Set(key, next, expiry);
      break;
    case DB::UpdateAction::kDelete:
      if (s.IsNotFound()) return Status::OK();  // nothing to remove, nothing written
      Erase(key);
      break;
  }
  sync_ |= options.sync;
  return Status::OK();
}

Status TransactionView::Sync() {
  sync_ = true;  // what the transaction writes is flushed when it commits
  return base_->Sync();
}

Status TransactionView::Commit() {
  WriteBatch batch;
  for (const auto& [key, e] : writes_) {
    if (e.deleted) {
      batch.Delete(key);
    } else {
      batch.Put(key, e.value, e.expire_at_ms);
    }
  }
  WriteOptions options;
  options.sync = sync_;
  const Status s =
      batch.Empty() ? (sync_ ? base_->Sync() : Status::OK()) : base_->Write(batch, options);
  if (s.ok()) {
    for (const auto& fn : after_commit_) fn();
  }
  after_commit_.clear();
  return s;
}

void TransactionView::ForEachWrittenKey(const std::function<void(std::string_view)>& fn) const {
  for (const auto& entry : writes_) fn(entry.first);
}

// ---- Reads --------------------------------------------------------------------------------

const TransactionView::Entry* TransactionView::Find(std::string_view key) const {
  auto it = writes_.find(key);
  return it == writes_.end() ? nullptr : &it->second;
}

bool TransactionView::Live(const Entry& e, uint64_t now_ms) {
  return !e.deleted && (e.expire_at_ms == 0 || e.expire_at_ms > now_ms);
}

Status TransactionView::GetWithExpiry(std::string_view key, std::string* value,
                                      uint64_t* expire_at_ms) {
  const Entry* e = Find(key);
  if (e == nullptr) return base_->GetWithExpiry(key, value, expire_at_ms);
  if (!Live(*e, NowMs())) return Status::NotFound();
  if (value != nullptr) *value = e->value;
  if (expire_at_ms != nullptr) *expire_at_ms = e->expire_at_ms;
  return Status::OK();
}

Status TransactionView::Get(std::string_view key, std::string* value) {
  return GetWithExpiry(key, value, nullptr);
}

Status TransactionView::GetView(std::string_view key, DB::ValueReader read, void* arg) {
  const Entry* e = Find(key);
  if (e == nullptr) return base_->GetView(key, read, arg);
  if (!Live(*e, NowMs())) return Status::NotFound();
  read(arg, e->value);
  return Status::OK();
}

void TransactionView::MultiGet(std::span<const std::string_view> keys,
                               std::span<std::string> values, std::span<Status> statuses) {
  const size_t n = std::min({keys.size(), values.size(), statuses.size()});
  for (size_t i = 0; i < n; i++) statuses[i] = Get(keys[i], &values[i]);
}

Status TransactionView::Contains(std::string_view key) {
  if (Status s = ValidateKey(key); !s.ok()) return s;
  const Entry* e = Find(key);
  if (e == nullptr) return base_->Contains(key);
  return Live(*e, NowMs()) ? Status::OK() : Status::NotFound();
}

Status TransactionView::Count(uint64_t* n) {
  uint64_t count = 0;
  if (Status s = base_->Count(&count); !s.ok()) return s;
  const uint64_t now = NowMs();
  for (const auto& [key, e] : writes_) {
    const Status in_store = base_->Contains(key);
    if (!in_store.ok() && !in_store.IsNotFound()) return in_store;
    count += Live(e, now) ? 1 : 0;
    count -= in_store.ok() ? 1 : 0;
  }
  *n = count;
  return Status::OK();
}

Status TransactionView::Keys(std::vector<std::string>* keys, std::string_view prefix) {
  // The store's keys at one moment, with this transaction's writes over them.
  std::vector<std::string> stored;
  if (Status s = base_->Keys(&stored, prefix); !s.ok()) return s;
  keys->clear();
  for (std::string& k : stored) {
    if (Find(k) == nullptr) keys->push_back(std::move(k));
  }
  const uint64_t now = NowMs();
  for (auto it = writes_.lower_bound(prefix); it != writes_.end() && it->first.starts_with(prefix);
       ++it) {
    if (Live(it->second, now)) keys->push_back(it->first);
  }
  std::sort(keys->begin(), keys->end());
  return Status::OK();
}

// The store's iterator and the transaction's writes in range, merged in key order: a key the
// transaction wrote shows its entry (or nothing, if deleted or expired) in place of the
// store's. The writes in range are listed when the iterator is made (commands of a
// transaction run one after another, so none is added while a command iterates).
class TransactionView::MergedIterator final : public Iterator {
 public:
  MergedIterator(std::unique_ptr<Iterator> base, std::vector<const std::string*> keys,
                 std::vector<const Entry*> entries)
      : base_(std::move(base)), keys_(std::move(keys)), entries_(std::move(entries)) {}

  bool Valid() const override { return at_ != At::kNone; }

  void SeekToFirst() override {
    base_->SeekToFirst();
    i_ = 0;
    Settle(/*forward=*/true);
  }
  void SeekToLast() override {
    base_->SeekToLast();
    i_ = static_cast<ptrdiff_t>(keys_.size()) - 1;
    Settle(/*forward=*/false);
  }
  void Seek(std::string_view target) override {
    base_->Seek(target);
    i_ = std::lower_bound(keys_.begin(), keys_.end(), target,
                          [](const std::string* k, std::string_view t) { return *k < t; }) -
         keys_.begin();
    Settle(/*forward=*/true);
  }
  void SeekForPrev(std::string_view target) override {
    base_->SeekForPrev(target);
    i_ = std::upper_bound(keys_.begin(), keys_.end(), target,
                          [](std::string_view t, const std::string* k) { return t < *k; }) -
         keys_.begin() - 1;
    Settle(/*forward=*/false);
  }

  void Next() override {
    if (!forward_) {  // turn around: stand on the current key going forward
      const std::string current(key());
      Seek(current);
      if (!Valid() || key() != current) return;  // it went meanwhile: already past it
    }
    if (at_ == At::kOverlay) {
      if (same_) base_->Next();
      i_++;
    } else {
      base_->Next();
    }
    Settle(/*forward=*/true);
  }

  void Prev() override {
    if (forward_) {
      const std::string current(key());
      SeekForPrev(current);
      if (!Valid() || key() != current) return;
    }
    if (at_ == At::kOverlay) {
      if (same_) base_->Prev();
      i_--;
    } else {
      base_->Prev();
    }
    Settle(/*forward=*/false);
  }

  std::string_view key() const override {
    return at_ == At::kOverlay ? std::string_view(*keys_[size_t(i_)]) : base_->key();
  }
  std::string_view value() const override {
    return at_ == At::kOverlay ? std::string_view(entries_[size_t(i_)]->value) : base_->value();
  }
  Status status() const override { return base_->status(); }

 private:
  enum class At { kNone, kBase, kOverlay };

  bool HasOverlay() const { return i_ >= 0 && size_t(i_) < keys_.size(); }

  // Stops at the first visible key at or after (forward) or at or before (backward) the
  // current positions.
  void Settle(bool forward) {
    forward_ = forward;
    const uint64_t now = NowMs();
    for (;;) {
      if (!base_->status().ok()) {  // a read failed: the iterator ends, status() says why
        at_ = At::kNone;
        return;
      }
      const bool base = base_->Valid();
      if (!HasOverlay()) {
        at_ = base ? At::kBase : At::kNone;
        return;
      }
      const std::string& k = *keys_[size_t(i_)];
      if (base && (forward ? base_->key() < k : base_->key() > k)) {
        at_ = At::kBase;
        return;
      }
      same_ = base && base_->key() == k;
      if (Live(*entries_[size_t(i_)], now)) {
        at_ = At::kOverlay;
        return;
      }
      // Deleted by the transaction: neither shows.
      if (same_) forward ? base_->Next() : base_->Prev();
      i_ += forward ? 1 : -1;
    }
  }

  std::unique_ptr<Iterator> base_;
  std::vector<const std::string*> keys_;  // the transaction's keys in range, in order
  std::vector<const Entry*> entries_;
  ptrdiff_t i_ = 0;    // position in keys_
  At at_ = At::kNone;  // which side the current key comes from
  bool same_ = false;  // kOverlay: the store's iterator stands on the same key
  bool forward_ = true;
};

std::unique_ptr<Iterator> TransactionView::NewIterator(const IteratorOptions& options) {
  std::vector<const std::string*> keys;
  std::vector<const Entry*> entries;
  for (const auto& [key, e] : writes_) {
    if (!options.lower_bound.empty() && key < options.lower_bound) continue;
    if (!options.upper_bound.empty() && key >= options.upper_bound) continue;
    if (!key.starts_with(options.prefix)) continue;
    keys.push_back(&key);
    entries.push_back(&e);
  }
  return std::make_unique<MergedIterator>(base_->NewIterator(options), std::move(keys),
                                          std::move(entries));
}

}  // namespace bitcask::server
