// Clang's thread-safety annotations (-Wthread-safety): which lock guards which field, which
// functions need it held. Other compilers see nothing. `make test` builds the engine with
// clang and the warning made an error, so a field read without its lock fails the build.

#ifndef BITCASK_UTIL_THREAD_ANNOTATIONS_H_
#define BITCASK_UTIL_THREAD_ANNOTATIONS_H_

#if defined(__clang__)
#define BITCASK_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define BITCASK_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) BITCASK_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY BITCASK_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) BITCASK_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) BITCASK_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) BITCASK_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) BITCASK_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) BITCASK_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) BITCASK_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) BITCASK_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) BITCASK_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) BITCASK_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) \
  BITCASK_THREAD_ANNOTATION(try_acquire_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) BITCASK_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS BITCASK_THREAD_ANNOTATION(no_thread_safety_analysis)

#endif  // BITCASK_UTIL_THREAD_ANNOTATIONS_H_
