#include "server/resp.h"

#include <cctype>
#include <charconv>
#include <cstring>

namespace bitcask::server {

namespace {

// Finds "\r\n" at or after from; npos if absent.
size_t FindCrlf(std::string_view in, size_t from) {
  while (true) {
    const size_t r = in.find('\r', from);
    if (r == std::string_view::npos || r + 1 >= in.size()) return std::string_view::npos;
    if (in[r + 1] == '\n') return r;
    from = r + 1;
  }
}

// A decimal integer filling all of s (optional leading '-').
bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

RespParser::Result RespParser::Parse(std::string_view input, std::vector<std::string_view>* args,
                                     size_t* consumed, std::string* error,
                                     std::vector<std::string>* storage) const {
  args->clear();
  if (input.empty()) {
    *consumed = 1;
    return Result::kNeedMore;
  }
  if (input[0] == '*') return ParseMultibulk(input, args, consumed, error);
  return ParseInline(input, args, consumed, error, storage);
}

RespParser::Result RespParser::ParseMultibulk(std::string_view in,
                                              std::vector<std::string_view>* args, size_t* consumed,
                                              std::string* error) const {
  size_t eol = FindCrlf(in, 1);
  if (eol == std::string_view::npos) {
    if (in.size() > limits_.max_inline_bytes) {
      *error = "ERR Protocol error: too big mbulk count string";
      return Result::kError;
    }
    *consumed = in.size() + 1;
    return Result::kNeedMore;
  }
  int64_t count;
  if (!ParseInt(in.substr(1, eol - 1), &count) || count > int64_t(limits_.max_args)) {
    *error = "ERR Protocol error: invalid multibulk length";
    return Result::kError;
  }
  size_t pos = eol + 2;
  if (count <= 0) {  // "*0" and "*-1" are empty commands: skip them
    *consumed = pos;
    return Result::kCommand;
  }
  args->reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; i++) {
    if (pos >= in.size()) {
      *consumed = pos + 1;
      return Result::kNeedMore;
    }
    if (in[pos] != '$') {
      *error = std::string("ERR Protocol error: expected '$', got '") + in[pos] + "'";
      return Result::kError;
    }
    eol = FindCrlf(in, pos + 1);
    if (eol == std::string_view::npos) {
      if (in.size() - pos > limits_.max_inline_bytes) {
        *error = "ERR Protocol error: too big bulk count string";
        return Result::kError;
      }
      *consumed = in.size() + 1;
      return Result::kNeedMore;
    }
    int64_t len;
    if (!ParseInt(in.substr(pos + 1, eol - pos - 1), &len) || len < 0 ||
        uint64_t(len) > limits_.max_bulk_bytes) {
      *error = "ERR Protocol error: invalid bulk length";
      return Result::kError;
    }
    const size_t data = eol + 2;
    const size_t end = data + static_cast<size_t>(len) + 2;
    if (end > in.size()) {
      *consumed = end;
      return Result::kNeedMore;
    }
    if (in[end - 2] != '\r' || in[end - 1] != '\n') {
      *error = "ERR Protocol error: bulk string not followed by CRLF";
      return Result::kError;
    }
    args->emplace_back(in.data() + data, static_cast<size_t>(len));
    pos = end;
  }
  *consumed = pos;
  return Result::kCommand;
}

RespParser::Result RespParser::ParseInline(std::string_view in, std::vector<std::string_view>* args,
                                           size_t* consumed, std::string* error,
                                           std::vector<std::string>* storage) const {
  const size_t nl = in.find('\n');
  if (nl == std::string_view::npos) {
    if (in.size() > limits_.max_inline_bytes) {
      *error = "ERR Protocol error: too big inline request";
      return Result::kError;
    }
    *consumed = in.size() + 1;
    return Result::kNeedMore;
  }
  std::string_view line = in.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!SplitInline(line, args, storage)) {
    *error = "ERR Protocol error: unbalanced quotes in request";
    return Result::kError;
  }
  *consumed = nl + 1;
  return Result::kCommand;  // an empty line yields no arguments: the caller skips it
}

bool SplitInline(std::string_view line, std::vector<std::string_view>* args,
                 std::vector<std::string>* unescaped) {
  args->clear();
  unescaped->clear();
  unescaped->reserve(line.size());  // views into it must stay valid while it grows
  size_t i = 0;
  while (true) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) i++;
    if (i == line.size()) return true;
    if (line[i] != '"' && line[i] != '\'') {
      const size_t start = i;
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) i++;
      args->push_back(line.substr(start, i - start));
      continue;
    }
    const char quote = line[i++];
    std::string& arg = unescaped->emplace_back();
    bool closed = false;
    while (i < line.size()) {
      const char c = line[i];
      if (quote == '"' && c == '\\' && i + 1 < line.size()) {
        const char e = line[i + 1];
        if (e == 'x' && i + 3 < line.size() && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          arg.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 4;
          continue;
        }
        arg.push_back(e == 'n'   ? '\n'
                      : e == 'r' ? '\r'
                      : e == 't' ? '\t'
                      : e == 'b' ? '\b'
                      : e == 'a' ? '\a'
                                 : e);
        i += 2;
      } else if (quote == '\'' && c == '\\' && i + 1 < line.size() && line[i + 1] == '\'') {
        arg.push_back('\'');
        i += 2;
      } else if (c == quote) {
        i++;
        closed = true;
        break;
      } else {
        arg.push_back(c);
        i++;
      }
    }
    // A closing quote must be followed by a space or the end of the line.
    if (!closed || (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i])))) {
      return false;
    }
    args->push_back(arg);
  }
}

namespace reply {

void Simple(std::string* out, std::string_view s) {
  out->push_back('+');
  out->append(s);
  out->append("\r\n");
}

void Error(std::string* out, std::string_view s) {
  // A message may quote what the client sent (an unknown subcommand, a key in an error from
  // the store): a CR or LF in it would end the line early and desynchronize the client, so
  // they become spaces, as Redis does.
  out->push_back('-');
  for (const char ch : s) out->push_back(ch == '\r' || ch == '\n' ? ' ' : ch);
  out->append("\r\n");
}

namespace {
// A type byte, a decimal number and CRLF: ":42\r\n", "$5\r\n", "*2\r\n".
template <typename Number>
void TypeAndNumber(std::string* out, char type, Number n) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out->push_back(type);
  out->append(buf, p);
  out->append("\r\n");
}
}  // namespace

void Integer(std::string* out, int64_t n) { TypeAndNumber(out, ':', n); }

void Bulk(std::string* out, std::string_view s) {
  TypeAndNumber(out, '$', s.size());
  out->append(s);
  out->append("\r\n");
}

void Null(std::string* out) { out->append("$-1\r\n"); }

void NullArray(std::string* out) { out->append("*-1\r\n"); }

void ArrayHeader(std::string* out, size_t n) { TypeAndNumber(out, '*', n); }

void Command(std::string* out, std::initializer_list<std::string_view> args) {
  ArrayHeader(out, args.size());
  for (std::string_view a : args) Bulk(out, a);
}

}  // namespace reply
}  // namespace bitcask::server
