// Publish/subscribe across every connection of the server, as Redis's pubsub.c: channels and
// glob patterns, messages in RESP2's shapes (["message", channel, payload], ["pmessage",
// pattern, channel, payload]). Redis Sentinel finds the other Sentinels through a channel
// (__sentinel__:hello) on the servers it watches, so without this no failover happens.

#ifndef BITCASK_SERVER_PUBSUB_H_
#define BITCASK_SERVER_PUBSUB_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "server/clients.h"

namespace bitcask::server {

class PubSub {
 public:
  void Subscribe(std::string_view channel, const std::shared_ptr<ClientHandle>& client);
  void Unsubscribe(std::string_view channel, uint64_t client);
  void PSubscribe(std::string_view pattern, const std::shared_ptr<ClientHandle>& client);
  void PUnsubscribe(std::string_view pattern, uint64_t client);
  // Sends message to every subscriber of channel and of a pattern it matches; returns how
  // many messages went out (a client subscribed both ways gets two).
  int64_t Publish(std::string_view channel, std::string_view message);

  // PUBSUB CHANNELS [pattern], NUMSUB channel..., NUMPAT.
  std::vector<std::string> Channels(std::string_view pattern) const;
  int64_t NumSub(std::string_view channel) const;
  int64_t NumPat() const;

 private:
  using Subscribers = std::map<uint64_t, std::weak_ptr<ClientHandle>>;
  using ByName = std::map<std::string, Subscribers, std::less<>>;
  // Adds client under name in `map` / takes it away (the name goes with its last client).
  void Add(ByName& map, std::string_view name, const std::shared_ptr<ClientHandle>& client);
  void Remove(ByName& map, std::string_view name, uint64_t client);

  mutable std::mutex mu_;
  ByName channels_;  // guarded by mu_
  ByName patterns_;  // guarded by mu_
};

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_PUBSUB_H_
