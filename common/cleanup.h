/* cdp: scoped clean-up helpers (free, close, unlock at end of scope). */
#ifndef CDP_CLEANUP_H
#define CDP_CLEANUP_H

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_free (void *p) { free (*(void **) p); }
static inline void cleanup_close (int *fd) { if (*fd >= 0) close (*fd); }
static inline void cleanup_unlock (pthread_mutex_t **m) { pthread_mutex_unlock (*m); }

#define CLEANUP_FREE __attribute__ ((cleanup (cleanup_free)))
#define CLEANUP_CLOSE __attribute__ ((cleanup (cleanup_close)))

#define CDP_UNIQUE_(a, b) a##b
#define CDP_UNIQUE(a, b) CDP_UNIQUE_ (a, b)
/* Hold mutex m until the end of the enclosing scope. */
#define ACQUIRE_LOCK_FOR_CURRENT_SCOPE(m)                                \
  pthread_mutex_t *CDP_UNIQUE (lock_, __LINE__)                         \
    __attribute__ ((cleanup (cleanup_unlock))) = (m);                   \
  pthread_mutex_lock (CDP_UNIQUE (lock_, __LINE__))

#endif
