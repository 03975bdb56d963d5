// Small files the server keeps beside the store (the config file CONFIG REWRITE writes, the
// cluster's slot map), replaced whole.

#ifndef BITCASK_UTIL_FILE_H_
#define BITCASK_UTIL_FILE_H_

#include <string>
#include <string_view>

#include "bitcask/status.h"

namespace bitcask::util {

// Makes path hold contents: written to path + ".tmp", flushed (fsync), then renamed over path,
// so a crash leaves the old file or the new one, never a mix. On an error (IOError naming the
// step and the file) path is unchanged and the temporary file is removed.
Status ReplaceFile(const std::string& path, std::string_view contents);

}  // namespace bitcask::util

#endif  // BITCASK_UTIL_FILE_H_
