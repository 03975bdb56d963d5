// Cluster commands (Redis's cluster.c and Kvrocks's CLUSTERX): CLUSTER's subcommands with
// Redis 7.0's replies, CLUSTERX to set the slot map from outside, ASKING, READONLY and
// READWRITE. Routing itself is dispatch's (RouteToSlot); the map is server/cluster.h's.

#include <chrono>
#include <set>

#include "server/command.h"
#include "server/dispatch.h"
#include "server/replication.h"

namespace bitcask::server {

namespace {

bool ClusterOff(CommandContext& c) {
  if (c.server.cluster().enabled()) return false;
  Err(c, "ERR This instance has cluster support disabled");
  return true;
}

// Redis's getSlotOrReply.
bool ParseSlot(CommandContext& c, std::string_view arg, int* slot) {
  int64_t s;
  if (!ParseInt(arg, &s) || s < 0 || s >= kClusterSlots) {
    Err(c, "ERR Invalid or out of range slot");
    return false;
  }
  *slot = static_cast<int>(s);
  return true;
}

std::string NotInMap() {
  return "ERR this node is not in the slot map: set one naming it with CLUSTERX SETNODES "
         "(docs/CLUSTER.md)";
}

// After a change of the map on a leader, its replicas get the same map through the stream.
void PropagateMap(CommandContext& c) {
  if (!c.client.is_master) c.server.PropagateClusterMap();
}

// A map that names this node's role: a replica follows its master, a master leads. Not for
// what the stream of this node's own leader applies.
void ApplyRole(CommandContext& c) {
  if (c.client.is_master) return;
  const auto v = c.server.cluster().view();
  const ClusterNode* me = v->Myself();
  if (me == nullptr) return;
  Replication& r = c.server.replication();
  if (me->master) {
    if (r.is_replica()) {
      r.BecomeLeader();
      c.server.log().Log(Logger::kNotice, "cluster: leading now, as the slot map says");
    }
    return;
  }
  const int m = v->FindNode(me->master_id);
  if (m >= 0 && r.ReplicaOf(v->nodes[size_t(m)].host, v->nodes[size_t(m)].port)) {
    c.server.log().Log(
        Logger::kNotice, "cluster: following a master, as the slot map says",
        {{"master", v->nodes[size_t(m)].host + ":" + std::to_string(v->nodes[size_t(m)].port)}});
  }
}

// Applies a change to the map and replies +OK, or with the change's error.
void ChangeMap(CommandContext& c, bool bump, const std::function<std::string(ClusterView*)>& f) {
  std::string error = c.server.cluster().Change(bump, f);
  if (!error.empty()) return Err(c, error);
  if (bump) PropagateMap(c);
  Ok(c);
}

// ---- What CLUSTER shows ----------------------------------------------------------------

int64_t Epoch(const ClusterView& v) { return std::max<int64_t>(v.version, 0); }

std::string NodeLine(const ClusterView& v, size_t i, int64_t now_ms) {
  const ClusterNode& n = v.nodes[i];
  const bool me = static_cast<int>(i) == v.me();
  std::string line =
      n.id + " " + n.host + ":" + std::to_string(n.port) + "@" + std::to_string(n.port + 10000) +
      " " + (me ? "myself," : "") + (n.master ? "master - " : "slave " + n.master_id + " ") + "0 " +
      std::to_string(me ? 0 : now_ms) + " " + std::to_string(Epoch(v)) + " connected";
  const std::string slots = v.SlotRanges(static_cast<int>(i));
  if (!slots.empty()) line += " " + slots;
  if (me) {
    for (const auto& [slot, id] : v.migrating) {
      line += " [" + std::to_string(slot) + "->-" + id + "]";
    }
    for (const auto& [slot, id] : v.importing) {
      if (!v.migrating.count(slot)) line += " [" + std::to_string(slot) + "-<-" + id + "]";
    }
  }
  return line;
}

void NodeArray(std::string* out, const ClusterNode& n) {
  reply::ArrayHeader(out, 4);
  reply::Bulk(out, n.host);
  reply::Integer(out, n.port);
  reply::Bulk(out, n.id);
  reply::ArrayHeader(out, 0);  // metadata: no hostname
}

std::vector<size_t> ReplicasOf(const ClusterView& v, const std::string& master_id) {
  std::vector<size_t> out;
  for (size_t i = 0; i < v.nodes.size(); i++) {
    if (!v.nodes[i].master && v.nodes[i].master_id == master_id) out.push_back(i);
  }
  return out;
}

void Slots(CommandContext& c, const ClusterView& v) {
  const std::vector<ClusterView::SlotRun> runs = v.Runs();
  reply::ArrayHeader(c.out, runs.size());
  for (const ClusterView::SlotRun& run : runs) {
    const std::vector<size_t> replicas = ReplicasOf(v, v.nodes[size_t(run.owner)].id);
    reply::ArrayHeader(c.out, 3 + replicas.size());
    reply::Integer(c.out, run.first);
    reply::Integer(c.out, run.last);
    NodeArray(c.out, v.nodes[size_t(run.owner)]);
    for (size_t r : replicas) NodeArray(c.out, v.nodes[r]);
  }
}

void Shards(CommandContext& c, const ClusterView& v) {
  const uint64_t my_offset = c.server.replication().log().offset();
  auto node = [&](size_t i) {
    const ClusterNode& n = v.nodes[i];
    reply::ArrayHeader(c.out, 14);
    reply::Bulk(c.out, "id");
    reply::Bulk(c.out, n.id);
    reply::Bulk(c.out, "port");
    reply::Integer(c.out, n.port);
    reply::Bulk(c.out, "ip");
    reply::Bulk(c.out, n.host);
    reply::Bulk(c.out, "endpoint");
    reply::Bulk(c.out, n.host);
    reply::Bulk(c.out, "role");
    reply::Bulk(c.out, n.master ? "master" : "replica");
    reply::Bulk(c.out, "replication-offset");
    reply::Integer(c.out, static_cast<int>(i) == v.me() ? int64_t(my_offset) : 0);
    reply::Bulk(c.out, "health");
    reply::Bulk(c.out, "online");
  };
  size_t masters = 0;
  for (const ClusterNode& n : v.nodes) masters += n.master;
  const std::vector<ClusterView::SlotRun> all_runs = v.Runs();
  reply::ArrayHeader(c.out, masters);
  for (size_t i = 0; i < v.nodes.size(); i++) {
    if (!v.nodes[i].master) continue;
    reply::ArrayHeader(c.out, 4);
    reply::Bulk(c.out, "slots");
    std::vector<ClusterView::SlotRun> runs;
    for (const ClusterView::SlotRun& run : all_runs) {
      if (run.owner == static_cast<int>(i)) runs.push_back(run);
    }
    reply::ArrayHeader(c.out, runs.size() * 2);
    for (const ClusterView::SlotRun& run : runs) {
      reply::Integer(c.out, run.first);
      reply::Integer(c.out, run.last);
    }
    reply::Bulk(c.out, "nodes");
    const std::vector<size_t> replicas = ReplicasOf(v, v.nodes[i].id);
    reply::ArrayHeader(c.out, 1 + replicas.size());
    node(i);
    for (size_t r : replicas) node(r);
  }
}

std::string InfoText(ServerState& server, const ClusterView& v) {
  int assigned = 0;
  for (int16_t o : v.owner) assigned += o >= 0;
  std::set<int> owners;  // masters serving a slot
  for (const ClusterView::SlotRun& run : v.Runs()) {
    if (v.nodes[size_t(run.owner)].master) owners.insert(run.owner);
  }
  const size_t size = owners.size();
  const bool ok = v.StateOk(server.cluster_require_full_coverage_now());
  std::string t;
  auto line = [&](const char* k, const std::string& val) {
    t += std::string(k) + ":" + val + "\r\n";
  };
  line("cluster_state", ok ? "ok" : "fail");
  line("cluster_slots_assigned", std::to_string(assigned));
  line("cluster_slots_ok", std::to_string(assigned));
  line("cluster_slots_pfail", "0");
  line("cluster_slots_fail", "0");
  line("cluster_known_nodes", std::to_string(std::max<size_t>(v.nodes.size(), 1)));
  line("cluster_size", std::to_string(size));
  line("cluster_current_epoch", std::to_string(Epoch(v)));
  line("cluster_my_epoch", std::to_string(Epoch(v)));
  line("cluster_stats_messages_sent", "0");
  line("cluster_stats_messages_received", "0");
  line("total_cluster_links_buffer_limit_exceeded", "0");
  return t;
}

// ---- CLUSTER's subcommands -------------------------------------------------------------

void Nodes(CommandContext& c, const ClusterView& v) {
  if (v.version < 0) return Err(c, "CLUSTERDOWN The cluster is not initialized");
  const int64_t now = NowUnixMillis();
  std::string text;
  for (size_t i = 0; i < v.nodes.size(); i++) text += NodeLine(v, i, now) + "\n";
  reply::Bulk(c.out, text);
}

void Replicas(CommandContext& c, const ClusterView& v) {
  const int m = v.FindNode(c.args[2]);
  if (m < 0) return Err(c, "ERR Unknown node " + std::string(c.args[2]));
  if (!v.nodes[size_t(m)].master) return Err(c, "ERR The specified node is not a master");
  const std::vector<size_t> replicas = ReplicasOf(v, v.nodes[size_t(m)].id);
  const int64_t now = NowUnixMillis();
  reply::ArrayHeader(c.out, replicas.size());
  for (size_t r : replicas) reply::Bulk(c.out, NodeLine(v, r, now));
}

void MyId(CommandContext& c, const ClusterView& v) {
  if (v.myid.empty()) return Err(c, NotInMap());
  reply::Bulk(c.out, v.myid);
}

void KeySlot(CommandContext& c, const ClusterView&) {
  reply::Integer(c.out, KeyHashSlot(c.args[2]));
}

void CountKeysInSlot(CommandContext& c, const ClusterView&) {
  int64_t slot;
  if (!ParseInt(c.args[2], &slot)) return NotInteger(c);
  if (slot < 0 || slot >= kClusterSlots) return Err(c, "ERR Invalid slot");
  reply::Integer(c.out, int64_t(c.server.cluster().index().Count(int(slot))));
}

void GetKeysInSlot(CommandContext& c, const ClusterView&) {
  int64_t slot, count;
  if (!ParseInt(c.args[2], &slot) || !ParseInt(c.args[3], &count)) return NotInteger(c);
  if (slot < 0 || slot >= kClusterSlots || count < 0) {
    return Err(c, "ERR Invalid slot or number of keys");
  }
  const std::vector<std::string> keys =
      c.server.cluster().index().Keys(int(slot), size_t(count), c.server.keyspace());
  reply::ArrayHeader(c.out, keys.size());
  for (const std::string& k : keys) reply::Bulk(c.out, k);
}

// CLUSTER SETSLOT slot IMPORTING id | MIGRATING id | STABLE | NODE id, as redis-cli --cluster
// reshard, rebalance and fix send it.
void SetSlot(CommandContext& c, const ClusterView& v) {
  const int me = v.me();
  if (me < 0) return Err(c, NotInMap());
  if (!v.nodes[size_t(me)].master) return Err(c, "ERR Please use SETSLOT only with masters.");
  int slot;
  if (!ParseSlot(c, c.args[2], &slot)) return;
  const std::string action = Lower(c.args[3]);
  const bool with_id = c.args.size() == 5;
  const std::string id = with_id ? std::string(c.args[4]) : std::string();
  const std::string s = std::to_string(slot);
  if (action == "stable" && c.args.size() == 4) {
    return ChangeMap(c, false, [&](ClusterView* m) {
      m->migrating.erase(slot);
      m->importing.erase(slot);
      return std::string();
    });
  }
  if (!with_id || (action != "migrating" && action != "importing" && action != "node")) {
    return Err(c, "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP");
  }
  const int n = v.FindNode(id);
  if (action == "migrating") {
    if (v.owner[size_t(slot)] != me) return Err(c, "ERR I'm not the owner of hash slot " + s);
    if (n < 0) return Err(c, "ERR I don't know about node " + id);
    if (!v.nodes[size_t(n)].master) return Err(c, "ERR Target node is not a master");
    return ChangeMap(c, false, [&](ClusterView* m) {
      m->migrating[slot] = id;
      return std::string();
    });
  }
  if (action == "importing") {
    if (v.owner[size_t(slot)] == me) return Err(c, "ERR I'm already the owner of hash slot " + s);
    if (n < 0) return Err(c, "ERR I don't know about node " + id);
    if (!v.nodes[size_t(n)].master) return Err(c, "ERR Target node is not a master");
    return ChangeMap(c, false, [&](ClusterView* m) {
      m->importing[slot] = id;
      return std::string();
    });
  }
  // NODE
  if (n < 0) return Err(c, "ERR Unknown node " + id);
  if (!v.nodes[size_t(n)].master) return Err(c, "ERR Target node is not a master");
  const bool holds_keys = !c.server.cluster().index().Keys(slot, 1, c.server.keyspace()).empty();
  if (v.owner[size_t(slot)] == me && n != me && holds_keys) {
    return Err(c, "ERR Can't assign hashslot " + s +
                      " to a different node while I still hold keys for this hash slot.");
  }
  ChangeMap(c, true, [&](ClusterView* m) {
    if (!holds_keys) m->migrating.erase(slot);
    if (n == me) m->importing.erase(slot);
    m->owner[size_t(slot)] = static_cast<int16_t>(n);
    return std::string();
  });
}

// ADDSLOTS / DELSLOTS slot..., and their RANGE forms (first last ...).
void ChangeSlots(CommandContext& c, const ClusterView& v, bool add, bool ranges) {
  const int me = v.me();
  if (me < 0) return Err(c, NotInMap());
  std::vector<int> slots;
  if (ranges) {
    if (c.args.size() % 2 != 0) return SubcommandArity(c);
    for (size_t i = 2; i + 1 < c.args.size(); i += 2) {
      int first, last;
      if (!ParseSlot(c, c.args[i], &first) || !ParseSlot(c, c.args[i + 1], &last)) return;
      if (first > last) {
        return Err(c, "ERR start slot number " + std::to_string(first) +
                          " is greater than end slot number " + std::to_string(last));
      }
      for (int s = first; s <= last; s++) slots.push_back(s);
    }
  } else {
    for (size_t i = 2; i < c.args.size(); i++) {
      int s;
      if (!ParseSlot(c, c.args[i], &s)) return;
      slots.push_back(s);
    }
  }
  std::vector<bool> seen(kClusterSlots);
  for (int s : slots) {
    const std::string name = std::to_string(s);
    if (add && v.owner[size_t(s)] >= 0) return Err(c, "ERR Slot " + name + " is already busy");
    if (!add && v.owner[size_t(s)] < 0) {
      return Err(c, "ERR Slot " + name + " is already unassigned");
    }
    if (seen[size_t(s)]) return Err(c, "ERR Slot " + name + " specified multiple times");
    seen[size_t(s)] = true;
  }
  ChangeMap(c, true, [&](ClusterView* m) {
    for (int s : slots) {
      m->owner[size_t(s)] = static_cast<int16_t>(add ? me : -1);
      if (add) m->importing.erase(s);
    }
    return std::string();
  });
}
void AddSlots(CommandContext& c, const ClusterView& v) { ChangeSlots(c, v, true, false); }
void DelSlots(CommandContext& c, const ClusterView& v) { ChangeSlots(c, v, false, false); }
void AddSlotsRange(CommandContext& c, const ClusterView& v) { ChangeSlots(c, v, true, true); }
void DelSlotsRange(CommandContext& c, const ClusterView& v) { ChangeSlots(c, v, false, true); }

void FlushSlots(CommandContext& c, const ClusterView& v) {
  const int me = v.me();
  if (me < 0) return Err(c, NotInMap());
  uint64_t keys = 0;
  if (Status s = c.keyspace.Count(&keys); !s.ok()) return StoreError(c, s);
  if (keys > 0) return Err(c, "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
  ChangeMap(c, true, [&](ClusterView* m) {
    for (int16_t& o : m->owner) {
      if (o == me) o = -1;
    }
    return std::string();
  });
}

void BumpEpoch(CommandContext& c, const ClusterView&) {
  std::string error = c.server.cluster().Change(true, [](ClusterView*) { return std::string(); });
  if (!error.empty()) return Err(c, error);
  PropagateMap(c);
  reply::Simple(c.out, "BUMPED " + std::to_string(c.server.cluster().view()->version));
}

void Info(CommandContext& c, const ClusterView& v) { reply::Bulk(c.out, InfoText(c.server, v)); }
void Links(CommandContext& c, const ClusterView&) { reply::ArrayHeader(c.out, 0); }
void SaveConfig(CommandContext& c, const ClusterView&) {
  if (Status s = c.server.cluster().Save(); !s.ok()) {
    return Err(c, "ERR error saving the cluster node config: " + s.ToString());
  }
  Ok(c);
}
void CountFailureReports(CommandContext& c, const ClusterView& v) {
  if (v.FindNode(c.args[2]) < 0) return Err(c, "ERR Unknown node " + std::string(c.args[2]));
  reply::Integer(c.out, 0);
}

// What needs Redis's cluster bus (gossip, votes): the map is set from outside here.
void NoBus(CommandContext& c, const ClusterView&) {
  Err(c, "ERR CLUSTER " + Upper(c.args[1]) +
             " is not supported: bitcask-server has no cluster bus; the slot map is set with "
             "CLUSTERX SETNODES (docs/CLUSTER.md)");
}

void Help(CommandContext& c, const ClusterView&);

struct Subcommand {
  const char* name;
  int arity;  // as CommandSpec's, counting CLUSTER and the subcommand
  void (*run)(CommandContext& c, const ClusterView& v);
};

constexpr Subcommand kSubcommands[] = {
    {"nodes", 2, Nodes},
    {"slots", 2, Slots},
    {"shards", 2, Shards},
    {"info", 2, Info},
    {"myid", 2, MyId},
    {"keyslot", 3, KeySlot},
    {"countkeysinslot", 3, CountKeysInSlot},
    {"getkeysinslot", 4, GetKeysInSlot},
    {"setslot", -4, SetSlot},
    {"addslots", -3, AddSlots},
    {"delslots", -3, DelSlots},
    {"addslotsrange", -4, AddSlotsRange},
    {"delslotsrange", -4, DelSlotsRange},
    {"flushslots", 2, FlushSlots},
    {"bumpepoch", 2, BumpEpoch},
    {"replicas", 3, Replicas},
    {"slaves", 3, Replicas},
    {"links", 2, Links},
    {"saveconfig", 2, SaveConfig},
    {"count-failure-reports", 3, CountFailureReports},
    {"meet", -4, NoBus},
    {"forget", 3, NoBus},
    {"replicate", 3, NoBus},
    {"reset", -2, NoBus},
    {"failover", -2, NoBus},
    {"set-config-epoch", 3, NoBus},
    {"help", 2, Help},
};

void Help(CommandContext& c, const ClusterView&) {
  reply::ArrayHeader(c.out, std::size(kSubcommands) + 1);
  reply::Simple(c.out, "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
  for (const Subcommand& s : kSubcommands) reply::Simple(c.out, Upper(s.name));
}

void ClusterCmd(CommandContext& c) {
  for (const Subcommand& s : kSubcommands) {
    if (!IEquals(c.args[1], s.name)) continue;
    if (!ArityAllows(s.arity, c.args.size())) return SubcommandArity(c);
    if (ClusterOff(c)) return;
    return s.run(c, *c.server.cluster().view());
  }
  UnknownSubcommand(c);
}

// ---- CLUSTERX: the map, set from outside -----------------------------------------------

void ClusterX(CommandContext& c) {
  if (ClusterOff(c)) return;
  Cluster& cluster = c.server.cluster();
  const std::string sub = Lower(c.args[1]);
  const size_t argc = c.args.size();
  if (sub == "version" && argc == 2) {
    return reply::Bulk(c.out, std::to_string(cluster.view()->version));
  }
  if (sub == "myid" && argc == 2) return MyId(c, *cluster.view());
  if (sub == "setnodeid" && argc == 3 && c.args[2].size() == 40) {
    return ChangeMap(c, false, [&](ClusterView* m) {
      m->myid = c.args[2];
      return std::string();
    });
  }
  if (sub == "setnodes" && (argc == 4 || argc == 5)) {
    int64_t version;
    if (!ParseInt(c.args[3], &version)) return Err(c, "ERR Invalid version");
    if (version < 0) return Err(c, "ERR Invalid cluster version");
    const bool force = argc == 5 && IEquals(c.args[4], "force");
    if (argc == 5 && !force) return Err(c, "ERR Invalid setnodes options");
    bool changed = false;
    std::string error = cluster.SetNodes(c.args[2], version, force, &changed);
    if (!error.empty()) return Err(c, error);
    if (changed) {
      ApplyRole(c);
      PropagateMap(c);
      const auto v = cluster.view();
      c.server.log().Log(
          Logger::kNotice, "cluster: new slot map",
          {{"version", std::to_string(version)}, {"myid", v->myid}, {"client", c.client.address}});
      if (v->me() < 0) {
        c.server.log().Log(Logger::kWarning,
                           "cluster: this node is not in the slot map (no line has its id, or "
                           "its port and address): it serves no slot. Set cluster-announce-ip, "
                           "or CLUSTERX SETNODEID, or correct the map",
                           {{"port", std::to_string(c.server.bound_port)}});
      }
    }
    return Ok(c);
  }
  if (sub == "setslot" && argc >= 6) {
    // CLUSTERX SETSLOT slots NODE id version: version is exactly the current one plus one.
    const auto v = cluster.view();
    if (!IEquals(c.args[argc - 3], "node")) return Err(c, "ERR Invalid setslot options");
    const std::string id(c.args[argc - 2]);
    if (id.size() != 40) return Err(c, "ERR Invalid node id");
    int64_t version;
    if (!ParseInt(c.args[argc - 1], &version) || version < 0) return Err(c, "ERR Invalid version");
    if (version != v->version + 1 || version == 0) return Err(c, "ERR Invalid cluster version");
    const int n = v->FindNode(id);
    if (n < 0) return Err(c, "ERR No this node in the cluster");
    if (!v->nodes[size_t(n)].master) return Err(c, "ERR The node isn't a master");
    std::vector<int> slots;
    for (size_t i = 2; i < argc - 3; i++) {
      const std::string_view a = c.args[i];
      const size_t dash = a.find('-');
      int first, last;
      if (!ParseSlot(c, a.substr(0, dash), &first)) return;
      last = first;
      if (dash != std::string_view::npos && !ParseSlot(c, a.substr(dash + 1), &last)) return;
      if (first > last) return Err(c, "ERR Invalid or out of range slot");
      for (int s = first; s <= last; s++) slots.push_back(s);
    }
    return ChangeMap(c, true, [&](ClusterView* m) {
      for (int s : slots) {
        m->owner[size_t(s)] = static_cast<int16_t>(n);
        m->migrating.erase(s);
        m->importing.erase(s);
      }
      return std::string();
    });
  }
  Err(c, "ERR CLUSTERX command, CLUSTERX VERSION|MYID|SETNODEID|SETNODES|SETSLOT");
}

// ---- Per connection --------------------------------------------------------------------

void Asking(CommandContext& c) {
  if (ClusterOff(c)) return;
  c.client.asking = true;
  Ok(c);
}

void ReadOnly(CommandContext& c) {
  if (ClusterOff(c)) return;
  c.client.cluster_readonly = true;
  Ok(c);
}

void ReadWrite(CommandContext& c) {
  if (ClusterOff(c)) return;
  c.client.cluster_readonly = false;
  Ok(c);
}

}  // namespace

std::span<const CommandSpec> ClusterCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"cluster", -2, 0, 0, 0, 0, ClusterCmd},
      {"clusterx", -2, kCmdAdmin, 0, 0, 0, ClusterX},
      {"asking", 1, kCmdFast, 0, 0, 0, Asking},
      {"readonly", 1, kCmdFast, 0, 0, 0, ReadOnly},
      {"readwrite", 1, kCmdFast, 0, 0, 0, ReadWrite},
  };
  return kRows;
}

}  // namespace bitcask::server
