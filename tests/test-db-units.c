/* SPDX-License-Identifier: Apache-2.0 */
/* The db sink's pure units: connection parameters from `url` and
 * `password`, redaction, SQLSTATE classes. No server needed. */
#include <string.h>

#include "cdviz-db-conninfo.h"

static const char *
value_of (const CdvizDbConninfo *info,
          const char            *keyword)
{
  for (guint i = 0; info->keywords[i] != NULL; i++)
    if (g_str_equal (info->keywords[i], keyword))
      return info->values[i];
  return NULL;
}

static void
test_uri (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizDbConninfo) info =
    cdviz_db_conninfo_new ("postgresql://cdviz:s3cr%40t@db.example:6543/events?sslmode=disable",
                           NULL, 30, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (value_of (info, "user"), ==, "cdviz");
  g_assert_cmpstr (value_of (info, "password"), ==, "s3cr@t");
  g_assert_cmpstr (value_of (info, "host"), ==, "db.example");
  g_assert_cmpstr (value_of (info, "port"), ==, "6543");
  g_assert_cmpstr (value_of (info, "dbname"), ==, "events");
  g_assert_cmpstr (value_of (info, "sslmode"), ==, "disable");
  g_assert_cmpstr (value_of (info, "connect_timeout"), ==, "30");
  g_assert_cmpstr (value_of (info, "fallback_application_name"), ==, "cdviz-pipeline");
  g_assert_cmpstr (info->description, ==, "cdviz@db.example:6543/events");
  g_assert_null (strstr (info->description, "s3cr"));
}

/* cdviz-collector's own deployments write ?search_path=cdviz (sqlx): it
 * becomes a server option; statement-cache-capacity is dropped. */
static void
test_sqlx_parameters (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizDbConninfo) info =
    cdviz_db_conninfo_new ("postgres://postgres:passwd@localhost:5432/cdviz?search_path=cdviz,public"
                           "&statement-cache-capacity=100&application_name=ci&options=-c%20work_mem%3D8MB",
                           NULL, 0, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (value_of (info, "options"), ==, "-c work_mem=8MB -c search_path=cdviz,public");
  g_assert_cmpstr (value_of (info, "application_name"), ==, "ci");
  g_assert_null (value_of (info, "statement-cache-capacity"));
  g_assert_null (value_of (info, "connect_timeout"));
}

static void
test_password_key_wins (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizDbConninfo) info =
    cdviz_db_conninfo_new ("postgresql://cdviz:fromurl@h/db", "fromfile", 0, &error);
  g_autofree char *redacted = NULL;
  guint n_passwords = 0;

  g_assert_no_error (error);
  for (guint i = 0; info->keywords[i] != NULL; i++)
    n_passwords += g_str_equal (info->keywords[i], "password");
  g_assert_cmpuint (n_passwords, ==, 1);
  g_assert_cmpstr (value_of (info, "password"), ==, "fromfile");
  redacted = cdviz_db_conninfo_redact (info, "fromurl and fromfile");
  g_assert_cmpstr (redacted, ==, "<redacted> and <redacted>");
}

static void
test_keyword_string (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizDbConninfo) info =
    cdviz_db_conninfo_new ("host=127.0.0.1 port=5433 dbname=cdviz user=u password=kv-secret",
                           NULL, 5, &error);
  g_autofree char *redacted = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (info->description, ==, "u@127.0.0.1:5433/cdviz");
  redacted = cdviz_db_conninfo_redact (info, "FATAL: kv-secret");
  g_assert_cmpstr (redacted, ==, "FATAL: <redacted>");
}

/* A URL libpq refuses: the error says so, without the password. */
static void
test_bad_url (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CdvizDbConninfo) info =
    cdviz_db_conninfo_new ("postgresql://u:hunter2@h/db?nosuchparam=1", NULL, 0, &error);

  g_assert_null (info);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "key 'url'"));
  g_assert_nonnull (strstr (error->message, "nosuchparam"));
  g_assert_null (strstr (error->message, "hunter2"));
  g_clear_error (&error);

  info = cdviz_db_conninfo_new ("postgresql://u:%zzhunter2@h/db", NULL, 0, &error);
  g_assert_null (info);
  g_assert_nonnull (error);
  g_assert_null (strstr (error->message, "hunter2"));
}

static void
test_classify (void)
{
  g_assert_cmpint (cdviz_db_classify_sqlstate ("23505"), ==, CDVIZ_DB_ERROR_DUPLICATE);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("22P05"), ==, CDVIZ_DB_ERROR_EVENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("22007"), ==, CDVIZ_DB_ERROR_EVENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("23502"), ==, CDVIZ_DB_ERROR_EVENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("P0001"), ==, CDVIZ_DB_ERROR_EVENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("3F000"), ==, CDVIZ_DB_ERROR_SETUP);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("42883"), ==, CDVIZ_DB_ERROR_SETUP);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("28P01"), ==, CDVIZ_DB_ERROR_SETUP);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("3D000"), ==, CDVIZ_DB_ERROR_SETUP);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("57P01"), ==, CDVIZ_DB_ERROR_TRANSIENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("08006"), ==, CDVIZ_DB_ERROR_TRANSIENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("40001"), ==, CDVIZ_DB_ERROR_TRANSIENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate (NULL), ==, CDVIZ_DB_ERROR_TRANSIENT);
  g_assert_cmpint (cdviz_db_classify_sqlstate ("xx"), ==, CDVIZ_DB_ERROR_TRANSIENT);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/db/conninfo/uri", test_uri);
  g_test_add_func ("/db/conninfo/sqlx-parameters", test_sqlx_parameters);
  g_test_add_func ("/db/conninfo/password-key-wins", test_password_key_wins);
  g_test_add_func ("/db/conninfo/keyword-string", test_keyword_string);
  g_test_add_func ("/db/conninfo/bad-url", test_bad_url);
  g_test_add_func ("/db/classify", test_classify);
  return g_test_run ();
}
