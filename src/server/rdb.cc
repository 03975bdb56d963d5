#include "server/rdb.h"

#include <charconv>
#include <cstring>

#include "util/crc64.h"
#include "util/lzf.h"

namespace bitcask::server::rdb {

namespace {

// Opcodes (rdb.h of Redis 7.0).
constexpr unsigned char kOpFunction2 = 0xF5;
constexpr unsigned char kOpFunction = 0xF6;
constexpr unsigned char kOpModuleAux = 0xF7;
constexpr unsigned char kOpIdle = 0xF8;
constexpr unsigned char kOpFreq = 0xF9;
constexpr unsigned char kOpAux = 0xFA;
constexpr unsigned char kOpResizeDb = 0xFB;
constexpr unsigned char kOpExpireTimeMs = 0xFC;
constexpr unsigned char kOpExpireTime = 0xFD;
constexpr unsigned char kOpSelectDb = 0xFE;
constexpr unsigned char kOpEof = 0xFF;
constexpr unsigned char kTypeString = 0;

// String encodings, after a length byte 11xxxxxx.
constexpr unsigned kEncInt8 = 0, kEncInt16 = 1, kEncInt32 = 2, kEncLzf = 3;

constexpr size_t kFlushBytes = 64 * 1024;

void AppendLen(std::string* out, uint64_t len) {
  if (len < 64) {
    out->push_back(static_cast<char>(len));
  } else if (len < 16384) {
    out->push_back(static_cast<char>(0x40 | (len >> 8)));
    out->push_back(static_cast<char>(len & 0xff));
  } else if (len <= UINT32_MAX) {
    out->push_back(static_cast<char>(0x80));
    for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(len >> shift));
  } else {
    out->push_back(static_cast<char>(0x81));
    for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(len >> shift));
  }
}

