// Cluster mode (docs/CLUSTER.md): the Redis Cluster protocol without Redis's cluster bus. The
// 16384 hash slots, which node serves each, and the replicas of each node form a versioned
// slot map set from outside with CLUSTERX SETNODES (Kvrocks's command: a whole map and its
// version), kept in a file beside the store, and changed locally by the CLUSTER SETSLOT /
// ADDSLOTS / DELSLOTS that `redis-cli --cluster` sends while it reshards or fixes. Clients
// are routed with Redis's own errors (MOVED, ASK, CROSSSLOT, TRYAGAIN, CLUSTERDOWN).
//
// A connection reads the map through an immutable snapshot (ClusterView) that it takes again
// only when the map's generation moved, so routing a command takes no lock.

#ifndef BITCASK_SERVER_CLUSTER_H_
#define BITCASK_SERVER_CLUSTER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bitcask/options.h"
#include "bitcask/status.h"

namespace bitcask::server {

class Keyspace;

constexpr int kClusterSlots = 16384;

// CRC16/XMODEM of data (Redis's crc16.c): crc16("123456789") is 0x31C3.
uint16_t Crc16(std::string_view data);
// The slot of a key: the CRC16 of its hash tag (what lies between the first '{' and the first
// '}' after it, if not empty) or of the whole key, modulo 16384.
int KeyHashSlot(std::string_view key);

struct ClusterNode {
  std::string id;  // 40 hex characters
  std::string host;
  int port = 0;
  bool master = true;
  std::string master_id;  // a replica's master; empty for a master
};

// The slot map as CLUSTERX SETNODES gives it, and what the node made of it since.
struct ClusterView {
  int64_t version = -1;  // -1: no map was ever set
  std::string myid;      // this node's id; empty until the map names it
  std::vector<ClusterNode> nodes;
  std::array<int16_t, kClusterSlots> owner;  // index into nodes, -1 unassigned
  // Open slots (CLUSTER SETSLOT MIGRATING / IMPORTING): the node id on the other side.
  std::map<int, std::string> migrating, importing;

  ClusterView() { owner.fill(-1); }
  int FindNode(std::string_view id) const;  // index, or -1
  // This node's index (-1: not in the map), as of the last Finalize.
  int me() const { return me_; }
  const ClusterNode* Myself() const {
    const int i = me();
    return i < 0 ? nullptr : &nodes[size_t(i)];
  }
  // The master whose slots this node serves: itself, or its master if it is a replica.
  int MasterOfMe() const;
  bool AllSlotsAssigned() const { return all_assigned_; }
  // Works out what me() and AllSlotsAssigned() answer (on every command): after a change.
  void Finalize();
  // cluster_state:ok: a map naming this node, every slot served (cluster-require-full-coverage).
  bool StateOk(bool require_full_coverage) const;

  // Parses CLUSTERX SETNODES's text: lines "<id> <host> <port> master|slave|replica <master-id
  // or -> [<slot>|<first>-<last> ...]". Errors are InvalidArgument with Kvrocks's messages.
  static Status ParseNodes(std::string_view text, ClusterView* out);
  // The map in that form: what SETNODES takes, and what CLUSTERX NODES shows.
  std::string NodesText() const;
  // Maximal runs of consecutive slots with one owner, ascending; unassigned slots left out.
  struct SlotRun {
    int first, last, owner;
  };
  std::vector<SlotRun> Runs() const;
  // The slots of node i as "0-5460 5462" (maximal runs, a single slot alone).
  std::string SlotRanges(int i) const;

 private:
  int me_ = -1;
  bool all_assigned_ = false;
};

// The keys of one slot, compactly: their bytes one after another in an arena (a 4-byte header,
// the length with its top bit set once the key is removed, then the bytes), and an
// open-addressing table of (32 bits of the key's hash, arena offset + 2; 0 is empty, 1 a
// removed key). About the key's
// length plus 16 bytes per key; removed keys' bytes are given back when they are half the
// arena.
class SlotKeys {
 public:
  void Add(std::string_view key, uint64_t hash);
  void Remove(std::string_view key, uint64_t hash);
  size_t size() const { return live_; }
  // Brings into the cache the table entry a lookup of hash starts at.
  void Prefetch(uint64_t hash) const {
    if (!table_.empty()) __builtin_prefetch(&table_[hash & (table_.size() - 1)]);
  }
  // Heap bytes held (a string's inline buffer is not).
  size_t memory() const {
    const size_t arena = arena_.capacity() > std::string().capacity() ? arena_.capacity() : 0;
    return arena + table_.capacity() * sizeof(uint64_t);
  }
  // Calls f(key) for each key, in the order they came, while it returns true.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t at = 0; at + 4 <= arena_.size();) {
      const uint32_t header = Header(at);
      const size_t len = header & ~kRemoved;
      if (!(header & kRemoved) && !f(std::string_view(arena_.data() + at + 4, len))) return;
      at += 4 + len;
    }
  }

 private:
  static constexpr uint32_t kRemoved = 1u << 31;
  static constexpr uint64_t kEmpty = 0, kTombstone = 1;
  uint32_t Header(size_t at) const;
  // The table's index holding key, or SIZE_MAX.
  size_t Find(std::string_view key, uint64_t hash) const;
  // Rebuilds the table (and the arena without removed keys) for at least `keys` keys.
  void Rebuild(size_t keys);

  std::string arena_;
  std::vector<uint64_t> table_;  // a power of two in size, or empty
  size_t live_ = 0, used_ = 0;   // keys; table entries not empty (keys and tombstones)
  size_t removed_bytes_ = 0;
};

