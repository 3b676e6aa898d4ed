/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <string.h>

#include <json-glib/json-glib.h>

#include "cdviz-http-server-private.h"

/* Routes of the HTTP server, its built-in endpoints (/healthz, /readyz,
 * /metrics), and the dispatch of every request: header limits, header rules
 * at the route, bodies refused from the head, then the route's handlers.
 * Everything here runs on an HTTP thread (any of them: the soup handlers'
 * data is the thread's HttpWorker), but the route API (called before the
 * server starts). */

#define STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE CDVIZ_HTTP_STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE

void
_cdviz_http_route_free (gpointer data)
{
  Route *route = data;

  if (route->destroy != NULL)
    route->destroy (route->user_data);
  if (route->early_destroy != NULL)
    route->early_destroy (route->early_user_data);
  g_clear_object (&route->validator);
  g_strfreev (route->methods);
  g_free (route->allow);
  g_free (route->closed_reason);
  g_free (route->owner);
  g_free (route);
}

void
_cdviz_http_metrics_entry_clear (gpointer data)
{
  MetricsEntry *entry = data;

  if (entry->destroy != NULL)
    entry->destroy (entry->user_data);
}

/**
 * cdviz_http_respond_error:
 * @msg: the message to answer
 * @status: an HTTP status code
 * @detail: (nullable): a short explanation for the client
 *
 * Answers @msg with @status and a JSON body
 * `{"title": "<reason phrase>", "status": <status>, "detail": "<detail>"}`.
 */
void
cdviz_http_respond_error (SoupServerMessage *msg,
                          guint              status,
                          const char        *detail)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  const char *phrase = status == STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE
                       ? "Request Header Fields Too Large" : soup_status_get_phrase (status);
  char *text;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "title");
  json_builder_add_string_value (builder, phrase);
  json_builder_set_member_name (builder, "status");
  json_builder_add_int_value (builder, status);
  if (detail != NULL)
    {
      json_builder_set_member_name (builder, "detail");
      json_builder_add_string_value (builder, detail);
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);

  soup_server_message_set_status (msg, status, phrase);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    text, strlen (text));
}

static void
respond_text (SoupServerMessage *msg,
              guint              status,
              const char        *content_type,
              char              *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE,
                                    text, strlen (text));
}

static gboolean
check_builtin_method (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Allow", "GET, HEAD");
  cdviz_http_respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                            "only GET and HEAD are allowed here");
  return FALSE;
}

static void
serve_metrics (CdvizHttpServer   *self,
               SoupServerMessage *msg)
{
  GString *out = g_string_new (NULL);

  g_string_append (out,
                   "# HELP cdviz_up Whether the pipeline accepts events (1) or is starting or shutting down (0).\n"
                   "# TYPE cdviz_up gauge\n");
  g_string_append_printf (out, "cdviz_up %d\n", g_atomic_int_get (&self->ready) ? 1 : 0);

  g_string_append_printf (out,
                          "# HELP cdviz_http_connections_closed_total Connections the server closed, by reason.\n"
                          "# TYPE cdviz_http_connections_closed_total counter\n"
                          "cdviz_http_connections_closed_total{reason=\"header_limits\"} %" G_GUINT64_FORMAT "\n",
                          COUNTER_GET (self->refused_headers));
  _cdviz_http_connections_append_metrics (self->all_connections, self->n_threads, out);

  /* One scrape at a time: with several HTTP threads, two could run at once,
   * and a component's function was written for one caller. */
  g_mutex_lock (&self->metrics_lock);
  for (guint i = 0; i < self->metrics->len; i++)
    {
      MetricsEntry *entry = &g_array_index (self->metrics, MetricsEntry, i);
      entry->func (out, entry->user_data);
    }
  g_mutex_unlock (&self->metrics_lock);

  respond_text (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
                g_string_free (out, FALSE));
}

/* --- header rules at the route (as libsoup's SoupAuthDomain) ------------- */

static void
respond_rejected (SoupServerMessage *msg,
                  guint              status,
                  const char        *message)
{
  const char *text = message != NULL ? message : "Header validation failed";

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
                                    text, strlen (text));
}

