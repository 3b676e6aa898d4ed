/* SPDX-License-Identifier: Apache-2.0 */
/* soup-floor: the fastest libsoup 3 answers POSTs on this machine, as a
 * floor for the webhook's ingest figure (doc/performance.md, "Ingest"):
 * one SoupServer on 127.0.0.1:PORT whose only handler answers 201 with an
 * empty body to every request of /webhook/in, on the main thread. Run
 * `sse-pub --port PORT --path /webhook/in --count 100000 --connections 4`
 * against it. Stops after --seconds (default 60).
 *
 * With --threads N (N > 1), the floor of the design doc/performance.md
 * describes for several HTTP threads: the main thread accepts and hands
 * the connections out in turn to N threads, each with its own GMainContext
 * and SoupServer (soup_server_accept_iostream() on that thread).
 *
 *   soup-floor --port PORT [--seconds S] [--threads N]
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libsoup/soup.h>

static void
answer_created (SoupServer        *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
}

static gboolean
quit (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

typedef struct {
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
} Worker;

typedef struct {
  Worker *worker;
  GSocket *socket;
} HandOut;

static gpointer
worker_main (gpointer data)
{
  Worker *worker = data;

  g_main_context_push_thread_default (worker->context);
  g_main_loop_run (worker->loop);
  g_main_context_pop_thread_default (worker->context);
  return NULL;
}

static gboolean
accept_on_worker (gpointer data)
{
  HandOut *hand_out = data;
  g_autoptr(GSocketConnection) connection =
    g_socket_connection_factory_create_connection (hand_out->socket);
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (hand_out->socket, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (hand_out->socket, NULL);

  if (local != NULL && remote != NULL)
    soup_server_accept_iostream (hand_out->worker->server, G_IO_STREAM (connection),
                                 local, remote, NULL);
  g_object_unref (hand_out->socket);
  g_free (hand_out);
  return G_SOURCE_REMOVE;
}

static Worker *workers;
static guint n_workers, next_worker;

static gboolean
accept_ready (GSocket      *listener,
              GIOCondition  condition,
              gpointer      data)
{
  GSocket *socket;

  while ((socket = g_socket_accept (listener, NULL, NULL)) != NULL)
    {
      HandOut *hand_out = g_new0 (HandOut, 1);

      g_socket_set_blocking (socket, FALSE);
      hand_out->worker = &workers[next_worker++ % n_workers];
      hand_out->socket = socket;
      g_main_context_invoke (hand_out->worker->context, accept_on_worker, hand_out);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
start_threads (guint    port,
               guint    n,
               GError **error)
{
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  GSource *source;

  listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                           G_SOCKET_PROTOCOL_TCP, error);
  if (listener == NULL)
    return FALSE;
  g_socket_set_listen_backlog (listener, 4096);
  if (!g_socket_bind (listener, address, TRUE, error) || !g_socket_listen (listener, error))
    return FALSE;
  g_socket_set_blocking (listener, FALSE);

  n_workers = n;
  workers = g_new0 (Worker, n);
  for (guint i = 0; i < n; i++)
    {
      workers[i].context = g_main_context_new ();
      g_main_context_push_thread_default (workers[i].context);
      workers[i].server = soup_server_new ("server-header", "soup-floor", NULL);
      soup_server_add_handler (workers[i].server, "/webhook/in", answer_created, NULL, NULL);
      /* libsoup 3.2 keeps a connection alive only while its server has a
       * listener (soup-server.c, request_finished()): one that never
       * accepts, as cdviz-http-accept.c gives its server. */
      {
        int fds[2];
        g_autoptr(GSocket) placeholder = NULL;

        if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0)
          return FALSE;
        close (fds[1]);
        placeholder = g_socket_new_from_fd (fds[0], error);
        if (placeholder == NULL ||
            !soup_server_listen_socket (workers[i].server, placeholder, 0, error))
          return FALSE;
      }
      g_main_context_pop_thread_default (workers[i].context);
      workers[i].loop = g_main_loop_new (workers[i].context, FALSE);
      g_thread_new ("soup-floor", worker_main, &workers[i]);
    }
  source = g_socket_create_source (listener, G_IO_IN, NULL);
  g_source_set_callback (source, G_SOURCE_FUNC (accept_ready), NULL, NULL);
  g_source_attach (source, NULL);
  g_source_unref (source);
  g_object_ref (listener);   /* for the life of the process */
  return TRUE;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  guint port = 0;
  guint seconds = 60;
  guint threads = 1;

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--port") == 0 && i + 1 < argc)
      port = (guint) atoi (argv[++i]);
    else if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = (guint) atoi (argv[++i]);
    else if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      {
        int n = atoi (argv[++i]);
        threads = (guint) CLAMP (n, 1, 64);
      }
    else
      {
        g_printerr ("usage: soup-floor --port PORT [--seconds S] [--threads N]\n");
        return 2;
      }

  loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add_seconds (seconds, quit, loop);
  if (threads > 1)
    {
      if (port == 0)
        {
          g_printerr ("soup-floor: --threads needs a --port\n");
          return 2;
        }
      if (!start_threads (port, threads, &error))
        {
          g_printerr ("soup-floor: %s\n", error->message);
          return 1;
        }
      g_main_loop_run (loop);
      return 0;
    }

  server = soup_server_new ("server-header", "soup-floor", NULL);
  soup_server_add_handler (server, "/webhook/in", answer_created, NULL, NULL);
  if (!soup_server_listen_local (server, port, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    {
      g_printerr ("soup-floor: %s\n", error->message);
      return 1;
    }
  g_main_loop_run (loop);
  return 0;
}
