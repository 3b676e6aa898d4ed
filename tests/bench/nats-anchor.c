/* SPDX-License-Identifier: Apache-2.0 */
/* nats-anchor: what NATS JetStream itself does on the path of a scale-out
 * node (doc/scale-out.md), the anchor of tests/bench/nats-bench.py. Two
 * connections, as a node has (its nats sink and its nats source):
 *
 * - the publisher does what plugins/nats/cdviz-nats-sink.c does: creates
 *   the stream when missing (file storage, --replicas), then publishes one
 *   event at a time with js_PublishMsg() and waits for its acknowledgement
 *   before the next (`content-type` header, Nats-Msg-Id = the event's id,
 *   MaxWait --timeout-ms; a failed publication is retried);
 * - the reader does what plugins/nats/cdviz-nats-source.c does: a durable
 *   pull consumer (explicit acks, ack wait 30 s, filtered on the subject)
 *   read with natsSubscription_Fetch (--batch per fetch, 500 ms wait), the
 *   stream sequence read from each message's metadata, each message
 *   acknowledged with natsMsg_Ack() once taken.
 *
 * The events are sse-pub's, byte for byte (context.id "anchor-<run>-<i>",
 * subject.content {"seq": i, "ts": <CLOCK_MONOTONIC ns when published>}),
 * as fast as the acknowledgements allow or at --rate events/s. Nothing of
 * cdviz-pipeline is involved: no HTTP, no pipeline, no SSE clients.
 *
 * Prints one JSON line: published, received, duplicates, failures,
 * events_per_s (count / (last received - first published), as nats-bench
 * counts a node's), pub_per_s, p50/p99/max ms published -> received.
 *
 *   nats-anchor --servers nats://…,… --stream S --subject X --consumer C
 *               --count N [--rate R] [--batch 64] [--replicas 3]
 *               [--timeout-ms 10000] [--run ID] [--deadline-s 120]
 */
#include "bench-common.h"

#include <pthread.h>
#include <nats/nats.h>

static const char *subject;
static const char *stream;
static const char *consumer;
static int64_t count;
static int batch;
static double deadline_s;
static int64_t *latency_ns;    /* by seq; 0: not received */
static int64_t received, duplicates, last_received_at;
static natsConnection *sub_nc;
static jsCtx *sub_js;

static void
nats_die (natsStatus s, jsErrCode jerr, const char *what)
{
  fprintf (stderr, "nats-anchor: %s: %s (jetstream error %d)\n", what,
           natsStatus_GetText (s), (int) jerr);
  exit (2);
}

static natsConnection *
connect_to (const char *servers, const char *name)
{
  natsOptions *opts = NULL;
  natsConnection *nc = NULL;
  natsStatus s;
  char *list = strdup (servers);
  const char *urls[16];
  int n = 0;

  for (char *tok = strtok (list, ","); tok != NULL && n < 16; tok = strtok (NULL, ","))
    urls[n++] = tok;
  s = natsOptions_Create (&opts);
  if (s == NATS_OK)
    s = natsOptions_SetServers (opts, urls, n);
  if (s == NATS_OK)
    s = natsOptions_SetName (opts, name);
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect (opts, -1);
  if (s == NATS_OK)
    s = natsConnection_Connect (&nc, opts);
  natsOptions_Destroy (opts);
  free (list);
  if (s != NATS_OK)
    nats_die (s, 0, "connect");
  return nc;
}

