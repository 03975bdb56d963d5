#include "bitcask/status.h"

#include <cstring>

namespace bitcask {

Status::Status(Code code, std::string_view msg)
    : code_(code), msg_(std::make_unique<std::string>(msg)) {}

Status::Status(const Status& other)
    : code_(other.code_), msg_(other.msg_ ? std::make_unique<std::string>(*other.msg_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) {
    code_ = other.code_;
    msg_ = other.msg_ ? std::make_unique<std::string>(*other.msg_) : nullptr;
  }
  return *this;
}

Status Status::FromErrno(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  return Status(Code::kIOError, msg);
}

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      name = "NotFound";
      break;
    case Code::kCorruption:
      name = "Corruption";
      break;
    case Code::kNotSupported:
      name = "Not supported";
      break;
    case Code::kInvalidArgument:
      name = "Invalid argument";
      break;
    case Code::kIOError:
      name = "IO error";
      break;
    case Code::kBusy:
      name = "Busy";
      break;
    case Code::kClosed:
      name = "Closed";
      break;
  }
  std::string out(name);
  if (msg_ && !msg_->empty()) {
    out += ": ";
    out += *msg_;
  }
  return out;
}

}  // namespace bitcask
