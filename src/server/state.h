// What every connection of bitcask-server shares: the store, the configuration, per-key locks
// for read-modify-write commands, SCAN cursors and the counters INFO and /metrics report.

#ifndef BITCASK_SERVER_STATE_H_
#define BITCASK_SERVER_STATE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bitcask/db.h"
#include "server/clients.h"
#include "server/cluster.h"
#include "server/keyspace.h"
#include "server/log.h"
#include "server/pubsub.h"
#include "server/settings.h"
#include "util/histogram.h"
#include "util/mutex.h"

namespace bitcask::server {

class Replication;

// A transaction between MULTI and EXEC, and the keys WATCH watches.
struct Transaction {
  bool active = false;  // MULTI was called: commands are queued
  bool failed = false;  // a command was refused while queueing: EXEC discards the queue
  std::vector<std::vector<std::string>> queued;
  size_t queued_bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> watched;  // key, its version at WATCH
};

// Per-connection state the commands see.
struct Client {
  uint64_t id = 0;
  std::string name;
  std::string address;
  std::string local_address;
  bool authenticated = false;
  bool close_after_reply = false;
  int64_t created_ms = 0;
  Transaction tx;
  // The link a replica applies its leader's stream through: it may write on a read-only
  // replica, and nobody reads its replies.
  bool is_master = false;
  // Pub/sub: what this client is subscribed to (RESP2 allows it only pub/sub commands then).
  std::set<std::string, std::less<>> channels;
  std::set<std::string, std::less<>> patterns;
  bool subscribed() const { return !channels.empty() || !patterns.empty(); }
  // Cluster mode: ASKING was sent (the next command may use an importing slot), READONLY
  // (a replica serves reads of its master's slots), and the map this client routes by.
  bool asking = false;
  bool cluster_readonly = false;
  uint64_t cluster_generation = 0;
  std::shared_ptr<const ClusterView> cluster_view;
  // The connection itself, for what other threads do to it (PUBLISH to it, CLIENT KILL).
  std::weak_ptr<ClientHandle> handle;
  // The replication stream's offset after this client's last command (WAIT waits for it).
  uint64_t woff = 0;
  // REPLCONF's values, for a connection that turns out to be a replica.
  int listening_port = 0;
  std::string announced_ip;
  bool capa_eof = false;
  bool capa_psync2 = false;
  bool rdb_only = false;  // REPLCONF rdb-only 1 (redis-cli --rdb): the RDB, then close
  // PSYNC / SYNC: the connection becomes the stream to a replica once the reply is written.
  struct ReplicaStart {
    bool full = false;     // a full sync, else a continuation from `from`
    bool announce = true;  // +FULLRESYNC before the RDB (PSYNC; SYNC gets the RDB alone)
    uint64_t from = 0;
    std::string continue_line;  // +CONTINUE ...
  };
  std::optional<ReplicaStart> replica_start;
  // Set by a command whose work would hold its event loop for long (CHECKPOINT): the
  // connection runs it on a thread of its own and sends what it returns as the command's
  // reply, before the replies of the commands after it. Meanwhile the loop serves others.
  std::function<std::string()> deferred;
  // Set by a command that waits for something (WAIT): the connection calls it with a
  // function that takes the reply (from any thread, once); meanwhile this client's later
  // commands wait and the loop serves others.
  std::function<void(std::function<void(std::string)>)> blocked;
};

// A stripe of mutexes by key hash. Commands that read and then write a key (INCR, APPEND,
// SET NX, RENAME...) hold the stripes of their keys, and so does every write, so a read-
// modify-write is atomic against any other write of the same key. Plain reads take none.
// EXEC holds the stripes of every key its commands name for the whole transaction.
//
// Every key also has a version, which changes when a Guard naming it ends (WATCH compares
// it). Keys share 65536 version slots, so a write to another key of the same slot counts as
// well: that can only make an EXEC fail that need not have (the client retries), never let
// one through that should fail.
class KeyLocks {
 public:
  KeyLocks();

  uint64_t Version(std::string_view key) const;
  // Changes every version (FLUSHDB).
  void TouchAll() { epoch_.fetch_add(1, std::memory_order_acq_rel); }
  // Changes the version of key (EXEC, once its batch is in the store).
  void Touch(std::string_view key);

  // Locks the stripes of all keys (each stripe once, in index order: no deadlock), and bumps
  // their versions when it ends. Inside an EXEC's guard, on the same thread, the stripes that
  // guard holds are not taken again; the EXEC's guard bumps no version itself (EXEC touches
  // the keys it wrote once they are in the store).
  class Guard {
   public:
    enum class Kind { kWrite, kExec };
    Guard(KeyLocks* locks, std::span<const std::string_view> keys, Kind kind = Kind::kWrite);
    Guard(KeyLocks* locks, std::initializer_list<std::string_view> keys)
        : Guard(locks, std::span<const std::string_view>(keys.begin(), keys.size())) {}
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    bool Holds(size_t stripe) const;

