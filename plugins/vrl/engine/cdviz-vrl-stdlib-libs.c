/* SPDX-License-Identifier: Apache-2.0 */
#include "cdviz-vrl-stdlib-private.h"

#ifdef HAVE_YAML
#include <yaml.h>
#endif
#ifdef HAVE_PSL
#include <libpsl.h>
#endif
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

/* Functions on small Debian libraries, each present only when its library
 * was found at build time: parse_yaml (libyaml), parse_etld (libpsl, the
 * public suffix list that libsoup already uses), crc (zlib's CRC-32, which
 * GIO already links). */

#ifdef HAVE_YAML

/* A plain scalar as YAML 1.2's core schema reads it (serde_yaml's). */
static CdvizVrlValue *
yaml_scalar (const char *text,
             gsize       len,
             gboolean    plain)
{
  g_autoptr(GRegex) number = NULL;
  char *end;

  if (!plain)
    return cdviz_vrl_bytes (text, len);
  if (len == 0 || g_str_equal (text, "~") || g_str_equal (text, "null") ||
      g_str_equal (text, "Null") || g_str_equal (text, "NULL"))
    return cdviz_vrl_null ();
  if (g_str_equal (text, "true") || g_str_equal (text, "True") || g_str_equal (text, "TRUE"))
    return cdviz_vrl_boolean (TRUE);
  if (g_str_equal (text, "false") || g_str_equal (text, "False") || g_str_equal (text, "FALSE"))
    return cdviz_vrl_boolean (FALSE);
  if (g_regex_match_simple ("^[-+]?[0-9]+$", text, 0, 0))
    {
      gint64 i = g_ascii_strtoll (text, &end, 10);

      if (*end == '\0')
        return cdviz_vrl_integer (i);
    }
  if (g_regex_match_simple ("^0x[0-9a-fA-F]+$", text, 0, 0))
    return cdviz_vrl_integer (g_ascii_strtoll (text + 2, NULL, 16));
  if (g_regex_match_simple ("^0o[0-7]+$", text, 0, 0))
    return cdviz_vrl_integer (g_ascii_strtoll (text + 2, NULL, 8));
  if (g_regex_match_simple ("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", text, 0, 0))
    return cdviz_vrl_float (g_ascii_strtod (text, NULL));
  if (g_regex_match_simple ("^[-+]?\\.(inf|Inf|INF)$", text, 0, 0))
    return cdviz_vrl_float (text[0] == '-' ? -INFINITY : INFINITY);
  if (g_regex_match_simple ("^\\.(nan|NaN|NAN)$", text, 0, 0))
    return cdviz_vrl_float (NAN);
  return cdviz_vrl_bytes (text, len);
}

static CdvizVrlValue *
yaml_node (yaml_document_t *doc,
           yaml_node_t     *node,
           guint            depth,
           GError         **error)
{
  CdvizVrlValue *out;

  if (node == NULL || depth > 128)
    return cdviz_vrl_fail (error, "unable to parse YAML: nested too deeply");
  switch (node->type)
    {
    case YAML_SCALAR_NODE:
      return yaml_scalar ((const char *) node->data.scalar.value, node->data.scalar.length,
                          node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
    case YAML_SEQUENCE_NODE:
      out = cdviz_vrl_array_new ();
      for (yaml_node_item_t *i = node->data.sequence.items.start;
           i < node->data.sequence.items.top; i++)
        {
          CdvizVrlValue *item = yaml_node (doc, yaml_document_get_node (doc, *i), depth + 1, error);

          if (item == NULL)
            {
              cdviz_vrl_value_unref (out);
              return NULL;
            }
          cdviz_vrl_array_append (out, item);
        }
      return out;
    case YAML_MAPPING_NODE:
      out = cdviz_vrl_object_new ();
      for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
           p < node->data.mapping.pairs.top; p++)
        {
          yaml_node_t *key = yaml_document_get_node (doc, p->key);
          CdvizVrlValue *value;

          if (key == NULL || key->type != YAML_SCALAR_NODE)
            {
              cdviz_vrl_value_unref (out);
              return cdviz_vrl_fail (error, "unable to parse YAML: keys must be scalars");
            }
          value = yaml_node (doc, yaml_document_get_node (doc, p->value), depth + 1, error);
          if (value == NULL)
            {
              cdviz_vrl_value_unref (out);
              return NULL;
            }
          cdviz_vrl_object_insert (out, (const char *) key->data.scalar.value, value);
        }
      return out;
    default:
      return cdviz_vrl_null ();
    }
}

IMPL (f_parse_yaml)
{
  yaml_parser_t parser;
  yaml_document_t doc;
  CdvizVrlValue *result = NULL;

  if (!yaml_parser_initialize (&parser))
    return cdviz_vrl_fail (error, "unable to parse YAML");
  yaml_parser_set_input_string (&parser, (const unsigned char *) STR (0), LEN (0));
  if (!yaml_parser_load (&parser, &doc))
    {
      cdviz_vrl_fail (error, "unable to parse YAML: %s", parser.problem ? parser.problem : "?");
      yaml_parser_delete (&parser);
      return NULL;
    }
  if (yaml_document_get_root_node (&doc) == NULL)
    result = cdviz_vrl_null ();
  else
    result = yaml_node (&doc, yaml_document_get_root_node (&doc), 0, error);
  yaml_document_delete (&doc);
  yaml_parser_delete (&parser);
  return result;
}

