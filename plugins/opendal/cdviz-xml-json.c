/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <glib/gi18n-lib.h>

#include "cdviz-file-parser.h"

/* XML → JSON as cdviz-collector's `parse_xml` (the quick-xml-to-json
 * crate) builds it, from its expected output for a JUnit report
 * (`examples/assets/outputs/xml/`): the document is `{ROOT: element}`; an
 * element is an object with its attributes as `"@NAME": "value"`, its
 * child elements in order as `"#c": [{NAME: element}, …]` and its text,
 * trimmed, as `"#t"` when there is any. libxml2 (Debian's libxml2-dev)
 * parses, without network access and without expanding external
 * entities. */

#define XML_MAX_DEPTH 256

static JsonNode *
element_to_json (xmlNode *element,
                 guint    depth,
                 GError **error)
{
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonArray) children = json_array_new ();
  g_autoptr(GString) text = g_string_new (NULL);

  if (depth > XML_MAX_DEPTH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   _("line %ld: elements nested more than %u deep"),
                   (long) xmlGetLineNo (element), XML_MAX_DEPTH);
      return NULL;
    }
  for (xmlAttr *a = element->properties; a != NULL; a = a->next)
    {
      g_autofree char *name = NULL;
      xmlChar *value = xmlNodeListGetString (element->doc, a->children, 1);

      name = a->ns != NULL && a->ns->prefix != NULL
             ? g_strdup_printf ("@%s:%s", a->ns->prefix, a->name)
             : g_strdup_printf ("@%s", a->name);
      json_object_set_string_member (object, name, value != NULL ? (char *) value : "");
      xmlFree (value);
    }
  for (xmlNode *n = element->children; n != NULL; n = n->next)
    {
      if (n->type == XML_ELEMENT_NODE)
        {
          g_autoptr(JsonObject) wrapper = json_object_new ();
          g_autofree char *name = n->ns != NULL && n->ns->prefix != NULL
                                  ? g_strdup_printf ("%s:%s", n->ns->prefix, n->name)
                                  : g_strdup ((const char *) n->name);
          JsonNode *child = element_to_json (n, depth + 1, error);

          if (child == NULL)
            return NULL;
          json_object_set_member (wrapper, name, child);
          json_array_add_object_element (children, g_steal_pointer (&wrapper));
        }
      else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
        g_string_append (text, (const char *) n->content);
    }
  if (json_array_get_length (children) > 0)
    json_object_set_array_member (object, "#c", g_steal_pointer (&children));
  g_strstrip (text->str);
  if (text->str[0] != '\0')
    json_object_set_string_member (object, "#t", text->str);
  return json_node_init_object (json_node_alloc (), object);
}

JsonNode *
cdviz_xml_to_json (const char  *data,
                   gsize        length,
                   GError     **error)
{
  xmlDoc *doc;
  xmlNode *root;
  const xmlError *last;
  g_autoptr(JsonObject) top = NULL;
  g_autofree char *name = NULL;
  JsonNode *value;

  static gsize initialized = 0;

  /* libxml2 wants its initialization done once before threads use it. */
  if (g_once_init_enter (&initialized))
    {
      xmlInitParser ();
      g_once_init_leave (&initialized, 1);
    }
  if (length > G_MAXINT)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("too large"));
      return NULL;
    }
  doc = xmlReadMemory (data, (int) length, NULL, NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL || (root = xmlDocGetRootElement (doc)) == NULL)
    {
      last = xmlGetLastError ();
      if (last != NULL && last->message != NULL)
        {
          g_autofree char *message = g_strstrip (g_strdup (last->message));

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _("line %d: %s"),
                       last->line, message);
        }
      else
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                             _("no root element"));
      if (doc != NULL)
        xmlFreeDoc (doc);
      return NULL;
    }
  value = element_to_json (root, 0, error);
  name = root->ns != NULL && root->ns->prefix != NULL
         ? g_strdup_printf ("%s:%s", root->ns->prefix, root->name)
         : g_strdup ((const char *) root->name);
  xmlFreeDoc (doc);
  if (value == NULL)
    return NULL;
  top = json_object_new ();
  json_object_set_member (top, name, value);
  return json_node_init_object (json_node_alloc (), top);
}
