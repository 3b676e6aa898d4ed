/* SPDX-License-Identifier: Apache-2.0 */
#include <gio/gio.h>

#include "cdviz-vrl-stdlib-private.h"

/* IP address functions, on GInetAddress and GInetAddressMask (inet_pton's
 * strict syntax: no "1.2.3", no leading zeros in IPv4). */

static GInetAddress *
address_arg (CdvizVrlValue *value)
{
  g_autofree char *text = g_strndup (value->bytes.data, value->bytes.len);

  return g_inet_address_new_from_string (text);
}

static CdvizVrlValue *
bad_address (GError        **error,
             CdvizVrlValue  *value)
{
  return cdviz_vrl_fail (error, "unable to parse IP address: %.*s",
                         (int) MIN (value->bytes.len, 200), value->bytes.data);
}

static CdvizVrlValue *
address_value (const guint8  *bytes,
               GSocketFamily  family)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_bytes (bytes, family);

  return cdviz_vrl_string_take (g_inet_address_to_string (address));
}

static gboolean
is_family (CdvizVrlValue *value,
           GSocketFamily  family)
{
  g_autoptr(GInetAddress) address = address_arg (value);

  return address != NULL && g_inet_address_get_family (address) == family;
}

IMPL (f_is_ipv4)
{
  return cdviz_vrl_boolean (is_family (args[0], G_SOCKET_FAMILY_IPV4));
}

IMPL (f_is_ipv6)
{
  return cdviz_vrl_boolean (is_family (args[0], G_SOCKET_FAMILY_IPV6));
}

static CdvizVrlValue *
cidr_contains (CdvizVrlValue  *cidr,
               GInetAddress   *address,
               gboolean       *contains,
               GError        **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GInetAddressMask) mask = NULL;

  if (cidr->kind != S)
    return cdviz_vrl_fail_kind (error, S, cidr);
  text = g_strndup (cidr->bytes.data, cidr->bytes.len);
  mask = g_inet_address_mask_new_from_string (text, NULL);
  if (mask == NULL)
    return cdviz_vrl_fail (error, "unable to parse CIDR: %s", text);
  *contains = *contains || g_inet_address_mask_matches (mask, address);
  return NULL;
}

IMPL (f_ip_cidr_contains)
{
  g_autoptr(GInetAddress) address = address_arg (args[1]);
  gboolean contains = FALSE;

  if (address == NULL)
    return bad_address (error, args[1]);
  if (args[0]->kind == A)
    {
      for (guint i = 0; i < args[0]->array->len; i++)
        {
          cidr_contains (args[0]->array->pdata[i], address, &contains, error);
          if (error != NULL && *error != NULL)
            return NULL;
        }
    }
  else
    {
      cidr_contains (args[0], address, &contains, error);
      if (error != NULL && *error != NULL)
        return NULL;
    }
  return cdviz_vrl_boolean (contains);
}

IMPL (f_ip_subnet)
{
  g_autoptr(GInetAddress) address = address_arg (args[0]);
  g_autofree char *subnet = g_strndup (STR (1), LEN (1));
  guint8 bytes[16], mask[16] = { 0 };
  gsize size;

  if (address == NULL)
    return bad_address (error, args[0]);
  size = g_inet_address_get_native_size (address);
  memcpy (bytes, g_inet_address_to_bytes (address), size);
  if (subnet[0] == '/')
    {
      char *end;
      guint64 prefix = g_ascii_strtoull (subnet + 1, &end, 10);

      if (subnet[1] == '\0' || *end != '\0' || prefix > size * 8)
        return cdviz_vrl_fail (error, "invalid subnet: %s", subnet);
      for (guint i = 0; i < prefix; i++)
        mask[i / 8] |= (guint8) (0x80 >> (i % 8));
    }
  else
    {
      g_autoptr(GInetAddress) m = g_inet_address_new_from_string (subnet);

      if (m == NULL || g_inet_address_get_native_size (m) != size)
        return cdviz_vrl_fail (error, "invalid subnet: %s", subnet);
      memcpy (mask, g_inet_address_to_bytes (m), size);
    }
  for (gsize i = 0; i < size; i++)
    bytes[i] &= mask[i];
  return address_value (bytes, g_inet_address_get_family (address));
}

