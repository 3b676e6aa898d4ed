/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* cdviz_secure_equal() is public (cdviz-header-validator.h); the rest is
 * private to the header validator. */

/* Tells libgcrypt, once, which version we need; before any HMAC. */
void     _cdviz_secure_init        (void);

/* Overwrites @len bytes at @p in a way the compiler may not elide. */
void     _cdviz_secure_wipe        (gpointer      p,
                                    gsize         len);

/* ASCII lower-case of @len bytes, without a data-dependent branch; @dst
 * may be @src. */
void     _cdviz_fold_ascii_buffer  (guint8       *dst,
                                    const guint8 *src,
                                    gsize         len);

/* Strict decoders of keys as configured; NULL when @text is not valid. */
guint8  *_cdviz_decode_hex         (const char   *text,
                                    gsize        *out_len);
guint8  *_cdviz_decode_base64      (const char   *text,
                                    gsize        *out_len);

/* Writes 2 * @len lower-case hex digits and a NUL to @dst. */
void     _cdviz_encode_hex_lower   (char         *dst,
                                    const guint8 *src,
                                    gsize         len);

#define CDVIZ_HMAC_SHA256_LEN 32

typedef struct _CdvizHmac CdvizHmac;

/* An HMAC-SHA256 keyed with @key, or NULL (with a warning) when libgcrypt
 * cannot make one. */
CdvizHmac *_cdviz_hmac_sha256_new  (const guint8 *key,
                                    gsize         key_len);
void       _cdviz_hmac_update      (CdvizHmac    *hmac,
                                    gconstpointer data,
                                    gsize         len);
/* Reads the MAC into @mac and frees @hmac; FALSE (with a warning) when
 * libgcrypt fails. */
gboolean   _cdviz_hmac_finish      (CdvizHmac    *hmac,
                                    guint8        mac[CDVIZ_HMAC_SHA256_LEN]);
/* Frees @hmac without reading the MAC. */
void       _cdviz_hmac_free        (CdvizHmac    *hmac);

G_END_DECLS
