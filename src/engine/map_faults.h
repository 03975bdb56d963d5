// Faults on mapped files: SIGBUS made into an error instead of the end of the process.
//
// A read through a memory mapping has no way to fail. Where pread(2) would return EIO (the
// disk could not read a page) or fewer bytes (another program cut the file shorter than it
// was when mapped), the access raises SIGBUS, whose default action kills the process: one bad
// sector would take a server down with every client. So every MemoryMap registers its range
// here, and a SIGBUS handler, installed with the first, puts a page of zeros in place of a
// page of ours that could not be read and lets the access go on. Zeros never pass a record's
// checksum, so the read fails; the places that report it ask whether the file faulted, to say
// why (an IOError naming SIGBUS rather than a bad checksum). A writer asks after each copy
// into its mapping, and fails rather than acknowledge bytes that went to a zero page.
//
// A SIGBUS outside our mappings goes to the handler that was there before ours, or takes the
// default action as it would have without us. The zero page stays in the mapping until the
// file is mapped again (the store reopened): a read of it fails every time, like the bad
// sector it stands for. A strict scan fails at it; a salvage scan skips the records around
// it (FaultedIn tells it the damage it met is the page's, not an unfinished end of the file).

#ifndef BITCASK_ENGINE_MAP_FAULTS_H_
#define BITCASK_ENGINE_MAP_FAULTS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace bitcask::engine::map_faults {

// Adds a mapping; installs the handler the first time. Returns a slot for Unregister and
// FaultFlag, or -1 if the table is full (the mapping then goes without: a fault in it ends
// the process).
int Register(const void* begin, size_t length);
void Unregister(int slot);

namespace internal {
struct Slot {
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> faulted{false};
  // The pages replaced lie in [first_fault, end_fault) (with pages between that may be fine).
  std::atomic<uintptr_t> first_fault{UINTPTR_MAX};
  std::atomic<uintptr_t> end_fault{0};
};
constexpr size_t kSlots = size_t{1} << 16;
extern Slot slots[kSlots];
extern std::atomic<uint64_t> fault_count;
}  // namespace internal

// The flag that says whether a page of the mapping in `slot` was replaced with zeros (for
// slot -1, one that stays false). A writer loads it after each copy into its mapping.
inline const std::atomic<bool>* FaultFlag(int slot) {
  static const std::atomic<bool> never{false};
  return slot >= 0 ? &internal::slots[slot].faulted : &never;
}

// Faults handled so far in the process: a load of a line nobody writes until a fault.
inline uint64_t Count() { return internal::fault_count.load(std::memory_order_acquire); }

// Whether the registered mapping holding `p` had a page replaced (a slow search: for error
// paths, and after Count() moved).
bool Faulted(const void* p);

// Whether a replaced page of the registered mapping holding `p` may lie in [p, p + n): true
// for any page between the first and the last replaced (a slow search, as Faulted).
bool FaultedIn(const void* p, size_t n);

// What the error says, after "PATH offset N: ".
std::string Explanation();

}  // namespace bitcask::engine::map_faults

#endif  // BITCASK_ENGINE_MAP_FAULTS_H_
