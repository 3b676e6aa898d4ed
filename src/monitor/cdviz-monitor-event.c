/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CdvizMonitorEvent: one CDEvent as the monitor shows it. It keeps the
 * CdvizMessage parsed from the SSE `data:` and the fields the list, the
 * filters, the chart and the notification rules read, taken once from the
 * JSON. Pure GObject: no GTK, tested without a display.
 */
#include "config.h"

#include "cdviz-monitor-event.h"

#include <glib/gi18n.h>
#include <string.h>

struct _CdvizMonitorEvent
{
  GObject parent_instance;

  CdvizMessage *message;
  char *data;
  char *origin;
  gint64 received_us;

  char *id;
  char *event_type;   /* dev.cdevents.build.finished.0.2.0 */
  char *short_type;   /* build.finished */
  char *subject;      /* build */
  char *predicate;    /* finished */
  CdvizMonitorKind kind;
  char *subject_id;
  char *source;
  char *outcome;
  char *chain_id;
  char *timestamp;
};

G_DEFINE_FINAL_TYPE (CdvizMonitorEvent, cdviz_monitor_event, G_TYPE_OBJECT)

static const struct {
  const char *subject;
  CdvizMonitorKind kind;
} subject_kinds[] = {
  { "pipelinerun", CDVIZ_MONITOR_KIND_PIPELINE },
  { "taskrun", CDVIZ_MONITOR_KIND_PIPELINE },
  { "build", CDVIZ_MONITOR_KIND_BUILD },
  { "testcaserun", CDVIZ_MONITOR_KIND_TEST },
  { "testsuiterun", CDVIZ_MONITOR_KIND_TEST },
  { "testoutput", CDVIZ_MONITOR_KIND_TEST },
  { "artifact", CDVIZ_MONITOR_KIND_ARTIFACT },
  { "service", CDVIZ_MONITOR_KIND_DEPLOYMENT },
  { "environment", CDVIZ_MONITOR_KIND_DEPLOYMENT },
  { "incident", CDVIZ_MONITOR_KIND_INCIDENT },
  { "change", CDVIZ_MONITOR_KIND_SOURCE_CODE },
  { "branch", CDVIZ_MONITOR_KIND_SOURCE_CODE },
  { "repository", CDVIZ_MONITOR_KIND_SOURCE_CODE },
  { "ticket", CDVIZ_MONITOR_KIND_TICKET },
};

/**
 * cdviz_monitor_kind_from_subject:
 * @subject: (nullable): a CDEvents subject as the type names it (`testcaserun`)
 *
 * Returns: the family of @subject, %CDVIZ_MONITOR_KIND_OTHER when unknown
 */
CdvizMonitorKind
cdviz_monitor_kind_from_subject (const char *subject)
{
  if (subject == NULL)
    return CDVIZ_MONITOR_KIND_OTHER;
  for (gsize i = 0; i < G_N_ELEMENTS (subject_kinds); i++)
    if (g_ascii_strcasecmp (subject, subject_kinds[i].subject) == 0)
      return subject_kinds[i].kind;
  return CDVIZ_MONITOR_KIND_OTHER;
}

/**
 * cdviz_monitor_kind_get_label:
 * @kind: a family
 *
 * Returns: its name, translated
 */
const char *
cdviz_monitor_kind_get_label (CdvizMonitorKind kind)
{
  switch (kind)
    {
    case CDVIZ_MONITOR_KIND_PIPELINE: return _("Pipelines");
    case CDVIZ_MONITOR_KIND_BUILD: return _("Builds");
    case CDVIZ_MONITOR_KIND_TEST: return _("Tests");
    case CDVIZ_MONITOR_KIND_ARTIFACT: return _("Artifacts");
    case CDVIZ_MONITOR_KIND_DEPLOYMENT: return _("Deployments");
    case CDVIZ_MONITOR_KIND_INCIDENT: return _("Incidents");
    case CDVIZ_MONITOR_KIND_SOURCE_CODE: return _("Source code");
    case CDVIZ_MONITOR_KIND_TICKET: return _("Tickets");
    case CDVIZ_MONITOR_KIND_OTHER:
    case CDVIZ_MONITOR_N_KINDS:
    default: return _("Other");
    }
}

