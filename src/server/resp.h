// RESP2: the Redis protocol. A parser for what clients send and writers for replies.
//
// Clients send arrays of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), or, from a terminal,
// inline commands ("GET k\r\n"). The parser is incremental and copies nothing: it reports
// either a complete command (its arguments are views into the caller's buffer), that more
// bytes are needed (and how many at least), or a protocol error with Redis's wording. It has
// no other dependency, so it is fuzzed on its own (tests/resp_fuzz.cc).

#ifndef BITCASK_SERVER_RESP_H_
#define BITCASK_SERVER_RESP_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace bitcask::server {

struct RespLimits {
  size_t max_bulk_bytes = 512u << 20;   // proto-max-bulk-len
  size_t max_args = 1024 * 1024;        // arguments in one command
  size_t max_inline_bytes = 64 * 1024;  // an inline command or a header line
};

class RespParser {
 public:
  enum class Result {
    kCommand,   // *args holds a command; *consumed bytes of the input were used
    kNeedMore,  // incomplete; at least *consumed bytes in all are needed before trying again
    kError,     // *error holds the reply text ("ERR Protocol error: ..."); close the connection
  };

  explicit RespParser(RespLimits limits = {}) : limits_(limits) {}

  // Parses one command at the start of input. Arguments are views into input, except
  // quoted arguments of an inline command, which are unescaped into *storage.
  Result Parse(std::string_view input, std::vector<std::string_view>* args, size_t* consumed,
               std::string* error, std::vector<std::string>* storage) const;

 private:
  Result ParseMultibulk(std::string_view in, std::vector<std::string_view>* args, size_t* consumed,
                        std::string* error) const;
  Result ParseInline(std::string_view in, std::vector<std::string_view>* args, size_t* consumed,
                     std::string* error, std::vector<std::string>* storage) const;

  RespLimits limits_;
};

// Splits an inline command line as redis-cli and Redis do: whitespace separates arguments,
// "double quotes" take \n \t \xHH escapes, 'single quotes' take \'. Quoted arguments are
// unescaped into *unescaped (the views point there). Returns false on unbalanced quotes.
bool SplitInline(std::string_view line, std::vector<std::string_view>* args,
                 std::vector<std::string>* unescaped);

// Reply writers: each appends one RESP2 value to out.
namespace reply {
void Simple(std::string* out, std::string_view s);  // +OK
void Error(std::string* out, std::string_view s);   // -ERR ...
void Integer(std::string* out, int64_t n);
void Bulk(std::string* out, std::string_view s);
void Null(std::string* out);       // the null bulk string
void NullArray(std::string* out);  // the null array
void ArrayHeader(std::string* out, size_t n);
// A command as a client sends it (an array of bulk strings): what a replica sends its
// leader, what the replication stream carries, what MIGRATE sends its target.
void Command(std::string* out, std::initializer_list<std::string_view> args);
}  // namespace reply

}  // namespace bitcask::server

#endif  // BITCASK_SERVER_RESP_H_
