// MULTI / EXEC / DISCARD / WATCH / UNWATCH (Redis's multi.c).

#include "server/command.h"
#include "server/dispatch.h"
#include "server/transaction.h"

namespace bitcask::server {

namespace {

// MULTI queues the commands that follow; EXEC runs them with the stripes of every key they
// name (and every watched key) held, so no other client's write of those keys comes between
// them, and answers with the array of their replies. WATCH makes EXEC answer a null array,
// running nothing, if a watched key was written since.

void Multi(CommandContext& c) {
  if (c.client.tx.active) return Err(c, "ERR MULTI calls can not be nested");
  c.client.tx.active = true;
  Ok(c);
}

void Discard(CommandContext& c) {
  if (!c.client.tx.active) return Err(c, "ERR DISCARD without MULTI");
  c.client.tx = Transaction();
  Ok(c);
}

void Watch(CommandContext& c) {
  if (c.client.tx.active) return Err(c, "ERR WATCH inside MULTI is not allowed");
  for (size_t i = 1; i < c.args.size(); i++) {
    c.client.tx.watched.emplace_back(std::string(c.args[i]),
                                     c.server.key_locks().Version(c.args[i]));
  }
  Ok(c);
}

void Unwatch(CommandContext& c) {
  c.client.tx.watched.clear();
  Ok(c);
}

void Exec(CommandContext& c) {
  if (!c.client.tx.active) return Err(c, "ERR EXEC without MULTI");
  Transaction tx = std::move(c.client.tx);
  c.client.tx = Transaction();
  if (tx.failed) {
    return Err(c, "EXECABORT Transaction discarded because of previous errors.");
  }
  std::vector<Args> commands(tx.queued.size());
  std::vector<std::string_view> keys;
  for (size_t i = 0; i < tx.queued.size(); i++) {
    for (const std::string& a : tx.queued[i]) commands[i].push_back(a);
    AddCommandKeys(AllCommands()[size_t(FindCommand(commands[i][0]))], commands[i], &keys);
  }
  for (const auto& [key, version] : tx.watched) keys.push_back(key);
  KeyLocks::Guard lock(&c.server.key_locks(), keys, KeyLocks::Guard::Kind::kExec);
  for (const auto& [key, version] : tx.watched) {
    if (c.server.key_locks().Version(key) != version) return reply::NullArray(c.out);
  }
  // The commands run on a view of the store that keeps their writes; one batch writes them
  // all at the end (see server/transaction.h), before the replies go out.
  TransactionView view(&c.keyspace);
  std::string replies;
  for (const Args& args : commands) DispatchInExec(c.server, c.client, view, args, &replies);
  if (Status s = view.Commit(); !s.ok()) {
    return StoreError(c, s, "EXEC wrote nothing of the transaction: ");
  }
  // Watchers see the change now that it is in the store (the versions the commands' own
  // guards bumped changed before it was; a WATCH between those bumps and the commit read
  // the old value with the new version). The stripes are still held.
  view.ForEachWrittenKey([&](std::string_view key) { c.server.key_locks().Touch(key); });
  reply::ArrayHeader(c.out, commands.size());
  c.out->append(replies);
}

}  // namespace

std::span<const CommandSpec> MultiCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"multi", 1, kCmdFast | kCmdNoQueue, 0, 0, 0, Multi},
      {"exec", 1, kCmdNoQueue, 0, 0, 0, Exec},
      {"discard", 1, kCmdFast | kCmdNoQueue, 0, 0, 0, Discard},
      {"watch", -2, kCmdFast | kCmdNoQueue, 1, -1, 1, Watch},
      {"unwatch", 1, kCmdFast, 0, 0, 0, Unwatch},
  };
  return kRows;
}

}  // namespace bitcask::server
