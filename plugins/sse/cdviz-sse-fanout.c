/* SPDX-License-Identifier: Apache-2.0 */
/* A fan-out thread: epoll, wake-up, keep-alive, and the end of the streams. */
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cdviz-sse-fanout.h"

#define EPOLL_BATCH 256

/* Ownership: every field not marked otherwise belongs to the fan-out
 * thread, and to the stopping thread once that one is joined (free()). */
struct _CdvizSseFanout {
  CdvizSseFeed *feed;                /* unowned: outlives the fan-out thread */
  gint64 keep_alive_us;              /* 0: no keep-alives */
  GThread *thread;                   /* the stopping thread's */
  GMainContext *context;             /* owned */
  GSource *wake;                     /* set ready from any thread (fanout_wake) */
  GSource *epoll_source;             /* watches epfd */
  GSource *keep_alive;               /* one timer for every client */
  GSource *deadline;                 /* while finishing: the clients' last chance */
  int epfd;                          /* every client's socket; -1 when stopped */

  int quit;                          /* atomic: return without finishing */
  int wake_pending;                  /* atomic */
  int frames_pending;                /* atomic: new frames since the last scan */
  int n_clients;                     /* atomic: adopted or on their way */
  int finish_requested;              /* atomic, written once after finish_deadline */
  gint64 finish_deadline;

  gboolean finishing;                /* finish_requested, seen by the thread */
  GQueue incoming;                   /* under feed->lock: not yet adopted */
  GQueue clients;
  GQueue keep_alive_order;           /* CdvizSseWriter.ka_link, oldest ka_time first */
};

/* The fan-out thread's sources on its context. */
typedef struct {
  GSource parent;
  CdvizSseFanout *fanout;
} FanoutSource;

static GSource *
fanout_source_new (CdvizSseFanout *self,
                   GSourceFuncs   *funcs,
                   const char     *name)
{
  GSource *source = g_source_new (funcs, sizeof (FanoutSource));

  ((FanoutSource *) source)->fanout = self;
  g_source_set_static_name (source, name);
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_attach (source, self->context);
  return source;
}