/**
 * cdviz_monitor_kind_get_icon:
 * @kind: a family
 *
 * Returns: the name of its symbolic icon (from the Adwaita theme)
 */
const char *
cdviz_monitor_kind_get_icon (CdvizMonitorKind kind)
{
  switch (kind)
    {
    case CDVIZ_MONITOR_KIND_PIPELINE: return "media-playlist-repeat-symbolic";
    case CDVIZ_MONITOR_KIND_BUILD: return "applications-engineering-symbolic";
    case CDVIZ_MONITOR_KIND_TEST: return "applications-science-symbolic";
    case CDVIZ_MONITOR_KIND_ARTIFACT: return "package-x-generic-symbolic";
    case CDVIZ_MONITOR_KIND_DEPLOYMENT: return "network-server-symbolic";
    case CDVIZ_MONITOR_KIND_INCIDENT: return "dialog-warning-symbolic";
    case CDVIZ_MONITOR_KIND_SOURCE_CODE: return "x-office-document-symbolic";
    case CDVIZ_MONITOR_KIND_TICKET: return "emblem-documents-symbolic";
    case CDVIZ_MONITOR_KIND_OTHER:
    case CDVIZ_MONITOR_N_KINDS:
    default: return "emblem-system-symbolic";
    }
}

static void
cdviz_monitor_event_finalize (GObject *object)
{
  CdvizMonitorEvent *self = CDVIZ_MONITOR_EVENT (object);

  g_clear_object (&self->message);
  g_free (self->data);
  g_free (self->origin);
  g_free (self->id);
  g_free (self->event_type);
  g_free (self->short_type);
  g_free (self->subject);
  g_free (self->predicate);
  g_free (self->subject_id);
  g_free (self->source);
  g_free (self->outcome);
  g_free (self->chain_id);
  g_free (self->timestamp);
  G_OBJECT_CLASS (cdviz_monitor_event_parent_class)->finalize (object);
}

static void
cdviz_monitor_event_class_init (CdvizMonitorEventClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdviz_monitor_event_finalize;
}

static void
cdviz_monitor_event_init (CdvizMonitorEvent *self)
{
}

/* The string member @name of @object, or "" */
static char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, name))
    return g_strdup ("");
  node = json_object_get_member (object, name);
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  return g_strdup ("");
}

