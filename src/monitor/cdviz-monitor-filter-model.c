/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CdvizMonitorFilterModel: the events of a GListModel of CdvizMonitorEvent
 * that pass the list's filters (family, subject id, text), in the same
 * order. A GListModel of GIO alone, so that it is tested without a display.
 *
 * It keeps the positions (in the underlying model) of the events that
 * pass, sorted. A change of the underlying model is applied in place: the
 * positions in the removed range go, those after it shift, the added
 * events that pass are inserted; one items-changed says it, so that a view
 * keeps its selection and scroll position while events arrive. A change of
 * a filter recomputes everything.
 */
#include "config.h"

#include "cdviz-monitor-filter-model.h"

struct _CdvizMonitorFilterModel
{
  GObject parent_instance;

  GListModel *model;
  GArray *positions;   /* guint, ascending */
  CdvizMonitorKind kind;
  char *subject;
  char *text;
};

enum {
  PROP_0,
  PROP_MODEL,
  PROP_KIND,
  PROP_SUBJECT,
  PROP_TEXT,
  PROP_N_ITEMS,
  N_PROPS
};
static GParamSpec *properties[N_PROPS];

static GType
filter_model_get_item_type (GListModel *list)
{
  return CDVIZ_TYPE_MONITOR_EVENT;
}

static guint
filter_model_get_n_items (GListModel *list)
{
  return CDVIZ_MONITOR_FILTER_MODEL (list)->positions->len;
}

static gpointer
filter_model_get_item (GListModel *list,
                       guint       position)
{
  CdvizMonitorFilterModel *self = CDVIZ_MONITOR_FILTER_MODEL (list);

  if (position >= self->positions->len)
    return NULL;
  return g_list_model_get_item (self->model, g_array_index (self->positions, guint, position));
}

static void
cdviz_monitor_filter_model_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = filter_model_get_item_type;
  iface->get_n_items = filter_model_get_n_items;
  iface->get_item = filter_model_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (CdvizMonitorFilterModel, cdviz_monitor_filter_model, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL,
                                                      cdviz_monitor_filter_model_list_model_init))

static gboolean
passes (CdvizMonitorFilterModel *self,
        guint                    position)
{
  g_autoptr(CdvizMonitorEvent) event = g_list_model_get_item (self->model, position);

  return event != NULL && cdviz_monitor_event_matches (event, self->kind, self->subject,
                                                       self->text);
}