/* "only POST is allowed here", "only GET, HEAD and OPTIONS are allowed here" */
static char *
allowed_detail (char **methods)
{
  guint n = g_strv_length (methods);
  GString *out = g_string_new ("only ");

  for (guint i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append (out, i == n - 1 ? " and " : ", ");
      g_string_append (out, methods[i]);
    }
  g_string_append (out, n == 1 ? " is allowed here" : " are allowed here");
  return g_string_free (out, FALSE);
}

/* What the server answers for the route itself: 405 for a method it does
 * not serve, 503 while it is closed. Returns whether it answered. */
static gboolean
refuse_by_route (Route             *route,
                 SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (soup_server_message_get_status (msg) != 0)
    return FALSE;
  if (route->methods != NULL && !g_strv_contains ((const char * const *) route->methods, method))
    {
      g_autofree char *detail = allowed_detail (route->methods);

      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Allow", route->allow);
      cdviz_http_respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, detail);
      return TRUE;
    }
  if (g_atomic_int_get (&route->closed))
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                    "Retry-After", "1");
      cdviz_http_respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
                                route->closed_reason != NULL ? route->closed_reason
                                                             : "shutting down");
      return TRUE;
    }
  return FALSE;
}

/* Once the headers are in: every rule that needs no body. */
static void
check_route_head (Route             *route,
                  SoupServerMessage *msg)
{
  g_autofree char *message = NULL;
  guint status = cdviz_header_validator_check_head_soup (
    route->validator, soup_server_message_get_request_headers (msg), &message);

  if (status != SOUP_STATUS_OK)
    {
      /* The message names the header, never its value. */
      g_debug ("%s: connection rejected with %u: %s", route->owner, status,
               message != NULL ? message : "");
      COUNTER_ADD (route->rejected, 1);
      respond_rejected (msg, status, message);
    }
}

/* Once the body is in: the signatures over it. */
static gboolean
check_route_body (Route             *route,
                  SoupServerMessage *msg)
{
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autofree char *message = NULL;
  guint status = cdviz_header_validator_check_body_soup (
    route->validator, soup_server_message_get_request_headers (msg), body, &message);

  if (status == SOUP_STATUS_OK)
    return TRUE;
  g_debug ("%s: connection rejected with %u: %s", route->owner, status,
           message != NULL ? message : "");
  COUNTER_ADD (route->rejected, 1);
  respond_rejected (msg, status, message);
  return FALSE;
}

void
_cdviz_http_server_callback (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  HttpWorker *worker = user_data;
  CdvizHttpServer *self = worker->owner;
  Route *route = g_hash_table_lookup (self->routes, path);

  if (route != NULL)
    {
      /* Closed meanwhile (the body took a while): answered here. */
      if (refuse_by_route (route, msg))
        return;
      if (route->validator != NULL && cdviz_header_validator_needs_body (route->validator) &&
          soup_server_message_get_method (msg) != SOUP_METHOD_OPTIONS &&
          !check_route_body (route, msg))
        return;
      route->callback (server, msg, path, query, route->user_data);
      return;
    }

  if (g_str_equal (path, "/healthz"))
    {
      if (check_builtin_method (msg))
        respond_text (msg, SOUP_STATUS_OK, "text/plain", g_strdup ("ok\n"));
    }
  else if (g_str_equal (path, "/readyz"))
    {
      if (!check_builtin_method (msg))
        return;
      if (g_atomic_int_get (&self->ready))
        respond_text (msg, SOUP_STATUS_OK, "text/plain", g_strdup ("ready\n"));
      else
        respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/plain",
                      g_strdup ("not ready\n"));
    }
  else if (g_str_equal (path, "/metrics"))
    {
      if (check_builtin_method (msg))
        serve_metrics (self, msg);
    }
  else
    {
      g_autofree char *detail = g_strdup_printf ("no route for %s", path);
      cdviz_http_respond_error (msg, SOUP_STATUS_NOT_FOUND, detail);
    }
}

typedef struct {
  guint count;
  gsize size;
} HeaderTally;

static void
tally_header (const char *name,
              const char *value,
              gpointer    user_data)
{
  HeaderTally *tally = user_data;

  tally->count++;
  tally->size += strlen (name) + strlen (value) + 4;   /* ": " and CRLF */
}

/* Refuses requests over the header limits: 431, connection closed, body
 * not kept. Returns whether the request was refused. */
