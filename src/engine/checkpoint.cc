// DB::Checkpoint: a copy of a live store in a new directory. Sealed data files never change,
// so they (and their hints) are hard-linked; the active file's written part is copied. With
// merge_mu_ held no merge adds or deletes files, and the file list and the active file's end
// are read together under write_mu_, where no batch is half written.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/data_file.h"
#include "engine/db_impl.h"
#include "engine/file_util.h"
#include "engine/hint.h"
#include "engine/map_faults.h"

namespace bitcask::engine {

namespace {

// The first n bytes of f, from its mapping, into a new file at path, flushed. Not from a
// mapping with a page of zeros standing in for one that failed (map_faults.h): the copy
// would hold the zeros.
Status CopyPrefix(Env* env, const DataFile& f, uint64_t n, const std::string& path) {
  auto unreadable = [&] {
    return Status::IOError(f.path() + ": " + map_faults::Explanation() +
                           "; a checkpoint cannot copy it");
  };
  if (f.faulted()) return unreadable();
  FileDescriptor fd;
  if (Status s = OpenFile(env, path, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd); !s.ok()) return s;
  if (Status s = WriteAt(env, fd.get(), 0, f.base(), static_cast<size_t>(n), path); !s.ok()) {
    return s;
  }
  if (f.faulted()) return unreadable();
  return env->SyncData(fd.get(), path);
}

// A hard link to `from` at `to`, flushed; where the file system cannot link (another device,
// or no links at all), copy() makes `to` instead.
template <typename Copy>
Status LinkOrCopy(Env* env, const std::string& from, const std::string& to, Copy&& copy) {
  const Status s = env->LinkFile(from, to);
  if (s.IsNotSupported()) return copy();
  if (!s.ok()) return s;
  return SyncFile(env, to);
}

// A whole file (a hint) copied, flushed.
Status CopyFile(Env* env, const std::string& from, const std::string& to) {
  FileDescriptor in, out;
  if (Status s = OpenFile(env, from, O_RDONLY, 0, &in); !s.ok()) return s;
  if (Status s = OpenFile(env, to, O_WRONLY | O_CREAT | O_EXCL, 0644, &out); !s.ok()) return s;
  std::string buf(1 << 20, '\0');
  for (uint64_t offset = 0;;) {
    size_t n = 0;
    if (Status s = env->ReadAt(in.get(), offset, buf.data(), buf.size(), &n, from); !s.ok()) {
      return s;
    }
    if (n == 0) break;
    if (Status s = WriteAt(env, out.get(), offset, buf.data(), n, to); !s.ok()) return s;
    offset += n;
  }
  return env->SyncData(out.get(), to);
}

// Removes the staging directory of a checkpoint that failed (best effort: it holds only the
// files this checkpoint made).
void RemoveStaging(Env* env, const std::string& staging) {
  std::vector<std::string> names;
  if (env->ListDir(staging, &names).ok()) {
    for (const std::string& name : names) (void)env->RemoveFile(staging + "/" + name);
  }
  (void)env->RemoveDir(staging);
}

}  // namespace

Status DBImpl::Checkpoint(const std::string& dir, const std::function<void()>& at_point) {
  if (Forked()) [[unlikely]]
    return ForkedChildError();
  if (dir.empty()) return Status::InvalidArgument("the checkpoint directory is an empty path");
  if (options_.read_only) {
    // The writer (another process) may be appending to its newest file and merging files
    // away: a consistent copy needs its locks.
    return Status::NotSupported(dir_ +
                                " is open read-only: a checkpoint is made through the "
                                "process that writes the store");
  }
  std::string target = dir;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (Status s = env_->FileExists(target); s.ok()) {
    return Status::InvalidArgument(target + ": exists; a checkpoint goes into a new directory");
  } else if (!s.IsNotFound()) {
    return s;
  }
  // Built under a name of its own and renamed when complete: a crash leaves no half
  // checkpoint under the name asked for (but NAME.checkpoint-tmp.N, which may be removed),
  // and two checkpoints into one directory at once never build in the same place: the
  // second to finish finds the name taken.
  const std::string parent = std::filesystem::path(target).parent_path().string();
  if (Status s = env_->FileExists(parent.empty() ? "." : parent); s.IsNotFound()) {
    return Status::IOError("checkpoint into " + target + ": its parent directory " + parent +
                           " does not exist");
  } else if (!s.ok()) {
    return s;
  }
  std::string staging;
  for (uint64_t n = env_->NowUnixMillis() ^ (uint64_t(::getpid()) << 40);; n++) {
    staging = target + ".checkpoint-tmp." + std::to_string(n);
    bool created = false;
    if (Status s = env_->CreateDir(staging, &created); !s.ok()) return s;
    if (created) break;  // ours; an existing one belongs to another checkpoint
  }
  Status s = CheckpointInto(staging, at_point);
  if (s.ok()) {
    // rename(2) replaces an empty directory but not one with files: another checkpoint got
    // there first.
    s = env_->RenameFile(staging, target);
    if (!s.ok()) {
      std::vector<std::string> names;
      if (env_->ListDir(target, &names).ok() && !names.empty()) {
        s = Status::InvalidArgument(target +
                                    ": exists (made while this checkpoint was being "
                                    "built); a checkpoint goes into a new directory");
      }
    }
  }
  if (!s.ok()) {
    RemoveStaging(env_, staging);
    return s;
  }
  return env_->SyncDir(parent.empty() ? "." : parent);
}

Status DBImpl::CheckpointInto(const std::string& staging, const std::function<void()>& at_point) {
  std::lock_guard merge_lock(merge_mu_);  // no merge adds or deletes a file meanwhile
  std::vector<const DataFile*> files;
  uint32_t active_id = 0;
  uint64_t active_end = 0;
  {
    util::MutexLock l(&write_mu_);
    if (closed_) return Status::Closed();
    // After a failed flush nobody knows what the disk holds (see Sync): no copy of it either.
    if (!bg_error_.ok()) return bg_error_;
    for (const DataFile* f : files_.List()) {
      // An output of a failed merge not yet removed: its records are still in its inputs.
      if (f->disk_path() != f->path()) continue;
      files.push_back(f);
    }
    if (active_ != nullptr) {
      active_id = active_->id();
      active_end = active_->size();
    }
    if (at_point) at_point();
  }
  // The files cannot go (merge_mu_), and none of the bytes copied change: a sealed file is
  // read-only, and the active file only grows past active_end.
  for (const DataFile* f : files) {
    const std::string to = DataFileName(staging, f->id());
    if (f->id() == active_id) {
      if (Status s = CopyPrefix(env_, *f, active_end, to); !s.ok()) return s;
      continue;
    }
    Status s = LinkOrCopy(env_, f->path(), to, [&] { return CopyPrefix(env_, *f, f->size(), to); });
    if (!s.ok()) return s;
    uint64_t covered = 0;
    const std::string hint = HintFileName(dir_, f->id());
    const std::string hint_to = HintFileName(staging, f->id());
    if (HintCoveredSize(env_, hint, &covered) && covered == f->size()) {
      s = LinkOrCopy(env_, hint, hint_to, [&] { return CopyFile(env_, hint, hint_to); });
      if (!s.ok()) return s;
    }
  }
  return env_->SyncDir(staging);
}

}  // namespace bitcask::engine