    // Up to kInline keys are held without a heap allocation (most commands name one key).
    static constexpr size_t kInline = 4;
    KeyLocks* locks_;
    const Guard* outer_;  // the EXEC guard this one runs inside, if any
    Kind kind_;
    size_t count_ = 0;  // version slots, sorted by stripe
    size_t inline_[kInline];
    std::vector<size_t> more_;  // all of them, when there are more than kInline
    size_t* slots_ = inline_;
  };

 private:
  static constexpr size_t kStripes = 1024;
  static constexpr size_t kSlots = 65536;  // a multiple of kStripes: a slot has one stripe
  static size_t StripeOf(size_t slot) { return slot % kStripes; }
  std::array<std::mutex, kStripes> stripes_;
  std::unique_ptr<std::atomic<uint64_t>[]> versions_;
  std::atomic<uint64_t> epoch_{0};
};

// SCAN cursors. Redis clients expect a number; the position of a scan is a key, so the server
// remembers the last key behind each cursor it handed out (65536 of them, least recently
// used dropped first). A cursor can be used again, as in Redis: a client retrying a SCAN call
// gets the same page. A cursor not known any more gets "ERR invalid cursor".
class ScanCursors {
 public:
  uint64_t Save(std::string last_key);
  bool Find(uint64_t cursor, std::string* last_key);

 private:
  static constexpr size_t kMax = 65536;
  std::mutex mu_;
  std::list<uint64_t> order_;  // least recently used first
  std::unordered_map<uint64_t, std::pair<std::string, std::list<uint64_t>::iterator>> cursors_;
  uint64_t next_ = 0x9e3779b97f4a7c15ull;
};

// A counter every event-loop thread bumps for every command: one cache line per stripe, so
// threads on different cores do not fight over a line. Reading sums the stripes.
class Counter {
 public:
  void Add(uint64_t n) { stripes_[Stripe()].value.fetch_add(n, std::memory_order_relaxed); }
  void operator++(int) { Add(1); }
  uint64_t load() const {
    uint64_t sum = 0;
    for (const auto& s : stripes_) sum += s.value.load(std::memory_order_relaxed);
    return sum;
  }
  operator uint64_t() const { return load(); }
  // Resets to zero (CONFIG RESETSTAT); increments racing with it may survive.
  void Reset() {
    for (auto& s : stripes_) s.value.store(0, std::memory_order_relaxed);
  }

 private:
  static constexpr size_t kStripes = 4;
  static size_t Stripe();  // this thread's stripe, handed out round-robin
  struct alignas(64) Stripe_ {
    std::atomic<uint64_t> value{0};
  };
  std::array<Stripe_, kStripes> stripes_;
};

// Calls and time per command, for INFO commandstats and /metrics.
struct CommandStats {
  Counter calls;
  Counter nanos;     // time in the handler; INFO shows it in microseconds
  Counter errors;    // ran and replied with an error (Redis's failed_calls)
  Counter rejected;  // refused before running: wrong arity, not authenticated
  util::LatencyHistogram latency;
};

class ServerState {
 public:
  // log: where the commands log (null: a Logger of the state's own, to stderr). Without a
  // store until SetStore.
  explicit ServerState(ServerConfig config, Logger* log = nullptr);
  ServerState(std::unique_ptr<DB> db, ServerConfig config, Logger* log = nullptr);
  // Sets the store; in cluster mode also builds the per-slot key index from it: the status
  // says whether that worked (a failure is logged too).
  Status SetStore(std::unique_ptr<DB> db);
  ~ServerState();  // waits for a background job

  // The store. It may be replaced whole (a replica's full sync): whoever uses it holds a
  // StoreUse meanwhile (a connection, for the commands of one read; an HTTP request; a job).
  DB& db() { return *db_; }
  class StoreUse {
   public:
    explicit StoreUse(ServerState* server) : mu_(&server->store_mu_) { mu_->lock_shared(); }
    ~StoreUse() { mu_->unlock_shared(); }
    StoreUse(const StoreUse&) = delete;
    StoreUse& operator=(const StoreUse&) = delete;

