// bitcask._bitcask: the Python binding of libbitcask (pybind11).
//
// Store is the whole hot path in C++ so a put or get is one Python call into the engine.
// The package's Bitcask class (bitcask/__init__.py) derives from it and adds the seed
// project's compaction helpers in Python.
//
// Values, unless the store is opened with raw=True, are stored with a one-byte type tag so
// they come back as the same Python type (docs/PYTHON.md):
//   'b' + bytes            bytes, bytearray, memoryview   -> bytes
//   's' + UTF-8            str                            -> str
//   'j' + JSON text        anything json.dumps accepts    -> json.loads of it
// Keys are str (stored as UTF-8) or bytes (stored as they are).
//
// The GIL is released around work that can take long: sync writes, large values, batches,
// scans, merge, check, open and close. A small get or put keeps it: it takes less time than
// releasing and re-taking the GIL would.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bitcask/db.h"
#include "bitcask/version.h"

namespace py = pybind11;

namespace {

using bitcask::Status;

// ---- Exceptions ---------------------------------------------------------------------------

struct Errors {
  PyObject* error = nullptr;
  PyObject* corruption = nullptr;
  PyObject* locked = nullptr;
  PyObject* closed = nullptr;
  PyObject* invalid_argument = nullptr;
  PyObject* disk = nullptr;
  PyObject* not_supported = nullptr;
};
Errors errors;

PyObject* NewError(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("bitcask.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));
  return type;
}

[[noreturn]] void Raise(const Status& s) {
  PyObject* type = errors.error;
  switch (s.code()) {
    case Status::Code::kCorruption:
      type = errors.corruption;
      break;
    case Status::Code::kBusy:
      type = errors.locked;
      break;
    case Status::Code::kClosed:
      type = errors.closed;
      break;
    case Status::Code::kInvalidArgument:
      type = errors.invalid_argument;
      break;
    case Status::Code::kIOError:
      type = errors.disk;
      break;
    case Status::Code::kNotSupported:
      type = errors.not_supported;
      break;
    case Status::Code::kNotFound:
      type = PyExc_KeyError;
      break;
    default:
      break;
  }
  PyErr_SetString(type, s.ToString().c_str());
  throw py::error_already_set();
}

void Check(const Status& s) {
  if (!s.ok()) Raise(s);
}

// A path argument (str, bytes or os.PathLike) as the bytes the file system sees: what
// os.fsencode makes of it, so a bytes path and a str holding undecodable bytes (as os.listdir
// returns them) both name the file they name for os.open.
std::string PathBytes(const py::object& path) {
  return py::module_::import("os").attr("fsencode")(path).cast<std::string>();
}

// ---- Keys and values ----------------------------------------------------------------------

// A view of a str (its UTF-8, cached by CPython) or bytes-like key. The object must outlive
// the view.
std::string_view KeyView(py::handle key) {
  PyObject* o = key.ptr();
  if (PyUnicode_Check(o)) {
    // An ASCII str holds its characters inline, and they are their own UTF-8.
    if (PyUnicode_IS_COMPACT_ASCII(o)) {
      return {static_cast<const char*>(PyUnicode_DATA(o)),
              static_cast<size_t>(PyUnicode_GET_LENGTH(o))};
    }
    Py_ssize_t n;
    const char* p = PyUnicode_AsUTF8AndSize(o, &n);
    if (p == nullptr) throw py::error_already_set();
    return {p, static_cast<size_t>(n)};
  }
  if (PyBytes_Check(o)) return {PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o))};
  if (PyByteArray_Check(o)) {
    return {PyByteArray_AS_STRING(o), static_cast<size_t>(PyByteArray_GET_SIZE(o))};
  }
  throw py::type_error(std::string("keys are str or bytes, not ") + Py_TYPE(o)->tp_name);
}

bool IsAscii(const char* p, size_t n) {
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    any |= w;
  }
  for (; i < n; i++) any |= static_cast<unsigned char>(p[i]);
  return (any & 0x8080808080808080ull) == 0;
}

// A new str from UTF-8 bytes; null with a Python error set if they are not UTF-8. ASCII, the
// common case, is checked a word at a time and copied into the str as it is, in a third of
// the instructions PyUnicode_DecodeUTF8 takes for it.
PyObject* StrFromUtf8(const char* p, size_t n) {
  if (!IsAscii(p, n)) return PyUnicode_DecodeUTF8(p, static_cast<Py_ssize_t>(n), "strict");
  PyObject* s = PyUnicode_New(static_cast<Py_ssize_t>(n), 127);
  if (s != nullptr && n != 0) std::memcpy(PyUnicode_DATA(s), p, n);
  return s;
}

// Keys come back as str when they are UTF-8 (as the seed's keys are), else as bytes.
py::object KeyObject(std::string_view k) {
  PyObject* s = StrFromUtf8(k.data(), k.size());
  if (s != nullptr) return py::reinterpret_steal<py::object>(s);
  PyErr_Clear();
  return py::bytes(k.data(), k.size());
}

// ---- JSON scalars without the json module ------------------------------------------------
// json.dumps and json.loads cost 1.5-2 µs a call even for a number (Python-level dispatch
// before the C accelerator), ten times a whole put of a str. The scalars are written and read
// here instead, byte for byte as json.dumps writes them and to the same objects json.loads
// returns; anything else still goes through the json module.

// The JSON text json.dumps gives o, if o is None, a bool, an exact int that fits 64 bits or an
// exact float; *buf backs the returned text when it is built here. Empty if o is none of those.
std::string_view JsonScalarText(PyObject* o, char (&buf)[32], py::object* keep) {
  if (o == Py_None) return "null";
  if (o == Py_True) return "true";
  if (o == Py_False) return "false";
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) return {};  // json.dumps writes it (the same digits, just slower)
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return {buf, static_cast<size_t>(r.ptr - buf)};
  }
  if (PyFloat_CheckExact(o)) {
    const double d = PyFloat_AS_DOUBLE(o);
    // json.dumps with its default allow_nan=True.
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    *keep = py::reinterpret_steal<py::object>(PyFloat_Type.tp_repr(o));  // what json.dumps uses
    if (!*keep) throw py::error_already_set();
    return KeyView(*keep);
  }
  return {};
}

