// A deterministic history of writes for merge tests: overwrites, deletes, re-puts and
// expiring keys spread over many files. The crash test runs it in a child, merges and kills
// the child mid-merge; the parent checks the reopened store against Expected().

#ifndef BITCASK_TESTS_MERGE_WORKLOAD_H_
#define BITCASK_TESTS_MERGE_WORKLOAD_H_

#include <map>
#include <string>

#include "bitcask/db.h"

namespace bitcask::test {

Status MergeWorkload(DB* db);
// Key -> value the store must hold after MergeWorkload (expired keys are absent: they expire
// at a fixed point in the past).
std::map<std::string, std::string> MergeWorkloadExpected();
// Keys MergeWorkload deleted (or let expire) for good; none may come back.
std::vector<std::string> MergeWorkloadGone();

}  // namespace bitcask::test

#endif  // BITCASK_TESTS_MERGE_WORKLOAD_H_
