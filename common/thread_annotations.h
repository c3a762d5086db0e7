#pragma once

// Clang's thread-safety annotations, in Abseil's spelling. Under clang with
// -Wthread-safety (the `tsa` flavour of scripts/build) the compiler checks them: reading a
// GUARDED_BY member without holding its mutex, or calling a REQUIRES function without the
// capability, is an error. Under gcc they expand to nothing.
//
// Use them with common/mutex.h: std::mutex carries no capability in libstdc++, so the
// analysis cannot see it being locked.

#if defined(__clang__)
#define AGENTBUDGET_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define AGENTBUDGET_THREAD_ANNOTATION(x)
#endif

// A type that is a lock (a mutex).
#define CAPABILITY(name) AGENTBUDGET_THREAD_ANNOTATION(capability(name))
// An RAII type that holds a capability for its lifetime.
#define SCOPED_CAPABILITY AGENTBUDGET_THREAD_ANNOTATION(scoped_lockable)

// The member is read and written only with `mu` held.
#define GUARDED_BY(mu) AGENTBUDGET_THREAD_ANNOTATION(guarded_by(mu))
// The pointee is read and written only with `mu` held (the pointer itself is not).
#define PT_GUARDED_BY(mu) AGENTBUDGET_THREAD_ANNOTATION(pt_guarded_by(mu))

// Lock ordering between mutexes.
#define ACQUIRED_BEFORE(...) AGENTBUDGET_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) AGENTBUDGET_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))

// The caller must hold the capability (exclusively, or at least shared).
#define REQUIRES(...) AGENTBUDGET_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) AGENTBUDGET_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// The caller must not hold the capability (the function takes it).
#define EXCLUDES(...) AGENTBUDGET_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// The function acquires / releases the capability.
#define ACQUIRE(...) AGENTBUDGET_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) AGENTBUDGET_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) AGENTBUDGET_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// The function acquires / releases the capability shared (a reader lock).
#define ACQUIRE_SHARED(...) AGENTBUDGET_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) AGENTBUDGET_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))

// From here on the analysis assumes the caller holds the capability (checks nothing).
#define ASSERT_CAPABILITY(x) AGENTBUDGET_THREAD_ANNOTATION(assert_capability(x))

// The function returns a reference to the capability.
#define RETURN_CAPABILITY(x) AGENTBUDGET_THREAD_ANNOTATION(lock_returned(x))

// Turns the analysis off for one function: only where the locking is correct but beyond
// what the analysis can follow, with a comment saying why.
#define NO_THREAD_SAFETY_ANALYSIS AGENTBUDGET_THREAD_ANNOTATION(no_thread_safety_analysis)
