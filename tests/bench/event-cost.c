/* SPDX-License-Identifier: Apache-2.0 */
/* event-cost: the CPU one event costs cdviz-pipeline outside HTTP, on one
 * thread, for the event sse-pub posts (doc/performance.md, "Ingest"):
 *
 *   parse      cdviz_cdevent_parse(): JSON → JsonNode, CDEvent checks and
 *              normalisation (what the webhook does with each body);
 *   message    the same, plus the message the webhook builds (metadata,
 *              headers) and its compact serialisation (what every sink
 *              shares);
 *   webhook_copy  the webhook's path until issue #20: parse into a
 *              message, wrap it in a raw message (HTTP thread), then on the
 *              pipeline thread normalise a deep copy into a third message;
 *   webhook    the path since: parse once into the raw message (HTTP
 *              thread), then share the sealed tree in the delivered
 *              message when nothing is to be filled in (pipeline thread);
 *              both end with the compact serialisation;
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

/* The metadata the webhook gives each message. */
static JsonNode *
webhook_metadata (const char *source)
{
  g_autoptr(JsonObject) context = json_object_new ();
  g_autoptr(JsonObject) metadata_object = json_object_new ();

  json_object_set_string_member (context, "source", source);
  json_object_set_object_member (metadata_object, "context", g_steal_pointer (&context));
  return json_node_init_object (json_node_alloc (), metadata_object);
}

int
main (int argc, char **argv)
{
  const char *source = "http://127.0.0.1:8080/?source=in";
  long count = 200000;
  char body[1024];
  double start, parse_us, message_us, copy_us, webhook_us;

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
      g_autoptr(JsonNode) metadata = webhook_metadata (source);
      g_autoptr(GHashTable) headers = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                             g_free, g_free);
      g_autoptr(CdvizMessage) message = NULL;

      if (node == NULL)
        g_error ("%s", error->message);
      message = cdviz_message_new (node, metadata, headers);
      (void) cdviz_message_get_body_bytes (message);
    }
  message_us = (cpu_seconds () - start) * 1e6 / (double) count;

  start = cpu_seconds ();
  for (long i = 0; i < count; i++)
    {
      g_autoptr(GError) error = NULL;
      int length = make_body (body, sizeof body, i);
      g_autoptr(JsonNode) metadata = webhook_metadata (source);
      g_autoptr(GHashTable) headers = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                             g_free, g_free);
      g_autoptr(CdvizMessage) parsed = cdviz_message_new_from_data (body, length, &error);
      g_autoptr(CdvizMessage) raw = NULL;
      g_autoptr(JsonNode) normalised = NULL;
      g_autoptr(CdvizMessage) delivered = NULL;

      if (parsed == NULL)
        g_error ("%s", error->message);
      raw = cdviz_message_new_raw (cdviz_message_get_body (parsed), metadata, headers);
      normalised = cdviz_cdevent_normalize (cdviz_message_get_body (raw), source, &error);
      json_node_seal (normalised);
      delivered = cdviz_message_new (normalised, cdviz_message_get_metadata (raw),
                                     cdviz_message_get_headers (raw));
      (void) cdviz_message_get_body_bytes (delivered);
    }
  copy_us = (cpu_seconds () - start) * 1e6 / (double) count;

  start = cpu_seconds ();
  for (long i = 0; i < count; i++)
    {
      g_autoptr(GError) error = NULL;
      int length = make_body (body, sizeof body, i);
      g_autoptr(JsonNode) metadata = webhook_metadata (source);
      g_autoptr(GHashTable) headers = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                             g_free, g_free);
      g_autoptr(CdvizMessage) raw = cdviz_message_new_raw_from_data (body, length, metadata,
                                                                     headers, &error);
      g_autoptr(CdvizMessage) delivered = NULL;

      if (raw == NULL)
        g_error ("%s", error->message);
      /* What the pipeline thread does with a complete event: the sealed
       * tree goes on as it is. */
      delivered = cdviz_message_new (cdviz_message_get_body (raw), cdviz_message_get_metadata (raw),
                                     cdviz_message_get_headers (raw));
      (void) cdviz_message_get_body_bytes (delivered);
    }
  webhook_us = (cpu_seconds () - start) * 1e6 / (double) count;

  printf ("{\"count\": %ld, \"parse_us\": %.2f, \"message_us\": %.2f, "
          "\"webhook_copy_us\": %.2f, \"webhook_us\": %.2f}\n",
          count, parse_us, message_us, copy_us, webhook_us);
  return 0;
}
