// SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB (Redis's pubsub.c). A
// subscribed RESP2 client may run only these, PING and QUIT (dispatch.cc checks that).

#include "server/command.h"
#include "server/replication.h"

namespace bitcask::server {

namespace {

// ["subscribe", channel, count] and its kin.
void Confirm(CommandContext& c, std::string_view kind, std::string_view name, bool null_name) {
  reply::ArrayHeader(c.out, 3);
  reply::Bulk(c.out, kind);
  if (null_name) {
    reply::Null(c.out);
  } else {
    reply::Bulk(c.out, name);
  }
  reply::Integer(c.out, static_cast<int64_t>(c.client.channels.size() + c.client.patterns.size()));
}

std::shared_ptr<ClientHandle> Handle(CommandContext& c) { return c.client.handle.lock(); }

// SUBSCRIBE channel ... / PSUBSCRIBE pattern ...
void SubscribeGeneric(CommandContext& c, bool patterns) {
  auto self = Handle(c);
  auto& mine = patterns ? c.client.patterns : c.client.channels;
  for (size_t i = 1; i < c.args.size(); i++) {
    if (self && mine.emplace(c.args[i]).second) {
      if (patterns) {
        c.server.pubsub().PSubscribe(c.args[i], self);
      } else {
        c.server.pubsub().Subscribe(c.args[i], self);
      }
    }
    Confirm(c, patterns ? "psubscribe" : "subscribe", c.args[i], false);
  }
}

void Subscribe(CommandContext& c) { SubscribeGeneric(c, false); }
void PSubscribe(CommandContext& c) { SubscribeGeneric(c, true); }

// UNSUBSCRIBE [channel ...] / PUNSUBSCRIBE [pattern ...]: every one if none named.
void UnsubscribeGeneric(CommandContext& c, bool patterns) {
  auto& mine = patterns ? c.client.patterns : c.client.channels;
  const char* kind = patterns ? "punsubscribe" : "unsubscribe";
  std::vector<std::string> names;
  if (c.args.size() == 1) {
    names.assign(mine.begin(), mine.end());
    if (names.empty()) return Confirm(c, kind, "", /*null_name=*/true);
  } else {
    names.assign(c.args.begin() + 1, c.args.end());
  }
  for (const std::string& name : names) {
    if (mine.erase(name) > 0) {
      if (patterns) {
        c.server.pubsub().PUnsubscribe(name, c.client.id);
      } else {
        c.server.pubsub().Unsubscribe(name, c.client.id);
      }
    }
    Confirm(c, kind, name, false);
  }
}
void Unsubscribe(CommandContext& c) { UnsubscribeGeneric(c, false); }
void PUnsubscribe(CommandContext& c) { UnsubscribeGeneric(c, true); }

// PUBLISH channel message: to this server's subscribers, and into the replication stream
// (Redis replicates PUBLISH: a replica's subscribers get it too).
void Publish(CommandContext& c) {
  const int64_t receivers = c.server.pubsub().Publish(c.args[1], c.args[2]);
  if (!c.client.is_master) {
    std::string command;
    reply::Command(&command, {"PUBLISH", c.args[1], c.args[2]});
    c.server.replication().Propagate(command);
  }
  reply::Integer(c.out, receivers);
}

// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT
void PubSubCmd(CommandContext& c) {
  const std::string sub = Lower(c.args[1]);
  PubSub& ps = c.server.pubsub();
  if (sub == "channels" && c.args.size() <= 3) {
    const auto channels = ps.Channels(c.args.size() == 3 ? c.args[2] : std::string_view());
    reply::ArrayHeader(c.out, channels.size());
    for (const auto& ch : channels) reply::Bulk(c.out, ch);
    return;
  }
  if (sub == "numsub") {
    reply::ArrayHeader(c.out, (c.args.size() - 2) * 2);
    for (size_t i = 2; i < c.args.size(); i++) {
      reply::Bulk(c.out, c.args[i]);
      reply::Integer(c.out, ps.NumSub(c.args[i]));
    }
    return;
  }
  if (sub == "numpat" && c.args.size() == 2) return reply::Integer(c.out, ps.NumPat());
  if (sub == "channels" || sub == "numpat") return SubcommandArity(c);
  UnknownSubcommand(c);
}

}  // namespace

std::span<const CommandSpec> PubSubCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"subscribe", -2, kCmdSubscribed, 0, 0, 0, Subscribe},
      {"unsubscribe", -1, kCmdSubscribed, 0, 0, 0, Unsubscribe},
      {"psubscribe", -2, kCmdSubscribed, 0, 0, 0, PSubscribe},
      {"punsubscribe", -1, kCmdSubscribed, 0, 0, 0, PUnsubscribe},
      {"publish", 3, kCmdFast, 0, 0, 0, Publish},
      {"pubsub", -2, 0, 0, 0, 0, PubSubCmd},
  };
  return kRows;
}

}  // namespace bitcask::server