/* The first index of positions holding a value >= @position */
static guint
lower_bound (GArray *positions,
             guint   position)
{
  guint lo = 0, hi = positions->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (g_array_index (positions, guint, mid) < position)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

static void
model_items_changed (GListModel              *model,
                     guint                    position,
                     guint                    removed,
                     guint                    added,
                     CdvizMonitorFilterModel *self)
{
  guint first = lower_bound (self->positions, position);
  guint end = lower_bound (self->positions, position + removed);
  g_autoptr(GArray) inserted = g_array_new (FALSE, FALSE, sizeof (guint));

  g_array_remove_range (self->positions, first, end - first);
  for (guint i = first; i < self->positions->len; i++)
    g_array_index (self->positions, guint, i) += added - removed;
  for (guint p = position; p < position + added; p++)
    if (passes (self, p))
      g_array_append_val (inserted, p);
  g_array_insert_vals (self->positions, first, inserted->data, inserted->len);
  if (end - first > 0 || inserted->len > 0)
    {
      g_list_model_items_changed (G_LIST_MODEL (self), first, end - first, inserted->len);
      if (end - first != inserted->len)
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
    }
}

static void
refilter (CdvizMonitorFilterModel *self)
{
  guint old = self->positions->len;
  guint n = self->model != NULL ? g_list_model_get_n_items (self->model) : 0;

  g_array_set_size (self->positions, 0);
  for (guint p = 0; p < n; p++)
    if (passes (self, p))
      g_array_append_val (self->positions, p);
  if (old > 0 || self->positions->len > 0)
    g_list_model_items_changed (G_LIST_MODEL (self), 0, old, self->positions->len);
  if (old != self->positions->len)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
}

static void
cdviz_monitor_filter_model_dispose (GObject *object)
{
  CdvizMonitorFilterModel *self = CDVIZ_MONITOR_FILTER_MODEL (object);

  if (self->model != NULL)
    g_signal_handlers_disconnect_by_func (self->model, model_items_changed, self);
  g_clear_object (&self->model);
  G_OBJECT_CLASS (cdviz_monitor_filter_model_parent_class)->dispose (object);
}

static void
cdviz_monitor_filter_model_finalize (GObject *object)
{
  CdvizMonitorFilterModel *self = CDVIZ_MONITOR_FILTER_MODEL (object);

  g_array_unref (self->positions);
  g_free (self->subject);
  g_free (self->text);
  G_OBJECT_CLASS (cdviz_monitor_filter_model_parent_class)->finalize (object);
}

static void
cdviz_monitor_filter_model_get_property (GObject    *object,
                                         guint       prop_id,
                                         GValue     *value,
                                         GParamSpec *pspec)
{
  CdvizMonitorFilterModel *self = CDVIZ_MONITOR_FILTER_MODEL (object);

  switch (prop_id)
    {
    case PROP_MODEL: g_value_set_object (value, self->model); break;
    case PROP_KIND: g_value_set_int (value, self->kind); break;
    case PROP_SUBJECT: g_value_set_string (value, self->subject); break;
    case PROP_TEXT: g_value_set_string (value, self->text); break;
    case PROP_N_ITEMS: g_value_set_uint (value, self->positions->len); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_monitor_filter_model_set_property (GObject      *object,
                                         guint         prop_id,
                                         const GValue *value,
                                         GParamSpec   *pspec)
{
  CdvizMonitorFilterModel *self = CDVIZ_MONITOR_FILTER_MODEL (object);

  switch (prop_id)
    {
    case PROP_MODEL:
      self->model = g_value_dup_object (value);
      if (self->model != NULL)
        {
          g_signal_connect (self->model, "items-changed", G_CALLBACK (model_items_changed), self);
          refilter (self);
        }
      break;
    case PROP_KIND: cdviz_monitor_filter_model_set_kind (self, g_value_get_int (value)); break;
    case PROP_SUBJECT: cdviz_monitor_filter_model_set_subject (self, g_value_get_string (value)); break;
    case PROP_TEXT: cdviz_monitor_filter_model_set_text (self, g_value_get_string (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cdviz_monitor_filter_model_class_init (CdvizMonitorFilterModelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = cdviz_monitor_filter_model_dispose;
  object_class->finalize = cdviz_monitor_filter_model_finalize;
  object_class->get_property = cdviz_monitor_filter_model_get_property;
  object_class->set_property = cdviz_monitor_filter_model_set_property;

  /* The events filtered: a GListModel of CdvizMonitorEvent. */
  properties[PROP_MODEL] =
    g_param_spec_object ("model", NULL, NULL, G_TYPE_LIST_MODEL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /* The family kept (a CdvizMonitorKind), CDVIZ_MONITOR_N_KINDS for all. */
  properties[PROP_KIND] =
    g_param_spec_int ("kind", NULL, NULL, 0, CDVIZ_MONITOR_N_KINDS, CDVIZ_MONITOR_N_KINDS, rw);
  /* Text the subject id contains, case-insensitive; "" for any. */
  properties[PROP_SUBJECT] = g_param_spec_string ("subject", NULL, NULL, "", rw);
  /* Text the event's JSON contains, case-insensitive; "" for any. */
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, "", rw);
  /* How many events pass. */
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
cdviz_monitor_filter_model_init (CdvizMonitorFilterModel *self)
{
  self->positions = g_array_new (FALSE, FALSE, sizeof (guint));
  self->kind = CDVIZ_MONITOR_N_KINDS;
  self->subject = g_strdup ("");
  self->text = g_strdup ("");
}

/**
 * cdviz_monitor_filter_model_new:
 * @model: a GListModel of CdvizMonitorEvent
 *
 * Returns: (transfer full): a model of the events of @model, all passing
 *   until a filter is set
 */
CdvizMonitorFilterModel *
cdviz_monitor_filter_model_new (GListModel *model)
{
  g_return_val_if_fail (G_IS_LIST_MODEL (model), NULL);
  return g_object_new (CDVIZ_TYPE_MONITOR_FILTER_MODEL, "model", model, NULL);
}

GListModel *
cdviz_monitor_filter_model_get_model (CdvizMonitorFilterModel *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_FILTER_MODEL (self), NULL);
  return self->model;
}

void
cdviz_monitor_filter_model_set_kind (CdvizMonitorFilterModel *self,
                                     CdvizMonitorKind         kind)
{
  g_return_if_fail (CDVIZ_IS_MONITOR_FILTER_MODEL (self));
  g_return_if_fail (kind <= CDVIZ_MONITOR_N_KINDS);
  if (self->kind == kind)
    return;
  self->kind = kind;
  refilter (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_KIND]);
}

CdvizMonitorKind
cdviz_monitor_filter_model_get_kind (CdvizMonitorFilterModel *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_FILTER_MODEL (self), CDVIZ_MONITOR_N_KINDS);
  return self->kind;
}

static void
set_string (CdvizMonitorFilterModel *self,
            char                   **field,
            const char              *value,
            GParamSpec              *pspec)
{
  if (value == NULL)
    value = "";
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  refilter (self);
  g_object_notify_by_pspec (G_OBJECT (self), pspec);
}

void
cdviz_monitor_filter_model_set_subject (CdvizMonitorFilterModel *self,
                                        const char              *subject)
{
  g_return_if_fail (CDVIZ_IS_MONITOR_FILTER_MODEL (self));
  set_string (self, &self->subject, subject, properties[PROP_SUBJECT]);
}

const char *
cdviz_monitor_filter_model_get_subject (CdvizMonitorFilterModel *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_FILTER_MODEL (self), NULL);
  return self->subject;
}

void
cdviz_monitor_filter_model_set_text (CdvizMonitorFilterModel *self,
                                     const char              *text)
{
  g_return_if_fail (CDVIZ_IS_MONITOR_FILTER_MODEL (self));
  set_string (self, &self->text, text, properties[PROP_TEXT]);
}

const char *
cdviz_monitor_filter_model_get_text (CdvizMonitorFilterModel *self)
{
  g_return_val_if_fail (CDVIZ_IS_MONITOR_FILTER_MODEL (self), NULL);
  return self->text;
}
