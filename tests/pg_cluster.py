# SPDX-License-Identifier: Apache-2.0
"""A throw-away PostgreSQL 15 cluster for the db sink's tests and benchmark.

PgCluster() runs initdb in a temporary directory (as the `postgres` user
when running as root: PostgreSQL refuses to run as root), starts the server
on a free 127.0.0.1 port with password (scram-sha-256) authentication,
creates the role `cdviz` and the database `cdviz` it owns, and applies
../shared/cdviz-db as its README says for plain PostgreSQL (plain-postgres.sql,
then each *.up.sql without the TimescaleDB lines). remove() stops the
server and deletes the directory. Nothing is mocked.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

BINDIR = os.environ.get("CDVIZ_PG_BINDIR", "/usr/lib/postgresql/15/bin")
SHARED = os.environ.get("CDVIZ_SHARED",
                        os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
SCHEMA_DIR = os.path.join(SHARED, "cdviz-db")
TIMESCALE_ONLY = ("CREATE EXTENSION IF NOT EXISTS timescaledb", "SELECT create_hypertable",
                  "SELECT add_dimension")

USER = "cdviz"
PASSWORD = "cdviz-test-Pa55word"
DATABASE = "cdviz"


def available():
    """Why the cluster cannot run here, or None."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not os.access(os.path.join(BINDIR, tool), os.X_OK):
            return "%s not found in %s (apt-get install postgresql-15)" % (tool, BINDIR)
    if shutil.which("psql") is None and not os.access(os.path.join(BINDIR, "psql"), os.X_OK):
        return "psql not found"
    if not os.path.isdir(os.path.join(SCHEMA_DIR, "migrations")):
        return "%s not found" % SCHEMA_DIR
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run initdb as"
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def schema_sql():
    """cdviz-db's migrations for plain PostgreSQL, in order."""
    parts = []
    with open(os.path.join(SCHEMA_DIR, "plain-postgres.sql"), encoding="utf-8") as f:
        parts.append(f.read())
    for path in sorted(glob.glob(os.path.join(SCHEMA_DIR, "migrations", "*.up.sql"))):
        with open(path, encoding="utf-8") as f:
            lines = [l for l in f.read().splitlines()
                     if not l.lstrip().startswith(TIMESCALE_ONLY)]
        parts.append("\n".join(lines))
    return "\n;\n".join(parts)


class PgCluster:
    def __init__(self, fsync=False, schema=True, extra_conf=""):
        reason = available()
        if reason:
            raise RuntimeError(reason)
        self.root = tempfile.mkdtemp(prefix="cdviz-pg-")
        self.datadir = os.path.join(self.root, "data")
        self.logfile = os.path.join(self.root, "server.log")
        self.port = free_port()
        self.superpassword = "super-" + PASSWORD
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.superpassword + "\n")
        if self._as_postgres:
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run([os.path.join(BINDIR, "initdb"), "-D", self.datadir, "-U", "postgres",
                   "--auth=scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8",
                   "--locale=C", "--no-sync"])
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\n" % self.port)
            f.write("unix_socket_directories = '%s'\n" % self.root)
            f.write("fsync = %s\nsynchronous_commit = %s\n"
                    % ("on" if fsync else "off", "on" if fsync else "off"))
            f.write("max_connections = 60\nshared_buffers = 64MB\n")
            f.write(extra_conf)
        self.start()
        self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'; " % (USER, PASSWORD), user="postgres",
                  password=self.superpassword, database="postgres")
        self.psql("CREATE DATABASE %s OWNER %s" % (DATABASE, USER), user="postgres",
                  password=self.superpassword, database="postgres")
        if schema:
            self.psql(schema_sql())

    def _run(self, cmd, check=True, timeout=60):
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=check, timeout=timeout, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, cwd=self.root)

    def url(self, user=USER, password=PASSWORD, database=DATABASE):
        return "postgresql://%s:%s@127.0.0.1:%d/%s" % (user, password, self.port, database)

    def start(self):
        self._run([os.path.join(BINDIR, "pg_ctl"), "-D", self.datadir, "-l", self.logfile,
                   "-w", "-t", "30", "start"])

    def stop(self, mode="fast"):
        self._run([os.path.join(BINDIR, "pg_ctl"), "-D", self.datadir, "-m", mode,
                   "-w", "-t", "30", "stop"], check=False)

    def psql(self, sql, user=USER, password=PASSWORD, database=DATABASE):
        """Runs @sql; returns the rows as lists of strings (unaligned, tab-separated)."""
        env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="10")
        r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database],
                           input=sql, env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("psql failed (%d): %s" % (r.returncode, r.stderr))
        return [line.split("\t") for line in r.stdout.splitlines() if line != ""]

    def scalar(self, sql, **kw):
        rows = self.psql(sql, **kw)
        return rows[0][0] if rows else None

    def count(self):
        return int(self.scalar("SELECT count(*) FROM cdviz.cdevents_lake"))

    def truncate(self):
        self.psql("TRUNCATE cdviz.cdevents_lake")

    def wait_count(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        c = -1
        while time.monotonic() < deadline:
            c = self.count()
            if c >= n:
                return c
            time.sleep(0.1)
        return c

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