static void
fanout_source_clear (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* --- clients ------------------------------------------------------------- */

/* The one door: every client leaves here, with its reason. */
static void
fanout_remove (CdvizSseFanout       *self,
               CdvizSseWriter       *client,
               CdvizSseWriterStatus  status)
{
  CdvizSseFeed *feed = self->feed;

  g_assert (status != CDVIZ_SSE_WRITER_OK && status < CDVIZ_SSE_WRITER_N_STATUS);
  g_debug ("sink '%s': client %d disconnected (%s)", feed->name, client->fd,
           cdviz_sse_writer_status_to_string (status));

  g_queue_unlink (&self->clients, &client->link);
  g_queue_unlink (&self->keep_alive_order, &client->ka_link);
  if (self->epfd >= 0 && epoll_ctl (self->epfd, EPOLL_CTL_DEL, client->fd, NULL) < 0)
    g_debug ("sink '%s': client %d: epoll_ctl (DEL): %s", feed->name, client->fd,
             g_strerror (errno));
  cdviz_sse_writer_free (client);

  CDVIZ_SSE_COUNTER_ADD (feed->removed[status], 1);
  g_atomic_int_add (&self->n_clients, -1);
  g_atomic_int_add (&feed->n_clients, -1);
  g_atomic_int_add (&feed->n_streaming, -1);
}

static int
client_epoll_ctl (CdvizSseFanout *self,
                  CdvizSseWriter *client,
                  int             op)
{
  struct epoll_event ev = { 0 };

  ev.events = EPOLLIN | EPOLLRDHUP | (client->want_out ? EPOLLOUT : 0);
  ev.data.ptr = client;
  return epoll_ctl (self->epfd, op, client->fd, &ev);
}

/* Arms the keep-alive timer for the client at the head of the order. */
static void
keep_alive_arm (CdvizSseFanout *self)
{
  CdvizSseWriter *head;

  if (self->keep_alive == NULL)
    return;
  if (self->keep_alive_order.head == NULL)
    {
      g_source_set_ready_time (self->keep_alive, -1);
      return;
    }
  head = self->keep_alive_order.head->data;
  g_source_set_ready_time (self->keep_alive, head->ka_time + self->keep_alive_us);
}

/* Moves the client to the tail of the keep-alive order: its deadline is
 * now the latest. The timer is re-armed lazily (it only fires early). */
static void
client_touch (CdvizSseFanout *self,
              CdvizSseWriter *client,
              gint64          now)
{
  client->ka_time = now;
  if (self->keep_alive_order.tail != &client->ka_link)
    {
      g_queue_unlink (&self->keep_alive_order, &client->ka_link);
      g_queue_push_tail_link (&self->keep_alive_order, &client->ka_link);
    }
}

/* After the client was called: removes it for @status, or keeps its
 * keep-alive order and output watch up to date. Returns whether it is
 * still there. */
static gboolean
fanout_update (CdvizSseFanout       *self,
               CdvizSseWriter       *client,
               gint64                last_write,
               CdvizSseWriterStatus  status)
{
  gboolean want_out;

  if (status != CDVIZ_SSE_WRITER_OK)
    {
      fanout_remove (self, client, status);
      return FALSE;
    }
  if (client->last_write != last_write)
    client_touch (self, client, client->last_write);

  want_out = cdviz_sse_writer_has_pending (client);
  if (client->want_out != want_out)
    {
      client->want_out = want_out;
      if (client_epoll_ctl (self, client, EPOLL_CTL_MOD) < 0)
        g_warning ("sink '%s': client %d: epoll_ctl: %s", self->feed->name, client->fd,
                   g_strerror (errno));
    }
  return TRUE;
}

static gboolean
fanout_flush (CdvizSseFanout *self,
              CdvizSseWriter *client)
{
  gint64 last_write = client->last_write;

  return fanout_update (self, client, last_write, cdviz_sse_writer_flush (client));
}

/* Flushes the clients that are not waiting for their socket (those
 * continue when it is writable). */
static void
fanout_flush_idle (CdvizSseFanout *self)
{
  GList *l, *next;

  for (l = self->clients.head; l != NULL; l = next)
    {
      CdvizSseWriter *client = l->data;

      next = l->next;
      if (!cdviz_sse_writer_has_pending (client))
        fanout_flush (self, client);
    }
}

static void
fanout_handle_events (CdvizSseFanout *self,
                      CdvizSseWriter *client,
                      guint32         events)
{
  if (events & (EPOLLIN | EPOLLRDHUP))
    {
      CdvizSseWriterStatus status = cdviz_sse_writer_drain_input (client);

      if (status != CDVIZ_SSE_WRITER_OK)
        {
          fanout_remove (self, client, status);
          return;
        }
    }
  if (events & (EPOLLHUP | EPOLLERR))
    fanout_remove (self, client, CDVIZ_SSE_WRITER_RESET);
  else if (events & EPOLLOUT)
    fanout_flush (self, client);
}

/* Starts the streams of the connections the HTTP thread handed over. */
static void
fanout_adopt_incoming (CdvizSseFanout *self)
{
  CdvizSseFeed *feed = self->feed;
  GQueue incoming = G_QUEUE_INIT;

  g_mutex_lock (&feed->lock);
  incoming = self->incoming;
  g_queue_init (&self->incoming);
  g_mutex_unlock (&feed->lock);

  while (incoming.head != NULL)
    {
      GList *link = incoming.head;
      CdvizSseWriter *client = link->data;

      g_queue_unlink (&incoming, link);
      g_queue_push_tail_link (&self->clients, &client->link);
      client->ka_time = g_get_monotonic_time ();
      g_queue_push_tail_link (&self->keep_alive_order, &client->ka_link);
      if (self->finishing)
        cdviz_sse_writer_finish (client);
      if (client_epoll_ctl (self, client, EPOLL_CTL_ADD) < 0)
        {
          g_warning ("sink '%s': client %d: epoll_ctl (ADD): %s", feed->name, client->fd,
                     g_strerror (errno));
          fanout_remove (self, client, CDVIZ_SSE_WRITER_ERROR);
          continue;
        }
      if (self->keep_alive_order.length == 1)
        keep_alive_arm (self);
      fanout_flush (self, client);
    }
}

static void
fanout_remove_all (CdvizSseFanout       *self,
                   CdvizSseWriterStatus  status)
{
  while (self->clients.head != NULL)
    fanout_remove (self, self->clients.head->data, status);
}

/* --- sources -------------------------------------------------------------- */

/* The epoll descriptor is readable: handle the ready clients (at most
 * EPOLL_BATCH per iteration; the rest stay ready for the next). */
static gboolean
epoll_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  CdvizSseFanout *self = ((FanoutSource *) source)->fanout;
  struct epoll_event events[EPOLL_BATCH];
  int n;

  do
    n = epoll_wait (self->epfd, events, EPOLL_BATCH, 0);
  while (n < 0 && errno == EINTR);

  /* A client appears at most once per epoll_wait(), and handling one never
   * removes another. */
  for (int i = 0; i < n; i++)
    fanout_handle_events (self, events[i].data.ptr, events[i].events);
  return G_SOURCE_CONTINUE;
}

