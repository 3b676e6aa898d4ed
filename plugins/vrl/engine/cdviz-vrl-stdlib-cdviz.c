/* SPDX-License-Identifier: Apache-2.0 */
#include <glib/gi18n-lib.h>

#include "cdviz-vrl-stdlib-private.h"

/* cdviz-collector's own functions (purl_*), and the functions that touch
 * the process: get_env_var, get_hostname, log. */

/* Percent-encodes for a package URL component; @keep are characters left
 * as they are beside the unreserved ones. */
static void
purl_encode (GString    *out,
             const char *text,
             const char *keep)
{
  for (const guchar *p = (const guchar *) text; *p; p++)
    {
      if (g_ascii_isalnum (*p) || strchr ("-._~", *p) || (keep && strchr (keep, *p)))
        g_string_append_c (out, *p);
      else
        g_string_append_printf (out, "%%%02X", *p);
    }
}

static const char *
string_member (CdvizVrlValue *object,
               const char    *key)
{
  CdvizVrlValue *v = cdviz_vrl_object_get (object, key);

  return v && v->kind == S ? v->bytes.data : NULL;
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char **) a, *(const char **) b);
}

IMPL (f_purl_to_string)
{
  CdvizVrlValue *obj = args[0];
  const char *type = string_member (obj, "type"), *raw_name = string_member (obj, "name");
  const char *namespace = string_member (obj, "namespace"), *version = string_member (obj, "version");
  const char *subpath = string_member (obj, "subpath");
  CdvizVrlValue *quals = cdviz_vrl_object_get (obj, "qualifiers");
  g_autoptr(GHashTable) q = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();
  g_autofree char *lower_type = NULL;
  g_autofree char *name = NULL;
  GString *out;
  GHashTableIter iter;
  gpointer k;

  if (type == NULL)
    return cdviz_vrl_fail (error, "PURL object must have a 'type' field");
  if (raw_name == NULL)
    return cdviz_vrl_fail (error, "PURL object must have a 'name' field");
  if (*raw_name == '\0')
    return cdviz_vrl_fail (error, "Invalid PURL type or name: missing name");
  lower_type = g_ascii_strdown (type, -1);
  for (const char *t = lower_type; *t; t++)
    if (!(g_ascii_isalnum (*t) || *t == '.' || *t == '+' || *t == '-'))
      return cdviz_vrl_fail (error, "Invalid PURL type or name: invalid type “%s”", type);

  if (quals && quals->kind == O)
    for (guint i = 0; i < quals->object->len; i++)
      {
        CdvizVrlEntry *e = cdviz_vrl_object_entry (quals, i);

        if (e->value->kind == S)
          g_hash_table_replace (q, g_ascii_strdown (e->key, -1), g_strdup (e->value->bytes.data));
      }

  /* OCI names with a path: the prefix goes to repository_url */
  name = g_strdup (raw_name);
  if (g_str_equal (lower_type, "oci"))
    {
      char *slash = strrchr (name, '/');

      if (slash)
        {
          g_autofree char *prefix = g_strndup (name, slash - name);
          const char *repo = g_hash_table_lookup (q, "repository_url");
          char *base = g_strdup (slash + 1);

          g_hash_table_replace (q, g_strdup ("repository_url"),
                                repo ? g_strdup_printf ("%s/%s", repo, prefix) : g_strdup (prefix));
          g_free (name);
          name = base;
        }
    }

  out = g_string_new ("pkg:");
  g_string_append (out, lower_type);
  g_string_append_c (out, '/');
  if (namespace && *namespace)
    {
      g_auto(GStrv) segments = g_strsplit (namespace, "/", -1);

      for (guint i = 0; segments[i]; i++)
        if (*segments[i])
          {
            purl_encode (out, segments[i], ":");
            g_string_append_c (out, '/');
          }
    }
  purl_encode (out, name, ":/");
  if (version && *version)
    {
      g_string_append_c (out, '@');
      purl_encode (out, version[0] == '@' ? version + 1 : version, ":");
    }
  g_hash_table_iter_init (&iter, q);
  while (g_hash_table_iter_next (&iter, &k, NULL))
    if (*(const char *) g_hash_table_lookup (q, k) != '\0')
      g_ptr_array_add (keys, k);
  g_ptr_array_sort (keys, compare_strings);
  for (guint i = 0; i < keys->len; i++)
    {
      g_string_append_c (out, i == 0 ? '?' : '&');
      g_string_append (out, keys->pdata[i]);
      g_string_append_c (out, '=');
      purl_encode (out, g_hash_table_lookup (q, keys->pdata[i]), ":/");
    }
  if (subpath && *subpath)
    {
      g_string_append_c (out, '#');
      purl_encode (out, subpath, "/");
    }
  return cdviz_vrl_string_take (g_string_free (out, FALSE));
}

