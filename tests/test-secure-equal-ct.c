/* SPDX-License-Identifier: Apache-2.0 */
/* Constant-time proof of cdviz_secure_equal() under valgrind memcheck (the
 * ctgrind technique): memcheck tracks, bit by bit, which values derive from
 * memory marked "undefined", and reports any conditional jump, move or
 * memory index that depends on such a value.
 *
 * For each length and each byte k of either input (the received value and
 * the secret), the two inputs hold the same bytes and exactly byte k is
 * marked undefined. Then:
 *
 *  1. the call reports no error: no branch and no memory index inside
 *     cdviz_secure_equal() depends on the contents of byte k (constant
 *     time with respect to it);
 *  2. the result is undefined (VALGRIND_CHECK_VALUE_IS_DEFINED reports it,
 *     and so would a branch on it): the result depends on byte k, so every
 *     byte of both inputs is read and compared.
 *
 * With every byte defined, neither reports anything. A control shows the
 * method catches a comparison that is not constant time: an early-exit
 * loop, like memcmp(), is reported during the call. The program counts
 * memcheck's errors itself (VALGRIND_COUNT_ERRORS) and fails on any
 * deviation; meson runs it under valgrind. Not under valgrind it exits 77
 * (skipped). Prints TAP. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/memcheck.h>

#include "cdviz-header-validator.h"

static unsigned
errors (void)
{
  return VALGRIND_COUNT_ERRORS;
}

/* The control: returns at the first difference. */
static __attribute__ ((noinline)) gboolean
naive_equal (const guint8 *a,
             const guint8 *b,
             gsize         len)
{
  for (gsize i = 0; i < len; i++)
    if (a[i] != b[i])
      return FALSE;
  return TRUE;
}

static gboolean
control_is_caught (void)
{
  guint8 a[16], b[16];
  unsigned before;
  volatile gboolean equal;

  memset (a, 'x', sizeof a);
  memset (b, 'x', sizeof b);
  VALGRIND_MAKE_MEM_UNDEFINED (a + 3, 1);
  before = errors ();
  equal = naive_equal (a, b, sizeof a);
  (void) equal;
  VALGRIND_MAKE_MEM_DEFINED (a, sizeof a);
  return errors () > before;
}

/* Returns whether the check for (len, which input, byte k) holds. With k <
 * 0, no byte is undefined. */
static gboolean
check (gsize len,
       int   which,
       long  k,
       char **why)
{
  guint8 *a = g_malloc (len + 1), *b = g_malloc (len + 1);
  unsigned before, after_call, after_use;
  gboolean equal, ok;

  for (gsize i = 0; i < len; i++)
    a[i] = b[i] = (guint8) ('a' + (i * 7) % 26);

  if (k >= 0)
    VALGRIND_MAKE_MEM_UNDEFINED ((which == 0 ? a : b) + k, 1);

  before = errors ();
  equal = cdviz_secure_equal (a, len, b, len);
  after_call = errors ();
  (void) VALGRIND_CHECK_VALUE_IS_DEFINED (equal);
  after_use = errors ();

  if (k < 0)
    ok = after_call == before && after_use == after_call && equal;
  else
    ok = after_call == before && after_use > after_call;

  if (!ok)
    *why = g_strdup_printf ("errors during the call: %u, on using the result: %u",
                            after_call - before, after_use - after_call);

  VALGRIND_MAKE_MEM_DEFINED (a, len + 1);
  VALGRIND_MAKE_MEM_DEFINED (b, len + 1);
  g_free (a);
  g_free (b);
  return ok;
}

int
main (void)
{
  static const gsize lengths[] = { 1, 7, 32, 64, 100 };
  unsigned n = 0, failed = 0;

  if (!RUNNING_ON_VALGRIND)
    {
      printf ("1..0 # SKIP not running under valgrind\n");
      return 77;
    }

  for (gsize l = 0; l < G_N_ELEMENTS (lengths); l++)
    n += 1 + 2 * (unsigned) lengths[l];
  printf ("1..%u\n", n + 1);

  n = 1;
  if (control_is_caught ())
    printf ("ok 1 - control: an early-exit comparison is reported\n");
  else
    {
      printf ("not ok 1 - control: an early-exit comparison is not reported\n");
      failed++;
    }

  for (gsize l = 0; l < G_N_ELEMENTS (lengths); l++)
    {
      gsize len = lengths[l];
      g_autofree char *why = NULL;

      n++;
      if (check (len, 0, -1, &why))
        printf ("ok %u - length %zu, every byte defined: no report\n", n, len);
      else
        {
          printf ("not ok %u - length %zu, every byte defined: %s\n", n, len, why);
          failed++;
        }

      for (int which = 0; which < 2; which++)
        for (gsize k = 0; k < len; k++)
          {
            g_autofree char *why_k = NULL;

            n++;
            if (check (len, which, (long) k, &why_k))
              printf ("ok %u - length %zu, %s byte %zu: result depends on it, no branch on it\n",
                      n, len, which == 0 ? "received" : "secret", k);
            else
              {
                printf ("not ok %u - length %zu, %s byte %zu: %s\n",
                        n, len, which == 0 ? "received" : "secret", k, why_k);
                failed++;
              }
          }
    }

  return failed == 0 ? 0 : 1;
}
