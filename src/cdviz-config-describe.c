/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "cdviz-registry.h"
#include "cdviz-config-private.h"
#include "cdviz-pipeline-private.h"

/* The configuration reference in Markdown (`cdviz-pipeline config
 * --describe`, doc/configuration.md): the fixed sections from their
 * CdvizKeyDoc tables (cdviz-pipeline-build.c), every registered component
 * type from its GParamSpecs. */

/* Markdown table cells: no pipes, no line breaks. */
static void
append_cell (GString    *out,
             const char *text)
{
  g_string_append (out, " ");
  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '|')
        g_string_append (out, "\\|");
      else if (*p == '\n')
        g_string_append_c (out, ' ');
      else
        g_string_append_c (out, *p);
    }
  g_string_append (out, " |");
}

static void
append_row (GString    *out,
            const char *key,
            const char *type,
            const char *default_value,
            const char *blurb)
{
  g_autofree char *quoted = g_strdup_printf ("`%s`", key);

  g_string_append (out, "|");
  append_cell (out, quoted);
  append_cell (out, type);
  append_cell (out, default_value);
  append_cell (out, blurb);
  g_string_append_c (out, '\n');
}

static void
append_table_head (GString *out)
{
  g_string_append (out, "| key | type | default | description |\n"
                        "| --- | --- | --- | --- |\n");
}

static void
append_key_docs (GString           *out,
                 const CdvizKeyDoc *docs)
{
  append_table_head (out);
  for (guint i = 0; docs[i].key != NULL; i++)
    append_row (out, docs[i].key, docs[i].type, docs[i].default_value, docs[i].blurb);
}

static char *
format_duration (guint64 ms)
{
  if (ms == 0)
    return g_strdup ("`0`");
  if (ms % 1000 != 0)
    return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "ms\"`", ms);
  if (ms % (3600 * 1000) == 0)
    return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "h\"`", ms / (3600 * 1000));
  if (ms % (60 * 1000) == 0)
    return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "m\"`", ms / (60 * 1000));
  return g_strdup_printf ("`\"%" G_GUINT64_FORMAT "s\"`", ms / 1000);
}

/* An integer range, leaving out the bounds of the C type itself. */
static char *
format_range (gint64   minimum,
              guint64  maximum,
              gboolean min_is_type_bound,
              gboolean max_is_type_bound)
{
  if (min_is_type_bound && max_is_type_bound)
    return g_strdup ("integer");
  if (max_is_type_bound)
    return g_strdup_printf ("integer ≥ %" G_GINT64_FORMAT, minimum);
  return g_strdup_printf ("integer (%" G_GINT64_FORMAT "–%" G_GUINT64_FORMAT ")",
                          minimum, maximum);
}

static void
describe_pspec (GParamSpec  *pspec,
                char       **out_type,
                char       **out_default)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  const GValue *def = g_param_spec_get_default_value (pspec);

  if (_cdviz_param_spec_is_duration (pspec))
    {
      GParamSpecUInt64 *spec = G_PARAM_SPEC_UINT64 (pspec);
      g_autofree char *lo = format_duration (spec->minimum);
      g_autofree char *hi = format_duration (spec->maximum);

      if (spec->maximum >= G_MAXUINT32 && spec->minimum == 0)
        *out_type = g_strdup ("duration");
      else if (spec->maximum >= G_MAXUINT32)
        *out_type = g_strdup_printf ("duration ≥ %s", lo);
      else
        *out_type = g_strdup_printf ("duration (%s–%s)", lo, hi);
      *out_default = format_duration (spec->default_value);
      return;
    }

  if (type == G_TYPE_STRV)
    {
      *out_type = g_strdup ("array of strings");
      *out_default = g_strdup ("`[]`");
      return;
    }
  if (G_TYPE_IS_BOXED (type))
    {
      *out_type = g_strdup ("table");
      *out_default = g_strdup ("—");
      return;
    }

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN:
      *out_type = g_strdup ("boolean");
      *out_default = g_strdup (g_value_get_boolean (def) ? "`true`" : "`false`");
      return;
    case G_TYPE_STRING:
      *out_type = g_strdup ("string");
      *out_default = g_value_get_string (def) != NULL
                     ? g_strdup_printf ("`\"%s\"`", g_value_get_string (def))
                     : g_strdup ("—");
      return;
    case G_TYPE_INT:
      {
        GParamSpecInt *spec = G_PARAM_SPEC_INT (pspec);
        *out_type = format_range (spec->minimum, (guint64) MAX (spec->maximum, 0),
                                  spec->minimum == G_MININT, spec->maximum == G_MAXINT);
        *out_default = g_strdup_printf ("`%d`", spec->default_value);
        return;
      }
    case G_TYPE_UINT:
      {
        GParamSpecUInt *spec = G_PARAM_SPEC_UINT (pspec);
        *out_type = format_range (spec->minimum, spec->maximum, spec->minimum == 0,
                                  spec->maximum == G_MAXUINT);
        *out_default = g_strdup_printf ("`%u`", spec->default_value);
        return;
      }
    case G_TYPE_INT64:
      {
        GParamSpecInt64 *spec = G_PARAM_SPEC_INT64 (pspec);
        *out_type = format_range (spec->minimum, (guint64) MAX (spec->maximum, 0),
                                  spec->minimum == G_MININT64, spec->maximum == G_MAXINT64);
        *out_default = g_strdup_printf ("`%" G_GINT64_FORMAT "`", spec->default_value);
        return;
      }
    case G_TYPE_UINT64:
      {
        GParamSpecUInt64 *spec = G_PARAM_SPEC_UINT64 (pspec);
        *out_type = format_range ((gint64) spec->minimum, spec->maximum, spec->minimum == 0,
                                  spec->maximum == G_MAXUINT64);
        *out_default = g_strdup_printf ("`%" G_GUINT64_FORMAT "`", spec->default_value);
        return;
      }
    case G_TYPE_DOUBLE:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        *out_type = g_strdup ("number");
        *out_default = g_strdup_printf ("`%s`",
          g_ascii_dtostr (buf, sizeof buf, G_PARAM_SPEC_DOUBLE (pspec)->default_value));
        return;
      }
    case G_TYPE_ENUM:
      {
        GParamSpecEnum *spec = G_PARAM_SPEC_ENUM (pspec);
        GEnumValue *dv = g_enum_get_value (spec->enum_class, spec->default_value);
        GString *names = g_string_new ("one of ");

        for (guint i = 0; i < spec->enum_class->n_values; i++)
          g_string_append_printf (names, "%s`\"%s\"`", i ? ", " : "",
                                  spec->enum_class->values[i].value_nick);
        *out_type = g_string_free (names, FALSE);
        *out_default = g_strdup_printf ("`\"%s\"`", dv ? dv->value_nick : "");
        return;
      }
    default:
      *out_type = g_strdup (g_type_name (type));
      *out_default = g_strdup ("—");
      return;
    }
}