// The object json.loads returns for the JSON text [p, p + n), if it is null, true, false, NaN,
// Infinity, -Infinity, an integer of up to 18 digits or another number in JSON's grammar; a
// new reference. Null (and no exception) for any other text, which json.loads then reads.
PyObject* JsonScalarObject(const char* p, size_t n) {
  const std::string_view t(p, n);
  if (t == "null") Py_RETURN_NONE;
  if (t == "true") Py_RETURN_TRUE;
  if (t == "false") Py_RETURN_FALSE;
  if (t == "NaN") return PyFloat_FromDouble(std::nan(""));
  if (t == "Infinity") return PyFloat_FromDouble(HUGE_VAL);
  if (t == "-Infinity") return PyFloat_FromDouble(-HUGE_VAL);
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, as json.loads' scanner matches a number.
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    return i - from;
  };
  if (i < n && p[i] == '-') i++;
  const size_t int_from = i;
  const size_t int_digits = digits();
  if (int_digits == 0 || (int_digits > 1 && p[int_from] == '0')) return nullptr;
  bool is_float = false;
  if (i < n && p[i] == '.') {
    i++;
    if (digits() == 0) return nullptr;
    is_float = true;
  }
  if (i < n && (p[i] == 'e' || p[i] == 'E')) {
    i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    if (digits() == 0) return nullptr;
    is_float = true;
  }
  if (i != n) return nullptr;
  if (!is_float) {
    // json.loads: int(text). Up to 18 digits fit a long long; longer ones go to json.loads.
    if (int_digits > 18) return nullptr;
    long long v = 0;
    std::from_chars(p, p + n, v);
    return PyLong_FromLongLong(v);
  }
  // json.loads: float(text), which is PyOS_string_to_double (out of range: +-inf, as float()).
  if (n >= 64) return nullptr;
  char z[64];
  std::memcpy(z, p, n);
  z[n] = '\0';
  char* end = nullptr;
  const double d = PyOS_string_to_double(z, &end, nullptr);
  if (d == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();  // json.loads decides
    return nullptr;
  }
  if (end != z + n) return nullptr;
  return PyFloat_FromDouble(d);
}

// Lists and dicts: json.dumps and json.loads are three Python-level calls deep before they
// reach the json module's C encoder and scanner. These call the C parts directly, the way
// json.dumps and json.loads with their default arguments do, and only if a self-check at
// start-up shows they give the same text and objects (else, or without the C accelerator,
// every value goes through json.dumps and json.loads). Created once and never destroyed: the
// references must not outlive the interpreter.
class JsonContainers {
 public:
  // The module's init calls this first (see there).
  static const JsonContainers& Get() {
    static const JsonContainers* instance = new JsonContainers();
    return *instance;
  }

  // json.dumps(o) as a str (a new reference), or null with the exception json.dumps raises.
  PyObject* Dumps(PyObject* o) const {
    if (!direct_) return PyObject_CallOneArg(dumps_.ptr(), o);
    PyObject* markers = PyDict_New();  // what check_circular=True gives each call
    if (markers == nullptr) return nullptr;
    PyObject* make_args[] = {markers,
                             default_.ptr(),
                             encode_string_.ptr(),
                             Py_None,
                             key_separator_.ptr(),
                             item_separator_.ptr(),
                             Py_False,
                             Py_False,
                             Py_True};
    PyObject* encoder = PyObject_Vectorcall(make_encoder_.ptr(), make_args, 9, nullptr);
    Py_DECREF(markers);
    if (encoder == nullptr) return nullptr;
    PyObject* call_args[] = {o, zero_.ptr()};
    PyObject* chunks = PyObject_Vectorcall(encoder, call_args, 2, nullptr);
    Py_DECREF(encoder);
    if (chunks == nullptr) return nullptr;
    PyObject* text = PyUnicode_Join(empty_.ptr(), chunks);
    Py_DECREF(chunks);
    return text;
  }

  // json.loads(text) (a new reference), or null with the exception json.loads raises.
  PyObject* Loads(PyObject* text) const {
    if (direct_) {
      PyObject* args[] = {text, zero_.ptr()};
      PyObject* r = PyObject_Vectorcall(scan_once_.ptr(), args, 2, nullptr);
      if (r != nullptr && PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2 &&
          PyLong_AsSsize_t(PyTuple_GET_ITEM(r, 1)) == PyUnicode_GET_LENGTH(text)) {
        PyObject* obj = Py_NewRef(PyTuple_GET_ITEM(r, 0));
        Py_DECREF(r);
        return obj;
      }
      // Not one whole JSON document with nothing around it: json.loads says what it is.
      Py_XDECREF(r);
      PyErr_Clear();
    }
    return PyObject_CallOneArg(loads_.ptr(), text);
  }

 private:
  JsonContainers() {
    py::module_ json = py::module_::import("json");
    dumps_ = json.attr("dumps");
    loads_ = json.attr("loads");
    zero_ = py::int_(0);
    empty_ = py::str("");
    try {
      py::module_ encoder = py::module_::import("json.encoder");
      make_encoder_ = encoder.attr("c_make_encoder");
      if (make_encoder_.is_none()) return;  // no C accelerator
      encode_string_ = encoder.attr("encode_basestring_ascii");
      default_ = json.attr("JSONEncoder")().attr("default");
      scan_once_ = json.attr("JSONDecoder")().attr("scan_once");
      key_separator_ = py::str(": ");
      item_separator_ = py::str(", ");
      direct_ = true;
      // The self-check: a document with every kind of JSON value, both ways.
      const py::object probe = loads_(
          R"({"a": [1, -2.5, 1e300, true, false, null, "s\u00e9\u65e5\ud83d\ude00\n", {}], "": [[]]})");
      PyObject* text = Dumps(probe.ptr());
      if (text == nullptr) throw py::error_already_set();
      const py::object mine = py::reinterpret_steal<py::object>(text);
      PyObject* back = Loads(mine.ptr());
      if (back == nullptr) throw py::error_already_set();
      const py::object read = py::reinterpret_steal<py::object>(back);
      direct_ = mine.equal(dumps_(probe)) && read.equal(probe) && read.equal(loads_(mine));
    } catch (const py::error_already_set&) {
      direct_ = false;  // a json module unlike CPython's: the plain calls, then
    }
  }

