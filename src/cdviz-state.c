/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>

#include "cdviz-state.h"

/**
 * CdvizState:
 *
 * cdviz-collector's `[state]` with `kind = "fs"`: where polling sources
 * remember what they already read, so that a restart does not send it
 * again. A value is a file `ROOT/SOURCE/KEY`, the layout cdviz-collector
 * uses (its `opendal` source keeps `SOURCE/checkpoint.json`), so a state
 * directory can be kept when one program replaces the other.
 *
 * Values are written atomically: to a temporary file beside the value,
 * flushed, then renamed over it.
 */

/* A value is a small record (a checkpoint), never a payload. */
#define CDVIZ_STATE_MAX_VALUE (1024 * 1024)

struct _CdvizState
{
  GObject parent_instance;

  char *root;
};

G_DEFINE_FINAL_TYPE (CdvizState, cdviz_state, G_TYPE_OBJECT)

/**
 * cdviz_state_error_quark:
 *
 * The error domain of [enum@StateError], also available as
 * %CDVIZ_STATE_ERROR.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (cdviz-state-error-quark, cdviz_state_error)

static void
cdviz_state_finalize (GObject *object)
{
  CdvizState *self = CDVIZ_STATE (object);

  g_free (self->root);
  G_OBJECT_CLASS (cdviz_state_parent_class)->finalize (object);
}

static void
cdviz_state_class_init (CdvizStateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = cdviz_state_finalize;
}

static void
cdviz_state_init (CdvizState *self)
{
}

/**
 * cdviz_state_new:
 * @root: the state directory (`[state.parameters] root`), created when a
 *   value is first written; relative to the working directory
 *
 * Creates a state store over @root. Nothing is read or created until a
 * value is.
 *
 * Returns: (transfer full): a new state store
 */
CdvizState *
cdviz_state_new (const char *root)
{
  CdvizState *self;

  g_return_val_if_fail (root != NULL && *root != '\0', NULL);

  self = g_object_new (CDVIZ_TYPE_STATE, NULL);
  self->root = g_strdup (root);
  return self;
}

/**
 * cdviz_state_get_root:
 * @self: a #CdvizState
 *
 * Gets the directory the values are kept in, as configured.
 *
 * Returns: the state directory
 */
const char *
cdviz_state_get_root (CdvizState *self)
{
  g_return_val_if_fail (CDVIZ_IS_STATE (self), NULL);
  return self->root;
}

static gboolean
is_plain_name (const char *name)
{
  return name != NULL && *name != '\0' && strchr (name, '/') == NULL &&
         strchr (name, '\\') == NULL && !g_str_equal (name, ".") && !g_str_equal (name, "..");
}

static char *
value_path (CdvizState  *self,
            const char  *source_name,
            const char  *key,
            GError     **error)
{
  if (!is_plain_name (source_name) || !is_plain_name (key))
    {
      g_set_error (error, CDVIZ_STATE_ERROR, CDVIZ_STATE_ERROR_INVALID_KEY,
                   _("state: “%s/%s” is not a source name and a key (plain file names)"),
                   source_name ? source_name : "", key ? key : "");
      return NULL;
    }
  return g_build_filename (self->root, source_name, key, NULL);
}

/**
 * cdviz_state_get:
 * @self: a #CdvizState
 * @source_name: the source's name (`[sources.NAME]`)
 * @key: what the source keeps, a plain file name (`checkpoint.json`)
 * @error: return location for a #GError
 *
 * Reads the value @source_name stored under @key.
 *
 * Returns: (transfer full) (nullable): the value; %NULL without an error
 *   when none was stored, %NULL with @error set when it cannot be read
 */
GBytes *
cdviz_state_get (CdvizState  *self,
                 const char  *source_name,
                 const char  *key,
                 GError     **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(GMappedFile) file = NULL;

  g_return_val_if_fail (CDVIZ_IS_STATE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  path = value_path (self, source_name, key, error);
  if (path == NULL)
    return NULL;
  file = g_mapped_file_new (path, FALSE, &local);
  if (file == NULL)
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return NULL;
      g_set_error (error, CDVIZ_STATE_ERROR, CDVIZ_STATE_ERROR_IO,
                   _("state: cannot read “%s”: %s"), path, local->message);
      return NULL;
    }
  if (g_mapped_file_get_length (file) > CDVIZ_STATE_MAX_VALUE)
    {
      g_set_error (error, CDVIZ_STATE_ERROR, CDVIZ_STATE_ERROR_TOO_BIG,
                   _("state: “%s” is larger than %u bytes; remove it"), path,
                   (guint) CDVIZ_STATE_MAX_VALUE);
      return NULL;
    }
  return g_bytes_new (g_mapped_file_get_contents (file) ?: "",
                      g_mapped_file_get_length (file));
}

/**
 * cdviz_state_set:
 * @self: a #CdvizState
 * @source_name: the source's name (`[sources.NAME]`)
 * @key: what the source keeps, a plain file name (`checkpoint.json`)
 * @value: the new value
 * @error: return location for a #GError
 *
 * Replaces the value @source_name stored under @key, atomically: a reader
 * (or the next run, after a crash) finds the old value or the new one.
 *
 * Returns: %TRUE when the value was written
 */
gboolean
cdviz_state_set (CdvizState  *self,
                 const char  *source_name,
                 const char  *key,
                 GBytes      *value,
                 GError     **error)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GError) local = NULL;
  gsize length;
  const char *data;

  g_return_val_if_fail (CDVIZ_IS_STATE (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  path = value_path (self, source_name, key, error);
  if (path == NULL)
    return FALSE;
  data = g_bytes_get_data (value, &length);
  if (length > CDVIZ_STATE_MAX_VALUE)
    {
      g_set_error (error, CDVIZ_STATE_ERROR, CDVIZ_STATE_ERROR_TOO_BIG,
                   _("state: a value for “%s” is larger than %u bytes"), path,
                   (guint) CDVIZ_STATE_MAX_VALUE);
      return FALSE;
    }
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, CDVIZ_STATE_ERROR, CDVIZ_STATE_ERROR_IO,
                   _("state: cannot create directory “%s”: %s"), dir, g_strerror (saved));
      return FALSE;
    }
  /* CONSISTENT: a temporary file in the same directory, renamed over the
   * value once written (and, DURABLE, flushed first). */
  if (!g_file_set_contents_full (path, data ?: "", length,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0600, &local))
    {
      g_set_error (error, CDVIZ_STATE_ERROR, CDVIZ_STATE_ERROR_IO,
                   _("state: cannot write “%s”: %s"), path, local->message);
      return FALSE;
    }
  return TRUE;
}
