/* SPDX-License-Identifier: Apache-2.0 */
#define _GNU_SOURCE  /* accept4() */
#include "config.h"

#include <glib/gi18n-lib.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cdviz-http-connections-private.h"

/* Descriptors kept for everything but client connections. */
#define RESERVED_DESCRIPTORS 64
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100

/* --- accepting -------------------------------------------------------------
 *
 * The server accepts connections itself: libsoup 3.2.3's listener removes
 * itself for good after one failed accept (soup-listener.c, listen_watch()),
 * so one moment without a free descriptor (EMFILE) would stop the server
 * accepting forever. Here a failed accept is counted, the waiting
 * connection is closed with the spare descriptor kept for that (so that
 * its client is told at once instead of hanging in the backlog), and
 * accepting pauses for a moment and resumes. */


static gboolean
resume_accepting (gpointer data)
{
  CdvizHttpConnections *self = data;

  g_clear_pointer (&self->accept_resume, g_source_unref);
  _cdviz_http_accept_start (self);
  return G_SOURCE_REMOVE;
}

static void
pause_accepting (CdvizHttpConnections *self)
{
  if (self->accept_source != NULL)
    {
      g_source_destroy (self->accept_source);
      g_clear_pointer (&self->accept_source, g_source_unref);
    }
  if (self->accept_resume == NULL)
    {
      self->accept_resume = g_timeout_source_new (ACCEPT_PAUSE_MS);
      g_source_set_callback (self->accept_resume, resume_accepting, self, NULL);
      g_source_set_static_name (self->accept_resume, "[cdviz] resume accepting");
      g_source_attach (self->accept_resume, self->context);
    }
}

static void
out_of_descriptors (CdvizHttpConnections *self,
                    int              error_number)
{
  gint64 now = g_get_monotonic_time ();

  COUNTER_ADD (self->accept_failures, 1);
  if (now - self->last_emfile_warning > 10 * G_USEC_PER_SEC)
    {
      self->last_emfile_warning = now;
      g_warning (_("Cannot accept a connection: %s; refusing new connections until "
                   "descriptors are free again"), g_strerror (error_number));
    }

  /* Spend the spare descriptor to tell one waiting client, then keep
   * another spare. */
  if (self->reserve_fd >= 0)
    {
      int fd;

      close (self->reserve_fd);
      fd = accept4 (g_socket_get_fd (self->listener), NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0)
        close (fd);
      self->reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    }
  pause_accepting (self);
}

/* --- several HTTP threads ---------------------------------------------------
 *
 * With `[http] threads` > 1 this (the first) thread still accepts every
 * connection, so that max_connections, the descriptor limit and EMFILE are
 * handled in one place, and hands each to the thread with the fewest
 * connections (least-connections rather than SO_REUSEPORT, whose hash
 * puts a few keep-alive publishers on one thread as often as not). Each
 * thread follows its own connections (deadlines, idle watches); the open
 * ones are counted here, from a record of every accepted socket pruned
 * of the closed ones as the single thread's table is. */

typedef struct {
  GSocket *socket;   /* owned */
  guint worker;
} AcceptedSocket;

static void
accepted_socket_clear (gpointer data)
{
  g_object_unref (((AcceptedSocket *) data)->socket);
}

static void
prune_accepted (CdvizHttpConnections *self)
{
  memset (self->per_worker, 0, self->n_workers * sizeof (guint));
  /* Backwards: a removal moves the last entry into the hole. */
  for (guint i = self->accepted->len; i-- > 0;)
    {
      AcceptedSocket *entry = &g_array_index (self->accepted, AcceptedSocket, i);

      if (g_socket_is_closed (entry->socket))
        g_array_remove_index_fast (self->accepted, i);   /* unrefs it */
      else
        self->per_worker[entry->worker]++;
    }
  self->accepted_prune_at = MAX (64, 2 * self->accepted->len);
}

/* The connections open now, closed ones pruned when it matters. */
static guint
open_connections (CdvizHttpConnections *self)
{
  if (self->workers == NULL)
    {
      if (g_hash_table_size (self->by_socket) >= self->prune_at ||
          g_hash_table_size (self->by_socket) >= self->open_limit)
        _cdviz_http_connections_prune (self);
      return g_hash_table_size (self->by_socket);
    }
  if (self->accepted->len >= self->accepted_prune_at || self->accepted->len >= self->open_limit)
    prune_accepted (self);
  return self->accepted->len;
}

static void
hand_out (CdvizHttpConnections *self,
          GSocket              *socket)
{
  AcceptedSocket entry;
  guint best = self->next_worker % self->n_workers;

  for (guint i = 1; i < self->n_workers; i++)
    {
      guint w = (self->next_worker + i) % self->n_workers;

      if (self->per_worker[w] < self->per_worker[best])
        best = w;
    }
  self->next_worker = best + 1;
  self->per_worker[best]++;
  COUNTER_ADD (self->workers[best]->handed, 1);
  entry.socket = g_object_ref (socket);
  entry.worker = best;
  g_array_append_val (self->accepted, entry);

  if (self->workers[best] == self)
    _cdviz_http_connections_add (self, socket);
  else
    _cdviz_http_connections_hand_over (self->workers[best], socket);
}

