/* SPDX-License-Identifier: Apache-2.0 */
/* event-cost: the CPU one event costs cdviz-pipeline outside HTTP, on one
 * thread, for the event sse-pub posts (doc/performance.md, "Ingest"):
 *
 *   parse      cdviz_cdevent_parse(): JSON → JsonNode, CDEvent checks and
 *              normalisation (what the webhook does with each body);
 *   message    the same, plus the message the webhook builds (metadata,
 *              headers) and its compact serialisation (what every sink
 *              shares);
 *
 * Prints one JSON line with the mean microseconds per event of each.
 *
 *   event-cost [--count N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cdviz.h>

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
make_body (char *body, size_t size, long i)
{
  return snprintf (body, size,
    "{\"context\":{\"version\":\"0.4.1\",\"id\":\"bench-cost-%ld\","
    "\"source\":\"/bench/publisher\",\"type\":\"dev.cdevents.build.started.0.2.0\","
    "\"timestamp\":\"2023-03-20T14:27:05.315384Z\"},"
    "\"subject\":{\"id\":\"bench\",\"source\":\"/bench/publisher\",\"type\":\"build\","
    "\"content\":{\"seq\":%ld,\"ts\":%ld}}}", i, i, i * 1000);
}

int
main (int argc, char **argv)
{
  const char *source = "http://127.0.0.1:8080/?source=in";
  long count = 200000;
  char body[1024];
  double start, parse_us, message_us;

  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--count") == 0 && i + 1 < argc)
      count = atol (argv[++i]);
    else
      {
        fprintf (stderr, "usage: event-cost [--count N]\n");
        return 2;
      }

  start = cpu_seconds ();
  for (long i = 0; i < count; i++)
    {
      g_autoptr(GError) error = NULL;
      int length = make_body (body, sizeof body, i);
      g_autoptr(JsonNode) node = cdviz_cdevent_parse (body, length, source, &error);

      if (node == NULL)
        g_error ("%s", error->message);
    }
  parse_us = (cpu_seconds () - start) * 1e6 / (double) count;

  start = cpu_seconds ();
  for (long i = 0; i < count; i++)
    {
      g_autoptr(GError) error = NULL;
      int length = make_body (body, sizeof body, i);
      g_autoptr(JsonNode) node = cdviz_cdevent_parse (body, length, source, &error);
      g_autoptr(JsonObject) context = json_object_new ();
      g_autoptr(JsonObject) metadata_object = json_object_new ();
      g_autoptr(JsonNode) metadata = NULL;
      g_autoptr(GHashTable) headers = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                             g_free, g_free);
      g_autoptr(CdvizMessage) message = NULL;

      if (node == NULL)
        g_error ("%s", error->message);
      json_object_set_string_member (context, "source", source);
      json_object_set_object_member (metadata_object, "context", g_steal_pointer (&context));
      metadata = json_node_init_object (json_node_alloc (), metadata_object);
      message = cdviz_message_new (node, metadata, headers);
      (void) cdviz_message_get_body_bytes (message);
    }
  message_us = (cpu_seconds () - start) * 1e6 / (double) count;

  printf ("{\"count\": %ld, \"parse_us\": %.2f, \"message_us\": %.2f}\n",
          count, parse_us, message_us);
  return 0;
}
