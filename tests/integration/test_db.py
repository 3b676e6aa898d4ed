# SPDX-License-Identifier: Apache-2.0
"""The db sink (plugins/db) against a real PostgreSQL 15: a cluster of its
own for this module (tests/pg_cluster.py: initdb in a temporary directory,
a free loopback port, cdviz-db's schema applied as its README says),
removed afterwards. Events go in through the webhook, as in production."""
import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import pg_cluster
from cdviz_testlib import PLUGIN_DIR, PROGRAM, Pipeline, cdevent

CLUSTER = None
SKIP_REASON = None


def setUpModule():
    global CLUSTER, SKIP_REASON
    SKIP_REASON = pg_cluster.available()
    if SKIP_REASON is None and not os.path.exists(os.path.join(PLUGIN_DIR, "db")):
        SKIP_REASON = "the db plugin is not built (libpq-dev missing?)"
    if SKIP_REASON is None:
        CLUSTER = pg_cluster.PgCluster()


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.remove()


TYPES = [
    ("dev.cdevents.build.started.0.2.0", "build", "started", "{0,2,0}"),
    ("dev.cdevents.pipelinerun.finished.0.2.0", "pipelinerun", "finished", "{0,2,0}"),
    ("dev.cdevents.service.deployed.0.3.0-draft", "service", "deployed", "{0,3,0}"),
    ("dev.cdevents.taskrun.started.0.1.1", "taskrun", "started", "{0,1,1}"),
]


