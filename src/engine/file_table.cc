#include "engine/file_table.h"

namespace bitcask::engine {

void FileTable::Add(std::unique_ptr<DataFile> file) {
  std::lock_guard l(mu_);
  const uint32_t id = file->id();
  std::atomic<Page*>& slot = pages_[id >> kPageBits];
  Page* page = slot.load(std::memory_order_relaxed);
  if (page == nullptr) {
    page = page_storage_.emplace_back(std::make_unique<Page>()).get();  // all nullptr
    slot.store(page, std::memory_order_release);
  }
  (*page)[id & (kPageSize - 1)].store(file.get(), std::memory_order_release);
  owned_[id] = std::move(file);
}

std::unique_ptr<DataFile> FileTable::Remove(uint32_t id) {
  std::lock_guard l(mu_);
  auto it = owned_.find(id);
  if (it == owned_.end()) return nullptr;
  (*pages_[id >> kPageBits].load(std::memory_order_relaxed))[id & (kPageSize - 1)].store(
      nullptr, std::memory_order_release);
  std::unique_ptr<DataFile> file = std::move(it->second);
  owned_.erase(it);
  return file;
}

std::vector<DataFile*> FileTable::List() const {
  std::lock_guard l(mu_);
  std::vector<DataFile*> out;
  out.reserve(owned_.size());
  for (const auto& [id, file] : owned_) out.push_back(file.get());
  return out;
}

}  // namespace bitcask::engine
