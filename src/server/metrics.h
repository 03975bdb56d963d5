// The figures bitcask-server reports, gathered in one place for both INFO and Prometheus's
// /metrics: each figure has its INFO section and field name (Redis's, where Redis reports the
// same thing), its Prometheus name, type and help, and one value that both print. A figure
// added here shows up in both (or in the one it names).

#ifndef BITCASK_SERVER_METRICS_H_
#define BITCASK_SERVER_METRICS_H_

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/state.h"

namespace bitcask::server {

struct Figure {
  const char* section;           // INFO's section, lowercase: "server", "clients", "memory", ...
  std::string_view info;         // INFO's field name; empty when INFO does not show it
  const char* metric;            // the Prometheus name, or null when /metrics does not show it
  const char* type;              // "counter", "gauge" or "summary"
  const char* help;              // Prometheus's HELP text
  std::string text;              // the value as INFO prints it
  double value = 0;              // the value as /metrics prints it
  std::string_view labels = {};  // Prometheus labels ('op="get"'), if any
  const LatencyStats* summary = nullptr;  // a summary's quantiles, for type "summary"
};

// The INFO sections, in the order INFO prints them. Those marked not default are left out of
// a bare INFO (as Redis leaves out commandstats), but are in INFO ALL / EVERYTHING.
struct InfoSection {
  const char* name;   // as INFO's argument names it
  const char* title;  // as its heading shows it
  bool by_default;
};
std::span<const InfoSection> InfoSections();

// Calls emit with every figure of the sections asked for (null: all), in INFO's order. Reads
// the store's Stats once. A store error leaves out the store's figures and is returned.
Status CollectFigures(ServerState& server,
                      const std::function<bool(std::string_view section)>& want,
                      const std::function<void(const Figure&)>& emit);

// INFO's text for the sections asked (as INFO's arguments: none, "all", "everything",
// "default" or section names).
Status InfoText(ServerState& server, const std::vector<std::string>& wanted, std::string* out);

// The Prometheus text exposition (/metrics).
std::string PrometheusMetrics(ServerState& server);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_METRICS_H_