IMPL (f_ip_aton)
{
  g_autoptr(GInetAddress) address = address_arg (args[0]);
  const guint8 *b;

  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    return bad_address (error, args[0]);
  b = g_inet_address_to_bytes (address);
  return cdviz_vrl_integer (((gint64) b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]);
}

IMPL (f_ip_ntoa)
{
  gint64 n = args[0]->integer;
  guint8 b[4];

  if (n < 0 || n > G_MAXUINT32)
    return cdviz_vrl_fail (error, "cannot convert to IPv4: %" G_GINT64_FORMAT, n);
  b[0] = (guint8) (n >> 24);
  b[1] = (guint8) (n >> 16);
  b[2] = (guint8) (n >> 8);
  b[3] = (guint8) n;
  return address_value (b, G_SOCKET_FAMILY_IPV4);
}

IMPL (f_ip_pton)
{
  g_autoptr(GInetAddress) address = address_arg (args[0]);

  if (address == NULL)
    return bad_address (error, args[0]);
  return cdviz_vrl_bytes ((const char *) g_inet_address_to_bytes (address),
                          (gssize) g_inet_address_get_native_size (address));
}

IMPL (f_ip_ntop)
{
  if (LEN (0) == 4)
    return address_value ((const guint8 *) STR (0), G_SOCKET_FAMILY_IPV4);
  if (LEN (0) == 16)
    return address_value ((const guint8 *) STR (0), G_SOCKET_FAMILY_IPV6);
  return cdviz_vrl_fail (error, "\"value\" must be of length 4 or 16 bytes");
}

IMPL (f_ip_to_ipv6)
{
  g_autoptr(GInetAddress) address = address_arg (args[0]);
  guint8 mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  if (address == NULL)
    return bad_address (error, args[0]);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    return cdviz_vrl_string_take (g_inet_address_to_string (address));
  memcpy (mapped + 12, g_inet_address_to_bytes (address), 4);
  return address_value (mapped, G_SOCKET_FAMILY_IPV6);
}

IMPL (f_ipv6_to_ipv4)
{
  static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  g_autoptr(GInetAddress) address = address_arg (args[0]);
  const guint8 *b;

  if (address == NULL)
    return bad_address (error, args[0]);
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
    return cdviz_vrl_string_take (g_inet_address_to_string (address));
  b = g_inet_address_to_bytes (address);
  if (memcmp (b, prefix, sizeof prefix) != 0)
    return cdviz_vrl_fail (error, "IPV6 address %.*s is not compatible with IPV4",
                           (int) MIN (LEN (0), 200), STR (0));
  return address_value (b + 12, G_SOCKET_FAMILY_IPV4);
}

static const CdvizVrlFunction functions[] = {
  FN ("ip_aton", f_ip_aton, FALLIBLE, I, REQ ("value", S)),
  FN ("ip_cidr_contains", f_ip_cidr_contains, FALLIBLE, B, REQ ("cidr", S | A), REQ ("value", S)),
  FN ("ip_ntoa", f_ip_ntoa, FALLIBLE, S, REQ ("value", I)),
  FN ("ip_ntop", f_ip_ntop, FALLIBLE, S, REQ ("value", S)),
  FN ("ip_pton", f_ip_pton, FALLIBLE, S, REQ ("value", S)),
  FN ("ip_subnet", f_ip_subnet, FALLIBLE, S, REQ ("value", S), REQ ("subnet", S)),
  FN ("ip_to_ipv6", f_ip_to_ipv6, FALLIBLE, S, REQ ("value", S)),
  FN ("ipv6_to_ipv4", f_ipv6_to_ipv4, FALLIBLE, S, REQ ("value", S)),
  FN ("is_ipv4", f_is_ipv4, 0, B, REQ ("value", S)),
  FN ("is_ipv6", f_is_ipv6, 0, B, REQ ("value", S)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_net (void)
{
  return functions;
}
