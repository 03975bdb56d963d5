// Replication with Redis's own protocol (docs/REPLICATION.md): a bitcask-server is a leader
// (Redis's "master") that real Redis replicas and other bitcask-servers follow, or a replica
// of a bitcask-server or of a real redis-server, and Redis Sentinel moves the role from one to
// another with REPLICAOF. Nothing here decides who leads.
//
// The leader's stream is built from the store's CommitListener: every committed write, in
// the store's one order across all event loops, becomes SET key value [PXAT ms] or DEL key
// (MULTI ... EXEC around a batch or a transaction), appended to the ReplicationLog under the
// store's write lock, so a reader that sees a write finds it in the stream. PUBLISH, the
// periodic PING and REPLCONF GETACK go into the same stream. A full sync sends a checkpoint
// of the store (sealed data files are hard links: writes go on) as an RDB file, taken at a
// known offset of the stream.
//
// A replica (ReplicaLink, its own thread) follows its leader: handshake, PSYNC, a full sync
// loaded into a new store beside the old one and swapped in only once complete, then the
// stream applied through the command table as a client that may write. What it applied goes
// into its own log with the leader's offsets, so that once promoted, the other replicas of
// the old leader continue from it with PSYNC (replid2).

#ifndef BITCASK_SERVER_REPLICATION_H_
#define BITCASK_SERVER_REPLICATION_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bitcask/options.h"
#include "bitcask/status.h"
#include "server/clients.h"
#include "server/repl_log.h"

namespace bitcask::server {

class ServerState;
class ReplicaLink;

// A full sync's RDB file, made on a thread of its own and taken in pieces by the connection
// that sends it.
class FullSync {
 public:
  // Pieces wait in a queue of at most this many bytes: the maker waits for the sender.
  static constexpr size_t kQueueBytes = 8u << 20;

  // wake is called (from the maker's thread) when a piece is ready or the sync ended.
  void SetWake(std::function<void()> wake);
  // Takes the next piece; false if none is ready. *done once the last piece was taken
  // (status() then says whether the file is whole).
  bool Next(std::string* piece, bool* done);
  Status status() const;
  bool finished() const {
    std::lock_guard l(mu_);
    return finished_;
  }
  // Stops the maker (the replica went away).
  void Cancel();
  // Once the first piece (the +FULLRESYNC line) was taken: the stream reader that continues
  // after the RDB (-1 if the sync failed) and the offset it starts after.
  int64_t reader() const { return reader_.load(); }
  uint64_t offset() const { return offset_.load(); }
  void SetStart(int64_t reader, uint64_t offset) {
    offset_ = offset;
    reader_ = reader;
  }

  // The maker's side.
  bool Put(std::string piece);  // false once cancelled
  void Finish(Status s);
  bool cancelled() const { return cancelled_.load(); }

 private:
  mutable std::mutex mu_;
  std::condition_variable space_;
  std::deque<std::string> pieces_;  // guarded by mu_
  size_t queued_ = 0;               // guarded by mu_
  bool finished_ = false;           // guarded by mu_
  Status status_;                   // guarded by mu_
  std::function<void()> wake_;      // guarded by mu_
  std::atomic<bool> cancelled_{false};
  std::atomic<int64_t> reader_{-1};
  std::atomic<uint64_t> offset_{0};
};

class Replication : public CommitListener {
 public:
  explicit Replication(ServerState* server);
  ~Replication() override;

  // Starts the cron thread, and the link to the leader if replicaof is set. After the store
  // is open; reads the position a clean shutdown saved with the store.
  void Start();
  // Stops the link and the cron; saves the position with the store (call after the store
  // is closed, so what it holds is what the position says).
  void Stop();
  void SavePosition();

  // CommitListener: the leader's stream.
  void OnCommit(std::span<const CommittedWrite> writes) override;

  // ---- Role ---------------------------------------------------------------------------
  bool is_replica() const { return replica_.load(std::memory_order_acquire); }
  // A replica whose link to its leader is up (connected, stream flowing).
  bool link_up() const { return link_up_.load(std::memory_order_acquire); }
  void set_link_up(bool up) { link_up_.store(up, std::memory_order_release); }
  const std::string& run_id() const { return run_id_; }
  // REPLICAOF host port: follows that leader (true) or already did (false).
  bool ReplicaOf(const std::string& host, int port);
  // REPLICAOF NO ONE: leads from here on (a new replid; the old one is kept as replid2).
  void BecomeLeader();

