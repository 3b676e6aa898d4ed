/* SPDX-License-Identifier: Apache-2.0 */

/* The TOML front end: TOML text → JsonNode tree.
 *
 * This is the only C++ in cdviz. It exists because the TOML parser we rely
 * on, toml++, is a C++17 library; there is no complete TOML 1.0 parser in C
 * packaged by the distributions we target. Everything C++ stays inside this
 * file: the interface is the C header cdviz-toml-private.h, and no exception
 * escapes cdviz_toml_parse().
 */

#include "config.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

/* C headers; each wraps its declarations in G_BEGIN_DECLS (extern "C"), so
 * cdviz_toml_parse() below gets C linkage. */
#include <glib/gi18n-lib.h>

#include "cdviz-config.h"
#include "cdviz-toml-private.h"

namespace {

class Converter
{
public:
  Converter (CdvizTomlMode mode, bool want_lines)
    : mode_ (mode), want_lines_ (want_lines), path_ (g_string_new (NULL))
  {
  }
  ~Converter () { g_string_free (path_, TRUE); }
  Converter (const Converter &) = delete;
  Converter &operator= (const Converter &) = delete;

  JsonNode *
  table (const toml::table &tbl)
  {
    /* toml::table is a std::map sorted by key; restore document order, which
     * is the position where each key was first written. */
    std::vector<std::pair<const toml::key *, const toml::node *>> members;
    for (auto &&[key, node] : tbl)
      members.emplace_back (&key, &node);
    std::stable_sort (members.begin (), members.end (), [] (const auto &a, const auto &b) {
      return a.first->source ().begin < b.first->source ().begin;
    });

    g_autoptr (JsonObject) object = json_object_new ();
    for (const auto &[key, node] : members)
      {
        std::string name (key->str ());
        check_no_nul (name, key->source ());

        gsize len = path_->len;
        if (want_lines_)
          cdviz_config_path_append (path_, name.c_str ());
        record_line (*node, key->source ());
        json_object_set_member (object, name.c_str (), value (*node));
        g_string_truncate (path_, len);
      }

    JsonNode *result = json_node_new (JSON_NODE_OBJECT);
    json_node_take_object (result, g_steal_pointer (&object));
    return result;
  }

  /* Only valid after a successful conversion. */
  const std::vector<std::pair<std::string, guint>> &
  lines () const
  {
    return lines_;
  }

private:
  CdvizTomlMode mode_;
  bool want_lines_;
  GString *path_;
  std::vector<std::pair<std::string, guint>> lines_;

  void
  record_line (const toml::node &node, const toml::source_region &fallback)
  {
    if (!want_lines_)
      return;
    /* A table's own region is its explicit [header] when it has one. */
    guint line = node.source ().begin.line ? node.source ().begin.line : fallback.begin.line;
    lines_.emplace_back (path_->str, line);
  }

  /* JSON-GLib strings are NUL-terminated; "\u0000" cannot be represented. */
  static void
  check_no_nul (std::string_view s, const toml::source_region &where)
  {
    if (s.find ('\0') != std::string_view::npos)
      throw toml::parse_error (_("NUL characters (\\u0000) are not supported in strings or keys"),
                               where);
  }

  JsonNode *
  array (const toml::array &arr)
  {
    g_autoptr (JsonArray) array = json_array_sized_new (arr.size ());
    for (gsize i = 0; i < arr.size (); i++)
      {
        gsize len = path_->len;
        if (want_lines_)
          g_string_append_printf (path_, "[%" G_GSIZE_FORMAT "]", i);
        record_line (arr[i], arr.source ());
        json_array_add_element (array, value (arr[i]));
        g_string_truncate (path_, len);
      }

    JsonNode *result = json_node_new (JSON_NODE_ARRAY);
    json_node_take_array (result, g_steal_pointer (&array));
    return result;
  }

  JsonNode *
  scalar (const char *type, const std::string &text)
  {
    if (mode_ == CDVIZ_TOML_PLAIN)
      return json_node_init_string (json_node_alloc (), text.c_str ());

    g_autoptr (JsonObject) object = json_object_new ();
    json_object_set_string_member (object, "type", type);
    json_object_set_string_member (object, "value", text.c_str ());
    JsonNode *result = json_node_new (JSON_NODE_OBJECT);
    json_node_take_object (result, g_steal_pointer (&object));
    return result;
  }

  static std::string
  format (const toml::date &d)
  {
    char buf[32];
    g_snprintf (buf, sizeof buf, "%04u-%02u-%02u", d.year, d.month, d.day);
    return buf;
  }

  static std::string
  format (const toml::time &t)
  {
    char buf[32];
    g_snprintf (buf, sizeof buf, "%02u:%02u:%02u", t.hour, t.minute, t.second);
    std::string s (buf);
    if (t.nanosecond > 0)
      {
        g_snprintf (buf, sizeof buf, ".%09u", (guint) t.nanosecond);
        s += buf;
        s.erase (s.find_last_not_of ('0') + 1);
      }
    return s;
  }

