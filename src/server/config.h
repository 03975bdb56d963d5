// Reads bitcask-server's configuration: a redis.conf-style file ("name value" lines, '#'
// comments) and command-line flags, the flags winning.

#ifndef BITCASK_SERVER_CONFIG_H_
#define BITCASK_SERVER_CONFIG_H_

#include <string>

#include "bitcask/options.h"
#include "bitcask/status.h"
#include "server/state.h"

namespace bitcask::server {

// Applies the settings of a config file to *config. InvalidArgument names the file, the line
// and what is wrong.
Status LoadConfigFile(const std::string& path, ServerConfig* config);

// Applies one "name value" setting (the names the file and CONFIG GET use).
Status ApplySetting(const std::string& name, const std::string& value, ServerConfig* config);

// The engine options a configuration asks for.
Status EngineOptions(const ServerConfig& config, Options* options);

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_CONFIG_H_