static gboolean
refuse_large_headers (CdvizHttpServer   *self,
                      SoupServerMessage *msg)
{
  HeaderTally tally = { 0, 0 };
  g_autofree char *detail = NULL;

  soup_message_headers_foreach (soup_server_message_get_request_headers (msg), tally_header,
                                &tally);
  if (self->max_headers > 0 && tally.count > self->max_headers)
    detail = g_strdup_printf ("more than %u header fields", self->max_headers);
  else if (self->max_header_size > 0 && tally.size > self->max_header_size)
    detail = g_strdup_printf ("header fields larger than %" G_GSIZE_FORMAT " bytes",
                              self->max_header_size);
  else
    return FALSE;

  g_debug ("Refusing a request with %u header fields of %" G_GSIZE_FORMAT " bytes",
           tally.count, tally.size);
  COUNTER_ADD (self->refused_headers, 1);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  cdviz_http_respond_error (msg, STATUS_REQUEST_HEADER_FIELDS_TOO_LARGE, detail);
  return TRUE;
}

static gboolean
is_builtin_path (const char *path)
{
  return g_str_equal (path, "/healthz") || g_str_equal (path, "/readyz") ||
         g_str_equal (path, "/metrics");
}

#define BODY_RECEIVED_KEY "cdviz-body-received"

/* A chunked body, counted as it arrives against its route's limit. */
static void
got_chunk (SoupServerMessage *msg,
           GBytes            *chunk,
           gpointer           user_data)
{
  HttpWorker *worker = user_data;
  Route *route = g_hash_table_lookup (worker->owner->routes,
                                      g_uri_get_path (soup_server_message_get_uri (msg)));
  gsize received = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (msg), BODY_RECEIVED_KEY));

  received += g_bytes_get_size (chunk);
  g_object_set_data (G_OBJECT (msg), BODY_RECEIVED_KEY, GSIZE_TO_POINTER (received));
  if (soup_server_message_get_status (msg) == 0 && route != NULL &&
      (guint64) received > route->max_body_size)
    {
      g_autofree char *detail =
        g_strdup_printf ("the body is larger than %" G_GUINT64_FORMAT " bytes",
                         route->max_body_size);
      cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, detail);
    }
  if (soup_server_message_get_status (msg) != 0)
    _cdviz_http_connections_refuse_body (worker->connections, msg);
}

void
_cdviz_http_early_callback (SoupServer        *server,
                       SoupServerMessage *msg,
                       const char        *path,
                       GHashTable        *query,
                       gpointer           user_data)
{
  HttpWorker *worker = user_data;
  CdvizHttpServer *self = worker->owner;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  gboolean body = _cdviz_http_connections_expects_body (msg);
  Route *route;

  _cdviz_http_connections_got_headers (worker->connections, msg);
  if (refuse_large_headers (self, msg))
    {
      if (body)
        _cdviz_http_connections_refuse_body (worker->connections, msg);
      return;
    }

  route = g_hash_table_lookup (self->routes, path);
  if (route != NULL)
    refuse_by_route (route, msg);
  if (route != NULL && route->validator != NULL &&
      soup_server_message_get_status (msg) == 0 &&
      soup_server_message_get_method (msg) != SOUP_METHOD_OPTIONS)
    check_route_head (route, msg);
  if (route != NULL && route->early_callback != NULL &&
      soup_server_message_get_status (msg) == 0)
    route->early_callback (server, msg, path, query, route->early_user_data);

  if (!body)
    return;
  if (soup_server_message_get_status (msg) == 0)
    {
      if (route == NULL && is_builtin_path (path))
        {
          if (check_builtin_method (msg))
            cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                      "this path takes no request body");
        }
      else if (route == NULL)
        {
          g_autofree char *detail = g_strdup_printf ("no route for %s", path);
          cdviz_http_respond_error (msg, SOUP_STATUS_NOT_FOUND, detail);
        }
      else if (route->max_body_size == 0)
        cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                  "this path takes no request body");
      else if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
               (guint64) soup_message_headers_get_content_length (headers) > route->max_body_size)
        {
          g_autofree char *detail =
            g_strdup_printf ("the body is larger than %" G_GUINT64_FORMAT " bytes",
                             route->max_body_size);
          cdviz_http_respond_error (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, detail);
        }
    }
  if (soup_server_message_get_status (msg) != 0)
    _cdviz_http_connections_refuse_body (worker->connections, msg);
  else if (soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH)
    g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk), worker);
}