// Redis's string2ll: what may be stored as an integer and read back as the same text.
bool CanonicalInt(std::string_view s, int64_t* v) {
  if (s.empty() || s.size() > 11) return false;
  if (s == "0") {
    *v = 0;
    return true;
  }
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size() || s[i] < '1' || s[i] > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

void AppendString(std::string* out, std::string_view s) {
  int64_t v;
  if (CanonicalInt(s, &v)) {
    if (v >= -128 && v <= 127) {
      out->push_back(static_cast<char>(0xC0 | kEncInt8));
      out->push_back(static_cast<char>(v));
      return;
    }
    if (v >= -32768 && v <= 32767) {
      out->push_back(static_cast<char>(0xC0 | kEncInt16));
      const auto u = static_cast<uint16_t>(v);
      out->push_back(static_cast<char>(u & 0xff));
      out->push_back(static_cast<char>(u >> 8));
      return;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
      out->push_back(static_cast<char>(0xC0 | kEncInt32));
      const auto u = static_cast<uint32_t>(v);
      for (int shift = 0; shift < 32; shift += 8) out->push_back(static_cast<char>(u >> shift));
      return;
    }
  }
  AppendLen(out, s.size());
  out->append(s);
}

void AppendFixed64(std::string* out, uint64_t v) {
  for (int shift = 0; shift < 64; shift += 8) out->push_back(static_cast<char>(v >> shift));
}

// Reads from a buffer that may end early: every read says whether the bytes were there.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  size_t pos() const { return pos_; }
  bool Byte(unsigned char* b) {
    if (pos_ >= s_.size()) return false;
    *b = static_cast<unsigned char>(s_[pos_++]);
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (s_.size() - pos_ < n) return false;
    *out = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Fixed(size_t n, uint64_t* v) {  // little-endian
    std::string_view b;
    if (!Bytes(n, &b)) return false;
    *v = 0;
    for (size_t i = 0; i < n; i++) *v |= uint64_t(static_cast<unsigned char>(b[i])) << (8 * i);
    return true;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// The outcome of reading an item from bytes that may be incomplete.
enum class Read { kOk, kShort, kBad };

// A length, or (*encoded) the encoding after an 11xxxxxx byte.
Read ReadLen(Cursor& c, uint64_t* len, bool* encoded, std::string* why) {
  unsigned char b;
  if (!c.Byte(&b)) return Read::kShort;
  *encoded = false;
  switch (b >> 6) {
    case 0:
      *len = b & 0x3f;
      return Read::kOk;
    case 1: {
      unsigned char b2;
      if (!c.Byte(&b2)) return Read::kShort;
      *len = (uint64_t(b & 0x3f) << 8) | b2;
      return Read::kOk;
    }
    case 3:
      *encoded = true;
      *len = b & 0x3f;
      return Read::kOk;
    default: {
      size_t n = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
      if (n == 0) {
        *why = "a length that starts with byte " + std::to_string(b);
        return Read::kBad;
      }
      std::string_view bytes;
      if (!c.Bytes(n, &bytes)) return Read::kShort;
      *len = 0;
      for (char x : bytes) *len = (*len << 8) | static_cast<unsigned char>(x);  // big-endian
      return Read::kOk;
    }
  }
}

Read ReadPlainLen(Cursor& c, uint64_t* len, std::string* why) {
  bool encoded;
  const Read r = ReadLen(c, len, &encoded, why);
  if (r == Read::kOk && encoded) {
    *why = "an encoded string where a length belongs";
    return Read::kBad;
  }
  return r;
}

Read ReadString(Cursor& c, std::string* out, std::string* why) {
  uint64_t len;
  bool encoded;
  if (Read r = ReadLen(c, &len, &encoded, why); r != Read::kOk) return r;
  if (!encoded) {
    std::string_view bytes;
    if (!c.Bytes(len, &bytes)) return Read::kShort;
    out->assign(bytes);
    return Read::kOk;
  }
  uint64_t v;
  switch (len) {
    case kEncInt8:
      if (!c.Fixed(1, &v)) return Read::kShort;
      *out = std::to_string(int64_t(int8_t(v)));
      return Read::kOk;
    case kEncInt16:
      if (!c.Fixed(2, &v)) return Read::kShort;
      *out = std::to_string(int64_t(int16_t(v)));
      return Read::kOk;
    case kEncInt32:
      if (!c.Fixed(4, &v)) return Read::kShort;
      *out = std::to_string(int64_t(int32_t(v)));
      return Read::kOk;
    case kEncLzf: {
      uint64_t clen, ulen;
      if (Read r = ReadPlainLen(c, &clen, why); r != Read::kOk) return r;
      if (Read r = ReadPlainLen(c, &ulen, why); r != Read::kOk) return r;
      std::string_view compressed;
      if (!c.Bytes(clen, &compressed)) return Read::kShort;
      if (!util::LzfDecompress(compressed, ulen, out)) {
        *why = "an LZF-compressed string that does not decompress to its " + std::to_string(ulen) +
               " bytes";
        return Read::kBad;
      }
      return Read::kOk;
    }
    default:
      *why = "unknown string encoding " + std::to_string(len);
      return Read::kBad;
  }
}

std::string Printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < 64; i++) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return s.size() > 64 ? out + "..." : out;
}

}  // namespace

std::string TypeName(int type) {
  switch (type) {
    case 0:
      return "string";
    case 1:
      return "list";
    case 2:
      return "set";
    case 3:
      return "zset";
    case 4:
      return "hash";
    case 5:
      return "zset (zset_2)";
    case 6:
    case 7:
      return "module value";
    case 9:
      return "hash (zipmap)";
    case 10:
      return "list (ziplist)";
    case 11:
      return "set (intset)";
    case 12:
      return "zset (ziplist)";
    case 13:
      return "hash (ziplist)";
    case 14:
      return "list (quicklist)";
    case 15:
      return "stream";
    case 16:
      return "hash (listpack)";
    case 17:
      return "zset (listpack)";
    case 18:
      return "list (quicklist)";
    case 19:
      return "stream";
    default:
      return "unknown type";
  }
}

// ---- Writer -------------------------------------------------------------------------------

Writer::Writer(Sink sink) : sink_(std::move(sink)) {}

Status Writer::Flush() {
  if (buf_.empty()) return Status::OK();
  crc_ = util::Crc64(crc_, buf_);
  written_ += buf_.size();
  Status s = sink_(buf_);
  buf_.clear();
  return s;
}

Status Writer::Begin(const std::vector<std::pair<std::string, std::string>>& aux, uint64_t keys,
                     uint64_t expires) {
  buf_ = "REDIS00" + std::to_string(kVersion);
  for (const auto& [k, v] : aux) {
    buf_.push_back(static_cast<char>(kOpAux));
    AppendString(&buf_, k);
    AppendString(&buf_, v);
  }
  if (keys > 0) {
    buf_.push_back(static_cast<char>(kOpSelectDb));
    AppendLen(&buf_, 0);
    buf_.push_back(static_cast<char>(kOpResizeDb));
    AppendLen(&buf_, keys);
    AppendLen(&buf_, expires);
  }
  return Status::OK();
}