#endif /* HAVE_YAML */

#ifdef HAVE_PSL

static psl_ctx_t *
psl_for (const CdvizVrlValue *file,
         GError             **error)
{
  static gsize latest;
  g_autofree char *path = NULL;
  psl_ctx_t *ctx;

  if (file == NULL)
    {
      /* the system's list (publicsuffix package), else libpsl's own */
      if (g_once_init_enter (&latest))
        {
          ctx = psl_latest (NULL);
          g_once_init_leave (&latest, (gsize) (ctx ? ctx : (psl_ctx_t *) psl_builtin ()));
        }
      return (psl_ctx_t *) latest;
    }
  path = g_strndup (file->bytes.data, file->bytes.len);
  ctx = psl_load_file (path);
  if (ctx == NULL)
    g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_COMPILE,
                 "invalid argument “psl”: cannot read the public suffix list %s", path);
  return ctx;
}

/* A literal psl path must load when compiling (upstream's E403). */
static gboolean
parse_etld_compile (CdvizVrlNode  *call,
                    GError       **error)
{
  CdvizVrlNode *psl = call->args[2];
  psl_ctx_t *ctx;

  g_autofree char *path = NULL, *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (psl == NULL || psl->kind != VRL_N_LITERAL)
    return TRUE;
  /* libpsl takes any line as a rule; upstream refuses a file that is not
   * a list of domain rules (a JSON file, say) */
  path = g_strndup (psl->value->bytes.data, psl->value->bytes.len);
  if (g_file_get_contents (path, &text, NULL, NULL))
    {
      lines = g_strsplit (text, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        {
          const char *l = g_strstrip (lines[i]);

          if (*l == '\0' || g_str_has_prefix (l, "//"))
            continue;
          for (const char *c = l; *c; c++)
            if (!(g_ascii_isalnum (*c) || strchr ("-.*!_", *c) != NULL || (guchar) *c >= 0x80))
              {
                g_set_error (error, CDVIZ_VRL_ERROR, CDVIZ_VRL_ERROR_COMPILE,
                             "invalid argument “psl”: %s is not a public suffix list", path);
                return FALSE;
              }
        }
    }
  ctx = psl_for (psl->value, error);
  if (ctx == NULL)
    return FALSE;
  psl_free (ctx);
  return TRUE;
}

IMPL (f_parse_etld)
{
  g_autofree char *domain = g_ascii_strdown (STR (0), LEN (0));
  gint64 plus = INT_ARG (1, 0);
  psl_ctx_t *ctx = psl_for (args[2], error);
  const char *suffix, *start;
  CdvizVrlValue *out;
  gboolean known;

  if (ctx == NULL)
    return NULL;
  if (g_str_has_suffix (domain, "."))
    domain[strlen (domain) - 1] = '\0';
  suffix = psl_unregistrable_domain (ctx, domain);
  if (suffix == NULL)
    suffix = strrchr (domain, '.') ? strrchr (domain, '.') + 1 : domain;
  known = psl_is_public_suffix2 (ctx, suffix, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
  start = suffix;
  for (gint64 i = 0; i < plus && start > domain; i++)
    {
      start--;                  /* the dot */
      while (start > domain && start[-1] != '.')
        start--;
    }
  out = cdviz_vrl_object_new ();
  cdviz_vrl_object_insert (out, "etld", vrl_str (suffix));
  cdviz_vrl_object_insert (out, "etld_plus", vrl_str (start));
  cdviz_vrl_object_insert (out, "known_suffix", cdviz_vrl_boolean (known));
  if (args[2] != NULL)
    psl_free (ctx);
  return out;
}

#endif /* HAVE_PSL */

#ifdef HAVE_ZLIB

/* Only upstream's default algorithm, CRC_32_ISO_HDLC, which is zlib's. */
IMPL (f_crc)
{
  if (args[1] != NULL && !(LEN (1) == strlen ("CRC_32_ISO_HDLC") &&
                           memcmp (STR (1), "CRC_32_ISO_HDLC", LEN (1)) == 0))
    return cdviz_vrl_fail (error, "unsupported CRC algorithm: %.*s (this build has CRC_32_ISO_HDLC)",
                           (int) LEN (1), STR (1));
  return cdviz_vrl_string_take (g_strdup_printf ("%lu", crc32 (crc32 (0, NULL, 0),
                                                               (const Bytef *) STR (0), LEN (0))));
}

#endif /* HAVE_ZLIB */

static const CdvizVrlFunction functions[] = {
#ifdef HAVE_ZLIB
  FN ("crc", f_crc, FALLIBLE | CONST_OK, S, REQ ("value", S), OPT ("algorithm", S)),
#endif
#ifdef HAVE_PSL
  { .name = "parse_etld", .impl = f_parse_etld, .flags = FALLIBLE, .returns = O,
    .compile = parse_etld_compile,
    .params = { REQ ("value", S), OPT ("plus_parts", I), OPT ("psl", S) } },
#endif
#ifdef HAVE_YAML
  FN ("parse_yaml", f_parse_yaml, FALLIBLE, ANY, REQ ("value", S)),
#endif
  { NULL }
};

const CdvizVrlFunction *
cdviz_vrl_stdlib_libs (void)
{
  return functions;
}