// The keys of each slot, so that CLUSTER GETKEYSINSLOT and COUNTKEYSINSLOT do not scan the
// store. Kept from the store's CommitListener (every committed put and delete, expiries
// included), and rebuilt from the store when it opens.
//
// The listener runs under the store's write lock, one write at a time: there a write is only
// noted (its key appended to a buffer), and the slots' tables, whose lookups miss the cache,
// are brought up to date later, off that lock: by Drain (which the event loops call once a
// few thousand writes are waiting), and by every reader before it reads.
class SlotIndex {
 public:
  void Clear();
  // What the listener calls: notes a key put or removed.
  void Add(std::string_view key) { Note(key, false); }
  void Remove(std::string_view key) { Note(key, true); }
  // Applies what was noted, if at least `min` writes wait and no one else is at it.
  void Drain(size_t min = kDrainAt);
  bool drain_due() const { return pending_count_.load(std::memory_order_relaxed) >= kDrainAt; }
  uint64_t Count(int slot);
  // Up to n keys of the slot that the store serves now (an expired key its sweep has not
  // dropped yet stays in the index, and in Count, until it does).
  std::vector<std::string> Keys(int slot, size_t n, Keyspace& store);
  uint64_t TotalKeys();
  uint64_t MemoryBytes();

 private:
  static constexpr size_t kDrainAt = 4096;
  // Beyond this many waiting writes the listener applies them itself (no event loop drains:
  // writes come only through HTTP or replication).
  static constexpr size_t kPendingMax = 1u << 20;

  struct Pending {
    std::string bytes;                           // the keys, one after another
    std::vector<std::pair<size_t, size_t>> ops;  // offset, length; removed keys' top bit set
  };
  static constexpr size_t kRemovedBit = size_t{1} << 63;
  void Note(std::string_view key, bool removed);
  void ApplyLocked(const Pending& batch);  // with mu_ held
  void DrainLocked();                      // with mu_ held

  std::mutex pending_mu_;
  Pending pending_;  // guarded by pending_mu_
  std::atomic<size_t> pending_count_{0};
  std::mutex mu_;                              // the slots; taken before pending_mu_
  std::array<SlotKeys, kClusterSlots> slots_;  // guarded by mu_
};

class Cluster final : public CommitListener {
 public:
  Cluster() : view_(std::make_shared<const ClusterView>()) {}

  // Cluster mode: set once at start-up, before the store is set (its keys are indexed then)
  // and before any client.
  void Enable(std::string config_file, std::string announce_host);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // Reads the map file (none yet: no map), once the server's port is known: a map that does
  // not name this node by id names it by port.
  Status Load(int port);
  // The map; a new one each time the map changes, and generation() moves.
  std::shared_ptr<const ClusterView> view() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Replaces the map (CLUSTERX SETNODES): a version below the current one is refused, the
  // same one changes nothing (*changed false), force takes any. Open slots are closed. Saved
  // before it is used. Returns the reply's error text, or "".
  std::string SetNodes(std::string_view text, int64_t version, bool force, bool* changed);
  // Changes the map by f (SETSLOT, ADDSLOTS, CLUSTERX SETNODEID, ...), which returns an error
  // text or "" (then the change is saved and used). If bump, the version moves by one.
  std::string Change(bool bump, const std::function<std::string(ClusterView*)>& f);
  // Writes the map file again (a replica's full sync replaced the directory it is kept in).
  Status Save() const;

  // The per-slot key index (kept only in cluster mode).
  SlotIndex& index() { return index_; }
  // Rebuilds the index from the store (at open, and after a full sync replaced the store).
  Status Rebuild(Keyspace& store);
  void OnCommit(std::span<const CommittedWrite> writes) override;

 private:
  Status SaveLocked(const ClusterView& v) const;
  void PublishLocked(std::shared_ptr<ClusterView> v);
  // Finds this node in the map by its port (and host) when no id was set.
  void IdentifyLocked(ClusterView* v) const;

  std::atomic<bool> enabled_{false};
  std::string file_;
  int port_ = 0;  // guarded by mu_
  std::string announce_host_;
  mutable std::mutex mu_;  // writers of the map; readers take view_ under it
  std::shared_ptr<const ClusterView> view_;
  std::atomic<uint64_t> generation_{0};
  SlotIndex index_;
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_CLUSTER_H_
