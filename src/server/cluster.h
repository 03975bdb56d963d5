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
#include <unordered_set>
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
  // The slots of node i as "0-5460 5462" (maximal runs, a single slot alone).
  std::string SlotRanges(int i) const;

 private:
  int me_ = -1;
  bool all_assigned_ = false;
};

// The keys of each slot, so that CLUSTER GETKEYSINSLOT and COUNTKEYSINSLOT do not scan the
// store. Kept from the store's CommitListener (every committed put and delete, expiries
// included), and rebuilt from the store when it opens.
class SlotIndex {
 public:
  void Clear();
  void Add(std::string_view key);
  void Remove(std::string_view key);
  uint64_t Count(int slot) const;
  // Up to n keys of the slot that the store still holds (keys found gone leave the index).
  std::vector<std::string> Keys(int slot, size_t n, Keyspace& store);
  uint64_t TotalKeys() const;

 private:
  struct alignas(64) Slot {
    mutable std::mutex mu;
    std::unordered_set<std::string> keys;
  };
  std::array<Slot, kClusterSlots> slots_;
};

class Cluster final : public CommitListener {
 public:
  Cluster() : view_(std::make_shared<const ClusterView>()) {}

  // Cluster mode: set once at start-up, before any client.
  void Enable(std::string config_file, int port, std::string announce_host);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // Reads the map file (none yet: no map).
  Status Load();
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
  int port_ = 0;
  std::string announce_host_;
  mutable std::mutex mu_;  // writers of the map; readers take view_ under it
  std::shared_ptr<const ClusterView> view_;
  std::atomic<uint64_t> generation_{0};
  SlotIndex index_;
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_CLUSTER_H_