  bool direct_ = false;
  py::object dumps_, loads_, zero_, empty_, make_encoder_, encode_string_, default_, scan_once_,
      key_separator_, item_separator_;
};

// Encodes and decodes values: str and bytes by tag, the rest as JSON (JsonScalarText and
// JsonScalarObject, else JsonContainers, whose references live as long as the process).
class Codec {
 public:
  explicit Codec(bool raw) : raw_(raw), json_(JsonContainers::Get()) {}

  // Encodes value into *out (the stored bytes); may return a view of value itself.
  std::string_view Encode(py::handle value, std::string* out) const {
    PyObject* o = value.ptr();
    if (raw_) {
      if (PyBytes_Check(o)) return {PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o))};
      if (PyUnicode_Check(o)) return KeyView(value);
      if (PyByteArray_Check(o)) return KeyView(value);
      throw py::type_error(std::string("a raw store takes bytes or str values, not ") +
                           Py_TYPE(o)->tp_name);
    }
    char tag;
    std::string_view body;
    py::object keep;  // keeps a temporary alive while its bytes are copied
    char number[32];  // or holds an int's digits
    if (PyUnicode_Check(o)) {
      tag = 's';
      body = KeyView(value);
    } else if (PyBytes_Check(o) || PyByteArray_Check(o)) {
      tag = 'b';
      body = KeyView(value);
    } else if (PyMemoryView_Check(o)) {
      tag = 'b';
      keep = py::reinterpret_steal<py::object>(PyBytes_FromObject(o));
      if (!keep) throw py::error_already_set();
      body = {PyBytes_AS_STRING(keep.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(keep.ptr()))};
    } else {
      tag = 'j';
      body = JsonScalarText(o, number, &keep);
      if (body.empty()) {
        keep = py::reinterpret_steal<py::object>(
            json_.Dumps(o));  // TypeError for what JSON cannot hold
        if (!keep) throw py::error_already_set();
        body = KeyView(keep);
      }
    }
    // resize, not clear and append: out keeps its size from the last value of the thread, so
    // for values of one size this writes the tag and copies, nothing more.
    out->resize(body.size() + 1);
    char* p = out->data();
    p[0] = tag;
    if (!body.empty()) std::memcpy(p + 1, body.data(), body.size());
    return {p, body.size() + 1};
  }

  py::object Decode(std::string_view stored, std::string_view key) const {
    bool decoded;
    if (PyObject* o = DecodeWithoutPython(stored, &decoded); decoded) {
      if (o == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(o);
    }
    if (stored.empty()) Raise(Status::Corruption(BadValue(key, "is empty")));
    const char* p = stored.data() + 1;
    const auto n = static_cast<Py_ssize_t>(stored.size() - 1);
    switch (stored[0]) {
      case 'j': {
        if (PyObject* scalar = JsonScalarObject(p, static_cast<size_t>(n))) {
          return py::reinterpret_steal<py::object>(scalar);
        }
        if (PyErr_Occurred()) throw py::error_already_set();
        PyObject* s = StrFromUtf8(p, static_cast<size_t>(n));
        if (s == nullptr) throw py::error_already_set();
        py::object text = py::reinterpret_steal<py::object>(s);
        PyObject* obj = json_.Loads(text.ptr());
        if (obj == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::object>(obj);
      }
      default:
        PyErr_SetString(errors.error,
                        BadValue(key,
                                 "was not written by the Python API (no type tag); open the "
                                 "store with raw=True to read values as bytes")
                            .c_str());
        throw py::error_already_set();
    }
  }

  // The object for stored bytes that decode without running Python code (bytes and str
  // values), or nullptr with an error set if making it failed; not for JSON or anything
  // untagged (*decodes false: Decode handles those), as decoding JSON can run Python code (a
  // garbage collection, a finalizer) and so must wait until the store's lock is let go. Safe
  // to call while the store holds a lock.
  PyObject* DecodeWithoutPython(std::string_view stored, bool* decodes) const {
    *decodes = true;
    if (raw_)
      return PyBytes_FromStringAndSize(stored.data(), static_cast<Py_ssize_t>(stored.size()));
    if (!stored.empty() && stored[0] == 's')
      return StrFromUtf8(stored.data() + 1, stored.size() - 1);
    if (!stored.empty() && stored[0] == 'b') {
      return PyBytes_FromStringAndSize(stored.data() + 1,
                                       static_cast<Py_ssize_t>(stored.size() - 1));
    }
    *decodes = false;
    return nullptr;
  }

  bool raw() const { return raw_; }

 private:
  static std::string BadValue(std::string_view key, const char* what) {
    return "the value of key '" + std::string(key.substr(0, 64)) + "' " + what;
  }
  bool raw_;
  const JsonContainers& json_;
};

// Values at least this large are written and read with the GIL released.
constexpr size_t kReleaseGilBytes = 64 * 1024;
// get_many lets other threads run while it reads this many keys or more.
constexpr size_t kReleaseGilKeys = 256;

// Seconds (ttl or expire_at) as milliseconds, below 2^62 (146 million years), or a ValueError
// that says what was wrong: not positive, not finite (NaN and infinity compare false below),
// or too large to convert.
uint64_t Millis(py::handle seconds, const char* what) {
  // float() of it: a TypeError for a str, an OverflowError for an int too large for a float.
  const double secs = PyFloat_AsDouble(seconds.ptr());
  if (secs == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  if (!(secs > 0 && secs * 1000 < 0x1p62)) {
    throw py::value_error(std::string(what) + " must be a positive, finite number of seconds " +
                          "(below 4.6e15), not " + py::repr(seconds).cast<std::string>());
  }
  return std::max<uint64_t>(1, static_cast<uint64_t>(secs * 1000 + 0.5));
}

uint64_t ExpiryMillis(py::handle ttl, py::handle expire_at) {
  if (!expire_at.is_none()) return Millis(expire_at, "expire_at (a Unix time)");
  if (!ttl.is_none()) return Millis(ttl, "ttl") | (uint64_t{1} << 63);  // relative marker
  return 0;
}

bitcask::WriteOptions MakeWriteOptions(uint64_t expiry, bool sync) {
  bitcask::WriteOptions w;
  w.sync = sync;
  if (expiry & (uint64_t{1} << 63)) {
    w.ttl_ms = expiry & ~(uint64_t{1} << 63);
  } else {
    w.expire_at_ms = expiry;
  }
  return w;
}

// ---- Store --------------------------------------------------------------------------------

class Store;

// Scan bounds as Python gives them.
struct ScanArgs {
  std::string prefix, start, end;
  bool reverse = false;
  size_t limit = SIZE_MAX;
};

ScanArgs MakeScan(const py::object& prefix, const py::object& start, const py::object& end,
                  bool reverse, const py::object& limit) {
  ScanArgs a;
  if (!prefix.is_none()) a.prefix = std::string(KeyView(prefix));
  if (!start.is_none()) a.start = std::string(KeyView(start));
  if (!end.is_none()) a.end = std::string(KeyView(end));
  a.reverse = reverse;
  if (!limit.is_none()) {
    const long long l = limit.cast<long long>();
    if (l < 0) throw py::value_error("limit must not be negative");
    a.limit = static_cast<size_t>(l);
  }
  return a;
}

// Iterates keys or (key, value) pairs of a Store in key order, a batch at a time with the GIL
// released while the engine fills the batch.
class ScanIterator {
 public:
  enum class Mode { kKeys, kItems, kValues };
  ScanIterator(std::shared_ptr<bitcask::DB> db, const Codec& codec, ScanArgs args, Mode mode)
      : db_(std::move(db)), codec_(codec), args_(std::move(args)), mode_(mode) {
    bitcask::IteratorOptions o;
    o.prefix = args_.prefix;
    o.lower_bound = args_.start;
    o.upper_bound = args_.end;
    py::gil_scoped_release unlocked;
    it_ = db_->NewIterator(o);
    if (args_.reverse) {
      it_->SeekToLast();
    } else {
      it_->SeekToFirst();
    }
  }

  py::object Next() {
    if (buffer_pos_ == buffer_.size()) Fill();
    if (buffer_pos_ == buffer_.size()) throw py::stop_iteration();
    const auto& [k, v] = buffer_[buffer_pos_++];
    switch (mode_) {
      case Mode::kKeys:
        return KeyObject(k);
      case Mode::kValues:
        return codec_.Decode(v, k);
      case Mode::kItems:
        break;
    }
    return py::make_tuple(KeyObject(k), codec_.Decode(v, k));
  }

 private:
  void Fill() {
    buffer_.clear();
    buffer_pos_ = 0;
    Status s;
    {
      py::gil_scoped_release unlocked;
      constexpr size_t kBatch = 256;
      while (it_->Valid() && buffer_.size() < kBatch && returned_ < args_.limit) {
        buffer_.emplace_back(std::string(it_->key()),
                             mode_ == Mode::kKeys ? std::string() : std::string(it_->value()));
        returned_++;
        if (args_.reverse) {
          it_->Prev();
        } else {
          it_->Next();
        }
      }
      s = it_->status();
    }
    Check(s);
  }

  std::shared_ptr<bitcask::DB> db_;  // keeps the DB alive as long as the iterator
  const Codec codec_;
  const ScanArgs args_;
  const Mode mode_;
  std::unique_ptr<bitcask::Iterator> it_;
  std::vector<std::pair<std::string, std::string>> buffer_;
  size_t buffer_pos_ = 0;
  size_t returned_ = 0;
};

class Batch {
 public:
  Batch(std::shared_ptr<bitcask::DB> db, const Codec& codec) : db_(std::move(db)), codec_(codec) {}

  void Put(py::handle key, py::handle value, const py::object& ttl, const py::object& expire_at) {
    uint64_t expiry = ExpiryMillis(ttl, expire_at);
    if (expiry & (uint64_t{1} << 63)) {
      // Batches take absolute expiries: resolve a TTL now.
      const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      expiry = static_cast<uint64_t>(now) + (expiry & ~(uint64_t{1} << 63));
    }
    batch_.Put(KeyView(key), codec_.Encode(value, &scratch_), expiry);
  }
  void Delete(py::handle key) { batch_.Delete(KeyView(key)); }
  size_t Size() const { return batch_.Count(); }
  void Clear() { batch_.Clear(); }
  void Commit(bool sync) {
    Status s;
    {
      py::gil_scoped_release unlocked;
      bitcask::WriteOptions w;
      w.sync = sync;
      s = db_->Write(batch_, w);
    }
    Check(s);
    batch_.Clear();
  }

 private:
  std::shared_ptr<bitcask::DB> db_;
  const Codec codec_;
  bitcask::WriteBatch batch_;
  std::string scratch_;
};

class Store {
 public:
  Store(const py::object& directory, const std::string& sync, uint32_t sync_interval_ms,
        uint64_t max_file_size, const std::string& compression, uint32_t compression_min_bytes,
        bool read_only, bool create, bool auto_merge, bool raw, bool salvage)
      : codec_(raw) {
    directory_ = PathBytes(directory);
    bitcask::Options o;
    if (sync == "none") {
      o.sync_mode = bitcask::SyncMode::kNone;
    } else if (sync == "interval") {
      o.sync_mode = bitcask::SyncMode::kInterval;
    } else if (sync == "always") {
      o.sync_mode = bitcask::SyncMode::kAlways;
    } else {
      throw py::value_error("sync must be 'none', 'interval' or 'always', not '" + sync + "'");
    }
    if (compression == "none") {
      o.compression = bitcask::Compression::kNone;
    } else if (compression == "lz4") {
      o.compression = bitcask::Compression::kLz4;
    } else if (compression == "zstd") {
      o.compression = bitcask::Compression::kZstd;
    } else {
      throw py::value_error("compression must be 'none', 'lz4' or 'zstd', not '" + compression +
                            "'");
    }
    o.sync_interval_ms = sync_interval_ms;
    o.max_file_size = max_file_size;
    o.compression_min_bytes = compression_min_bytes;
    o.read_only = read_only;
    o.create_if_missing = create;
    o.auto_merge = auto_merge;
    if (salvage) o.recovery_mode = bitcask::RecoveryMode::kSkipCorrupt;
    std::unique_ptr<bitcask::DB> db;
    Status s;
    {
      py::gil_scoped_release unlocked;
      s = bitcask::DB::Open(o, directory_, &db);
    }
    Check(s);
    db_ = std::shared_ptr<bitcask::DB>(std::move(db));
  }

  // ttl and expire_at are None when not given.
  void Put(py::handle key, py::handle value, py::handle ttl, py::handle expire_at, bool sync) {
    const std::string_view k = KeyView(key);
    thread_local std::string scratch;
    const std::string_view v = codec_.Encode(value, &scratch);
    const uint64_t expiry = ttl.is_none() && expire_at.is_none() ? 0 : ExpiryMillis(ttl, expire_at);
    const bitcask::WriteOptions w = MakeWriteOptions(expiry, sync);
    Status s;
    if (sync || v.size() >= kReleaseGilBytes) {
      py::gil_scoped_release unlocked;
      s = db_->Put(k, v, w);
    } else {
      s = db_->Put(k, v, w);
    }
    Check(s);
  }

  py::object Get(py::handle key, py::handle default_value) {
    const std::string_view k = KeyView(key);
    py::object v;
    if (!Read(k, &v)) return py::reinterpret_borrow<py::object>(default_value);
    return v;
  }

  // One DB::MultiGet: every key read at one moment, their memory fetches overlapped. The
  // keys are copied, so that the GIL can be let go for a long list.
  py::list GetMany(const py::iterable& keys, py::handle default_value) {
    std::vector<std::string> owned;
    for (py::handle k : keys) owned.emplace_back(KeyView(k));
    const std::vector<std::string_view> views(owned.begin(), owned.end());
    std::vector<std::string> values(views.size());
    std::vector<Status> statuses(views.size());
    if (views.size() >= kReleaseGilKeys) {
      py::gil_scoped_release unlocked;
      db_->MultiGet(views, values, statuses);
    } else {
      db_->MultiGet(views, values, statuses);
    }
    py::list out(views.size());
    for (size_t i = 0; i < views.size(); i++) {
      if (statuses[i].IsNotFound()) {
        out[i] = py::reinterpret_borrow<py::object>(default_value);
        continue;
      }
      Check(statuses[i]);
      out[i] = codec_.Decode(values[i], views[i]);
    }
    return out;
  }

  py::object GetItem(py::handle key) {
    const std::string_view k = KeyView(key);
    py::object v;
    if (!Read(k, &v)) throw py::key_error(py::repr(key).cast<std::string>());
    return v;
  }

  bool Delete(py::handle key) {
    const Status s = db_->Delete(KeyView(key));
    if (s.IsNotFound()) return false;
    Check(s);
    return true;
  }

  void DelItem(py::handle key) {
    if (!Delete(key)) throw py::key_error(py::repr(key).cast<std::string>());
  }

  bool Contains(py::handle key) {
    const Status s = db_->Contains(KeyView(key));
    if (s.IsNotFound()) return false;
    Check(s);
    return true;
  }

  size_t Len() {
    // Count, not GetStats: no file system calls and no latency summaries (5 µs -> well under
    // one for a store without expiring keys).
    uint64_t n = 0;
    Check(db_->Count(&n));
    return static_cast<size_t>(n);
  }

  py::list Keys(const py::object& prefix, const py::object& start, const py::object& end,
                bool reverse, const py::object& limit) {
    const ScanArgs a = MakeScan(prefix, start, end, reverse, limit);
    std::vector<std::string> keys;
    Status s;
    {
      py::gil_scoped_release unlocked;
      if (a.start.empty() && a.end.empty() && a.limit == SIZE_MAX) {
        // All of them, or of a prefix: at one moment, and without reading a value.
        s = db_->Keys(&keys, a.prefix);
        if (a.reverse) std::reverse(keys.begin(), keys.end());
      } else {
        bitcask::IteratorOptions o;
        o.prefix = a.prefix;
        o.lower_bound = a.start;
        o.upper_bound = a.end;
        auto it = db_->NewIterator(o);
        for (a.reverse ? it->SeekToLast() : it->SeekToFirst(); it->Valid() && keys.size() < a.limit;
             a.reverse ? it->Prev() : it->Next()) {
          keys.emplace_back(it->key());
        }
        s = it->status();
      }
    }
    Check(s);
    py::list out(keys.size());
    for (size_t i = 0; i < keys.size(); i++) out[i] = KeyObject(keys[i]);
    return out;
  }

  ScanIterator Scan(ScanIterator::Mode mode, const py::object& prefix, const py::object& start,
                    const py::object& end, bool reverse, const py::object& limit) {
    return ScanIterator(db_, codec_, MakeScan(prefix, start, end, reverse, limit), mode);
  }

  Batch NewBatch() { return Batch(db_, codec_); }

  void BatchWrite(const py::dict& data, bool sync) {
    // One buffer per thread, kept between calls: a large batch then reuses memory it already
    // touched instead of growing (and faulting in) a fresh buffer every time.
    thread_local bitcask::WriteBatch batch;
    thread_local std::string scratch;
    batch.Clear();
    for (auto [k, v] : data) batch.Put(KeyView(k), codec_.Encode(v, &scratch));
    Status s;
    {
      py::gil_scoped_release unlocked;
      bitcask::WriteOptions w;
      w.sync = sync;
      s = db_->Write(batch, w);
    }
    if (batch.ApproximateSize() > (size_t{64} << 20)) batch = bitcask::WriteBatch();
    batch.Clear();
    Check(s);
  }

  void Sync() {
    Status s;
    {
      py::gil_scoped_release unlocked;
      s = db_->Sync();
    }
    Check(s);
  }

  void Merge() {
    Status s;
    {
      py::gil_scoped_release unlocked;
      s = db_->Merge();
    }
    Check(s);
  }

  void Checkpoint(const py::object& path) {
    const std::string dir = PathBytes(path);
    Status s;
    {
      py::gil_scoped_release unlocked;
      s = db_->Checkpoint(dir);
    }
    Check(s);
  }

  void Close() {
    Status s;
    {
      py::gil_scoped_release unlocked;
      s = db_->Close();
    }
    closed_ = true;
    Check(s);
  }

  py::dict Stats() {
    bitcask::Stats st;
    Check(db_->GetStats(&st));
    py::dict d;
    d["live_keys"] = st.live_keys;
    d["data_files"] = st.data_files;
    d["total_bytes"] = st.total_bytes;
    d["dead_bytes"] = st.dead_bytes;
    d["live_bytes"] = st.total_bytes - st.dead_bytes;
    d["fragmentation"] = st.total_bytes == 0 ? 0.0 : double(st.dead_bytes) / double(st.total_bytes);
    d["keydir_bytes"] = st.keydir_bytes;
    d["puts"] = st.puts;
    d["gets"] = st.gets;
    d["deletes"] = st.deletes;
    d["batches"] = st.batches;
    d["syncs"] = st.syncs;
    d["bytes_written"] = st.bytes_written;
    d["merges"] = st.merges;
    d["merge_seconds"] = st.merge_micros / 1e6;
    d["merge_bytes_reclaimed"] = st.merge_bytes_reclaimed;
    d["merge_failures"] = st.merge_failures;
    d["last_merge_error"] = st.last_merge_error;
    d["write_error"] = st.write_error;
    d["open_seconds"] = st.open_micros / 1e6;
    d["files_loaded_from_hints"] = st.files_loaded_from_hints;
    d["corrupt_bytes_skipped"] = st.corrupt_bytes_skipped;
    d["tail_bytes_truncated"] = st.tail_bytes_truncated;
    d["damaged_keys_dropped"] = st.damaged_keys_dropped;
    auto latency = [](const bitcask::LatencyStats& l) {
      py::dict x;
      x["samples"] = l.samples;
      x["p50_us"] = l.p50_us;
      x["p99_us"] = l.p99_us;
      x["p999_us"] = l.p999_us;
      x["max_us"] = l.max_us;
      return x;
    };
    d["get_latency"] = latency(st.get_latency);
    d["put_latency"] = latency(st.put_latency);
    d["delete_latency"] = latency(st.delete_latency);
    d["batch_latency"] = latency(st.batch_latency);
    py::list files;
    for (const auto& f : st.files) {
      py::dict x;
      x["id"] = f.file_id;
      x["total_bytes"] = f.total_bytes;
      x["dead_bytes"] = f.dead_bytes;
      x["fragmentation"] = f.fragmentation();
      x["active"] = f.active;
      x["has_hint"] = f.has_hint;
      files.append(x);
    }
    d["files"] = files;
    return d;
  }

  py::dict CheckStore() {
    bitcask::CheckReport r;
    Status s;
    {
      py::gil_scoped_release unlocked;
      s = db_->Check(&r);
    }
    if (!s.ok() && !s.IsCorruption()) Raise(s);
    py::dict d;
    d["ok"] = r.problems.empty();
    d["data_files"] = r.data_files;
    d["records"] = r.records;
    d["bytes"] = r.bytes;
    d["hint_files"] = r.hint_files;
    py::list problems;
    for (const auto& p : r.problems) {
      py::dict x;
      x["path"] = p.path;
      x["offset"] = p.offset;
      x["length"] = p.length;
      x["reason"] = p.reason;
      problems.append(x);
    }
    d["problems"] = problems;
    return d;
  }

  // As a str (os.fsdecode: undecodable bytes as surrogates, as os.listdir gives them).
  py::object directory() const {
    return py::module_::import("os").attr("fsdecode")(py::bytes(directory_));
  }
  bool closed() const { return closed_; }

 private:
  // The value of key into *out; false if the key is absent or expired. A str or bytes value
  // becomes its object straight from the store's bytes (GetView), without a copy in between;
  // a JSON value is copied out and decoded after. The GIL is held throughout, so the object
  // is made under the store's lock without letting another thread in.
  bool Read(std::string_view k, py::object* out) {
    thread_local std::string copy;
    PyObject* made = nullptr;
    bool copied = false;
    const Status s = db_->GetView(k, [&](std::string_view stored) {
      bool decodes;
      made = codec_.DecodeWithoutPython(stored, &decodes);
      if (!decodes) {
        copy.assign(stored);
        copied = true;
      }
    });
    if (!s.ok()) {
      // A failure after the callback (its page failed under it: see DB::GetView) drops what
      // it made.
      Py_XDECREF(made);
      if (s.IsNotFound()) return false;
      Check(s);
    }
    if (copied) {
      *out = codec_.Decode(copy, k);
    } else {
      if (made == nullptr) throw py::error_already_set();
      *out = py::reinterpret_steal<py::object>(made);
    }
    return true;
  }

 public:
  bool raw() const { return codec_.raw(); }

 private:
  std::string directory_;
  const Codec codec_;
  std::shared_ptr<bitcask::DB> db_;
  bool closed_ = false;
};

// ---- The hot methods, without pybind11's dispatcher ------------------------------------------
//
// pybind11's generic dispatch (argument tuples, default values, and for a Python subclass a
// type-registry lookup per call) cost 0.3-0.9 µs per call here, more than the engine's own
// get. get, put and delete are therefore plain METH_FASTCALL methods; CPython's method
// descriptor has already checked that self is a Store when they run.

Store* SelfStore(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  if (inst->simple_layout) {
    // One C++ type in the instance (Python subclasses such as Bitcask add none): pybind11
    // keeps the pointer inline; get_value_and_holder would search the type list for it.
    if (!inst->simple_holder_constructed) {
      throw py::type_error("the store is not initialised (was Store.__init__ called?)");
    }
    return static_cast<Store*>(inst->simple_value_holder[0]);
  }
  py::detail::value_and_holder vh = inst->get_value_and_holder();
  if (!vh.holder_constructed()) {
    throw py::type_error("the store is not initialised (was Store.__init__ called?)");
  }
  return vh.value_ptr<Store>();
}

// Runs body, turning C++ exceptions into a Python error and nullptr.
template <typename F>
PyObject* Guarded(F&& body) {
  try {
    return body();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (py::builtin_exception& e) {
    e.set_error();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

// BindArgs when there are keyword arguments or too many positional ones.
[[gnu::noinline]] bool BindArgsSlow(const char* fn, PyObject* const* args, Py_ssize_t nargs,
                                    PyObject* kwnames, Py_ssize_t max_positional,
                                    std::initializer_list<const char*> names, PyObject** out) {
  if (nargs > max_positional) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional arguments (%zd given)", fn,
                 max_positional, nargs);
    return false;
  }
  for (Py_ssize_t i = 0; i < nargs; i++) out[i] = args[i];
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  for (Py_ssize_t k = 0; k < nkw; k++) {
    const char* name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
    if (name == nullptr) return false;
    size_t slot = 0;
    for (const char* n : names) {
      if (std::strcmp(n, name) == 0) break;
      slot++;
    }
    if (slot == names.size()) {
      PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'", fn, name);
      return false;
    }
    if (out[slot] != nullptr) {
      PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fn, name);
      return false;
    }
    out[slot] = args[nargs + k];
  }
  return true;
}

// Matches keyword arguments (kwnames) of a vectorcall against names; fills out[] with the
// positional arguments first. Returns false with a TypeError set on a mismatch. The common
// call, positional arguments only, is handled here inline.
inline bool BindArgs(const char* fn, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                     Py_ssize_t max_positional, std::initializer_list<const char*> names,
                     PyObject** out) {
  if (kwnames == nullptr && nargs <= max_positional) [[likely]] {
    for (Py_ssize_t i = 0; i < nargs; i++) out[i] = args[i];
    return true;
  }
  return BindArgsSlow(fn, args, nargs, kwnames, max_positional, names, out);
}

PyObject* FastGet(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Guarded([&]() -> PyObject* {
    PyObject* a[2] = {nullptr, nullptr};  // key, default
    if (!BindArgs("get", args, nargs, kwnames, 2, {"key", "default"}, a)) return nullptr;
    if (a[0] == nullptr) throw py::type_error("get() missing required argument 'key'");
    return SelfStore(self)->Get(a[0], a[1] == nullptr ? Py_None : a[1]).release().ptr();
  });
}

PyObject* FastPut(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return Guarded([&]() -> PyObject* {
    PyObject* a[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};  // key value ttl expire_at sync
    if (!BindArgs("put", args, nargs, kwnames, 2, {"key", "value", "ttl", "expire_at", "sync"},
                  a)) {
      return nullptr;
    }
    if (a[0] == nullptr || a[1] == nullptr) {
      throw py::type_error("put() takes the arguments key and value");
    }
    const int sync = a[4] == nullptr ? 0 : PyObject_IsTrue(a[4]);
    if (sync < 0) return nullptr;
    SelfStore(self)->Put(a[0], a[1], a[2] ? a[2] : Py_None, a[3] ? a[3] : Py_None, sync != 0);
    Py_RETURN_NONE;
  });
}

PyObject* FastDelete(PyObject* self, PyObject* key) {
  return Guarded([&]() -> PyObject* {
    if (SelfStore(self)->Delete(key)) Py_RETURN_TRUE;
    Py_RETURN_FALSE;
  });
}

// The mapping protocol: `key in db`, `db[key]`, `db[key] = value`, `del db[key]`. Python's
// slots for them look these methods up by name, so plain C methods serve them as well.
PyObject* FastContains(PyObject* self, PyObject* key) {
  return Guarded([&]() -> PyObject* { return PyBool_FromLong(SelfStore(self)->Contains(key)); });
}

PyObject* FastGetItem(PyObject* self, PyObject* key) {
  return Guarded([&]() -> PyObject* { return SelfStore(self)->GetItem(key).release().ptr(); });
}

PyObject* FastSetItem(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
  return Guarded([&]() -> PyObject* {
    if (nargs != 2) throw py::type_error("__setitem__ takes a key and a value");
    SelfStore(self)->Put(args[0], args[1], Py_None, Py_None, false);
    Py_RETURN_NONE;
  });
}

PyObject* FastDelItem(PyObject* self, PyObject* key) {
  return Guarded([&]() -> PyObject* {
    SelfStore(self)->DelItem(key);
    Py_RETURN_NONE;
  });
}

PyObject* FastLen(PyObject* self, PyObject*) {
  return Guarded([&]() -> PyObject* { return PyLong_FromSize_t(SelfStore(self)->Len()); });
}

PyMethodDef kFastMethods[] = {
    {"get", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(FastGet)),
     METH_FASTCALL | METH_KEYWORDS,
     "get(key, default=None)\n\nThe value of key, or default if it is absent or expired."},
    {"put", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(FastPut)),
     METH_FASTCALL | METH_KEYWORDS,
     "put(key, value, *, ttl=None, expire_at=None, sync=False)\n\nStores value under key. "
     "ttl: seconds to live; expire_at: Unix time; sync: flush to disk before returning."},
    {"delete", FastDelete, METH_O, "delete(key)\n\nRemoves key; True if it was there."},
    {"__contains__", FastContains, METH_O, "key in store: whether key is live."},
    {"__getitem__", FastGetItem, METH_O, "store[key]: its value; KeyError if absent or expired."},
    {"__setitem__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(FastSetItem)),
     METH_FASTCALL, "store[key] = value: put(key, value)."},
    {"__delitem__", FastDelItem, METH_O, "del store[key]: delete; KeyError if absent."},
    {"__len__", FastLen, METH_NOARGS, "len(store): the number of live keys (expired ones not)."},
};

