/* SPDX-License-Identifier: Apache-2.0 */
/* soup-floor: the fastest libsoup 3 answers POSTs on this machine, as a
 * floor for the webhook's ingest figure (doc/performance.md, "Ingest"):
 * one SoupServer on 127.0.0.1:PORT whose only handler answers 201 with an
 * empty body to every request of /webhook/in, on the main thread. Run
 * `sse-pub --port PORT --path /webhook/in --count 100000 --connections 4`
 * against it. Stops after --seconds (default 60).
 *
 *   soup-floor --port PORT [--seconds S]
 */
#include <stdlib.h>
#include <string.h>

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

int
main (int    argc,
      char **argv)
{
  g_autoptr(SoupServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  guint port = 0;
  guint seconds = 60;

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--port") == 0 && i + 1 < argc)
      port = (guint) atoi (argv[++i]);
    else if (strcmp (argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = (guint) atoi (argv[++i]);
    else
      {
        g_printerr ("usage: soup-floor --port PORT [--seconds S]\n");
        return 2;
      }

  server = soup_server_new ("server-header", "soup-floor", NULL);
  soup_server_add_handler (server, "/webhook/in", answer_created, NULL, NULL);
  if (!soup_server_listen_local (server, port, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    {
      g_printerr ("soup-floor: %s\n", error->message);
      return 1;
    }
  loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add_seconds (seconds, quit, loop);
  g_main_loop_run (loop);
  return 0;
}
