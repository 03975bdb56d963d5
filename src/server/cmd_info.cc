// INFO (Redis's genRedisInfoString in server.c), over the figures of server/metrics.h.

#include "server/command.h"
#include "server/metrics.h"

namespace bitcask::server {

namespace {

void Info(CommandContext& c) {
  std::vector<std::string> wanted;
  for (size_t i = 1; i < c.args.size(); i++) wanted.push_back(Lower(c.args[i]));
  std::string text;
  if (Status s = InfoText(c.server, wanted, &text); !s.ok()) return StoreError(c, s);
  reply::Bulk(c.out, text);
}

}  // namespace

std::span<const CommandSpec> InfoCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"info", -1, 0, 0, 0, 0, Info},
  };
  return kRows;
}

}  // namespace bitcask::server
