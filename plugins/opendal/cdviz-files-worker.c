/* SPDX-License-Identifier: Apache-2.0 */
#include <glib/gi18n-lib.h>

#include "cdviz-files-worker.h"

#define PUSH_RETRY_FIRST_MS 5
#define PUSH_RETRY_MAX_MS 200

void
cdviz_files_worker_init (CdvizFilesWorker *worker,
                         CdvizSource      *source)
{
  g_mutex_init (&worker->lock);
  g_cond_init (&worker->cond);
  worker->source = source;
}

void
cdviz_files_worker_clear (CdvizFilesWorker *worker)
{
  if (worker->thread != NULL)
    g_warning ("source '%s' finalized while running; stop the pipeline first", worker->name);
  g_clear_object (&worker->pipeline);
  g_clear_pointer (&worker->name, g_free);
  g_mutex_clear (&worker->lock);
  g_cond_clear (&worker->cond);
}

void
cdviz_files_worker_set_name (CdvizFilesWorker *worker,
                             CdvizPipeline    *pipeline,
                             const char       *fallback)
{
  const char *name = cdviz_pipeline_get_source_name (pipeline, worker->source);

  g_free (worker->name);
  worker->name = g_strdup (name != NULL ? name : fallback);
}

void
cdviz_files_worker_start (CdvizFilesWorker *worker,
                          CdvizPipeline    *pipeline,
                          const char       *thread_name,
                          GThreadFunc       func,
                          gpointer          data)
{
  g_return_if_fail (worker->thread == NULL);

  g_set_object (&worker->pipeline, pipeline);
  worker->stopping = FALSE;
  worker->thread = g_thread_new (thread_name, func, data);
}

void
cdviz_files_worker_stop (CdvizFilesWorker *worker)
{
  if (worker->thread != NULL)
    {
      g_mutex_lock (&worker->lock);
      worker->stopping = TRUE;
      g_cond_broadcast (&worker->cond);
      g_mutex_unlock (&worker->lock);
      g_thread_join (g_steal_pointer (&worker->thread));
    }
  g_clear_object (&worker->pipeline);
}

gboolean
cdviz_files_worker_is_stopping (CdvizFilesWorker *worker)
{
  gboolean stopping;

  g_mutex_lock (&worker->lock);
  stopping = worker->stopping;
  g_mutex_unlock (&worker->lock);
  return stopping;
}

gboolean
cdviz_files_worker_sleep (CdvizFilesWorker *worker,
                          guint64           ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * G_TIME_SPAN_MILLISECOND;
  gboolean stopping;

  g_mutex_lock (&worker->lock);
  while (!worker->stopping && g_cond_wait_until (&worker->cond, &worker->lock, until))
    ;
  stopping = worker->stopping;
  g_mutex_unlock (&worker->lock);
  return !stopping;
}

gboolean
cdviz_files_worker_push (CdvizFilesWorker *worker,
                         CdvizMessage     *message)
{
  guint retry_ms = PUSH_RETRY_FIRST_MS;

  for (;;)
    {
      g_autoptr(GError) error = NULL;

      if (cdviz_pipeline_push_from (worker->pipeline, worker->source, message, &error))
        return TRUE;
      if (!g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_FULL) &&
          !g_error_matches (error, CDVIZ_PIPELINE_ERROR, CDVIZ_PIPELINE_ERROR_NOT_RUNNING))
        {
          g_warning ("source '%s': message not accepted by the pipeline: %s", worker->name,
                     error->message);
          return FALSE;
        }
      if (!cdviz_files_worker_sleep (worker, retry_ms))
        return FALSE;
      retry_ms = MIN (retry_ms * 2, PUSH_RETRY_MAX_MS);
    }
}

gboolean
cdviz_files_check_parser (const char       *name,
                          CdvizFileParser  *parser,
                          const char       *no_metadata,
                          GError          **error)
{
  if (!cdviz_file_parser_from_string (name, parser, error))
    return FALSE;
  if (*parser == CDVIZ_FILE_PARSER_METADATA)
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           no_metadata);
      return FALSE;
    }
  return TRUE;
}

gboolean
cdviz_files_check_metadata (JsonNode **metadata,
                            GError   **error)
{
  if (*metadata != NULL && JSON_NODE_HOLDS_NULL (*metadata))
    g_clear_pointer (metadata, json_node_unref);
  if (*metadata != NULL && !JSON_NODE_HOLDS_OBJECT (*metadata))
    {
      g_set_error_literal (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE,
                           _("key “metadata”: expected a table"));
      return FALSE;
    }
  return TRUE;
}
