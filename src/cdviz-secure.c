/* SPDX-License-Identifier: Apache-2.0 */
/* What handles secrets: constant-time comparison, wiping, strict decoding
 * of keys, HMAC-SHA256 (libgcrypt). No branch or index here may depend on
 * a secret byte (tests/test-secure-equal-ct.c proves it of
 * cdviz_secure_equal() under valgrind). */
#include "config.h"

#include <string.h>

#include <gcrypt.h>

#include "cdviz-header-validator.h"
#include "cdviz-secure-private.h"

/* libgcrypt must be told once which version we need before anything else
 * is used. Initialisation proper (secure memory, "finished") belongs to the
 * application; we do not use secure memory. */
void
_cdviz_secure_init (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      if (gcry_check_version (GCRYPT_VERSION) == NULL)
        g_error ("libgcrypt is older than the %s this program was built with",
                 GCRYPT_VERSION);
      g_once_init_leave (&initialised, 1);
    }
}

/* Overwrites @len bytes at @p in a way the compiler may not elide. */
void
_cdviz_secure_wipe (gpointer p,
                    gsize    len)
{
  volatile guint8 *v = p;

  if (p == NULL)
    return;
  while (len--)
    *v++ = 0;
}

/**
 * cdviz_secure_equal:
 * @a: (array length=a_len) (nullable): the value received (untrusted)
 * @a_len: the length of @a in bytes
 * @b: (array length=b_len) (nullable): the expected value (secret)
 * @b_len: the length of @b in bytes
 *
 * Compares two byte strings in constant time with respect to their
 * contents.
 *
 * Every byte of both strings is read, and the loop always runs
 * `MAX (a_len, b_len)` times, whatever the contents and even when the
 * lengths differ: the time taken depends on the lengths only, never on the
 * position of the first difference. Use it for anything secret — tokens,
 * API keys, signatures.
 *
 * Returns: %TRUE if the two strings have the same length and the same bytes
 */
gboolean
cdviz_secure_equal (const guint8 *a,
                    gsize         a_len,
                    const guint8 *b,
                    gsize         b_len)
{
  volatile guint8 diff;
  gsize n = MAX (a_len, b_len);

  g_return_val_if_fail (a != NULL || a_len == 0, FALSE);
  g_return_val_if_fail (b != NULL || b_len == 0, FALSE);

  diff = (guint8) (a_len != b_len);
  for (gsize i = 0; i < n; i++)
    {
      /* The conditions depend on the lengths, not on the contents. */
      guint8 x = i < a_len ? a[i] : 0;
      guint8 y = i < b_len ? b[i] : 0;

      diff |= (guint8) (x ^ y);
    }

  return diff == 0;
}

/* ASCII lower-case without a data-dependent branch. */
static inline guint8
fold_ascii (guint8 c)
{
  guint8 is_upper = (guint8) ((guint8) (c - 'A') < 26);

  return (guint8) (c | (is_upper << 5));
}

void
_cdviz_fold_ascii_buffer (guint8       *dst,
                          const guint8 *src,
                          gsize         len)
{
  for (gsize i = 0; i < len; i++)
    dst[i] = fold_ascii (src[i]);
}

/* Strict hex: even length, hex digits only (either case). */
guint8 *
_cdviz_decode_hex (const char *text,
                   gsize      *out_len)
{
  gsize len = strlen (text);
  g_autofree guint8 *out = NULL;

  if (len % 2 != 0)
    return NULL;
  out = g_malloc (len / 2 + 1);
  for (gsize i = 0; i < len; i += 2)
    {
      int hi = g_ascii_xdigit_value (text[i]);
      int lo = g_ascii_xdigit_value (text[i + 1]);

      if (hi < 0 || lo < 0)
        {
          _cdviz_secure_wipe (out, i / 2);
          return NULL;
        }
      out[i / 2] = (guint8) ((hi << 4) | lo);
    }
  *out_len = len / 2;
  return g_steal_pointer (&out);
}

static int
base64_value (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

/* Strict standard base64 with padding (as Rust's base64 STANDARD engine):
 * g_base64_decode() alone silently skips invalid characters. */
guint8 *
_cdviz_decode_base64 (const char *text,
                      gsize      *out_len)
{
  gsize len = strlen (text);
  gsize pad = 0;

  if (len == 0 || len % 4 != 0)
    return NULL;
  if (text[len - 1] == '=')
    pad++;
  if (text[len - 2] == '=')
    pad++;
  for (gsize i = 0; i < len - pad; i++)
    if (base64_value (text[i]) < 0)
      return NULL;
  /* Unused trailing bits must be zero (canonical encoding). */
  if (pad == 1 && (base64_value (text[len - 2]) & 0x03) != 0)
    return NULL;
  if (pad == 2 && (base64_value (text[len - 3]) & 0x0f) != 0)
    return NULL;

  return g_base64_decode (text, out_len);
}

void
_cdviz_encode_hex_lower (char         *dst,
                         const guint8 *src,
                         gsize         len)
{
  static const char digits[] = "0123456789abcdef";

  for (gsize i = 0; i < len; i++)
    {
      dst[2 * i] = digits[src[i] >> 4];
      dst[2 * i + 1] = digits[src[i] & 0x0f];
    }
  dst[2 * len] = '\0';
}


/* ---------------------------------------------------------------------- */
/* HMAC-SHA256                                                               */

struct _CdvizHmac
{
  gcry_mac_hd_t hd;
};

CdvizHmac *
_cdviz_hmac_sha256_new (const guint8 *key,
                        gsize         key_len)
{
  gcry_mac_hd_t hd = NULL;
  gcry_error_t err;
  CdvizHmac *hmac;

  err = gcry_mac_open (&hd, GCRY_MAC_HMAC_SHA256, 0, NULL);
  if (err == 0)
    err = gcry_mac_setkey (hd, key, key_len);
  if (err != 0)
    {
      g_warning ("HMAC-SHA256 unavailable: %s", gcry_strerror (err));
      if (hd != NULL)
        gcry_mac_close (hd);
      return NULL;
    }
  hmac = g_new (CdvizHmac, 1);
  hmac->hd = hd;
  return hmac;
}

void
_cdviz_hmac_update (CdvizHmac     *hmac,
                    gconstpointer  data,
                    gsize          len)
{
  gcry_mac_write (hmac->hd, data, len);
}

void
_cdviz_hmac_free (CdvizHmac *hmac)
{
  gcry_mac_close (hmac->hd);
  g_free (hmac);
}

gboolean
_cdviz_hmac_finish (CdvizHmac *hmac,
                    guint8     mac[CDVIZ_HMAC_SHA256_LEN])
{
  size_t mac_len = CDVIZ_HMAC_SHA256_LEN;
  gcry_error_t err = gcry_mac_read (hmac->hd, mac, &mac_len);

  _cdviz_hmac_free (hmac);
  if (err != 0 || mac_len != CDVIZ_HMAC_SHA256_LEN)
    {
      g_warning ("HMAC-SHA256 failed: %s", gcry_strerror (err));
      _cdviz_secure_wipe (mac, CDVIZ_HMAC_SHA256_LEN);
      return FALSE;
    }
  return TRUE;
}