static JsonObject *
member_object (JsonObject *object,
               const char *name)
{
  JsonNode *node;

  if (object == NULL || !json_object_has_member (object, name))
    return NULL;
  node = json_object_get_member (object, name);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* dev.cdevents.<subject>.<predicate>.<version> → subject, predicate */
static void
split_type (CdvizMonitorEvent *self)
{
  g_auto(GStrv) parts = NULL;

  if (g_str_has_prefix (self->event_type, "dev.cdevents."))
    {
      parts = g_strsplit (self->event_type + strlen ("dev.cdevents."), ".", 3);
      if (g_strv_length (parts) >= 2)
        {
          self->subject = g_ascii_strdown (parts[0], -1);
          self->predicate = g_ascii_strdown (parts[1], -1);
        }
    }
  if (self->subject == NULL)
    {
      self->subject = g_strdup ("");
      self->predicate = g_strdup ("");
      self->short_type = g_strdup (self->event_type);
    }
  else
    self->short_type = g_strdup_printf ("%s.%s", self->subject, self->predicate);
  self->kind = cdviz_monitor_kind_from_subject (self->subject);
}

/**
 * cdviz_monitor_event_new:
 * @data: the JSON of a CDEvent (an SSE event's data)
 * @origin: the URL of the stream it came from
 * @received_us: when it arrived (g_get_real_time())
 * @error: return location for a #GError
 *
 * Parses @data. Anything that is a JSON object is kept, CDEvent or not: a
 * monitor shows what arrives; the missing fields are empty strings.
 *
 * Returns: (transfer full): the event, or %NULL when @data is not a JSON object
 */
CdvizMonitorEvent *
cdviz_monitor_event_new (const char  *data,
                         const char  *origin,
                         gint64       received_us,
                         GError     **error)
{
  g_autoptr(CdvizMessage) message = NULL;
  CdvizMonitorEvent *self;
  JsonNode *body;
  JsonObject *root, *context, *subject, *content;

  g_return_val_if_fail (data != NULL, NULL);

  message = cdviz_message_new_from_data (data, -1, error);
  if (message == NULL)
    return NULL;
  body = cdviz_message_get_body (message);
  if (!JSON_NODE_HOLDS_OBJECT (body))
    {
      g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_INVALID_DATA,
                   _("the event is not a JSON object"));
      return NULL;
    }
  root = json_node_get_object (body);
  context = member_object (root, "context");
  subject = member_object (root, "subject");
  content = member_object (subject, "content");

  self = g_object_new (CDVIZ_TYPE_MONITOR_EVENT, NULL);
  self->message = g_steal_pointer (&message);
  self->data = g_strdup (data);
  self->origin = g_strdup (origin != NULL ? origin : "");
  self->received_us = received_us;
  self->id = member_string (context, "id");
  self->event_type = member_string (context, "type");
  self->source = member_string (context, "source");
  self->chain_id = member_string (context, "chainId");
  self->timestamp = member_string (context, "timestamp");
  self->subject_id = member_string (subject, "id");
  self->outcome = member_string (content, "outcome");
  split_type (self);
  return self;
}

CdvizMessage *
cdviz_monitor_event_get_message (CdvizMonitorEvent *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), NULL);
  return self->message;
}

gint64
cdviz_monitor_event_get_received (CdvizMonitorEvent *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), 0);
  return self->received_us;
}

#define GETTER(field) \
  const char * \
  cdviz_monitor_event_get_##field (CdvizMonitorEvent *self) \
  { \
    g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), NULL); \
    return self->field; \
  }

GETTER (origin)
GETTER (id)
GETTER (event_type)
GETTER (short_type)
GETTER (subject)
GETTER (predicate)
GETTER (subject_id)
GETTER (source)
GETTER (outcome)
GETTER (chain_id)
GETTER (data)

CdvizMonitorKind
cdviz_monitor_event_get_kind (CdvizMonitorEvent *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), CDVIZ_MONITOR_KIND_OTHER);
  return self->kind;
}

/**
 * cdviz_monitor_event_format_time:
 * @self: an event
 *
 * The event's `context.timestamp` in local time (`14:27:05`), or the
 * arrival time when it has none or it does not parse.
 *
 * Returns: (transfer full): the time
 */
char *
cdviz_monitor_event_format_time (CdvizMonitorEvent *self)
{
  g_autoptr(GDateTime) utc = NULL;
  g_autoptr(GDateTime) local = NULL;

  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), NULL);
  if (*self->timestamp)
    utc = g_date_time_new_from_iso8601 (self->timestamp, NULL);
  if (utc == NULL)
    utc = g_date_time_new_from_unix_utc (self->received_us / G_USEC_PER_SEC);
  local = g_date_time_to_local (utc);
  return g_date_time_format (local, "%H:%M:%S");
}

/**
 * cdviz_monitor_event_to_pretty_json:
 * @self: an event
 *
 * Returns: (transfer full): the event's JSON, indented by two spaces
 */
char *
cdviz_monitor_event_to_pretty_json (CdvizMonitorEvent *self)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), NULL);
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, cdviz_message_get_body (self->message));
  return json_generator_to_data (generator, NULL);
}