  // ---- Leader side --------------------------------------------------------------------
  struct ReplicaInfo {
    uint64_t client_id = 0;
    std::string ip;
    int port = 0;                       // REPLCONF listening-port
    std::string state = "wait_bgsave";  // wait_bgsave | send_bulk | online
    uint64_t ack_offset = 0;
    int64_t ack_time_ms = 0;
    std::weak_ptr<ClientHandle> handle;
  };
  // PSYNC replid offset: whether the replica can continue from offset (the first byte it
  // lacks) with this server's stream; the +CONTINUE line if so.
  bool CanContinue(std::string_view replid, int64_t offset, bool psync2, std::string* line);
  // Lists a replica (INFO, ROLE, WAIT, min-replicas), or updates what is listed.
  void SetReplica(const ReplicaInfo& info);
  void SetReplicaState(uint64_t client_id, const std::string& state);
  void RemoveReplica(uint64_t client_id);
  // REPLCONF ACK offset from a replica.
  void OnAck(uint64_t client_id, uint64_t offset);
  // Starts a full sync on a thread of its own: a checkpoint of the store at a known offset of
  // the stream, then its pieces: the +FULLRESYNC line (if announce: PSYNC, not SYNC), the RDB
  // file ($EOF: form if eof_format, else $<length>). The sync's reader continues the stream after
  // it.
  std::shared_ptr<FullSync> StartFullSync(bool eof_format, bool announce = true);

  // WAIT: calls done(number of replicas that acknowledged offset) once numreplicas have, or
  // when timeout_ms (0: none) passes. Asks the replicas for an acknowledgement.
  void Wait(uint64_t offset, int64_t numreplicas, int64_t timeout_ms,
            std::function<void(int64_t)> done);
  int64_t AcknowledgedBy(uint64_t offset) const;
  // Whether min-replicas-to-write allows a write now.
  bool EnoughGoodReplicas() const;

  // PUBLISH, for the stream (Redis replicates it).
  void Propagate(std::string_view command_resp);

  ReplicationLog& log() { return log_; }

  // ---- Replica side -------------------------------------------------------------------
  // The link applies a command and logs its bytes under this (a full sync of a replica's own
  // replicas takes its copy under it too).
  std::mutex& apply_mu() { return apply_mu_; }
  // The position the store holds in a stream (replid, offset): what PSYNC asks to continue
  // from. False if none (PSYNC ? -1).
  bool ResumePosition(std::string* replid, uint64_t* offset) const;
  // After a full sync: the store holds replid's stream up to offset.
  void ResetStream(const std::string& replid, uint64_t offset);
  // After +CONTINUE [replid]: the stream goes on, under replid if given (a failover).
  void ContinueStream(const std::string& replid);

  // INFO replication's lines, and ROLE's reply.
  std::string InfoSection() const;
  std::string RoleReply() const;
  int64_t connected_replicas() const;

 private:
  friend class ReplicaLink;

  void CronLoop();
  // The stream's replid and the leader side of the log come into being with the first
  // replica (Redis creates its backlog then, with a new replid).
  void EnsureStreamingLocked();
  void AppendCommandLocked(std::initializer_list<std::string_view> args);
  void WakeSenders();
  std::string NewReplid() const;
  void FireWaitersLocked(std::vector<std::function<void()>>* calls);
  int64_t AcknowledgedByLocked(uint64_t offset) const;

  ServerState* server_;
  const std::string run_id_;
  ReplicationLog log_;

  std::atomic<bool> replica_{false};
  std::atomic<bool> link_up_{false};
  // Guarded by mu_.
  mutable std::mutex mu_;
  bool streaming_ = false;                   // the log takes the stream (a backlog exists)
  std::atomic<bool> streaming_flag_{false};  // streaming_, read without mu_ on every write
  // The next data command needs a SELECT 0 before it.
  std::atomic<bool> select_needed_{true};
  std::string replid_, replid2_;
  int64_t second_replid_offset_ = -1;
  std::map<uint64_t, ReplicaInfo> replicas_;
  // The replicas' connections, for waking them when the log grows (which happens with mu_
  // held: WakeSenders takes only this).
  std::mutex senders_mu_;
  std::map<uint64_t, std::weak_ptr<ClientHandle>> senders_;  // guarded by senders_mu_
  struct Waiter {
    uint64_t offset;
    int64_t numreplicas;
    int64_t deadline_ms;  // 0: none
    std::function<void(int64_t)> done;
  };
  std::vector<Waiter> waiters_;
  bool getack_requested_ = false;
  int64_t no_replicas_since_ms_ = 0;

  std::mutex apply_mu_;  // the link applies a command and logs its bytes under it
  // Stops the link without waiting for its thread (a command may hold the store in use, which
  // the link may be waiting for): the cron joins it. Caller holds link_mu_.
  void RetireLinkLocked();
  std::unique_ptr<ReplicaLink> link_;                  // guarded by link_mu_
  std::vector<std::unique_ptr<ReplicaLink>> retired_;  // guarded by link_mu_
  mutable std::mutex link_mu_;

  std::mutex cron_mu_;
  std::condition_variable cron_cv_;
  bool stop_cron_ = false;  // guarded by cron_mu_
  std::thread cron_;
  std::atomic<uint64_t> snapshot_seq_{0};
  struct Job {
    std::shared_ptr<FullSync> sync;
    std::thread thread;
  };
  std::mutex jobs_mu_;
  std::vector<Job> jobs_;  // guarded by jobs_mu_: full syncs being made
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_REPLICATION_H_
