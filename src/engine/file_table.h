// FileTable: file id -> DataFile, read without locks.
//
// Readers look a file up on every Get, so lookups are two atomic loads into a two-level
// table indexed by id. Only the writer (under the DB's write lock) and merge add and remove
// files; a removed DataFile is handed back to the caller, who destroys it only once no reader
// can still hold a location inside it (see Keydir).

#ifndef BITCASK_ENGINE_FILE_TABLE_H_
#define BITCASK_ENGINE_FILE_TABLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/data_file.h"
#include "engine/keydir.h"

namespace bitcask::engine {

class FileTable {
 public:
  FileTable() = default;
  FileTable(const FileTable&) = delete;
  FileTable& operator=(const FileTable&) = delete;

  DataFile* Get(uint32_t id) const {
    const Page* page = pages_[id >> kPageBits].load(std::memory_order_acquire);
    return page == nullptr ? nullptr
                           : (*page)[id & (kPageSize - 1)].load(std::memory_order_acquire);
  }

  void Add(std::unique_ptr<DataFile> file);
  std::unique_ptr<DataFile> Remove(uint32_t id);
  // Every file, ascending id.
  std::vector<DataFile*> List() const;

 private:
  static constexpr unsigned kPageBits = 12;
  static constexpr uint32_t kPageSize = 1u << kPageBits;
  using Page = std::array<std::atomic<DataFile*>, kPageSize>;

  mutable std::mutex mu_;  // guards owned_ and page allocation
  std::map<uint32_t, std::unique_ptr<DataFile>> owned_;
  std::vector<std::unique_ptr<Page>> page_storage_;  // owns what pages_ points to
  std::array<std::atomic<Page*>, (kMaxFileId >> kPageBits) + 1> pages_{};
};

}  // namespace bitcask::engine

#endif  // BITCASK_ENGINE_FILE_TABLE_H_