/* On the first thread, before the server starts: it accepts for @workers
 * (@workers[0] being itself). */
void
_cdviz_http_connections_set_workers (CdvizHttpConnections  *self,
                                     CdvizHttpConnections **workers,
                                     guint                  n_workers)
{
  if (n_workers < 2)
    return;
  self->workers = g_memdup2 (workers, n_workers * sizeof *workers);
  self->n_workers = n_workers;
  self->per_worker = g_new0 (guint, n_workers);
  self->accepted = g_array_new (FALSE, FALSE, sizeof (AcceptedSocket));
  g_array_set_clear_func (self->accepted, accepted_socket_clear);
  self->accepted_prune_at = 64;
}

static gboolean
accept_ready (GSocket      *listener,
              GIOCondition  condition,
              gpointer      user_data)
{
  CdvizHttpConnections *self = user_data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      g_autoptr(GSocket) socket = NULL;
      g_autoptr(GError) error = NULL;
      int fd = accept4 (g_socket_get_fd (listener), NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

      if (fd < 0)
        {
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            {
              out_of_descriptors (self, errno);
              return G_SOURCE_REMOVE;
            }
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
          continue;   /* ECONNABORTED, EINTR, EPROTO…: the next one */
        }

      if (open_connections (self) >= self->open_limit)
        {
          g_debug ("Closing a new connection: max_connections (%u) reached", self->open_limit);
          COUNTER_ADD (self->refused_connections, 1);
          close (fd);
          continue;
        }

      socket = g_socket_new_from_fd (fd, &error);
      if (socket == NULL)
        {
          close (fd);
          continue;
        }
      if (self->workers == NULL)
        _cdviz_http_connections_add (self, socket);
      else
        hand_out (self, socket);
    }
  return G_SOURCE_CONTINUE;
}

void
_cdviz_http_accept_start (CdvizHttpConnections *self)
{
  if (self->accept_source != NULL || self->listener == NULL)
    return;
  self->accept_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (accept_ready), self, NULL);
  g_source_set_static_name (self->accept_source, "[cdviz] accept");
  g_source_attach (self->accept_source, self->context);
}

/* libsoup 3.2.3 keeps a connection alive only while the server has a
 * listener (soup-server.c, request_finished()). The connections come from
 * accept_ready(), so the listener it gets is a placeholder that accepts
 * nothing: one end of a socket pair whose other end is closed (the
 * listener's first accept fails and it stops watching). */
gboolean
_cdviz_http_accept_add_placeholder_listener (CdvizHttpConnections  *self,
                                             GError               **error)
{
  int fds[2];
  g_autoptr(GSocket) socket = NULL;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "socketpair: %s",
                   g_strerror (saved));
      return FALSE;
    }
  close (fds[1]);
  socket = g_socket_new_from_fd (fds[0], error);
  if (socket == NULL)
    {
      close (fds[0]);
      return FALSE;
    }
  return soup_server_listen_socket (self->server, socket, 0, error);
}

/* Raises the soft descriptor limit to the hard one, and keeps
 * max_connections within it. */
void
_cdviz_http_accept_fit_descriptor_limit (CdvizHttpConnections *self)
{
  struct rlimit limit;
  rlim_t usable, reserved;

  self->open_limit = self->limits.max_connections > 0 ? self->limits.max_connections : G_MAXUINT;
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  if (limit.rlim_cur < limit.rlim_max)
    {
      struct rlimit raised = limit;

      raised.rlim_cur = limit.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
        limit = raised;
      else
        g_debug ("Cannot raise the descriptor limit to %llu: %s",
                 (unsigned long long) limit.rlim_max, g_strerror (errno));
    }
  if (limit.rlim_cur == RLIM_INFINITY)
    return;

  /* Each further HTTP thread keeps a few of its own (its context's eventfd, the
   * placeholder listener). */
  reserved = RESERVED_DESCRIPTORS + 2 * (MAX (self->limits.threads, 1) - 1);
  usable = limit.rlim_cur > reserved ? limit.rlim_cur - reserved : 1;
  if ((rlim_t) self->open_limit > usable)
    {
      self->open_limit = (guint) MIN (usable, (rlim_t) G_MAXUINT);
      if (self->limits.max_connections > 0)
        g_message (_("max_connections lowered from %u to %u: the process may open %llu "
                     "descriptors (ulimit -n), %u of them kept for other uses"),
                   self->limits.max_connections, self->open_limit,
                   (unsigned long long) limit.rlim_cur, (guint) reserved);
    }
}