/* The context id a link points to: target.contextId, else from.contextId */
static const char *
link_context_id (JsonObject *link)
{
  const char *ends[] = { "target", "from" };

  for (gsize i = 0; i < G_N_ELEMENTS (ends); i++)
    {
      JsonObject *end = member_object (link, ends[i]);
      if (end != NULL && json_object_has_member (end, "contextId"))
        {
          JsonNode *id = json_object_get_member (end, "contextId");
          if (JSON_NODE_HOLDS_VALUE (id) && json_node_get_value_type (id) == G_TYPE_STRING)
            return json_node_get_string (id);
        }
    }
  return NULL;
}

/**
 * cdviz_monitor_event_describe_links:
 * @self: an event
 *
 * The event's place among others, one line each: its chain
 * (`context.chainId`) and its `context.links`, for the detail pane.
 *
 * Returns: (transfer full): the lines, "" when the event has neither
 */
char *
cdviz_monitor_event_describe_links (CdvizMonitorEvent *self)
{
  GString *out = g_string_new (NULL);
  JsonObject *context;
  JsonNode *links;

  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), NULL);
  if (*self->chain_id)
    /* Translators: %s is an event chain id (a UUID) */
    g_string_append_printf (out, _("Chain: %s"), self->chain_id);
  context = member_object (json_node_get_object (cdviz_message_get_body (self->message)),
                           "context");
  links = context != NULL && json_object_has_member (context, "links")
            ? json_object_get_member (context, "links") : NULL;
  if (links != NULL && JSON_NODE_HOLDS_ARRAY (links))
    {
      JsonArray *array = json_node_get_array (links);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *node = json_array_get_element (array, i);
          g_autofree char *kind = NULL;
          g_autofree char *type = NULL;
          const char *target;

          if (!JSON_NODE_HOLDS_OBJECT (node))
            continue;
          type = member_string (json_node_get_object (node), "linkType");
          kind = member_string (json_node_get_object (node), "linkKind");
          target = link_context_id (json_node_get_object (node));
          if (out->len > 0)
            g_string_append_c (out, '\n');
          if (*kind)
            {
              char *both = g_strdup_printf ("%s %s", type, kind);
              g_free (type);
              type = both;
            }
          /* Translators: a link between events: its type and kind
           * (PATH, RELATION TRIGGER…), and the event it points to */
          g_string_append_printf (out, _("Link %s → %s"), type, target != NULL ? target : "?");
        }
    }
  return g_string_free (out, FALSE);
}

static gboolean
contains_casefold (const char *haystack,
                   const char *needle_folded)
{
  g_autofree char *folded = g_utf8_casefold (haystack, -1);
  return strstr (folded, needle_folded) != NULL;
}

/**
 * cdviz_monitor_event_matches:
 * @self: an event
 * @kind: the family to keep, or %CDVIZ_MONITOR_N_KINDS for all
 * @subject: (nullable): text the subject id must contain (case-insensitive),
 *   or %NULL or "" for any
 * @text: (nullable): text the event's JSON must contain (case-insensitive),
 *   or %NULL or "" for any
 *
 * Whether the event passes the list's filters.
 *
 * Returns: %TRUE when it does
 */
gboolean
cdviz_monitor_event_matches (CdvizMonitorEvent *self,
                             CdvizMonitorKind   kind,
                             const char        *subject,
                             const char        *text)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_EVENT (self), FALSE);
  if (kind != CDVIZ_MONITOR_N_KINDS && self->kind != kind)
    return FALSE;
  if (subject != NULL && *subject)
    {
      g_autofree char *folded = g_utf8_casefold (subject, -1);
      if (!contains_casefold (self->subject_id, folded))
        return FALSE;
    }
  if (text != NULL && *text)
    {
      g_autofree char *folded = g_utf8_casefold (text, -1);
      if (!contains_casefold (self->data, folded))
        return FALSE;
    }
  return TRUE;
}
