// CONFIG GET / SET / RESETSTAT / REWRITE (Redis's config.c), over the settings table
// (server/settings.h).

#include <algorithm>
#include <set>

#include "server/command.h"
#include "server/glob.h"
#include "server/settings.h"

namespace bitcask::server {

namespace {

// CONFIG GET pattern...: every setting a pattern matches, once, in the table's order.
void ConfigGet(CommandContext& c) {
  const ServerConfig cfg = c.server.config();
  std::vector<const Setting*> found;
  for (const Setting& s : Settings()) {
    for (size_t i = 2; i < c.args.size(); i++) {
      if (GlobMatch(Lower(c.args[i]), s.name)) {
        found.push_back(&s);
        break;
      }
    }
  }
  reply::ArrayHeader(c.out, found.size() * 2);
  for (const Setting* s : found) {
    reply::Bulk(c.out, s->name);
    reply::Bulk(c.out, FormatSetting(*s, cfg));
  }
}

// CONFIG SET name value [name value ...]: all or nothing, as Redis: every value is checked
// and every change applied (raising the limit on open files, say) before any is stored.
void ConfigSet(CommandContext& c) {
  ServerConfig next = c.server.config();
  std::set<const Setting*> named;
  auto failed = [&](const Setting& s, const std::string& why) {
    Err(c, "ERR CONFIG SET failed (possibly related to argument '" + std::string(s.name) + "') - " +
               why);
  };
  for (size_t i = 2; i < c.args.size(); i += 2) {
    const Setting* s = FindSetting(c.args[i]);
    if (s == nullptr) {
      return Err(c, "ERR Unknown option or number of arguments for CONFIG SET - '" +
                        std::string(c.args[i].substr(0, 128)) + "'");
    }
    if (!named.insert(s).second) return failed(*s, "duplicate parameter");
    if (!(s->flags & kSettingMutable)) return failed(*s, "can't set immutable config");
    if (std::string why = ParseSetting(*s, c.args[i + 1], &next); !why.empty()) {
      return failed(*s, "argument " + why);
    }
  }
  for (const Setting* s : named) {
    if (s->apply == nullptr) continue;
    if (std::string why = s->apply(c.server, next); !why.empty()) return failed(*s, why);
  }
  c.server.UpdateConfig([&](ServerConfig* cfg) { *cfg = next; });
  Ok(c);
}

void ConfigResetStat(CommandContext& c) {
  for (size_t i = 0; i < c.server.command_count(); i++) {
    CommandStats& cs = c.server.command_stats(i);
    cs.calls.Reset();
    cs.nanos.Reset();
    cs.errors.Reset();
    cs.rejected.Reset();
  }
  c.server.keyspace_hits.Reset();
  c.server.keyspace_misses.Reset();
  c.server.total_commands.Reset();
  Ok(c);
}

// CONFIG REWRITE: the config file the server started with, brought up to date.
void ConfigRewrite(CommandContext& c) {
  if (c.server.config_file.empty()) {
    return Err(c, "ERR The server is running without a config file");
  }
  if (Status s = RewriteConfigFile(c.server.config_file, c.server.config()); !s.ok()) {
    c.server.log().Log(Logger::kWarning, "CONFIG REWRITE failed", {{"error", s.ToString()}});
    return Err(c, "ERR Rewriting config file: " + std::string(s.message()));
  }
  c.server.log().Log(Logger::kNotice, "CONFIG REWRITE executed with success",
                     {{"file", c.server.config_file}});
  Ok(c);
}

void Config(CommandContext& c) {
  const std::string sub = Lower(c.args[1]);
  const size_t n = c.args.size();
  if (sub == "get") return n >= 3 ? ConfigGet(c) : SubcommandArity(c);
  if (sub == "set") return n >= 4 && n % 2 == 0 ? ConfigSet(c) : SubcommandArity(c);
  if (sub == "resetstat") return n == 2 ? ConfigResetStat(c) : SubcommandArity(c);
  if (sub == "rewrite") return n == 2 ? ConfigRewrite(c) : SubcommandArity(c);
  UnknownSubcommand(c);
}

}  // namespace

std::span<const CommandSpec> ConfigCommands() {
  // name, arity, flags, first key, last key, step, handler
  static const CommandSpec kRows[] = {
      {"config", -2, kCmdAdmin, 0, 0, 0, Config},
  };
  return kRows;
}

}  // namespace bitcask::server
