#include "server/cluster.h"

#include <cstdio>
#include <cstring>
#include <fstream>

#include "server/command.h"
#include "server/keyspace.h"
#include "util/file.h"
#include "util/hash.h"

namespace bitcask::server {

// ---- Slots ------------------------------------------------------------------------------

namespace {

constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (unsigned i = 0; i < 256; i++) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int b = 0; b < 8; b++) {
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') i++;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') i++;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool IsNodeId(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool ParseNumber(std::string_view s, int64_t max, int64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

}  // namespace

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (unsigned char b : data) {
    crc = static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ b) & 0xff]);
  }
  return crc;
}

int KeyHashSlot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close != open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) & (kClusterSlots - 1);
}

// ---- The map ----------------------------------------------------------------------------

int ClusterView::FindNode(std::string_view id) const {
  if (id.empty()) return -1;
  for (size_t i = 0; i < nodes.size(); i++) {
    if (nodes[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

int ClusterView::MasterOfMe() const {
  const int i = me();
  if (i < 0 || nodes[size_t(i)].master) return i;
  return FindNode(nodes[size_t(i)].master_id);
}

void ClusterView::Finalize() {
  me_ = FindNode(myid);
  all_assigned_ = true;
  for (int16_t o : owner) all_assigned_ &= o >= 0;
}

bool ClusterView::StateOk(bool require_full_coverage) const {
  return me() >= 0 && (!require_full_coverage || AllSlotsAssigned());
}

Status ClusterView::ParseNodes(std::string_view text, ClusterView* out) {
  auto bad = [](const std::string& why) { return Status::InvalidArgument(why); };
  std::vector<ClusterNode> nodes;
  std::array<int16_t, kClusterSlots> owner;
  owner.fill(-1);
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::vector<std::string_view> f = Fields(line);
    if (f.empty()) continue;
    if (f.size() < 5) return bad("Invalid cluster nodes info");
    ClusterNode n;
    if (f[0].size() != 40) return bad("Invalid cluster node id");
    n.id = f[0];
    n.host = f[1];
    int64_t port;
    if (!ParseNumber(f[2], 65535, &port)) return bad("Invalid cluster node port");
    n.port = static_cast<int>(port);
    if (IEquals(f[3], "master")) {
      n.master = true;
    } else if (IEquals(f[3], "slave") || IEquals(f[3], "replica")) {
      n.master = false;
    } else {
      return bad("Invalid cluster node role");
    }
    if (n.master) {
      if (f[4] != "-") return bad("Invalid cluster node id");
    } else {
      if (f[4].size() != 40) return bad("Invalid cluster node id");
      if (f.size() != 5) return bad("Invalid cluster nodes info");
      n.master_id = f[4];
    }
    for (const ClusterNode& other : nodes) {
      if (other.id == n.id) return bad("Invalid cluster nodes info: node " + n.id + " twice");
    }
    const int16_t index = static_cast<int16_t>(nodes.size());
    for (size_t i = 5; i < f.size(); i++) {
      if (IsNodeId(f[i]))
        return bad("Invalid nodes definition: Missing newline between node entries.");
      const size_t dash = f[i].find('-');
      int64_t first, last;
      if (dash == std::string_view::npos) {
        if (!ParseNumber(f[i], kClusterSlots - 1, &first)) return bad("Slot is out of range");
        last = first;
      } else if (!ParseNumber(f[i].substr(0, dash), kClusterSlots - 1, &first) ||
                 !ParseNumber(f[i].substr(dash + 1), kClusterSlots - 1, &last) || first > last) {
        return bad("Slot is out of range");
      }
      for (int64_t s = first; s <= last; s++) {
        if (owner[size_t(s)] >= 0) return bad("Slot distribution is overlapped");
        owner[size_t(s)] = index;
      }
    }
    nodes.push_back(std::move(n));
    if (nodes.size() > 4096) return bad("Invalid cluster nodes info: more than 4096 nodes");
  }
  for (const ClusterNode& n : nodes) {
    if (n.master) continue;
    bool found = false;
    for (const ClusterNode& m : nodes) found |= m.master && m.id == n.master_id;
    if (!found) {
      return bad("Invalid cluster nodes info: " + n.id + " replicates " + n.master_id +
                 ", which is not a master of the map");
    }
  }
  out->nodes = std::move(nodes);
  out->owner = owner;
  return Status::OK();
}

std::vector<ClusterView::SlotRun> ClusterView::Runs() const {
  std::vector<SlotRun> runs;
  for (int s = 0; s < kClusterSlots; s++) {
    const int o = owner[size_t(s)];
    if (o < 0) continue;
    int e = s;
    while (e + 1 < kClusterSlots && owner[size_t(e + 1)] == o) e++;
    runs.push_back({s, e, o});
    s = e;
  }
  return runs;
}

std::string ClusterView::SlotRanges(int i) const {
  std::string out;
  for (const SlotRun& r : Runs()) {
    if (r.owner != i) continue;
    if (!out.empty()) out += ' ';
    out += std::to_string(r.first);
    if (r.last > r.first) out += "-" + std::to_string(r.last);
  }
  return out;
}

std::string ClusterView::NodesText() const {
  std::string out;
  for (size_t i = 0; i < nodes.size(); i++) {
    const ClusterNode& n = nodes[i];
    out += n.id + " " + n.host + " " + std::to_string(n.port) + " " +
           (n.master ? "master -" : "slave " + n.master_id);
    const std::string slots = SlotRanges(static_cast<int>(i));
    if (!slots.empty()) out += " " + slots;
    out += "\n";
  }
  return out;
}

// ---- The key index ----------------------------------------------------------------------

uint32_t SlotKeys::Header(size_t at) const {
  uint32_t h;
  std::memcpy(&h, arena_.data() + at, 4);
  return h;
}

size_t SlotKeys::Find(std::string_view key, uint64_t hash) const {
  if (table_.empty()) return SIZE_MAX;
  const uint64_t tag = hash >> 32;
  const size_t mask = table_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint64_t e = table_[i];
    if (e == kEmpty) return SIZE_MAX;
    if (e != kTombstone && (e >> 32) == tag) {
      const size_t at = (e & 0xffffffffu) - 2;
      const uint32_t header = Header(at);
      if ((header & ~kRemoved) == key.size() &&
          std::memcmp(arena_.data() + at + 4, key.data(), key.size()) == 0) {
        return i;
      }
    }
  }
}

void SlotKeys::Rebuild(size_t keys) {
  size_t cap = 8;
  while (cap * 3 < (keys + 1) * 4) cap *= 2;  // at most 3/4 full
  std::string arena;
  arena.reserve(arena_.size() - removed_bytes_);
  std::vector<uint64_t> table(cap, kEmpty);
  ForEach([&](std::string_view k) {
    const uint64_t hash = util::HashKey(k);
    size_t i = hash & (cap - 1);
    while (table[i] != kEmpty) i = (i + 1) & (cap - 1);
    table[i] = ((hash >> 32) << 32) | (arena.size() + 2);
    const uint32_t header = static_cast<uint32_t>(k.size());
    arena.append(reinterpret_cast<const char*>(&header), 4);
    arena.append(k);
    return true;
  });
  arena_ = std::move(arena);
  table_ = std::move(table);
  used_ = live_;
  removed_bytes_ = 0;
}

void SlotKeys::Add(std::string_view key, uint64_t hash) {
  if (Find(key, hash) != SIZE_MAX) return;
  if ((used_ + 1) * 4 > table_.size() * 3) Rebuild(live_ + 1);
  if (arena_.size() + 4 + key.size() >= 0xfffffff0u) Rebuild(live_ + 1);  // removed bytes out
  const size_t mask = table_.size() - 1;
  size_t i = hash & mask;
  while (table_[i] != kEmpty && table_[i] != kTombstone) i = (i + 1) & mask;
  if (table_[i] == kEmpty) used_++;
  table_[i] = ((hash >> 32) << 32) | (arena_.size() + 2);
  const uint32_t header = static_cast<uint32_t>(key.size());
  arena_.append(reinterpret_cast<const char*>(&header), 4);
  arena_.append(key);
  live_++;
}

void SlotKeys::Remove(std::string_view key, uint64_t hash) {
  const size_t i = Find(key, hash);
  if (i == SIZE_MAX) return;
  const size_t at = (table_[i] & 0xffffffffu) - 2;
  const uint32_t header = Header(at) | kRemoved;
  std::memcpy(arena_.data() + at, &header, 4);
  table_[i] = kTombstone;
  live_--;
  removed_bytes_ += 4 + key.size();
  if (live_ == 0) {
    std::string().swap(arena_);
    std::vector<uint64_t>().swap(table_);
    used_ = 0;
    removed_bytes_ = 0;
  } else if (removed_bytes_ > 4096 && removed_bytes_ * 2 > arena_.size()) {
    Rebuild(live_);
  }
}

void SlotIndex::Clear() {
  std::lock_guard l(mu_);
  {
    std::lock_guard p(pending_mu_);
    pending_ = Pending();
    pending_count_ = 0;
  }
  for (SlotKeys& s : slots_) s = SlotKeys();
}

void SlotIndex::Note(std::string_view key, bool removed) {
  size_t waiting;
  {
    std::lock_guard l(pending_mu_);
    pending_.ops.emplace_back(pending_.bytes.size(), key.size() | (removed ? kRemovedBit : 0));
    pending_.bytes.append(key);
    waiting = pending_.ops.size();
    pending_count_.store(waiting, std::memory_order_relaxed);
  }
  if (waiting >= kPendingMax) Drain(kPendingMax);
}

void SlotIndex::ApplyLocked(const Pending& batch) {
  // In groups: the slot and hash of each key first, with the table entries it will probe
  // prefetched, so that the groups' cache misses overlap.
  constexpr size_t kGroup = 16;
  size_t slot[kGroup];
  uint64_t hash[kGroup];
  for (size_t first = 0; first < batch.ops.size(); first += kGroup) {
    const size_t n = std::min(kGroup, batch.ops.size() - first);
    for (size_t i = 0; i < n; i++) {
      const auto [at, len] = batch.ops[first + i];
      const std::string_view key(batch.bytes.data() + at, len & ~kRemovedBit);
      slot[i] = size_t(KeyHashSlot(key));
      hash[i] = util::HashKey(key);
      slots_[slot[i]].Prefetch(hash[i]);
    }
    for (size_t i = 0; i < n; i++) {
      const auto [at, len] = batch.ops[first + i];
      const std::string_view key(batch.bytes.data() + at, len & ~kRemovedBit);
      if (len & kRemovedBit) {
        slots_[slot[i]].Remove(key, hash[i]);
      } else {
        slots_[slot[i]].Add(key, hash[i]);
      }
    }
  }
}

void SlotIndex::DrainLocked() {
  Pending batch;
  {
    std::lock_guard p(pending_mu_);
    std::swap(batch, pending_);
    pending_count_.store(0, std::memory_order_relaxed);
  }
  ApplyLocked(batch);
}

void SlotIndex::Drain(size_t min) {
  if (pending_count_.load(std::memory_order_relaxed) < min) return;
  std::unique_lock l(mu_, std::try_to_lock);
  if (!l.owns_lock()) return;  // another thread is at it
  DrainLocked();
}

uint64_t SlotIndex::Count(int slot) {
  std::lock_guard l(mu_);
  DrainLocked();
  return slots_[size_t(slot)].size();
}

uint64_t SlotIndex::TotalKeys() {
  std::lock_guard l(mu_);
  DrainLocked();
  uint64_t n = 0;
  for (const SlotKeys& s : slots_) n += s.size();
  return n;
}

uint64_t SlotIndex::MemoryBytes() {
  std::lock_guard l(mu_);
  DrainLocked();
  uint64_t n = sizeof(slots_);
  for (const SlotKeys& s : slots_) n += s.memory();
  return n;
}

std::vector<std::string> SlotIndex::Keys(int slot, size_t n, Keyspace& store) {
  // Keys the store no longer serves (expired, not yet dropped by its sweep) are skipped, not
  // removed here: a write of the same key may have been noted meanwhile, and only the
  // listener's order says which came last. Asking the store under mu_ is safe: the listener
  // never waits for mu_ (it only notes, and drains with try_lock).
  std::vector<std::string> out;
  if (n == 0) return out;
  std::lock_guard l(mu_);
  DrainLocked();
  slots_[size_t(slot)].ForEach([&](std::string_view k) {
    if (store.Contains(k).ok()) out.emplace_back(k);
    return out.size() < n;
  });
  return out;
}

// ---- Cluster ----------------------------------------------------------------------------

void Cluster::Enable(std::string config_file, std::string announce_host) {
  enabled_ = true;
  file_ = std::move(config_file);
  announce_host_ = std::move(announce_host);
}

std::shared_ptr<const ClusterView> Cluster::view() const {
  std::lock_guard l(mu_);
  return view_;
}

void Cluster::PublishLocked(std::shared_ptr<ClusterView> v) {
  v->Finalize();
  view_ = std::move(v);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void Cluster::IdentifyLocked(ClusterView* v) const {
  if (v->FindNode(v->myid) >= 0) return;
  int by_port = -1, matches = 0;
  for (size_t i = 0; i < v->nodes.size(); i++) {
    const ClusterNode& n = v->nodes[i];
    if (n.port != port_) continue;
    if (!announce_host_.empty() && n.host == announce_host_) {
      v->myid = n.id;
      return;
    }
    by_port = static_cast<int>(i);
    matches++;
  }
  if (matches == 1 && v->myid.empty()) v->myid = v->nodes[size_t(by_port)].id;
}

Status Cluster::Load(int port) {
  {
    std::lock_guard l(mu_);
    port_ = port;
  }
  std::ifstream in(file_);
  if (!in) return Status::OK();  // no map yet
  auto v = std::make_shared<ClusterView>();
  std::string line, nodes_text;
  int line_no = 0;
  auto bad = [&](const std::string& why) {
    return Status::Corruption(file_ + ":" + std::to_string(line_no) + ": " + why);
  };
  std::vector<std::pair<std::string, std::string>> open_slots;  // "migrating 12", id
  while (std::getline(in, line)) {
    line_no++;
    const std::vector<std::string_view> f = Fields(line);
    if (f.empty() || f[0][0] == '#') continue;
    if (f[0] == "version" && f.size() == 2) {
      int64_t version;
      if (!ParseNumber(f[1], INT64_MAX / 10, &version)) return bad("bad version");
      v->version = version;
    } else if (f[0] == "myid" && f.size() == 2) {
      v->myid = f[1];
    } else if (f[0] == "node") {
      nodes_text += line.substr(line.find("node") + 4) + "\n";
    } else if ((f[0] == "migrating" || f[0] == "importing") && f.size() == 3) {
      open_slots.emplace_back(std::string(f[0]) + " " + std::string(f[1]), std::string(f[2]));
    } else {
      return bad("unknown line '" + line + "'");
    }
  }
  if (Status s = ClusterView::ParseNodes(nodes_text, v.get()); !s.ok()) {
    return Status::Corruption(file_ + ": " + s.ToString());
  }
  for (const auto& [what, id] : open_slots) {
    int64_t slot;
    if (!ParseNumber(what.substr(10), kClusterSlots - 1, &slot)) return bad("bad slot " + what);
    (what[0] == 'm' ? v->migrating : v->importing)[int(slot)] = id;
  }
  std::lock_guard l(mu_);
  IdentifyLocked(v.get());
  PublishLocked(std::move(v));
  return Status::OK();
}

Status Cluster::SaveLocked(const ClusterView& v) const {
  std::string text =
      "# bitcask-server's cluster map (CLUSTERX SETNODES, CLUSTER SETSLOT); written by the "
      "server\n";
  text += "version " + std::to_string(v.version) + "\n";
  if (!v.myid.empty()) text += "myid " + v.myid + "\n";
  const std::string nodes = v.NodesText();
  size_t pos = 0;
  while (pos < nodes.size()) {
    const size_t end = nodes.find('\n', pos);
    text += "node " + nodes.substr(pos, end - pos) + "\n";
    pos = end + 1;
  }
  for (const auto& [slot, id] : v.migrating)
    text += "migrating " + std::to_string(slot) + " " + id + "\n";
  for (const auto& [slot, id] : v.importing)
    text += "importing " + std::to_string(slot) + " " + id + "\n";
  // A crash leaves the old map or the new one.
  return util::ReplaceFile(file_, text);
}

Status Cluster::Save() const {
  std::lock_guard l(mu_);
  if (view_->version < 0) return Status::OK();
  return SaveLocked(*view_);
}

std::string Cluster::SetNodes(std::string_view text, int64_t version, bool force, bool* changed) {
  *changed = false;
  auto next = std::make_shared<ClusterView>();
  if (Status s = ClusterView::ParseNodes(text, next.get()); !s.ok()) {
    return "ERR " + std::string(s.message());
  }
  std::lock_guard l(mu_);
  if (!force && version < view_->version) return "ERR Invalid cluster version";
  if (!force && version == view_->version) return "";
  next->version = version;
  next->myid = view_->myid;
  IdentifyLocked(next.get());
  if (Status s = SaveLocked(*next); !s.ok()) return "ERR the map was not saved: " + s.ToString();
  PublishLocked(std::move(next));
  *changed = true;
  return "";
}

std::string Cluster::Change(bool bump, const std::function<std::string(ClusterView*)>& f) {
  std::lock_guard l(mu_);
  auto next = std::make_shared<ClusterView>(*view_);
  if (std::string error = f(next.get()); !error.empty()) return error;
  if (bump) next->version = std::max<int64_t>(next->version, 0) + 1;
  IdentifyLocked(next.get());
  if (Status s = SaveLocked(*next); !s.ok()) return "ERR the map was not saved: " + s.ToString();
  PublishLocked(std::move(next));
  return "";
}

Status Cluster::Rebuild(Keyspace& store) {
  index_.Clear();
  std::vector<std::string> keys;
  if (Status s = store.Keys(&keys); !s.ok()) return s;
  for (const std::string& k : keys) index_.Add(k);
  return Status::OK();
}

void Cluster::OnCommit(std::span<const CommittedWrite> writes) {
  for (const CommittedWrite& w : writes) {
    if (w.kind == CommittedWrite::Kind::kPut) {
      index_.Add(w.key);
    } else {
      index_.Remove(w.key);
    }
  }
}

}  // namespace bitcask::server
