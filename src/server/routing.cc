// Cluster mode's routing (Redis's getNodeByQuery and clusterRedirectClient in cluster.c):
// which node serves a command's keys, and the redirect a client gets when it is not this one.

#include "server/dispatch.h"

namespace bitcask::server {

const ClusterView& ClientView(ServerState& server, Client& client) {
  const uint64_t g = server.cluster().generation();
  if (client.cluster_view == nullptr || client.cluster_generation != g) {
    client.cluster_view = server.cluster().view();
    client.cluster_generation = g;
  }
  return *client.cluster_view;
}

bool ServesPlainly(ServerState& server, Client& client, std::string_view key) {
  const ClusterView& v = ClientView(server, client);
  const int slot = KeyHashSlot(key);
  const int me = v.me();
  return me >= 0 && v.owner[size_t(slot)] == me && v.migrating.empty() && v.importing.empty() &&
         v.StateOk(server.cluster_require_full_coverage_now());
}

namespace {

void Redirect(std::string* out, const char* kind, int slot, const ClusterNode& n) {
  reply::Error(out, std::string(kind) + " " + std::to_string(slot) + " " + n.host + ":" +
                        std::to_string(n.port));
}

}  // namespace

bool RouteToSlot(ServerState& server, Client& client, const CommandSpec& spec, const Args& args,
                 std::string* out) {
  const ClusterView& v = ClientView(server, client);
  // The keys to look at: the command's, or for EXEC those of every queued command.
  thread_local std::vector<std::string_view> keys;
  keys.clear();
  bool writes = (spec.flags & kCmdWrite) != 0;
  const std::string_view name(spec.name);
  if (name == "exec") {
    if (!client.tx.active) return true;  // EXEC's own error
    for (const std::vector<std::string>& queued : client.tx.queued) {
      const int idx = FindCommand(queued[0]);
      if (idx < 0) continue;
      const CommandSpec& q = AllCommands()[size_t(idx)];
      writes |= (q.flags & kCmdWrite) != 0;
      // Views of the queued strings, which outlive this call.
      const Args qargs(queued.begin(), queued.end());
      AddCommandKeys(q, qargs, &keys);
    }
  } else {
    AddCommandKeys(spec, args, &keys);
  }
  if (keys.empty()) return true;

  const int me = v.me();
  int slot = -1, owner = -1;
  bool migrating = false, importing = false, multiple_keys = false;
  int missing = 0, existing = 0;
  for (size_t i = 0; i < keys.size(); i++) {
    const int s = KeyHashSlot(keys[i]);
    if (i == 0) {
      slot = s;
      owner = v.owner[size_t(s)];
      if (owner < 0) {
        reply::Error(out, "CLUSTERDOWN Hash slot not served");
        return false;
      }
      if (owner == me && v.migrating.count(s)) {
        migrating = true;
      } else if (v.importing.count(s)) {
        importing = true;
      }
    } else if (keys[i] != keys[0]) {
      if (s != slot) {
        reply::Error(out, "CROSSSLOT Keys in request don't hash to the same slot");
        return false;
      }
      multiple_keys = true;
    }
    if (migrating || importing) {
      (server.keyspace().Contains(keys[i]).ok() ? existing : missing)++;
    }
  }
  if (!v.StateOk(server.cluster_require_full_coverage_now())) {
    reply::Error(out, "CLUSTERDOWN The cluster is down");
    return false;
  }
  if (name == "migrate" && (migrating || importing)) return true;
  if (migrating && missing > 0) {
    if (existing > 0) {
      reply::Error(out, "TRYAGAIN Multiple keys request during rehashing of slot");
      return false;
    }
    const int target = v.FindNode(v.migrating.at(slot));
    if (target >= 0) {
      Redirect(out, "ASK", slot, v.nodes[size_t(target)]);
      return false;
    }
  }
  if (importing && (client.asking || (spec.flags & kCmdAsking))) {
    if (multiple_keys && missing > 0) {
      reply::Error(out, "TRYAGAIN Multiple keys request during rehashing of slot");
      return false;
    }
    return true;
  }
  // A replica serves reads of its master's slots to a READONLY client.
  if (client.cluster_readonly && !writes && me >= 0 && !v.nodes[size_t(me)].master &&
      v.nodes[size_t(owner)].id == v.nodes[size_t(me)].master_id) {
    return true;
  }
  if (owner != me) {
    Redirect(out, "MOVED", slot, v.nodes[size_t(owner)]);
    return false;
  }
  return true;
}

std::string HttpRoute(ServerState& server, const std::vector<std::string>& args) {
  Client client;
  client.authenticated = true;
  const CommandSpec& spec = AllCommands()[size_t(FindCommand(args[0]))];
  const Args views(args.begin(), args.end());
  std::string out;
  if (RouteToSlot(server, client, spec, views, &out)) return "";
  return out.substr(1, out.size() - 3);  // the text between '-' and CRLF
}

}  // namespace bitcask::server