/**
 * cdviz_http_server_add_handler:
 * @self: a #CdvizHttpServer
 * @path: the exact path served, e.g. `/sse/events`
 * @owner: who serves it, for error messages (e.g. `sink 'dashboard'`)
 * @callback: (scope notified) (closure user_data) (destroy destroy): the
 *   handler, called on the HTTP thread
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data
 * @error: return location for a #GError
 *
 * Serves @path with @callback. Routes are added before the server starts.
 * With one HTTP thread (the default), @callback runs on it; a server with
 * more runs it on any of them, and needs the route marked with
 * [method@HttpServer.set_thread_safe].
 *
 * Returns: %TRUE on success; %FALSE if @path is already served
 */
gboolean
cdviz_http_server_add_handler (CdvizHttpServer    *self,
                               const char         *path,
                               const char         *owner,
                               SoupServerCallback  callback,
                               gpointer            user_data,
                               GDestroyNotify      destroy,
                               GError            **error)
{
  Route *route;

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), FALSE);
  g_return_val_if_fail (path != NULL && path[0] == '/', FALSE);
  g_return_val_if_fail (callback != NULL, FALSE);

  if (self->started)
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_STATE,
                   _("Cannot add route %s: the HTTP server is already running"), path);
      return FALSE;
    }

  route = g_hash_table_lookup (self->routes, path);
  if (route != NULL || g_str_equal (path, "/healthz") ||
      g_str_equal (path, "/readyz") || g_str_equal (path, "/metrics"))
    {
      g_set_error (error, CDVIZ_HTTP_SERVER_ERROR, CDVIZ_HTTP_SERVER_ERROR_DUPLICATE_ROUTE,
                   _("Duplicate route %s: already served by %s"), path,
                   route != NULL ? route->owner : _("the server itself"));
      return FALSE;
    }

  route = g_new0 (Route, 1);
  route->max_body_size = DEFAULT_ROUTE_MAX_BODY_SIZE;
  route->owner = g_strdup (owner ? owner : path);
  route->callback = callback;
  route->user_data = user_data;
  route->destroy = destroy;
  g_hash_table_insert (self->routes, g_strdup (path), route);
  return TRUE;
}

/* The route @path, to be set up before the server starts; NULL (after a
 * CRITICAL) when that is not the case. */
static Route *
route_to_set_up (CdvizHttpServer *self,
                 const char      *path)
{
  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), NULL);
  g_return_val_if_fail (!self->started, NULL);
  g_return_val_if_fail (path != NULL, NULL);

  return g_hash_table_lookup (self->routes, path);
}

/**
 * cdviz_http_server_set_early_handler:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @callback: (scope notified) (closure user_data) (destroy destroy): the
 *   early handler, called on the HTTP thread
 * @user_data: data for @callback
 * @destroy: (nullable): frees @user_data when the route goes away
 *
 * Gives the route @path an early handler: it runs once the request headers
 * are read, before the body is (see soup_server_add_early_handler()).
 * Setting a status there answers the request without
 * calling the route's handler; libsoup still reads the body (unless the
 * client sent `Expect: 100-continue`), so turn off accumulation of the
 * request body with soup_message_body_set_accumulate() when refusing a
 * large one. Call before the server starts.
 */
void
cdviz_http_server_set_early_handler (CdvizHttpServer    *self,
                                     const char         *path,
                                     SoupServerCallback  callback,
                                     gpointer            user_data,
                                     GDestroyNotify      destroy)
{
  Route *route;

  route = route_to_set_up (self, path);
  g_return_if_fail (route != NULL);
  if (route->early_destroy != NULL)
    route->early_destroy (route->early_user_data);
  route->early_callback = callback;
  route->early_user_data = user_data;
  route->early_destroy = destroy;
}

/**
 * cdviz_http_server_set_max_body_size:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @max_body_size: the largest request body the route takes, in bytes; 0
 *   if it takes none
 *
 * Bounds the request bodies of the route @path (default: 1 MiB). A larger
 * body (from `Content-Length`, or as a chunked body arrives) is answered
 * 413 and never read further: the connection is closed. Call before the
 * server starts.
 */
