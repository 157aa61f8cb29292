/* cdp: generic vector growth. */
#include "common/vector.h"

#include <stdint.h>

int
generic_vector_reserve (void **ptr, size_t *cap, size_t len,
                        size_t n, size_t elsz)
{
  size_t want, newcap;
  void *p;

  if (__builtin_add_overflow (len, n, &want))
    return -ENOMEM;
  if (want <= *cap)
    return 0;
  newcap = *cap ? *cap : 8;
  while (newcap < want)
    if (__builtin_mul_overflow (newcap, 2, &newcap))
      return -ENOMEM;
  if (newcap > SIZE_MAX / elsz)
    return -ENOMEM;
  p = realloc (*ptr, newcap * elsz);
  if (p == NULL)
    return -ENOMEM;
  *ptr = p;
  *cap = newcap;
  return 0;
}
