// Status: the result of every bitcask operation.
//
// Errors are values, never exceptions: a Status is either OK or carries a code and a message
// that says what failed and where ("Corruption: /data/00000003.data offset 4096: record
// checksum mismatch"). An OK status and a bare NotFound allocate nothing, so the hot paths
// (Get of a missing key) stay cheap.

#ifndef BITCASK_STATUS_H_
#define BITCASK_STATUS_H_

#include <memory>
#include <string>
#include <string_view>

namespace bitcask {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,         // the key is not in the store (or has expired)
    kCorruption,       // bytes on disk failed a checksum or a format check
    kNotSupported,     // e.g. a file written by a newer format version
    kInvalidArgument,  // the caller passed something out of range (key too long, ...)
    kIOError,          // a system call failed; the message holds the errno text
    kBusy,             // the store is locked by another writer
    kClosed,           // the DB was closed
  };

  Status() noexcept = default;
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound() { return Status(Code::kNotFound); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  // An IOError whose message ends with strerror(err): "open /x/LOCK: Permission denied".
  static Status FromErrno(std::string_view context, int err);
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status Closed() { return Status(Code::kClosed, "the database is closed"); }
  static Status Closed(std::string_view msg) { return Status(Code::kClosed, msg); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsNotSupported() const { return code_ == Code::kNotSupported; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsClosed() const { return code_ == Code::kClosed; }

  Code code() const { return code_; }
  // The message without the code name; empty for OK and a bare NotFound.
  std::string_view message() const { return msg_ ? std::string_view(*msg_) : std::string_view(); }
  // "OK", or "<Code name>: <message>".
  std::string ToString() const;

 private:
  explicit Status(Code code) : code_(code) {}
  Status(Code code, std::string_view msg);

  Code code_ = Code::kOk;
  std::unique_ptr<std::string> msg_;
};

}  // namespace bitcask

#endif  // BITCASK_STATUS_H_
