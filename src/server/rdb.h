// Redis's RDB format (version 10, as Redis 7.0 writes it), for strings: what a full sync of
// replication carries, and what DUMP and RESTORE exchange. Byte layouts in
// docs/REPLICATION.md.
//
// The writer writes what Redis writes for strings (AUX fields, SELECTDB 0, RESIZEDB, an
// EXPIRETIME_MS before each key with an expiry, integer-encoded strings where Redis uses them,
// the EOF opcode and the CRC-64), so a real redis-server loads it. The loader reads what a
// real Redis 7.0 sends: every length and string encoding (integers, LZF), AUX fields, expiries
// in seconds or milliseconds, LRU/LFU hints; it refuses what a store of strings cannot hold
// (a list, a hash...) naming the key and the type, and a checksum that does not match.

#ifndef BITCASK_SERVER_RDB_H_
#define BITCASK_SERVER_RDB_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bitcask/status.h"

namespace bitcask::server::rdb {

inline constexpr int kVersion = 10;

// Writes an RDB file to a sink, in pieces of about 64 KiB.
class Writer {
 public:
  using Sink = std::function<Status(std::string_view)>;
  explicit Writer(Sink sink);

  // The magic, the AUX fields (key, value) in order, then database 0 with `keys` keys of which
  // `expires` have an expiry (RESIZEDB's hints).
  Status Begin(const std::vector<std::pair<std::string, std::string>>& aux, uint64_t keys,
               uint64_t expires);
  // A string key; expire_at_ms 0 for none.
  Status Add(std::string_view key, std::string_view value, uint64_t expire_at_ms);
  // The EOF opcode and the checksum, and whatever is still buffered.
  Status Finish();
  uint64_t bytes_written() const { return written_; }

 private:
  Status Flush();

  Sink sink_;
  std::string buf_;
  uint64_t crc_ = 0;
  uint64_t written_ = 0;
};

// Reads an RDB file fed to it in pieces of any size.
class Loader {
 public:
  struct Handler {
    virtual ~Handler() = default;
    virtual Status OnAux(std::string_view key, std::string_view value) = 0;
    // A string key (expire_at_ms 0: none).
    virtual Status OnKey(std::string_view key, std::string_view value, uint64_t expire_at_ms) = 0;
    // Something the RDB holds that is not data and is passed over (a Redis Function library).
    virtual void OnSkipped(std::string_view what) = 0;
  };
  explicit Loader(Handler* handler) : handler_(handler) {}

  // Takes the bytes of data that belong to the RDB (*used of them: all, until the end of the
  // file is reached). An error names what is wrong and where (the byte offset in the file).
  Status Feed(std::string_view data, size_t* used);
  // Whether the whole file, checksum included, has been read.
  bool done() const { return done_; }
  uint64_t offset() const { return offset_; }
  uint64_t keys() const { return keys_; }

 private:
  // Parses one item at the start of buf_; false if buf_ does not hold all of it yet.
  bool ParseItem(Status* status, size_t* item_bytes);

  Handler* handler_;
  std::string buf_;      // bytes received and not yet parsed
  uint64_t offset_ = 0;  // of buf_[0] in the file
  uint64_t crc_ = 0;     // of every byte before buf_
  bool header_read_ = false;
  int version_ = 0;
  uint64_t pending_expire_ = 0;
  bool done_ = false;
  uint64_t keys_ = 0;
};

// The name Redis gives an RDB value type, for errors ("list (quicklist)" for 18).
std::string TypeName(int type);

// DUMP's payload for a string value: the RDB type byte, the string, the RDB version (two
// bytes, little-endian) and the CRC-64 of all that (eight bytes, little-endian).
std::string DumpPayload(std::string_view value);
// The string a DUMP payload holds. InvalidArgument with Redis's texts: "DUMP payload version
// or checksum are wrong", "Bad data format", or a value that is not a string (naming its type).
Status ParseDumpPayload(std::string_view payload, std::string* value);

}  // namespace bitcask::server::rdb

#endif  // BITCASK_SERVER_RDB_H_