static void *
reader (void *data)
{
  natsSubscription *sub = data;
  int64_t stop_at = now_ns () + (int64_t) (deadline_s * 1e9);

  while (received < count && now_ns () < stop_at)
    {
      natsMsgList list = { 0 };
      jsErrCode jerr = 0;
      natsStatus s = natsSubscription_Fetch (&list, sub, batch, 500, &jerr);

      if (s == NATS_TIMEOUT)
        continue;
      if (s != NATS_OK)
        {
          fprintf (stderr, "nats-anchor: fetch: %s\n", natsStatus_GetText (s));
          natsMsgList_Destroy (&list);
          usleep (250000);
          continue;
        }
      for (int i = 0; i < list.Count; i++)
        {
          natsMsg *msg = list.Msgs[i];
          jsMsgMetaData *meta = NULL;
          const char *body = natsMsg_GetData (msg);
          size_t len = (size_t) natsMsg_GetDataLength (msg);
          int64_t now = now_ns ();
          int64_t seq = json_int_after (body, len, "\"seq\":");
          int64_t ts = json_int_after (body, len, "\"ts\":");

          if (natsMsg_GetMetaData (&meta, msg) == NATS_OK)
            jsMsgMetaData_Destroy (meta);
          if (seq >= 0 && seq < count && ts > 0)
            {
              if (latency_ns[seq] != 0)
                duplicates++;
              else
                {
                  latency_ns[seq] = now - ts;
                  received++;
                  last_received_at = now;
                }
            }
          natsMsg_Ack (msg, NULL);
        }
      natsMsgList_Destroy (&list);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  const char *servers = arg_value (argc, argv, "--servers", NULL);
  const char *run_id = arg_value (argc, argv, "--run", "0");
  double rate = atof (arg_value (argc, argv, "--rate", "0"));
  int replicas = atoi (arg_value (argc, argv, "--replicas", "3"));
  int64_t timeout_ms = atoll (arg_value (argc, argv, "--timeout-ms", "10000"));
  natsConnection *pub_nc;
  jsCtx *pub_js = NULL;
  jsOptions jo;
  jsStreamConfig sc;
  jsConsumerConfig cc;
  jsSubOptions so;
  jsStreamInfo *si = NULL;
  jsConsumerInfo *ci = NULL;
  natsSubscription *sub = NULL;
  jsErrCode jerr = 0;
  natsStatus s;
  pthread_t thread;
  const char *subjects[1];
  int64_t t0 = 0, t_pub_end, failures = 0, n_lat = 0;
  int64_t *sorted;

  subject = arg_value (argc, argv, "--subject", NULL);
  stream = arg_value (argc, argv, "--stream", NULL);
  consumer = arg_value (argc, argv, "--consumer", "anchor");
  count = atoll (arg_value (argc, argv, "--count", "2000"));
  batch = atoi (arg_value (argc, argv, "--batch", "64"));
  deadline_s = atof (arg_value (argc, argv, "--deadline-s", "120"));
  if (servers == NULL || subject == NULL || stream == NULL || count <= 0 || batch <= 0)
    {
      fprintf (stderr, "usage: nats-anchor --servers URLS --stream S --subject X "
               "[--consumer C] --count N [--rate R] [--batch B] [--replicas R] "
               "[--timeout-ms MS] [--run ID] [--deadline-s S]\n");
      return 2;
    }
  latency_ns = calloc ((size_t) count, sizeof (int64_t));

  pub_nc = connect_to (servers, "nats-anchor publisher");
  jsOptions_Init (&jo);
  jo.Wait = timeout_ms;
  if ((s = natsConnection_JetStream (&pub_js, pub_nc, &jo)) != NATS_OK)
    nats_die (s, 0, "jetstream");
  subjects[0] = subject;
  jsStreamConfig_Init (&sc);
  sc.Name = stream;
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = replicas;
  for (int64_t until = now_ns () + 30 * 1000000000LL;;)
    {
      jerr = 0;
      s = js_AddStream (&si, pub_js, &sc, NULL, &jerr);
      if (s == NATS_OK || now_ns () > until)
        break;
      usleep (250000);   /* a cluster electing its leaders */
    }
  if (s != NATS_OK)
    nats_die (s, jerr, "add stream");
  jsStreamInfo_Destroy (si);

  sub_nc = connect_to (servers, "nats-anchor reader");
  if ((s = natsConnection_JetStream (&sub_js, sub_nc, NULL)) != NATS_OK)
    nats_die (s, 0, "jetstream");
  jsConsumerConfig_Init (&cc);
  cc.Durable = consumer;
  cc.AckPolicy = js_AckExplicit;
  cc.AckWait = 30000LL * 1000000;
  cc.FilterSubject = subject;
  cc.DeliverPolicy = js_DeliverAll;
  if ((s = js_AddConsumer (&ci, sub_js, stream, &cc, NULL, &jerr)) != NATS_OK)
    nats_die (s, jerr, "add consumer");
  jsConsumerInfo_Destroy (ci);
  jsSubOptions_Init (&so);
  so.Stream = stream;
  so.Consumer = consumer;
  if ((s = js_PullSubscribe (&sub, sub_js, subject, consumer, NULL, &so, &jerr)) != NATS_OK)
    nats_die (s, jerr, "pull subscribe");
  pthread_create (&thread, NULL, reader, sub);

  for (int64_t i = 0; i < count; i++)
    {
      char body[512], id[96];
      int len;
      int64_t stamp;
      int64_t now = now_ns ();

      if (i == 0)
        t0 = now;
      if (rate > 0)
        {
          int64_t due = t0 + (int64_t) (i * 1e9 / rate);

          if (due > now)
            {
              struct timespec ts = { (due - now) / 1000000000LL, (due - now) % 1000000000LL };
              nanosleep (&ts, NULL);
            }
        }
      snprintf (id, sizeof id, "anchor-%s-%lld", run_id, (long long) i);
      stamp = now_ns ();   /* once, as sse-pub stamps its send: retries count */
      for (;;)
        {
          natsMsg *msg = NULL;
          jsPubOptions po;
          jsPubAck *ack = NULL;

          len = snprintf (body, sizeof body,
            "{\"context\":{\"version\":\"0.4.1\",\"id\":\"%s\","
            "\"source\":\"/bench/publisher\",\"type\":\"dev.cdevents.build.started.0.2.0\","
            "\"timestamp\":\"2023-03-20T14:27:05.315384Z\"},"
            "\"subject\":{\"id\":\"bench\",\"source\":\"/bench/publisher\",\"type\":\"build\","
            "\"content\":{\"seq\":%lld,\"ts\":%lld}}}",
            id, (long long) i, (long long) stamp);
          if ((s = natsMsg_Create (&msg, subject, NULL, body, len)) != NATS_OK)
            nats_die (s, 0, "message");
          natsMsgHeader_Set (msg, "content-type", "application/json");
          jsPubOptions_Init (&po);
          po.MaxWait = timeout_ms;
          po.MsgId = id;
          jerr = 0;
          s = js_PublishMsg (&ack, pub_js, msg, &po, &jerr);
          jsPubAck_Destroy (ack);
          natsMsg_Destroy (msg);
          if (s == NATS_OK)
            break;
          if (failures++ == 0)
            fprintf (stderr, "nats-anchor: publish: %s; retrying\n", natsStatus_GetText (s));
          usleep (50000);
        }
    }
  t_pub_end = now_ns ();
  pthread_join (thread, NULL);

  sorted = calloc ((size_t) count, sizeof (int64_t));
  for (int64_t i = 0; i < count; i++)
    if (latency_ns[i] != 0)
      sorted[n_lat++] = latency_ns[i];
  qsort (sorted, (size_t) n_lat, sizeof (int64_t), cmp_i64);
  printf ("{\"published\": %lld, \"received\": %lld, \"duplicates\": %lld, \"failures\": %lld, "
          "\"events_per_s\": %.1f, \"pub_per_s\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, "
          "\"max_ms\": %.3f}\n",
          (long long) count, (long long) received, (long long) duplicates, (long long) failures,
          received > 0 ? received / ((last_received_at - t0) / 1e9) : 0.0,
          count / ((t_pub_end - t0) / 1e9),
          n_lat ? sorted[(n_lat - 1) / 2] / 1e6 : 0.0,
          n_lat ? sorted[(n_lat * 99 - 1) / 100] / 1e6 : 0.0,
          n_lat ? sorted[n_lat - 1] / 1e6 : 0.0);

  natsSubscription_Destroy (sub);
  jsCtx_Destroy (sub_js);
  jsCtx_Destroy (pub_js);
  natsConnection_Destroy (sub_nc);
  natsConnection_Destroy (pub_nc);
  return received == count ? 0 : 1;
}
