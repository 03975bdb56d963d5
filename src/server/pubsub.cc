#include "server/pubsub.h"

#include <algorithm>

#include "server/glob.h"
#include "server/resp.h"

namespace bitcask::server {

void ClientRegistry::Add(const std::shared_ptr<ClientHandle>& client) {
  std::lock_guard l(mu_);
  clients_[client->id()] = client;
}

void ClientRegistry::Remove(uint64_t id) {
  std::lock_guard l(mu_);
  clients_.erase(id);
}

std::shared_ptr<ClientHandle> ClientRegistry::Find(uint64_t id) const {
  std::lock_guard l(mu_);
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.lock();
}

std::vector<std::shared_ptr<ClientHandle>> ClientRegistry::All() const {
  std::vector<std::shared_ptr<ClientHandle>> out;
  {
    std::lock_guard l(mu_);
    for (const auto& [id, weak] : clients_) {
      if (auto c = weak.lock()) out.push_back(std::move(c));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->id() < b->id(); });
  return out;
}

void PubSub::Add(ByName& map, std::string_view name, const std::shared_ptr<ClientHandle>& client) {
  std::lock_guard l(mu_);
  auto it = map.find(name);
  if (it == map.end()) it = map.emplace(std::string(name), Subscribers()).first;
  it->second[client->id()] = client;
}

void PubSub::Remove(ByName& map, std::string_view name, uint64_t client) {
  std::lock_guard l(mu_);
  auto it = map.find(name);
  if (it == map.end()) return;
  it->second.erase(client);
  if (it->second.empty()) map.erase(it);
}

void PubSub::Subscribe(std::string_view channel, const std::shared_ptr<ClientHandle>& client) {
  Add(channels_, channel, client);
}

void PubSub::Unsubscribe(std::string_view channel, uint64_t client) {
  Remove(channels_, channel, client);
}

void PubSub::PSubscribe(std::string_view pattern, const std::shared_ptr<ClientHandle>& client) {
  Add(patterns_, pattern, client);
}

void PubSub::PUnsubscribe(std::string_view pattern, uint64_t client) {
  Remove(patterns_, pattern, client);
}

int64_t PubSub::Publish(std::string_view channel, std::string_view message) {
  std::vector<std::pair<std::shared_ptr<ClientHandle>, std::string>> sends;
  {
    std::lock_guard l(mu_);
    if (auto it = channels_.find(channel); it != channels_.end()) {
      std::string msg;
      reply::ArrayHeader(&msg, 3);
      reply::Bulk(&msg, "message");
      reply::Bulk(&msg, channel);
      reply::Bulk(&msg, message);
      for (const auto& [id, weak] : it->second) {
        if (auto c = weak.lock()) sends.emplace_back(std::move(c), msg);
      }
    }
    for (const auto& [pattern, subscribers] : patterns_) {
      if (!GlobMatch(pattern, channel)) continue;
      std::string msg;
      reply::ArrayHeader(&msg, 4);
      reply::Bulk(&msg, "pmessage");
      reply::Bulk(&msg, pattern);
      reply::Bulk(&msg, channel);
      reply::Bulk(&msg, message);
      for (const auto& [id, weak] : subscribers) {
        if (auto c = weak.lock()) sends.emplace_back(std::move(c), msg);
      }
    }
  }
  for (auto& [client, msg] : sends) client->Push(std::move(msg));  // outside the lock
  return static_cast<int64_t>(sends.size());
}

std::vector<std::string> PubSub::Channels(std::string_view pattern) const {
  std::lock_guard l(mu_);
  std::vector<std::string> out;
  for (const auto& [channel, subscribers] : channels_) {
    if (pattern.empty() || GlobMatch(pattern, channel)) out.push_back(channel);
  }
  return out;
}

int64_t PubSub::NumSub(std::string_view channel) const {
  std::lock_guard l(mu_);
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

int64_t PubSub::NumPat() const {
  std::lock_guard l(mu_);
  return static_cast<int64_t>(patterns_.size());
}

}  // namespace bitcask::server
