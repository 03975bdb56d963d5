// Iterator: ordered traversal of live keys.
//
// An iterator walks keys in bytewise order, forwards or backwards, optionally limited to a
// range. It stays valid while other threads write. What it sees: every key that exists for
// the whole life of the iterator is visited exactly once; a key deleted before the iterator
// reaches it is skipped; a key added after the iterator was created may or may not be seen.
// value() is read when the iterator arrives at the key, so it is at least as new as the
// iterator. It is no snapshot: a batch applied while it walks may show some of its keys and
// not others (DB::Keys gives the keys of one moment). Delete every iterator before closing
// its DB.

#ifndef BITCASK_ITERATOR_H_
#define BITCASK_ITERATOR_H_

#include <string_view>

#include "bitcask/status.h"

namespace bitcask {

class Iterator {
 public:
  Iterator() = default;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;
  virtual ~Iterator() = default;

  // True if the iterator is positioned at a key; false at either end or after an error.
  virtual bool Valid() const = 0;

  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  // Position at the first key >= target.
  virtual void Seek(std::string_view target) = 0;
  // Position at the last key <= target.
  virtual void SeekForPrev(std::string_view target) = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;

  // Valid() must be true. The views stay valid until the iterator moves.
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;

  // Not OK if reading a value failed (e.g. a corrupt record); Valid() is then false.
  virtual Status status() const = 0;
};

}  // namespace bitcask

#endif  // BITCASK_ITERATOR_H_