   private:
    util::SharedMutex* mu_;
  };
  // Where a replica loads a full sync: beside the store.
  static std::string IncomingStoreDir(const std::string& dir) { return dir + ".sync-new"; }
  // Replaces the store with the complete one in `incoming` (renamed into the store's place),
  // between commands. On an error the old store stays.
  // still_wanted is asked once nothing uses the store: false leaves it alone (Closed).
  Status SwapInStore(const std::string& incoming, const std::function<bool()>& still_wanted);
  // At start-up, before the store opens: finishes or undoes a swap a crash interrupted.
  static Status RecoverInterruptedSwap(const std::string& dir);
  Replication& replication() { return *replication_; }
  Cluster& cluster() { return cluster_; }
  // What the store tells of every committed write: the replication stream, and in cluster
  // mode the per-slot key index.
  CommitListener* commit_listener() { return &commit_fanout_; }
  // Cluster mode: puts the slot map into the replication stream (CLUSTERX SETNODES map
  // version), so that replicas take their leader's map: after a change, and when a replica
  // starts following (it may have missed changes while away). A no-op without replicas.
  void PropagateClusterMap();
  // Per command, without copying the configuration: whether this server is a replica that
  // refuses clients' writes, or one whose link is down and that serves no stale data.
  bool replica_read_only_now() const;
  bool stale_replica_now() const;
  bool cluster_require_full_coverage_now() const {
    return full_coverage_cached_.load(std::memory_order_relaxed);
  }
  int64_t min_replicas_to_write_now() const {
    return min_replicas_cached_.load(std::memory_order_relaxed);
  }
  ClientRegistry& clients() { return clients_; }
  PubSub& pubsub() { return pubsub_; }
  // The store as the data commands see it.
  Keyspace& keyspace() { return keyspace_; }
  KeyLocks& key_locks() { return key_locks_; }
  Logger& log() { return *log_; }
  ScanCursors& cursors() { return cursors_; }

  // The configuration may change (CONFIG SET); read it through a copy.
  ServerConfig config() const;
  void UpdateConfig(const std::function<void(ServerConfig*)>& change);
  // Bumped by every UpdateConfig: a connection re-reads config() only when it moved.
  uint64_t config_version() const { return config_version_.load(std::memory_order_acquire); }

  // One entry per command in the command table, by its index.
  CommandStats& command_stats(size_t index) { return command_stats_[index]; }
  size_t command_count() const { return command_stats_.size(); }

  std::atomic<uint64_t> connected_clients{0};
  std::atomic<uint64_t> blocked_clients{0};  // waiting for a deferred command (Client)
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};
  Counter total_commands;
  Counter keyspace_hits;
  Counter keyspace_misses;
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> auth_failures{0};  // AUTH, HELLO AUTH and HTTP with wrong credentials
  std::atomic<uint64_t> next_client_id{1};
  std::atomic<uint64_t> last_save_unix{0};
  const int64_t start_unix_ms;
  std::string config_file;  // absolute path of --config; empty without one
  int bound_port = 0;
  int bound_http_port = 0;

  // Runs a merge (BGREWRITEAOF) or a flush (BGSAVE) in the background; false if one runs.
  bool StartBackground(const char* what, std::function<Status()> job);
  bool background_running() const { return background_running_; }
  std::string background_last() const;

  // SHUTDOWN and signals call this; set by the network layer.
  std::function<void()> request_shutdown;

 private:
  util::SharedMutex store_mu_;  // shared by StoreUse, exclusive to replace the store
  std::unique_ptr<DB> db_;
  StoreKeyspace keyspace_;
  ClientRegistry clients_;
  PubSub pubsub_;
  Logger own_log_;
  Logger* log_;
  mutable std::mutex config_mu_;
  ServerConfig config_;
  std::atomic<uint64_t> config_version_{0};
  // The settings checked on every command, kept apart by UpdateConfig.
  std::atomic<bool> replica_read_only_cached_{true};
  std::atomic<bool> serve_stale_cached_{true};
  std::atomic<int64_t> min_replicas_cached_{0};
  std::atomic<bool> full_coverage_cached_{true};
  void CacheSettings();
  KeyLocks key_locks_;
  ScanCursors cursors_;
  std::vector<CommandStats> command_stats_;
  std::unique_ptr<Replication> replication_;  // after config_: it reads it
  Cluster cluster_;
  class CommitFanout final : public CommitListener {
   public:
    explicit CommitFanout(ServerState* server) : server_(server) {}
    void OnCommit(std::span<const CommittedWrite> writes) override;

   private:
    ServerState* server_;
  };
  CommitFanout commit_fanout_{this};

  mutable std::mutex background_mu_;
  std::atomic<bool> background_running_{false};
  std::string background_last_;  // guarded by background_mu_
  std::thread background_;       // guarded by background_mu_
};

int64_t NowUnixMillis();

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_STATE_H_