static void
describe_type (GString            *out,
               CdvizComponentKind  kind,
               const char         *name,
               GType               type)
{
  static const char * const headings[] = {
    [CDVIZ_COMPONENT_SOURCE] = "Source",
    [CDVIZ_COMPONENT_TRANSFORMER] = "Transformer",
    [CDVIZ_COMPONENT_SINK] = "Sink",
  };
  static const char * const tables[] = {
    [CDVIZ_COMPONENT_SOURCE] = "sources.NAME.extractor",
    [CDVIZ_COMPONENT_TRANSFORMER] = "transformers.NAME",
    [CDVIZ_COMPONENT_SINK] = "sinks.NAME",
  };
  g_autoptr(GTypeClass) klass = g_type_class_ref (type);
  g_autofree GParamSpec **pspecs = NULL;
  gboolean any = FALSE;
  guint n;

  g_string_append_printf (out, "### %s `%s`: `[%s] type = \"%s\"`\n\n",
                          headings[kind], name, tables[kind], name);

  pspecs = g_object_class_list_properties (G_OBJECT_CLASS (klass), &n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *key = NULL;
      g_autofree char *type_text = NULL;
      g_autofree char *default_text = NULL;
      const char *blurb;

      if (!(pspecs[i]->flags & G_PARAM_WRITABLE) || pspecs[i]->owner_type == G_TYPE_OBJECT)
        continue;
      if (!any)
        append_table_head (out);
      any = TRUE;
      key = g_strdelimit (g_strdup (pspecs[i]->name), "-", '_');
      describe_pspec (pspecs[i], &type_text, &default_text);
      blurb = g_param_spec_get_blurb (pspecs[i]);
      append_row (out, key, type_text, default_text,
                  blurb != NULL && *blurb != '\0' ? blurb : "(undocumented)");
    }
  if (!any)
    g_string_append (out, "No keys besides `type`.\n");
  g_string_append_c (out, '\n');
}

/**
 * cdviz_registry_describe_configuration:
 * @self: (nullable): where component types are looked up; %NULL for the
 *   default registry
 *
 * Describes every configuration section and every key of every component
 * type registered in @self (built-ins, loaded plugins, Python classes),
 * as Markdown: key, type, default and the property's blurb. This is what
 * `cdviz-pipeline config --describe` prints and what the reference in
 * `doc/configuration.md` is generated from.
 *
 * Returns: (transfer full): the description, in Markdown
 */
char *
cdviz_registry_describe_configuration (CdvizRegistry *self)
{
  static const char * const kind_titles[] = {
    [CDVIZ_COMPONENT_SOURCE] = "Source types (`[sources.NAME.extractor]`)",
    [CDVIZ_COMPONENT_TRANSFORMER] = "Transformer types (`[transformers.NAME]`)",
    [CDVIZ_COMPONENT_SINK] = "Sink types (`[sinks.NAME]`)",
  };
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (self == NULL || CDVIZ_IS_REGISTRY (self), NULL);
  if (self == NULL)
    self = cdviz_registry_get_default ();

  g_string_append (out, "## Sections\n\n");
  for (const CdvizSectionDoc *section = _cdviz_section_docs; section->table != NULL; section++)
    {
      g_string_append_printf (out, "### `[%s]`%s\n\n", section->table, section->title);
      append_key_docs (out, section->keys);
      g_string_append_c (out, '\n');
    }

  for (CdvizComponentKind kind = CDVIZ_COMPONENT_SOURCE; kind <= CDVIZ_COMPONENT_SINK; kind++)
    {
      g_auto(GStrv) names = cdviz_registry_list_types (self, kind);

      g_string_append_printf (out, "## %s\n\n", kind_titles[kind]);
      for (guint i = 0; names[i] != NULL; i++)
        describe_type (out, kind, names[i], cdviz_registry_lookup (self, kind, names[i]));
    }

  /* One trailing newline. */
  while (out->len > 1 && out->str[out->len - 1] == '\n' && out->str[out->len - 2] == '\n')
    g_string_truncate (out, out->len - 1);
  return g_string_free (out, FALSE);
}