void
cdviz_http_server_set_max_body_size (CdvizHttpServer *self,
                                     const char      *path,
                                     guint64          max_body_size)
{
  Route *route;

  route = route_to_set_up (self, path);
  g_return_if_fail (route != NULL);
  route->max_body_size = max_body_size;
}

/**
 * cdviz_http_server_set_header_validator:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @validator: (nullable): the header rules of the route, or %NULL for none
 *
 * Guards the route @path with header rules, as libsoup's `SoupAuthDomain`
 * guards paths: the server checks the rules that need no body as soon as
 * the request headers are in (before the route's early handler; a refused
 * request's body is never read), and the signatures over the body once it
 * is in, before the route's handler. A refused request is answered 401 or
 * 403 with the rule's message as `text/plain`; the route never sees it.
 * `OPTIONS` requests (CORS preflights) are not checked. Call before the
 * server starts.
 */
void
cdviz_http_server_set_header_validator (CdvizHttpServer      *self,
                                        const char           *path,
                                        CdvizHeaderValidator *validator)
{
  Route *route;

  g_return_if_fail (validator == NULL || CDVIZ_IS_HEADER_VALIDATOR (validator));
  route = route_to_set_up (self, path);
  g_return_if_fail (route != NULL);
  if (validator != NULL && cdviz_header_validator_is_empty (validator))
    validator = NULL;
  g_set_object (&route->validator, validator);
}

/**
 * cdviz_http_server_get_rejected:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 *
 * Counts the requests to @path that its header rules refused (see
 * [method@HttpServer.set_header_validator]). Any thread may call it.
 *
 * Returns: the number of requests refused with 401 or 403
 */
guint64
cdviz_http_server_get_rejected (CdvizHttpServer *self,
                                const char      *path)
{
  Route *route;

  g_return_val_if_fail (CDVIZ_IS_HTTP_SERVER (self), 0);
  route = g_hash_table_lookup (self->routes, path);
  return route != NULL ? COUNTER_GET (route->rejected) : 0;
}

/**
 * cdviz_http_server_set_methods:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @methods: (array zero-terminated=1): the methods the route serves
 *   (`"GET"`, `"HEAD"`, `"POST"`…)
 *
 * Restricts the route @path to @methods: the server answers any other
 * method 405 with an `Allow` header, before header rules run and without
 * reading a body. Call before the server starts.
 */
void
cdviz_http_server_set_methods (CdvizHttpServer    *self,
                               const char         *path,
                               const char * const *methods)
{
  Route *route;

  g_return_if_fail (methods != NULL && methods[0] != NULL);
  route = route_to_set_up (self, path);
  g_return_if_fail (route != NULL);
  g_strfreev (route->methods);
  route->methods = g_new0 (char *, g_strv_length ((char **) methods) + 1);
  /* Interned, as libsoup's SOUP_METHOD_* are. */
  for (guint i = 0; methods[i] != NULL; i++)
    route->methods[i] = g_strdup (g_intern_string (methods[i]));
  g_free (route->allow);
  route->allow = g_strjoinv (", ", route->methods);
}

/**
 * cdviz_http_server_set_thread_safe:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @thread_safe: whether the route's handlers may run on any HTTP thread
 *
 * Tells the server that the handlers of @path (and their early handler)
 * may run on any of its HTTP threads, at the same time as each other (see
 * #CdvizHttpServer:threads): they touch only the request they are given,
 * thread-safe state, and sources of the thread-default main context they
 * run on. A server with more than one thread refuses to start while a
 * route is not marked so. Call before the server starts.
 */
void
cdviz_http_server_set_thread_safe (CdvizHttpServer *self,
                                   const char      *path,
                                   gboolean         thread_safe)
{
  Route *route;

  route = route_to_set_up (self, path);
  g_return_if_fail (route != NULL);
  route->thread_safe = !!thread_safe;
}

/**
 * cdviz_http_server_set_route_open:
 * @self: a #CdvizHttpServer
 * @path: a path added with [method@HttpServer.add_handler]
 * @open: whether the route serves requests
 * @reason: (nullable): the detail of the 503 answers while it does not
 *   (default: "shutting down"); copied the first time only
 *
 * Opens or closes the route @path: while closed, the server answers its
 * requests 503 with `Retry-After: 1`, without reading their bodies. Routes
 * are open when added. Any thread may call it.
 */
