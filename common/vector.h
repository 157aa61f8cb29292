/* cdp: one generic typed vector (.ptr .len .cap), reused everywhere.
 *
 * DEFINE_VECTOR_TYPE (name, type) defines `name` with members ptr, len, cap
 * and the functions name##_reserve, name##_append, name##_reset and
 * name##_remove.  Functions return 0 or -ENOMEM and never print.
 */
#ifndef CDP_VECTOR_H
#define CDP_VECTOR_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Grow (ptr, cap) of elements of size elsz so that n more fit. */
int generic_vector_reserve (void **ptr, size_t *cap, size_t len,
                            size_t n, size_t elsz);

#define DEFINE_VECTOR_TYPE(name, type)                                  \
  typedef struct name {                                                 \
    type *ptr;                                                          \
    size_t len;                                                         \
    size_t cap;                                                         \
  } name;                                                               \
                                                                        \
  static inline int __attribute__ ((unused))                            \
  name##_reserve (name *v, size_t n)                                    \
  {                                                                     \
    return generic_vector_reserve ((void **) &v->ptr, &v->cap, v->len,  \
                                   n, sizeof (type));                   \
  }                                                                     \
                                                                        \
  static inline int __attribute__ ((unused))                            \
  name##_append (name *v, type elem)                                    \
  {                                                                     \
    int r = name##_reserve (v, 1);                                      \
    if (r < 0)                                                          \
      return r;                                                         \
    v->ptr[v->len++] = elem;                                            \
    return 0;                                                           \
  }                                                                     \
                                                                        \
  static inline void __attribute__ ((unused))                           \
  name##_remove (name *v, size_t i)                                     \
  {                                                                     \
    memmove (&v->ptr[i], &v->ptr[i + 1], (v->len - i - 1) * sizeof (type)); \
    v->len--;                                                           \
  }                                                                     \
                                                                        \
  static inline void __attribute__ ((unused))                           \
  name##_reset (name *v)                                                \
  {                                                                     \
    free (v->ptr);                                                      \
    v->ptr = NULL;                                                      \
    v->len = v->cap = 0;                                                \
  }

#define empty_vector { .ptr = NULL, .len = 0, .cap = 0 }

DEFINE_VECTOR_TYPE (string_vector, char *)

#endif