Status Writer::Add(std::string_view key, std::string_view value, uint64_t expire_at_ms) {
  if (expire_at_ms != 0) {
    buf_.push_back(static_cast<char>(kOpExpireTimeMs));
    AppendFixed64(&buf_, expire_at_ms);
  }
  buf_.push_back(static_cast<char>(kTypeString));
  AppendString(&buf_, key);
  AppendString(&buf_, value);
  return buf_.size() >= kFlushBytes ? Flush() : Status::OK();
}

Status Writer::Finish() {
  buf_.push_back(static_cast<char>(kOpEof));
  const uint64_t crc = util::Crc64(crc_, buf_);
  AppendFixed64(&buf_, crc);
  written_ += buf_.size();
  Status s = sink_(buf_);
  buf_.clear();
  return s;
}

// ---- Loader -------------------------------------------------------------------------------

Status Loader::Feed(std::string_view data, size_t* used) {
  *used = 0;
  if (done_) return Status::OK();
  // Only what the file still needs is taken: the items are parsed as the bytes come, and the
  // end of the file is found by its opcode, so the bytes after it stay with the caller.
  size_t taken = 0;
  while (!done_) {
    Status s;
    size_t item = 0;
    if (!ParseItem(&s, &item)) {
      if (!s.ok()) return s;
      if (taken == data.size()) break;
      // More bytes: a 16 KiB step, or at least what a large item needs (it grows buf_).
      const size_t step =
          std::min<size_t>(data.size() - taken, std::max<size_t>(16384, buf_.size()));
      buf_.append(data.substr(taken, step));
      taken += step;
      continue;
    }
    if (!s.ok()) return s;
    crc_ = util::Crc64(crc_, std::string_view(buf_).substr(0, item));
    offset_ += item;
    buf_.erase(0, item);
  }
  if (done_) {
    // Give back what was taken past the end of the file.
    const size_t extra = buf_.size();
    *used = taken - extra;
    buf_.clear();
  } else {
    *used = taken;
  }
  return Status::OK();
}