/* The keep-alive timer: every client whose last write (or last keep-alive
 * check) is keep_alive_interval old gets a comment, unless it still has
 * bytes pending. */
static gboolean
keep_alive_dispatch (GSource     *source,
                     GSourceFunc  callback,
                     gpointer     user_data)
{
  CdvizSseFanout *self = ((FanoutSource *) source)->fanout;
  gint64 now = g_get_monotonic_time ();

  while (self->keep_alive_order.head != NULL)
    {
      CdvizSseWriter *client = self->keep_alive_order.head->data;
      gint64 last_write = client->last_write;

      if (now - client->ka_time < self->keep_alive_us)
        break;
      /* To the tail first: whatever happens below, the loop moves on. */
      client_touch (self, client, now);
      fanout_update (self, client, last_write,
                     cdviz_sse_writer_keep_alive (client, now, self->keep_alive_us));
    }
  keep_alive_arm (self);
  return G_SOURCE_CONTINUE;
}

/* The stop's deadline: the clients still writing are cut off. */
static gboolean
deadline_dispatch (GSource     *source,
                   GSourceFunc  callback,
                   gpointer     user_data)
{
  fanout_remove_all (((FanoutSource *) source)->fanout, CDVIZ_SSE_WRITER_FLUSH_TIMEOUT);
  g_source_set_ready_time (source, -1);
  return G_SOURCE_CONTINUE;
}

/* The sink stops: every stream is written to its end and closed, until
 * the deadline. */
static void
fanout_start_finishing (CdvizSseFanout *self);