def make_event(i, source="/test/db", kind=None):
    """A CDEvent with id `evt-<source>-<i>` and a distinct timestamp."""
    body = json.loads(cdevent())
    etype = TYPES[(i if kind is None else kind) % len(TYPES)]
    body["context"]["id"] = "evt%s-%d" % (source.replace("/", "-"), i)
    body["context"]["type"] = etype[0]
    body["context"]["source"] = source
    body["context"]["timestamp"] = "2024-03-%02dT%02d:%02d:%02d.%06dZ" % (
        1 + i // 86400 % 28, i // 3600 % 24, i // 60 % 60, i % 60, (i * 7919) % 1000000)
    body["subject"]["id"] = "subject-%d" % i
    return body


def config(url, extra="", pipeline=""):
    return """
[pipeline]
%s

[sources.hook]
enabled = true

[sources.hook.extractor]
type = "webhook"
id = "in"

# Named like cdviz-collector's built-in sink, which its base disables:
# enabled as a user of cdviz-collector enables it.
[sinks.database]
enabled = true
type = "db"
url = "%s"
%s
""" % (pipeline, url, extra)


class Publisher:
    """One keep-alive HTTP/1.1 connection posting to the webhook."""

    def __init__(self, port, timeout=60):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def post(self, body):
        data = json.dumps(body).encode()
        self.conn.request("POST", "/webhook/in", data, {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        r.read()
        return r.status, r.getheader("Retry-After")

    def close(self):
        self.conn.close()


def config_check(text):
    """`config --check` on @text; returns the finished process."""
    with tempfile.TemporaryDirectory(prefix="cdviz-db-check-") as tmp:
        path = os.path.join(tmp, "config.toml")
        with open(path, "w") as f:
            f.write(text)
        env = dict(os.environ, CDVIZ_PLUGIN_SYSTEM_PATH="")
        return subprocess.run([PROGRAM, "config", "--check", "--config", path,
                               "--plugin-dir", PLUGIN_DIR], capture_output=True, text=True,
                              env=env, timeout=30)


def metric(p, name):
    _, _, body = p.request("GET", "/metrics")
    m = re.search(r"^%s\{sink=\"database\"\} (\d+)$" % re.escape(name), body.decode(), re.M)
    return int(m.group(1)) if m else None


class DbTestCase(unittest.TestCase):
    def setUp(self):
        if SKIP_REASON:
            self.skipTest(SKIP_REASON)
        if CLUSTER.psql("SELECT 1", user="postgres", password=CLUSTER.superpassword,
                        database="postgres") != [["1"]]:
            self.fail("the test cluster does not answer")
        CLUSTER.truncate()


class StoreTest(DbTestCase):
    def test_thousand_events_through_a_webhook(self):
        """1,000 events land as 1,000 rows whose columns cdviz-db derives
        from context.id, context.type and context.timestamp."""
        n = 1000
        sent = {}
        with Pipeline(config(CLUSTER.url())) as p:
            pub = Publisher(p.port)
            for i in range(n):
                body = make_event(i)
                status, _ = pub.post(body)
                self.assertEqual(status, 201)
                sent[body["context"]["id"]] = (i, body)
            pub.close()
            self.assertEqual(CLUSTER.wait_count(n, timeout=60), n)
            self.assertEqual(metric(p, "cdviz_db_events_stored_total"), n)
            self.assertEqual(metric(p, "cdviz_db_queue_length"), 0)
            self.assertEqual(metric(p, "cdviz_db_connected"), 1)
        rows = CLUSTER.psql(
            "SELECT context_id, subject, predicate, version::text, "
            "to_char(timestamp AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
            "payload->'subject'->>'id' FROM cdviz.cdevents_lake")
        self.assertEqual(len(rows), n)
        self.assertEqual({r[0] for r in rows}, set(sent))
        for context_id, subject, predicate, version, timestamp, subject_id in rows:
            i, body = sent[context_id]
            _, esubject, epredicate, eversion = TYPES[i % len(TYPES)]
            self.assertEqual((subject, predicate), (esubject, epredicate), context_id)
            # cdviz.store_cdevent fills version[0..2]: an array indexed from 0.
            self.assertEqual(version, "[0:2]=" + eversion, context_id)
            self.assertEqual(timestamp, body["context"]["timestamp"], context_id)
            self.assertEqual(subject_id, "subject-%d" % i)

    def test_repeated_event_is_stored_once(self):
        """A duplicate (23505) counts as stored: 201 both times, one row."""
        body = make_event(7, source="/test/dup")
        with Pipeline(config(CLUSTER.url(), "pipeline_depth = 1")) as p:
            pub = Publisher(p.port)
            self.assertEqual(pub.post(body)[0], 201)
            self.assertEqual(CLUSTER.wait_count(1), 1)
            self.assertEqual(pub.post(body)[0], 201)
            deadline = time.monotonic() + 10
            while metric(p, "cdviz_db_duplicates_total") != 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(metric(p, "cdviz_db_duplicates_total"), 1)
            pub.close()
        self.assertEqual(CLUSTER.count(), 1)

    def test_duplicates_inside_a_batch(self):
        """A batch that fails on a duplicate is rolled back and sent again
        one by one: the others are stored, the duplicates counted."""
        first = [make_event(i, source="/test/batch") for i in range(0, 200, 2)]
        with Pipeline(config(CLUSTER.url(), "pipeline_depth = 64")) as p:
            pub = Publisher(p.port)
            for body in first:
                self.assertEqual(pub.post(body)[0], 201)
            self.assertEqual(CLUSTER.wait_count(100), 100)
            # The same 100 again, mixed with 100 new ones, from 4 publishers
            # so that batches form.
            bodies = [make_event(i, source="/test/batch") for i in range(200)]
            chunks = [bodies[k::4] for k in range(4)]
            statuses = []

            def run(chunk):
                c = Publisher(p.port)
                statuses.extend(c.post(b)[0] for b in chunk)
                c.close()

            threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(set(statuses), {201})
            self.assertEqual(CLUSTER.wait_count(200), 200)
            deadline = time.monotonic() + 10
            while metric(p, "cdviz_db_duplicates_total") != 100 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(metric(p, "cdviz_db_duplicates_total"), 100)
            self.assertEqual(metric(p, "cdviz_db_events_stored_total"), 200)
            pub.close()
        self.assertEqual(CLUSTER.count(), 200)

    def test_event_postgresql_refuses_is_logged_and_skipped(self):
        """An event cdviz.store_cdevent cannot take (a version that is not a
        number) is refused by PostgreSQL (22P02), logged with its id and
        counted; the ones around it are stored."""
        bad = make_event(2, source="/test/refused")
        # cdviz.store_cdevent casts the version in context.type to integers.
        bad["context"]["type"] = "dev.cdevents.build.started.zero.2.0"
        with Pipeline(config(CLUSTER.url())) as p:
            pub = Publisher(p.port)
            for body in (make_event(1, source="/test/refused"), bad,
                         make_event(3, source="/test/refused")):
                self.assertEqual(pub.post(body)[0], 201)
            self.assertEqual(CLUSTER.wait_count(2), 2)
            deadline = time.monotonic() + 10
            while metric(p, "cdviz_db_events_failed_total") != 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(metric(p, "cdviz_db_events_failed_total"), 1)
            pub.close()
            p.stop()
            self.assertIn("PostgreSQL refused event %s" % bad["context"]["id"], p.stderr())
        self.assertEqual(CLUSTER.count(), 2)

    def test_sqlx_search_path_in_url(self):
        """cdviz-collector's base config writes ?search_path=cdviz (sqlx)."""
        with Pipeline(config(CLUSTER.url() + "?search_path=cdviz&sslmode=disable")) as p:
            pub = Publisher(p.port)
            self.assertEqual(pub.post(make_event(1))[0], 201)
            pub.close()
            self.assertEqual(CLUSTER.wait_count(1), 1)


class OutageTest(DbTestCase):
    def test_postgresql_stopped_for_ten_seconds(self):
        """Under a steady stream from 4 sources, PostgreSQL stops for 10 s
        and starts again: every event answered 201 is stored exactly once,
        in order per source (by commit time); the back-pressure reached
        the publishers as 503 with Retry-After meanwhile."""
        sources = ["/test/outage/%d" % k for k in range(4)]
        accepted = {s: [] for s in sources}
        refused = {s: 0 for s in sources}
        stop = threading.Event()
        errors = []
        cfg = config(CLUSTER.url(), "queue_capacity = 200\npipeline_depth = 32\n"
                     "pool_connections_max = 4\n", "queue_capacity = 2")

        with Pipeline(cfg) as p:
            def publish(source):
                pub = Publisher(p.port, timeout=120)
                i = 0
                try:
                    while not stop.is_set():
                        status, retry_after = pub.post(make_event(i, source=source))
                        if status == 201:
                            accepted[source].append(i)
                            i += 1
                            time.sleep(0.004)
                        elif status == 503:
                            if retry_after is None:
                                errors.append("503 without Retry-After")
                            refused[source] += 1
                            time.sleep(0.05)
                        else:
                            errors.append("status %d" % status)
                            return
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
                finally:
                    pub.close()

            threads = [threading.Thread(target=publish, args=(s,)) for s in sources]
            for t in threads:
                t.start()
            time.sleep(2)
            before_outage = sum(len(v) for v in accepted.values())
            CLUSTER.stop("fast")
            time.sleep(10)
            during_outage = sum(len(v) for v in accepted.values()) - before_outage
            CLUSTER.start()
            time.sleep(4)
            stop.set()
            for t in threads:
                t.join(timeout=120)
            self.assertEqual(errors, [])
            total = sum(len(v) for v in accepted.values())
            self.assertGreater(before_outage, 50)
            self.assertGreater(total, before_outage + during_outage)
            self.assertGreater(sum(refused.values()), 0, "no 503 during the outage")
            self.assertEqual(CLUSTER.wait_count(total, timeout=60), total)
            self.assertGreater(metric(p, "cdviz_db_retries_total"), 0)
            self.assertGreater(metric(p, "cdviz_db_queue_full_total"), 0)
            # Events the pipeline took from requests whose clients gave up
            # waiting are still stored: the queue empties, later under
            # AddressSanitizer.
            deadline = time.monotonic() + 60
            while metric(p, "cdviz_db_queue_length") != 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(metric(p, "cdviz_db_queue_length"), 0)
            p.stop()
            self.assertIn("retrying in", p.stderr())
            self.assertIn("again after", p.stderr())
            self.assertNotIn(pg_cluster.PASSWORD, p.stderr())

        rows = CLUSTER.psql("SELECT payload->'context'->>'source', "
                            "(payload->'subject'->>'id'), "
                            "extract(epoch from imported_at)::text, xmin::text::bigint "
                            "FROM cdviz.cdevents_lake")
        self.assertEqual(len(rows), total)
        by_source = {s: [] for s in sources}
        for source, subject_id, imported_at, xmin in rows:
            by_source[source].append((int(subject_id.split("-")[1]), float(imported_at),
                                      int(xmin)))
        for source in sources:
            got = sorted(by_source[source])
            self.assertEqual([g[0] for g in got], accepted[source], source)
            # In acceptance order, commit order never goes back.
            for a, b in zip(got, got[1:]):
                self.assertLessEqual((a[2], a[1]), (b[2], b[1]),
                                     "%s: event %d committed after %d" % (source, a[0], b[0]))


class SetupErrorTest(DbTestCase):
    def start_fails(self, url, extra=""):
        p = Pipeline(config(url, extra), expect_start=False)
        try:
            code = p.wait(timeout=30)
            self.assertNotEqual(code, 0)
            self.assertNotIn("CRITICAL", p.stderr())
            self.assertNotIn(pg_cluster.PASSWORD, p.stderr())
            self.assertNotIn("wrong-Pa55", p.stderr())
            return p.stderr()
        finally:
            p.close()

    def test_wrong_password(self):
        err = self.start_fails(CLUSTER.url(password="wrong-Pa55"))
        self.assertIn("cannot connect to PostgreSQL at cdviz@127.0.0.1:%d/cdviz" % CLUSTER.port,
                      err)
        self.assertIn('password authentication failed for user "cdviz"', err)

    def test_unknown_database(self):
        err = self.start_fails(CLUSTER.url(database="nosuchdb"))
        self.assertIn('database "nosuchdb" does not exist', err)

    def test_schema_missing(self):
        CLUSTER.psql("DROP DATABASE IF EXISTS bare; CREATE DATABASE bare OWNER cdviz",
                     user="postgres", password=CLUSTER.superpassword, database="postgres")
        err = self.start_fails(CLUSTER.url(database="bare"))
        self.assertIn("cannot store events", err)
        self.assertIn("apply cdviz-db's migrations", err)

    def test_unreachable(self):
        port = pg_cluster.free_port()
        err = self.start_fails("postgresql://cdviz:%s@127.0.0.1:%d/cdviz"
                               % (pg_cluster.PASSWORD, port))
        self.assertIn("cannot connect to PostgreSQL", err)

    def test_lazy_connection_logs_and_retries(self):
        """lazy_connection = true: the pipeline starts, accepts, logs the
        failure once (clearly, without the password) and keeps retrying."""
        with Pipeline(config(CLUSTER.url(password="wrong-Pa55"),
                             "lazy_connection = true\nshutdown_grace_period = \"1s\"")) as p:
            pub = Publisher(p.port)
            self.assertEqual(pub.post(make_event(1))[0], 201)
            pub.close()
            deadline = time.monotonic() + 10
            while (metric(p, "cdviz_db_retries_total") or 0) < 3 and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertGreaterEqual(metric(p, "cdviz_db_retries_total"), 3)
            self.assertEqual(metric(p, "cdviz_db_connected"), 0)
            self.assertEqual(metric(p, "cdviz_db_queue_length"), 1)
            p.stop()
            err = p.stderr()
            self.assertEqual(err.count("password authentication failed"), 1, err)
            self.assertIn("1 events accepted were not stored", err)
            self.assertNotIn("wrong-Pa55", err)
            self.assertEqual(p.proc.returncode, 0)

    def test_config_check_does_not_connect(self):
        """config --check parses the URL but reaches nothing, and redacts
        the password it prints."""
        port = pg_cluster.free_port()
        r = config_check(config("postgresql://cdviz:hunter2-Pa55@127.0.0.1:%d/cdviz" % port))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK", r.stderr)
        self.assertNotIn("hunter2", r.stderr + r.stdout)
        self.assertIn("postgresql://cdviz:<redacted>@127.0.0.1", r.stdout)

    def test_bad_url_is_a_config_error(self):
        r = config_check(config("postgresql://cdviz:hunter2-Pa55@h/db?nosuch=1"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("key 'url'", r.stderr)
        self.assertRegex(r.stderr, r"config\.toml:\d+: key .url.")
        self.assertNotIn("hunter2", r.stderr)


class ShutdownTest(DbTestCase):
    def test_sigterm_writes_what_was_accepted(self):
        """Events answered 201 before SIGTERM are in the table after exit."""
        n = 500
        with Pipeline(config(CLUSTER.url(), "pipeline_depth = 1")) as p:
            pub = Publisher(p.port)
            for i in range(n):
                self.assertEqual(pub.post(make_event(i, source="/test/term"))[0], 201)
            pub.close()
            p.proc.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), 0)
        self.assertEqual(CLUSTER.count(), n)

    def test_grace_period_bounds_the_wait(self):
        """PostgreSQL unreachable at SIGTERM: the program exits once
        shutdown_grace_period is over and says how many events were left."""
        port = pg_cluster.free_port()
        url = "postgresql://cdviz:%s@127.0.0.1:%d/cdviz" % (pg_cluster.PASSWORD, port)
        with Pipeline(config(url, "lazy_connection = true\nshutdown_grace_period = \"2s\"\n"
                             "queue_capacity = 5"), env={"LANG": "C"}) as p:
            pub = Publisher(p.port)
            for i in range(5):
                self.assertEqual(pub.post(make_event(i, source="/test/grace"))[0], 201)
            pub.close()
            t0 = time.monotonic()
            p.proc.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), 0)
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 1.5)
            self.assertLess(elapsed, 6)
            self.assertIn("5 events accepted were not stored", p.stderr())


if __name__ == "__main__":
    unittest.main()