static CdvizVrlValue *
purl_object (const char *type,
             const char *namespace,
             const char *name,
             const char *version)
{
  CdvizVrlValue *o = cdviz_vrl_object_new ();

  cdviz_vrl_object_insert (o, "type", vrl_str (type));
  if (namespace)
    cdviz_vrl_object_insert (o, "namespace", vrl_str (namespace));
  cdviz_vrl_object_insert (o, "name", vrl_str (name));
  cdviz_vrl_object_insert (o, "version", version ? vrl_str (version) : cdviz_vrl_null ());
  cdviz_vrl_object_insert (o, "subpath", cdviz_vrl_null ());
  return o;
}

/* "registry/namespace/name:tag@sha256:digest" */
IMPL (f_purl_from_oci_image)
{
  g_autofree char *image = g_strndup (STR (0), LEN (0));
  g_autofree char *digest = NULL, *tag = NULL, *registry = NULL, *namespace = NULL;
  g_auto(GStrv) parts = NULL;
  char *at = strstr (image, "@");
  char *colon;
  guint n;
  CdvizVrlValue *o, *quals;

  if (at)
    {
      digest = g_str_has_prefix (at + 1, "sha256:") ? g_strdup (at + 1) : g_strdup_printf ("sha256:%s", at + 1);
      *at = '\0';
    }
  colon = strrchr (image, ':');
  if (colon && strchr (colon, '/') == NULL)
    {
      tag = g_strdup (colon + 1);
      *colon = '\0';
    }
  if (tag == NULL && digest == NULL)
    tag = g_strdup ("latest");
  parts = g_strsplit (image, "/", -1);
  n = g_strv_length (parts);
  if (n <= 1)
    {
      registry = g_strdup ("docker.io");
      namespace = g_strdup ("library");
    }
  else
    {
      g_autofree char *joined = NULL;

      parts[n - 1][-1] = '\0';
      if (strchr (parts[0], '.') == NULL && !g_str_equal (parts[0], "localhost"))
        {
          registry = g_strdup ("docker.io");
          namespace = g_strjoinv ("/", (char **) (GStrv) parts);
          /* g_strjoinv stops at the last part we cut: rebuild */
          g_free (namespace);
          {
            GString *ns = g_string_new (NULL);

            for (guint i = 0; i + 1 < n; i++)
              g_string_append_printf (ns, "%s%s", i ? "/" : "", parts[i]);
            namespace = g_string_free (ns, FALSE);
          }
        }
      else
        {
          GString *ns = g_string_new (NULL);

          registry = g_strdup (parts[0]);
          for (guint i = 1; i + 1 < n; i++)
            g_string_append_printf (ns, "%s%s", i > 1 ? "/" : "", parts[i]);
          namespace = g_string_free (ns, FALSE);
        }
    }
  {
    g_autofree char *version = digest ? g_strdup_printf ("@%s", digest) : NULL;

    o = purl_object ("oci", NULL, parts[n - 1], version);
  }
  quals = cdviz_vrl_object_new ();
  cdviz_vrl_object_insert (quals, "repository_url",
                           cdviz_vrl_string_take (*namespace ? g_strdup_printf ("%s/%s", registry, namespace)
                                                             : g_strdup (registry)));
  if (tag)
    cdviz_vrl_object_insert (quals, "tag", vrl_str (tag));
  cdviz_vrl_object_insert (o, "qualifiers", quals);
  return o;
}

IMPL (f_get_env_var)
{
  g_autofree char *name = g_strndup (STR (0), LEN (0));
  const char *value = g_getenv (name);

  if (value == NULL)
    return cdviz_vrl_fail (error, "environment variable not found");
  return vrl_str (value);
}

IMPL (f_get_hostname)
{
  return vrl_str (g_get_host_name ());
}

IMPL (f_log)
{
  g_autofree char *level = args[1] ? g_strndup (STR (1), LEN (1)) : g_strdup ("info");
  g_autofree char *text = args[0]->kind == S ? g_strndup (STR (0), LEN (0))
                                             : cdviz_vrl_value_to_vrl (args[0]);

  if (g_str_equal (level, "error"))
    g_warning ("vrl: %s", text);
  else if (g_str_equal (level, "warn"))
    g_message ("vrl: %s", text);
  else
    g_debug ("vrl %s: %s", level, text);
  return cdviz_vrl_null ();
}

static const CdvizVrlFunction functions[] = {
  FN ("get_env_var", f_get_env_var, FALLIBLE | CDVIZ_VRL_FN_IMPURE, S, REQ ("name", S)),
  FN ("get_hostname", f_get_hostname, FALLIBLE | CDVIZ_VRL_FN_IMPURE, S),
  FN ("log", f_log, CDVIZ_VRL_FN_IMPURE, N, REQ ("value", ANY), OPT ("level", S), OPT ("rate_limit_secs", I)),
  FN ("purl_from_oci_image", f_purl_from_oci_image, 0, O, REQ ("image", S)),
  FN ("purl_to_string", f_purl_to_string, FALLIBLE, S, REQ ("purl_object", O)),
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_cdviz (void)
{
  return functions;
}