void
cdviz_http_server_set_route_open (CdvizHttpServer *self,
                                  const char      *path,
                                  gboolean         open,
                                  const char      *reason)
{
  Route *route;

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));

  route = g_hash_table_lookup (self->routes, path);
  g_return_if_fail (route != NULL);
  if (reason != NULL && route->closed_reason == NULL && !self->started)
    route->closed_reason = g_strdup (reason);
  g_atomic_int_set (&route->closed, !open);
}

/**
 * cdviz_http_check_route_id:
 * @kind: what the id names, for the message (e.g. `webhook`)
 * @id: an id that becomes a path segment (`/webhook/ID`, `/sse/ID`)
 * @error: return location for a #GError
 *
 * Checks that @id can be routed: not empty, and only letters, digits,
 * `-`, `_` and `.` (no `/`, `?`, `#`, `%`, blank or control character, which
 * a client could not send as one path segment).
 *
 * Returns: %TRUE if @id can be used; %FALSE with @error
 *   (%G_IO_ERROR_INVALID_ARGUMENT) otherwise
 */
gboolean
cdviz_http_check_route_id (const char  *kind,
                           const char  *id,
                           GError     **error)
{
  g_return_val_if_fail (kind != NULL, FALSE);

  if (id == NULL || *id == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("key “id” is required (the %s is served on /%s/ID)"), kind, kind);
      return FALSE;
    }
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     _("key “id”: “%s” cannot be used in a URL path (use letters, digits, "
                       "“-”, “_” or “.”)"), id);
        return FALSE;
      }
  if (g_str_equal (id, ".") || g_str_equal (id, ".."))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("key “id”: “%s” cannot be used in a URL path (use letters, digits, "
                     "“-”, “_” or “.”)"), id);
      return FALSE;
    }
  return TRUE;
}

/**
 * cdviz_http_server_add_metrics_func:
 * @self: a #CdvizHttpServer
 * @func: (scope notified) (closure user_data) (destroy destroy): appends
 *   metrics text, on an HTTP thread (one call at a time)
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Adds a contributor to `/metrics`. Call before the server starts.
 */
void
cdviz_http_server_add_metrics_func (CdvizHttpServer  *self,
                                    CdvizMetricsFunc  func,
                                    gpointer          user_data,
                                    GDestroyNotify    destroy)
{
  MetricsEntry entry = { func, user_data, destroy };

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (func != NULL);
  g_return_if_fail (!self->started);

  g_array_append_val (self->metrics, entry);
}

/**
 * cdviz_http_server_add_shared_metrics:
 * @self: a #CdvizHttpServer
 * @key: names the group, e.g. `"cdviz-sse-sinks"`
 * @func: (scope forever): writes the samples of every component of the
 *   group; its user data is the #GPtrArray of the group's components
 * @component: a component to add to the group
 *
 * For components of one kind that share metric families: @func is added
 * once per @key (see [method@HttpServer.add_metrics_func]), so that each
 * family is declared once, and is given every @component added under
 * @key. Call before the server starts.
 */
void
cdviz_http_server_add_shared_metrics (CdvizHttpServer  *self,
                                      const char       *key,
                                      CdvizMetricsFunc  func,
                                      GObject          *component)
{
  GPtrArray *components;

  g_return_if_fail (CDVIZ_IS_HTTP_SERVER (self));
  g_return_if_fail (key != NULL && func != NULL);
  g_return_if_fail (G_IS_OBJECT (component));

  components = g_object_get_data (G_OBJECT (self), key);
  if (components == NULL)
    {
      components = g_ptr_array_new_with_free_func (g_object_unref);
      g_object_set_data_full (G_OBJECT (self), key, components,
                              (GDestroyNotify) g_ptr_array_unref);
      cdviz_http_server_add_metrics_func (self, func, g_ptr_array_ref (components),
                                          (GDestroyNotify) g_ptr_array_unref);
    }
  if (!g_ptr_array_find (components, component, NULL))
    g_ptr_array_add (components, g_object_ref (component));
}