static gboolean
wake_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  CdvizSseFanout *self = ((FanoutSource *) source)->fanout;

  gboolean scan;

  g_source_set_ready_time (source, -1);
  g_atomic_int_set (&self->wake_pending, 0);
  /* Cleared after wake_pending: frames published from now on wake the
   * thread again. */
  scan = g_atomic_int_exchange (&self->frames_pending, 0) != 0;

  if (!self->finishing && g_atomic_int_get (&self->finish_requested))
    {
      fanout_start_finishing (self);
      scan = TRUE;
    }
  fanout_adopt_incoming (self);
  /* Every idle client is looked at only when there is something new for
   * it: a wake-up for new clients alone (adopt_incoming flushes those)
   * would otherwise cost a pass over all of them per connection, and
   * connecting N clients N²/2 looks. */
  if (scan)
    fanout_flush_idle (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_source_funcs = {
  NULL, NULL, epoll_source_dispatch, NULL, NULL, NULL,
};

static GSourceFuncs keep_alive_funcs = {
  NULL, NULL, keep_alive_dispatch, NULL, NULL, NULL,
};

static GSourceFuncs deadline_funcs = {
  NULL, NULL, deadline_dispatch, NULL, NULL, NULL,
};

static GSourceFuncs wake_source_funcs = {
  NULL, NULL, wake_source_dispatch, NULL, NULL, NULL,
};

static void
fanout_start_finishing (CdvizSseFanout *self)
{
  self->finishing = TRUE;
  fanout_source_clear (&self->keep_alive);
  self->deadline = fanout_source_new (self, &deadline_funcs, "[cdviz-sse] stop deadline");
  g_source_set_ready_time (self->deadline, self->finish_deadline);
  for (GList *l = self->clients.head; l != NULL; l = l->next)
    cdviz_sse_writer_finish (l->data);
}

/* --- the thread ------------------------------------------------------------ */

static gpointer
fanout_thread_main (gpointer data)
{
  CdvizSseFanout *self = data;

  g_main_context_push_thread_default (self->context);
  while (!g_atomic_int_get (&self->quit) && !(self->finishing && self->clients.length == 0))
    g_main_context_iteration (self->context, TRUE);

  /* Told to quit without finishing (a failed start): nobody is left to
   * write to the clients. */
  fanout_adopt_incoming (self);
  fanout_remove_all (self, CDVIZ_SSE_WRITER_FLUSH_TIMEOUT);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

CdvizSseFanout *
cdviz_sse_fanout_new (CdvizSseFeed  *feed,
                      guint          index,
                      const char    *id,
                      guint64        keep_alive_ms,
                      GError       **error)
{
  CdvizSseFanout *self = g_new0 (CdvizSseFanout, 1);
  g_autofree char *thread_name = NULL;

  self->feed = feed;
  self->keep_alive_us = (gint64) keep_alive_ms * 1000;
  g_queue_init (&self->incoming);
  g_queue_init (&self->clients);
  g_queue_init (&self->keep_alive_order);
  self->context = g_main_context_new ();
  self->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (self->epfd < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "sink '%s': epoll_create1: %s", feed->name, g_strerror (errsv));
      cdviz_sse_fanout_free (self);
      return NULL;
    }
  self->epoll_source = fanout_source_new (self, &epoll_source_funcs, "[cdviz-sse] clients");
  g_source_add_unix_fd (self->epoll_source, self->epfd, G_IO_IN);
  if (self->keep_alive_us > 0)
    {
      self->keep_alive = fanout_source_new (self, &keep_alive_funcs, "[cdviz-sse] keep-alive");
      keep_alive_arm (self);
    }
  self->wake = fanout_source_new (self, &wake_source_funcs, "[cdviz-sse] wake");

  /* Thread names are cut at 15 bytes: the thread's number goes first. */
  thread_name = g_strdup_printf ("sse%u-%s", index, id);
  self->thread = g_thread_new (thread_name, fanout_thread_main, self);
  return self;
}

int
cdviz_sse_fanout_get_n_clients (CdvizSseFanout *self)
{
  return g_atomic_int_get (&self->n_clients);
}

static void
fanout_wake (CdvizSseFanout *self)
{
  if (g_atomic_int_compare_and_exchange (&self->wake_pending, 0, 1))
    g_source_set_ready_time (self->wake, 0);
}

/* Wakes the thread for new frames: every idle client gets them. A thread
 * without clients is left asleep (with no subscriber, a wake-up per event
 * was a quarter of the pipeline thread's time: the eventfd write and the
 * switch to a thread with nothing to do). No frame is missed: the caller
 * pushed it into the ring before looking, and adopt() raises n_clients
 * before it queues a client, so a 0 seen here means that the client, if
 * any, is flushed by adopt_incoming() from its cursor after the frame is
 * in the ring. */
void
cdviz_sse_fanout_wake (CdvizSseFanout *self)
{
  if (g_atomic_int_get (&self->n_clients) == 0)
    return;
  g_atomic_int_set (&self->frames_pending, 1);
  fanout_wake (self);
}

/* Hands @client over to the thread, which starts its stream. */
void
cdviz_sse_fanout_adopt (CdvizSseFanout *self,
                        CdvizSseWriter *client)
{
  g_atomic_int_inc (&self->n_clients);
  g_mutex_lock (&self->feed->lock);
  g_queue_push_tail_link (&self->incoming, &client->link);
  g_mutex_unlock (&self->feed->lock);
  fanout_wake (self);
}

/* Asks the thread to end every stream (what each client still has to
 * receive, then the end of the body) and to return once they are all
 * closed, or at @deadline (monotonic) at the latest. Does not wait:
 * join() does. Asking every fan-out thread first lets them finish
 * together. */
void
cdviz_sse_fanout_finish_streams (CdvizSseFanout *self,
                                 gint64          deadline)
{
  self->finish_deadline = deadline;
  g_atomic_int_set (&self->finish_requested, 1);
  fanout_wake (self);
}

/* Waits for the thread to return (told to, without finish_streams()):
 * from then on the fan-out belongs to the caller, with no client left. */
void
cdviz_sse_fanout_join (CdvizSseFanout *self)
{
  if (self->thread == NULL)
    return;
  if (!g_atomic_int_get (&self->finish_requested))
    {
      /* A flag, not g_main_loop_quit(): the thread may not be running yet. */
      g_atomic_int_set (&self->quit, 1);
      g_main_context_wakeup (self->context);
    }
  g_thread_join (g_steal_pointer (&self->thread));
}

void
cdviz_sse_fanout_free (CdvizSseFanout *self)
{
  cdviz_sse_fanout_join (self);
  g_warn_if_fail (self->clients.length == 0);
  g_warn_if_fail (self->incoming.length == 0);
  fanout_source_clear (&self->wake);
  fanout_source_clear (&self->keep_alive);
  fanout_source_clear (&self->deadline);
  fanout_source_clear (&self->epoll_source);
  if (self->epfd >= 0)
    close (self->epfd);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self);
}
