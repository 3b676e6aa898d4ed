/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The db sink's pure units (no connection): its connection parameters from
 * `url` and `password`, the redaction of secrets in libpq's messages, and
 * what a SQLSTATE means for the event that got it. Any thread. */

typedef struct {
  char **keywords;     /* (owned): libpq keywords, NULL-terminated */
  char **values;       /* (owned): their values, same length */
  char *description;   /* (owned): "user@host:port/dbname", no secret */
  char **secrets;      /* (owned) (nullable): strings never to print */
} CdvizDbConninfo;

CdvizDbConninfo *cdviz_db_conninfo_new   (const char      *url,
                                          const char      *password,
                                          guint            connect_timeout_s,
                                          GError         **error);
void             cdviz_db_conninfo_free  (CdvizDbConninfo *info);
char            *cdviz_db_conninfo_redact (const CdvizDbConninfo *info,
                                           const char             *text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CdvizDbConninfo, cdviz_db_conninfo_free)

/* What an error's SQLSTATE means for the event (or batch) that got it. */
typedef enum {
  CDVIZ_DB_ERROR_DUPLICATE,   /* 23505: already stored, counts as stored */
  CDVIZ_DB_ERROR_EVENT,       /* the event itself cannot be stored (22xxx, 23xxx, P0xxx) */
  CDVIZ_DB_ERROR_SETUP,       /* the database is not set up for the sink: schema,
                               * privileges, database, authentication; retried */
  CDVIZ_DB_ERROR_TRANSIENT,   /* anything else: connection, restart, resources; retried */
} CdvizDbErrorKind;

CdvizDbErrorKind cdviz_db_classify_sqlstate (const char *sqlstate);

G_END_DECLS