  static std::string
  format (const toml::date_time &dt)
  {
    std::string s = format (dt.date) + "T" + format (dt.time);
    if (dt.offset)
      {
        int minutes = dt.offset->minutes;
        if (minutes == 0)
          return s + "Z";
        char buf[16];
        g_snprintf (buf, sizeof buf, "%c%02d:%02d", minutes < 0 ? '-' : '+', ABS (minutes) / 60,
                    ABS (minutes) % 60);
        s += buf;
      }
    return s;
  }

  JsonNode *
  value (const toml::node &node)
  {
    switch (node.type ())
      {
      case toml::node_type::table:
        return table (*node.as_table ());

      case toml::node_type::array:
        return array (*node.as_array ());

      case toml::node_type::string:
        {
          const std::string &s = node.as_string ()->get ();
          check_no_nul (s, node.source ());
          return scalar ("string", s);
        }

      case toml::node_type::integer:
        {
          gint64 i = node.as_integer ()->get ();
          if (mode_ == CDVIZ_TOML_PLAIN)
            return json_node_init_int (json_node_alloc (), i);
          return scalar ("integer", std::to_string (i));
        }

      case toml::node_type::floating_point:
        {
          double d = node.as_floating_point ()->get ();
          if (mode_ == CDVIZ_TOML_PLAIN)
            return json_node_init_double (json_node_alloc (), d);
          if (std::isnan (d))
            return scalar ("float", "nan");
          if (std::isinf (d))
            return scalar ("float", d < 0 ? "-inf" : "inf");
          /* The shortest of these that reads back as the same double. */
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          for (const char *fmt : { "%.15g", "%.16g", "%.17g" })
            if (g_ascii_strtod (g_ascii_formatd (buf, sizeof buf, fmt, d), NULL) == d)
              break;
          return scalar ("float", buf);
        }

      case toml::node_type::boolean:
        {
          bool b = node.as_boolean ()->get ();
          if (mode_ == CDVIZ_TOML_PLAIN)
            return json_node_init_boolean (json_node_alloc (), b);
          return scalar ("bool", b ? "true" : "false");
        }

      case toml::node_type::date:
        return scalar ("date-local", format (node.as_date ()->get ()));

      case toml::node_type::time:
        return scalar ("time-local", format (node.as_time ()->get ()));

      case toml::node_type::date_time:
        {
          const toml::date_time &dt = node.as_date_time ()->get ();
          return scalar (dt.offset ? "datetime" : "datetime-local", format (dt));
        }

      case toml::node_type::none:
      default:
        break;
      }
    throw std::logic_error ("unexpected TOML node type");
  }
};

/* Our own checks report positions the way toml++ does: 1-based line, and
 * 1-based column counted in characters. */
toml::source_position
position_at (const char *data, gsize offset)
{
  toml::source_position pos{ 1, 1 };
  for (gsize i = 0; i < offset; i++)
    {
      if (data[i] == '\n')
        pos = { pos.line + 1, 1 };
      else if (((guchar) data[i] & 0xC0) != 0x80) /* not a UTF-8 continuation byte */
        pos.column++;
    }
  return pos;
}

} // namespace

JsonNode *
cdviz_toml_parse (const char     *data,
                  gsize           length,
                  const char     *origin,
                  CdvizTomlMode   mode,
                  GHashTable     *lines,
                  GError        **error)
{
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (origin != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  try
    {
      /* TOML forbids raw NUL anywhere. toml++ rejects it too, but its
       * message ("control characters … are explicitly prohibited") hides
       * what is usually a binary file given by mistake. */
      if (const void *nul = length > 0 ? memchr (data, '\0', length) : NULL)
        throw toml::parse_error (_("NUL characters are not allowed in TOML documents"),
                                 position_at (data, (const char *) nul - data));

      toml::table doc = toml::parse (std::string_view (length > 0 ? data : "", length),
                                     std::string_view (origin));
      Converter converter (mode, lines != NULL);
      JsonNode *root = converter.table (doc);

      for (const auto &[path, line] : converter.lines ())
        g_hash_table_insert (lines, g_strdup (path.c_str ()), GUINT_TO_POINTER (line));
      return root;
    }
  catch (const toml::parse_error &e)
    {
      const toml::source_position &pos = e.source ().begin;
      std::string description (e.description ());
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_PARSE, "%s:%u:%u: %s", origin,
                   (guint) pos.line, (guint) pos.column, description.c_str ());
    }
  catch (const std::exception &e) /* std::bad_alloc and the like: no position */
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_PARSE, "%s: %s", origin, e.what ());
    }
  catch (...)
    {
      g_set_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_PARSE,
                   _("%s: unexpected error while reading TOML"), origin);
    }
  return NULL;
}