bool Loader::ParseItem(Status* status, size_t* item_bytes) {
  Cursor c(buf_);
  std::string why;
  auto bad = [&](const std::string& what) {
    *status = Status::Corruption("RDB offset " + std::to_string(offset_) + ": " + what);
    return false;
  };
  if (!header_read_) {
    std::string_view magic;
    if (!c.Bytes(9, &magic)) return false;
    if (magic.substr(0, 5) != "REDIS") return bad("not an RDB file (no REDIS magic)");
    int version = 0;
    auto [p, ec] = std::from_chars(magic.data() + 5, magic.data() + 9, version);
    if (ec != std::errc() || p != magic.data() + 9 || version < 1) {
      return bad("RDB version '" + std::string(magic.substr(5)) + "' is not a number");
    }
    if (version > kVersion) {
      return bad("RDB version " + std::to_string(version) +
                 " is newer than the newest this "
                 "server reads (" +
                 std::to_string(kVersion) + ", Redis 7.0's)");
    }
    version_ = version;
    header_read_ = true;
    *item_bytes = c.pos();
    return true;
  }
  unsigned char op;
  if (!c.Byte(&op)) return false;
  auto check = [&](Read r) {
    if (r == Read::kBad) bad(why);
    return r == Read::kOk;
  };
  switch (op) {
    case kOpAux: {
      std::string key, value;
      if (!check(ReadString(c, &key, &why)) || !check(ReadString(c, &value, &why))) return false;
      *status = handler_->OnAux(key, value);
      break;
    }
    case kOpSelectDb: {
      uint64_t db;
      if (!check(ReadPlainLen(c, &db, &why))) return false;
      if (db != 0) {
        return bad("the RDB has keys in database " + std::to_string(db) +
                   ": bitcask-server has one database (0)");
      }
      break;
    }
    case kOpResizeDb: {
      uint64_t a, b;
      if (!check(ReadPlainLen(c, &a, &why)) || !check(ReadPlainLen(c, &b, &why))) return false;
      break;
    }
    case kOpExpireTimeMs: {
      uint64_t ms;
      if (!c.Fixed(8, &ms)) return false;
      pending_expire_ = ms == 0 ? 1 : ms;  // 0 means "none" here: the epoch has long passed
      break;
    }
    case kOpExpireTime: {
      uint64_t seconds;
      if (!c.Fixed(4, &seconds)) return false;
      pending_expire_ = seconds == 0 ? 1 : seconds * 1000;
      break;
    }
    case kOpIdle: {
      uint64_t idle;
      if (!check(ReadPlainLen(c, &idle, &why))) return false;
      break;
    }
    case kOpFreq: {
      unsigned char freq;
      if (!c.Byte(&freq)) return false;
      break;
    }
    case kOpFunction2: {
      std::string code;
      if (!check(ReadString(c, &code, &why))) return false;
      const size_t eol = code.find('\n');
      handler_->OnSkipped("a Redis Function library (" +
                          Printable(code.substr(0, eol == std::string::npos ? 80 : eol)) +
                          "): bitcask-server runs no scripts");
      break;
    }
    case kOpFunction:
      return bad("Redis Functions in the pre-release 7.0 format (opcode 246)");
    case kOpModuleAux:
      return bad("module data (opcode 247): bitcask-server has no Redis modules");
    case kOpEof: {
      if (version_ >= 5) {
        uint64_t stored;
        if (!c.Fixed(8, &stored)) return false;
        // The CRC covers every byte up to and including the EOF opcode.
        const uint64_t crc = util::Crc64(crc_, std::string_view(buf_).substr(0, 1));
        if (stored != 0 && stored != crc) {
          char msg[128];
          std::snprintf(msg, sizeof msg,
                        "wrong RDB checksum: the file says %016llx, its bytes give %016llx",
                        (unsigned long long)stored, (unsigned long long)crc);
          return bad(msg);
        }
      }
      done_ = true;
      break;
    }
    default: {
      if (op > 19 || op == 8) {
        char msg[64];
        std::snprintf(msg, sizeof msg, "unknown RDB opcode or type 0x%02x", op);
        return bad(msg);
      }
      std::string key;
      if (!check(ReadString(c, &key, &why))) return false;
      if (op != kTypeString) {
        return bad("key '" + Printable(key) + "' holds a " + TypeName(op) + " (RDB type " +
                   std::to_string(op) + "): bitcask-server stores strings only");
      }
      std::string value;
      if (!check(ReadString(c, &value, &why))) return false;
      *status = handler_->OnKey(key, value, pending_expire_);
      pending_expire_ = 0;
      keys_++;
      break;
    }
  }
  *item_bytes = c.pos();
  return true;
}

// ---- DUMP payloads ------------------------------------------------------------------------

std::string DumpPayload(std::string_view value) {
  std::string out(1, static_cast<char>(kTypeString));
  AppendString(&out, value);
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(static_cast<char>(kVersion >> 8));
  AppendFixed64(&out, util::Crc64(0, out));
  return out;
}

Status ParseDumpPayload(std::string_view payload, std::string* value) {
  const auto wrong = [] {
    return Status::InvalidArgument("DUMP payload version or checksum are wrong");
  };
  if (payload.size() < 10) return wrong();
  const size_t footer = payload.size() - 10;
  const int version = static_cast<unsigned char>(payload[footer]) |
                      static_cast<unsigned char>(payload[footer + 1]) << 8;
  if (version > kVersion) return wrong();
  uint64_t stored = 0;
  for (int i = 0; i < 8; i++) {
    stored |= uint64_t(static_cast<unsigned char>(payload[footer + 2 + i])) << (8 * i);
  }
  if (util::Crc64(0, payload.substr(0, footer + 2)) != stored) return wrong();
  const auto type = static_cast<unsigned char>(payload[0]);
  if (type != kTypeString) {
    if (type <= 19 && type != 8) {
      return Status::InvalidArgument("the payload holds a " + TypeName(type) + " (RDB type " +
                                     std::to_string(type) +
                                     "): bitcask-server stores strings only");
    }
    return Status::InvalidArgument("Bad data format");
  }
  Cursor c(payload.substr(1, footer - 1));
  std::string why;
  if (ReadString(c, value, &why) != Read::kOk || c.pos() != footer - 1) {
    return Status::InvalidArgument("Bad data format");
  }
  return Status::OK();
}

}  // namespace bitcask::server::rdb
