#include "server/state.h"

#include <algorithm>

#include "server/dispatch.h"
#include "util/hash.h"

namespace bitcask::server {

int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
// The EXEC guard running on this thread, if any.
thread_local const KeyLocks::Guard* exec_guard = nullptr;
size_t SlotOf(std::string_view key, size_t slots) { return util::HashKey(key) % slots; }
}  // namespace

KeyLocks::KeyLocks() : versions_(new std::atomic<uint64_t>[kSlots]()) {}

uint64_t KeyLocks::Version(std::string_view key) const {
  // Both only grow, so their sum changes whenever either does.
  return versions_[SlotOf(key, kSlots)].load(std::memory_order_acquire) +
         epoch_.load(std::memory_order_acquire);
}

void KeyLocks::Touch(std::string_view key) {
  versions_[SlotOf(key, kSlots)].fetch_add(1, std::memory_order_acq_rel);
}

KeyLocks::Guard::Guard(KeyLocks* locks, std::span<const std::string_view> keys, Kind kind)
    : locks_(locks), outer_(exec_guard), kind_(kind) {
  if (keys.size() > kInline) {
    more_.resize(keys.size());
    slots_ = more_.data();
  }
  for (std::string_view k : keys) slots_[count_++] = SlotOf(k, kSlots);
  std::sort(slots_, slots_ + count_, [](size_t a, size_t b) {
    return StripeOf(a) != StripeOf(b) ? StripeOf(a) < StripeOf(b) : a < b;
  });
  count_ = static_cast<size_t>(std::unique(slots_, slots_ + count_) - slots_);
  for (size_t i = 0; i < count_; i++) {
    const size_t stripe = StripeOf(slots_[i]);
    if (i > 0 && StripeOf(slots_[i - 1]) == stripe) continue;
    if (outer_ == nullptr || !outer_->Holds(stripe)) locks_->stripes_[stripe].lock();
  }
  if (kind_ == Kind::kExec) exec_guard = this;
}

KeyLocks::Guard::~Guard() {
  if (kind_ == Kind::kExec) {
    exec_guard = outer_;
  } else {
    for (size_t i = 0; i < count_; i++) {
      locks_->versions_[slots_[i]].fetch_add(1, std::memory_order_acq_rel);
    }
  }
  for (size_t i = count_; i-- > 0;) {
    const size_t stripe = StripeOf(slots_[i]);
    if (i > 0 && StripeOf(slots_[i - 1]) == stripe) continue;
    if (outer_ == nullptr || !outer_->Holds(stripe)) locks_->stripes_[stripe].unlock();
  }
}

bool KeyLocks::Guard::Holds(size_t stripe) const {
  const size_t* begin = slots_;
  const size_t* end = begin + count_;
  const size_t* at = std::lower_bound(begin, end, stripe,
                                      [](size_t slot, size_t st) { return StripeOf(slot) < st; });
  return (at != end && StripeOf(*at) == stripe) || (outer_ != nullptr && outer_->Holds(stripe));
}

uint64_t ScanCursors::Save(std::string last_key) {
  std::lock_guard l(mu_);
  // Cursors look random (a Weyl sequence), never 0: 0 means "start" and "done".
  uint64_t id;
  do {
    next_ += 0x9e3779b97f4a7c15ull;
    id = (next_ ^ (next_ >> 29)) & 0x7fffffffffffffffull;
  } while (id == 0 || cursors_.count(id));
  order_.push_back(id);
  cursors_.emplace(id, std::make_pair(std::move(last_key), std::prev(order_.end())));
  if (cursors_.size() > kMax) {
    cursors_.erase(order_.front());
    order_.pop_front();
  }
  return id;
}

bool ScanCursors::Find(uint64_t cursor, std::string* last_key) {
  std::lock_guard l(mu_);
  auto it = cursors_.find(cursor);
  if (it == cursors_.end()) return false;
  *last_key = it->second.first;
  order_.splice(order_.end(), order_, it->second.second);  // most recently used now
  return true;
}

ServerState::ServerState(std::unique_ptr<DB> db, ServerConfig config, Logger* log)
    : start_unix_ms(NowUnixMillis()),
      db_(std::move(db)),
      keyspace_(db_.get()),
      log_(log != nullptr ? log : &own_log_),
      config_(std::move(config)),
      command_stats_(AllCommands().size()) {}

ServerState::~ServerState() {
  std::thread job;
  {
    std::lock_guard l(background_mu_);
    job = std::move(background_);
  }
  // Not under the lock: the job takes it to record its result.
  if (job.joinable()) job.join();
}

size_t Counter::Stripe() {
  static std::atomic<size_t> next{0};
  thread_local const size_t stripe = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return stripe;
}

ServerConfig ServerState::config() const {
  std::lock_guard l(config_mu_);
  return config_;
}

void ServerState::UpdateConfig(const std::function<void(ServerConfig*)>& change) {
  std::lock_guard l(config_mu_);
  change(&config_);
  config_version_.fetch_add(1, std::memory_order_release);
}

bool ServerState::StartBackground(const char* what, std::function<Status()> job) {
  std::lock_guard l(background_mu_);
  if (background_running_) return false;
  if (background_.joinable()) background_.join();
  background_running_ = true;
  background_ = std::thread([this, what, job = std::move(job)] {
    const Status s = job();
    std::lock_guard bl(background_mu_);
    background_last_ = std::string(what) + ": " + s.ToString();
    background_running_ = false;
  });
  return true;
}

std::string ServerState::background_last() const {
  std::lock_guard l(background_mu_);
  return background_last_;
}

}  // namespace bitcask::server