void InstallFastMethods(py::handle type) {
  for (PyMethodDef& def : kFastMethods) {
    PyObject* descr = PyDescr_NewMethod(reinterpret_cast<PyTypeObject*>(type.ptr()), &def);
    if (descr == nullptr || PyObject_SetAttrString(type.ptr(), def.ml_name, descr) != 0) {
      Py_XDECREF(descr);
      throw py::error_already_set();
    }
    Py_DECREF(descr);
  }
}

}  // namespace

PYBIND11_MODULE(_bitcask, m) {
  m.doc() = "libbitcask bound for Python; use the bitcask package (from bitcask import Bitcask)";
  m.attr("__version__") = BITCASK_VERSION;
  // Built here, while the import holds Python's import lock: built later by the first Codec,
  // a thread holding the GIL could wait on the static's guard for a thread that waits for the
  // GIL (its constructor calls into Python, which may let the GIL go).
  JsonContainers::Get();

  errors.error = NewError(m, "Error", PyExc_Exception, "Base class of every bitcask error.");
  const py::tuple error_base = py::make_tuple(py::handle(errors.error));
  errors.corruption = NewError(m, "CorruptionError", error_base.ptr(),
                               "Stored bytes failed a checksum or format check; the message "
                               "names the file and offset.");
  errors.locked = NewError(m, "LockedError", error_base.ptr(),
                           "Another writer holds the store (open it read_only=True to read).");
  errors.closed = NewError(m, "ClosedError", error_base.ptr(), "The store was closed.");
  errors.invalid_argument =
      NewError(m, "InvalidArgumentError",
               py::make_tuple(py::handle(errors.error), py::handle(PyExc_ValueError)).ptr(),
               "An argument was out of range (a key over 64 KiB, a value over 1 GiB, ...).");
  errors.disk = NewError(m, "DiskError",
                         py::make_tuple(py::handle(errors.error), py::handle(PyExc_OSError)).ptr(),
                         "A system call failed; the message has the path and the errno text.");
  errors.not_supported = NewError(m, "NotSupportedError", error_base.ptr(),
                                  "The store was written by a newer format version, or hit a "
                                  "limit of this one.");

  py::class_<ScanIterator>(m, "ScanIterator", "Iterator over a key range, in key order.")
      .def("__iter__", [](ScanIterator& it) -> ScanIterator& { return it; })
      .def("__next__", &ScanIterator::Next);

  py::class_<Batch>(m, "Batch",
                    "Puts and deletes applied atomically by commit() (or by leaving a "
                    "`with store.batch() as b:` block without an exception).")
      .def("put", &Batch::Put, py::arg("key"), py::arg("value"), py::kw_only(),
           py::arg("ttl") = py::none(), py::arg("expire_at") = py::none(),
           "Adds a put; ttl in seconds, or expire_at as a Unix time.")
      .def("delete", &Batch::Delete, py::arg("key"), "Adds a delete.")
      .def("commit", &Batch::Commit, py::kw_only(), py::arg("sync") = false,
           "Applies every operation, or none, and empties the batch.")
      .def("clear", &Batch::Clear, "Drops the operations added so far.")
      .def("__len__", &Batch::Size)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Batch& b, py::handle type, py::handle, py::handle) {
        if (type.is_none()) {
          b.Commit(false);
        } else {
          b.Clear();
        }
        return false;
      });

  using Mode = ScanIterator::Mode;
  py::class_<Store> store(m, "Store", "A bitcask store; see bitcask.Bitcask.");
  store
      .def(py::init<const py::object&, const std::string&, uint32_t, uint64_t, const std::string&,
                    uint32_t, bool, bool, bool, bool, bool>(),
           py::arg("directory"), py::kw_only(), py::arg("sync") = "none",
           py::arg("sync_interval_ms") = 1000, py::arg("max_file_size") = 256ull << 20,
           py::arg("compression") = "none", py::arg("compression_min_bytes") = 256,
           py::arg("read_only") = false, py::arg("create") = true, py::arg("auto_merge") = true,
           py::arg("raw") = false, py::arg("salvage") = false)
      .def("get_many", &Store::GetMany, py::arg("keys"), py::arg("default") = py::none(),
           "get_many(keys, default=None)\n\nThe values of many keys, as a list in their order "
           "(default for each absent or expired one), all read at one moment: never part of a "
           "batch. Faster per key than get() in a loop.")
      .def("keys", &Store::Keys, py::kw_only(), py::arg("prefix") = py::none(),
           py::arg("start") = py::none(), py::arg("end") = py::none(), py::arg("reverse") = false,
           py::arg("limit") = py::none(),
           "Live keys in key order (a list); optionally those with a prefix, or in "
           "[start, end), reversed, at most limit of them.")
      .def(
          "items",
          [](Store& s, const py::object& prefix, const py::object& start, const py::object& end,
             bool reverse, const py::object& limit) {
            return s.Scan(Mode::kItems, prefix, start, end, reverse, limit);
          },
          py::kw_only(), py::arg("prefix") = py::none(), py::arg("start") = py::none(),
          py::arg("end") = py::none(), py::arg("reverse") = false, py::arg("limit") = py::none(),
          "(key, value) pairs in key order, read lazily; same filters as keys().")
      .def(
          "values",
          [](Store& s, const py::object& prefix, const py::object& start, const py::object& end,
             bool reverse, const py::object& limit) {
            return s.Scan(Mode::kValues, prefix, start, end, reverse, limit);
          },
          py::kw_only(), py::arg("prefix") = py::none(), py::arg("start") = py::none(),
          py::arg("end") = py::none(), py::arg("reverse") = false, py::arg("limit") = py::none(),
          "Values in key order, read lazily; same filters as keys().")
      .def("__iter__",
           [](Store& s) {
             return s.Scan(Mode::kKeys, py::none(), py::none(), py::none(), false, py::none());
           })
      .def("batch", &Store::NewBatch, "A Batch of puts and deletes to apply atomically.")
      .def("batch_write", &Store::BatchWrite, py::arg("data"), py::kw_only(),
           py::arg("sync") = false, "Stores every key and value of a dict, atomically.")
      .def("sync", &Store::Sync, "Flushes every acknowledged write to disk.")
      .def("merge", &Store::Merge,
           "Rewrites the data files without dead records (online; returns when done).")
      .def("checkpoint", &Store::Checkpoint, py::arg("path"),
           "checkpoint(path)\n\nA copy of the store as it is now in path, a new directory, "
           "made while it is used (a hot backup): sealed files are hard links, the active "
           "file's written part is copied. Open it as any store.")
      .def("stats", &Store::Stats, "Keys, bytes, files, counters and latencies, as a dict.")
      .def("check", &Store::CheckStore,
           "Verifies every checksum; a dict with 'ok' and a list of 'problems'.")
      .def("close", &Store::Close, "Flushes and closes; later calls raise ClosedError.")
      .def_property_readonly("directory", &Store::directory)
      .def_property_readonly("closed", &Store::closed)
      .def_property_readonly("raw", &Store::raw)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](Store& s, py::handle, py::handle, py::handle) {
        s.Close();
        return false;
      });
  InstallFastMethods(store);
}
