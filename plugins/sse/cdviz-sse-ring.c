/* SPDX-License-Identifier: Apache-2.0 */
#include "cdviz-sse-ring.h"
#include "cdviz-sse-frame.h"

#include <string.h>

typedef struct {
  GBytes *frame;
  GBytes *id_frame;    /* nullable: `id: <id>`, built when a filtered client first needs it */
  char *id;            /* nullable: the event's id, for Last-Event-ID */
  char *type;          /* nullable: context.type, for filters */
  char *subject;       /* nullable: subject.id, for filters */
  guint type_length;
  guint subject_length;
} Slot;

struct _CdvizSseRing
{
  Slot *slots;
  guint capacity;
  guint64 max_bytes;   /* 0: no byte bound */
  guint64 bytes;       /* total size of the frames held */
  guint64 oldest;      /* sequence number of the oldest frame held */
  guint64 next;        /* sequence number the next frame gets */
};

/**
 * cdviz_sse_ring_new:
 * @capacity: how many frames are kept at most (at least 1)
 * @max_bytes: how many bytes of frames are kept at most, or 0 for no byte
 *   bound; the newest frame is kept whatever its size
 *
 * Returns: (transfer full): an empty ring
 */
CdvizSseRing *
cdviz_sse_ring_new (guint   capacity,
                    guint64 max_bytes)
{
  CdvizSseRing *ring;

  g_return_val_if_fail (capacity >= 1, NULL);

  ring = g_new0 (CdvizSseRing, 1);
  ring->capacity = capacity;
  ring->max_bytes = max_bytes;
  ring->slots = g_new0 (Slot, capacity);
  return ring;
}

static void
slot_clear (Slot *slot)
{
  g_clear_pointer (&slot->frame, g_bytes_unref);
  g_clear_pointer (&slot->id_frame, g_bytes_unref);
  g_clear_pointer (&slot->id, g_free);
  g_clear_pointer (&slot->type, g_free);
  g_clear_pointer (&slot->subject, g_free);
}

static inline gboolean
slot_matches (const Slot           *slot,
              const CdvizSseFilter *filter)
{
  return filter == NULL ||
         cdviz_sse_filter_match (filter, slot->type, slot->type_length,
                                 slot->subject, slot->subject_length);
}

void
cdviz_sse_ring_free (CdvizSseRing *ring)
{
  if (ring == NULL)
    return;
  for (guint i = 0; i < ring->capacity; i++)
    slot_clear (&ring->slots[i]);
  g_free (ring->slots);
  g_free (ring);
}

static inline Slot *
slot_at (CdvizSseRing *ring,
         guint64       seq)
{
  return &ring->slots[seq % ring->capacity];
}

guint
cdviz_sse_ring_get_capacity (CdvizSseRing *ring)
{
  return ring->capacity;
}

/* The byte bound (0: none). */
guint64
cdviz_sse_ring_get_max_bytes (CdvizSseRing *ring)
{
  return ring->max_bytes;
}

/* How many frames are held. */
guint
cdviz_sse_ring_get_length (CdvizSseRing *ring)
{
  return (guint) (ring->next - ring->oldest);
}

/* The total size of the frames held, in bytes. */
guint64
cdviz_sse_ring_get_bytes (CdvizSseRing *ring)
{
  return ring->bytes;
}

/* Drops the oldest frame held. */
static void
drop_oldest (CdvizSseRing *ring)
{
  Slot *slot = slot_at (ring, ring->oldest);

  ring->bytes -= g_bytes_get_size (slot->frame);
  slot_clear (slot);
  ring->oldest++;
}

/* The sequence number of the oldest frame held (equal to the next one when
 * the ring is empty). */
guint64
cdviz_sse_ring_get_oldest (CdvizSseRing *ring)
{
  return ring->oldest;
}

/* The sequence number the next pushed frame will get: where a live client's
 * cursor starts. */
guint64
cdviz_sse_ring_get_next (CdvizSseRing *ring)
{
  return ring->next;
}

/**
 * cdviz_sse_ring_push:
 * @ring: a ring
 * @id: (nullable): the frame's event id
 * @frame: the formatted frame; a reference is taken
 *
 * Appends @frame, then drops the oldest frames while the ring holds more
 * than its capacity or (with a byte bound) more than its bytes, except
 * @frame itself: a frame larger than the byte bound is held alone.
 *
 * Returns: the frame's sequence number
 */
guint64
cdviz_sse_ring_push (CdvizSseRing *ring,
                     const char   *id,
                     GBytes       *frame)
{
  return cdviz_sse_ring_push_event (ring, id, NULL, NULL, frame);
}

/**
 * cdviz_sse_ring_push_event:
 * @ring: a ring
 * @id: (nullable): the frame's event id
 * @type: (nullable): the event's context.type
 * @subject: (nullable): the event's subject.id
 * @frame: the formatted frame; a reference is taken
 *
 * As cdviz_sse_ring_push(), keeping @type and @subject for the clients'
 * filters.
 *
 * Returns: the frame's sequence number
 */
guint64
cdviz_sse_ring_push_event (CdvizSseRing *ring,
                           const char   *id,
                           const char   *type,
                           const char   *subject,
                           GBytes       *frame)
{
  guint64 seq = ring->next;
  Slot *slot;

  /* When full, the oldest frame lives in the slot we reuse. */
  if (ring->next - ring->oldest == ring->capacity)
    drop_oldest (ring);
  slot = slot_at (ring, seq);
  slot->frame = g_bytes_ref (frame);
  slot->id = g_strdup (id);
  slot->type = g_strdup (type);
  slot->type_length = type != NULL ? strlen (type) : 0;
  slot->subject = g_strdup (subject);
  slot->subject_length = subject != NULL ? strlen (subject) : 0;
  ring->bytes += g_bytes_get_size (frame);
  ring->next++;

  if (ring->max_bytes > 0)
    while (ring->bytes > ring->max_bytes && ring->next - ring->oldest > 1)
      drop_oldest (ring);
  return seq;
}

/**
 * cdviz_sse_ring_peek:
 * @ring: a ring
 * @seq: a sequence number
 *
 * Returns: (transfer none) (nullable): the frame @seq, or %NULL if it is not
 *   (or no longer) held
 */
GBytes *
cdviz_sse_ring_peek (CdvizSseRing *ring,
                     guint64       seq)
{
  if (seq < ring->oldest || seq >= ring->next)
    return NULL;
  return slot_at (ring, seq)->frame;
}

/**
 * cdviz_sse_ring_resume_cursor:
 * @ring: a ring
 * @last_event_id: (nullable): the `Last-Event-ID` a client sent
 * @found: (out) (optional): whether the id was found
 *
 * Where a (re)connecting client starts: right after the newest frame whose
 * id is @last_event_id when the ring still holds one, otherwise live (the
 * next sequence number).
 *
 * Returns: the client's cursor
 */
guint64
cdviz_sse_ring_resume_cursor (CdvizSseRing *ring,
                              const char   *last_event_id,
                              gboolean     *found)
{
  if (found != NULL)
    *found = FALSE;
  if (last_event_id == NULL || *last_event_id == '\0')
    return ring->next;

  for (guint64 seq = ring->next; seq > ring->oldest; seq--)
    {
      Slot *slot = slot_at (ring, seq - 1);

      if (slot->id != NULL && strcmp (slot->id, last_event_id) == 0)
        {
          if (found != NULL)
            *found = TRUE;
          return seq;
        }
    }
  return ring->next;
}

/**
 * cdviz_sse_ring_replay_cursor:
 * @ring: a ring
 * @n: how many of the newest frames a new client asks for (`?replay=N`)
 * @filter: (nullable): the client's filter
 *
 * Where a new client starts to be sent the last @n frames held that
 * @filter lets through: all of them when the ring holds fewer.
 *
 * Returns: the client's cursor
 */
guint64
cdviz_sse_ring_replay_cursor (CdvizSseRing         *ring,
                              guint64               n,
                              const CdvizSseFilter *filter)
{
  guint64 seq = ring->next;

  if (filter == NULL)
    return ring->next - MIN (n, ring->next - ring->oldest);
  /* Back to the n-th newest match (frames skipped between count as seen). */
  while (n > 0 && seq > ring->oldest)
    if (slot_matches (slot_at (ring, --seq), filter))
      n--;
  return n > 0 ? ring->oldest : seq;
}

/**
 * cdviz_sse_ring_catch_up:
 * @ring: a ring
 * @cursor: (inout): a client's cursor
 *
 * Moves a cursor that fell out of the ring to the oldest frame still held.
 *
 * Returns: how many frames the client will never see (0 if none)
 */
guint64
cdviz_sse_ring_catch_up (CdvizSseRing *ring,
                         guint64      *cursor)
{
  guint64 skipped;

  if (*cursor >= ring->oldest)
    return 0;
  skipped = ring->oldest - *cursor;
  *cursor = ring->oldest;
  return skipped;
}

/**
 * cdviz_sse_ring_collect:
 * @ring: a ring
 * @cursor: (inout): a client's cursor, inside the ring (see
 *   cdviz_sse_ring_catch_up())
 * @frames: (out caller-allocates) (array length=max_frames): where to store
 *   references to the frames
 * @max_frames: at most this many frames
 * @max_bytes: stop once this many bytes are collected (at least one frame
 *   is collected whatever its size)
 * @out_bytes: (out) (optional): the total size of the frames collected
 *
 * Takes references to the frames from @cursor on, and advances @cursor past
 * them.
 *
 * Returns: the number of frames stored in @frames
 */
guint
cdviz_sse_ring_collect (CdvizSseRing  *ring,
                        guint64       *cursor,
                        GBytes       **frames,
                        guint          max_frames,
                        gsize          max_bytes,
                        gsize         *out_bytes)
{
  return cdviz_sse_ring_collect_filtered (ring, cursor, NULL, frames, max_frames, max_bytes,
                                          out_bytes);
}

/**
 * cdviz_sse_ring_collect_filtered:
 * @ring: a ring
 * @cursor: (inout): a client's cursor, inside the ring
 * @filter: (nullable): the client's filter
 * @frames: (out caller-allocates) (array length=max_frames): where to store
 *   references to the frames
 * @max_frames: at most this many frames
 * @max_bytes: stop once this many bytes are collected
 * @out_bytes: (out) (optional): the total size of the frames collected
 *
 * As cdviz_sse_ring_collect(), for the frames @filter lets through; the
 * others are skipped (the cursor moves past them: they count as seen).
 * At most %CDVIZ_SSE_RING_MAX_SCAN frames are looked at: none may be
 * collected while the cursor is still behind the newest frame.
 *
 * Returns: the number of frames stored in @frames
 */
guint
cdviz_sse_ring_collect_filtered (CdvizSseRing          *ring,
                                 guint64               *cursor,
                                 const CdvizSseFilter  *filter,
                                 GBytes               **frames,
                                 guint                  max_frames,
                                 gsize                  max_bytes,
                                 gsize                 *out_bytes)
{
  return cdviz_sse_ring_collect_skipping (ring, cursor, filter, frames, max_frames, max_bytes,
                                          out_bytes, NULL);
}

/**
 * cdviz_sse_ring_collect_skipping:
 * @ring: a ring
 * @cursor: (inout): a client's cursor, inside the ring
 * @filter: (nullable): the client's filter
 * @frames: (out caller-allocates) (array length=max_frames): where to store
 *   references to the frames
 * @max_frames: at most this many frames
 * @max_bytes: stop once this many bytes are collected
 * @out_bytes: (out) (optional): the total size of the frames collected
 * @out_trailing: (out) (optional): how many frames @filter skipped after
 *   the last one collected (all it skipped when none was collected): the
 *   frame before the new @cursor is a skipped one when this is not 0
 *
 * As cdviz_sse_ring_collect_filtered(), and says what the client skipped
 * last, for cdviz_sse_ring_id_frame().
 *
 * Returns: the number of frames stored in @frames
 */
guint
cdviz_sse_ring_collect_skipping (CdvizSseRing          *ring,
                                 guint64               *cursor,
                                 const CdvizSseFilter  *filter,
                                 GBytes               **frames,
                                 guint                  max_frames,
                                 gsize                  max_bytes,
                                 gsize                 *out_bytes,
                                 guint64               *out_trailing)
{
  guint n = 0;
  guint scanned = 0;
  gsize bytes = 0;
  guint64 trailing = 0;

  g_return_val_if_fail (*cursor >= ring->oldest, 0);

  while (*cursor < ring->next && n < max_frames && (n == 0 || bytes < max_bytes) &&
         scanned++ < CDVIZ_SSE_RING_MAX_SCAN)
    {
      Slot *slot = slot_at (ring, *cursor);
      GBytes *frame = slot->frame;
      gsize size = g_bytes_get_size (frame);

      if (!slot_matches (slot, filter))
        {
          (*cursor)++;
          trailing++;
          continue;
        }

      if (n > 0 && bytes + size > max_bytes)
        break;
      frames[n++] = g_bytes_ref (frame);
      bytes += size;
      (*cursor)++;
      trailing = 0;
    }
  if (out_bytes != NULL)
    *out_bytes = bytes;
  if (out_trailing != NULL)
    *out_trailing = trailing;
  return n;
}

/**
 * cdviz_sse_ring_id_frame:
 * @ring: a ring
 * @seq: the sequence number of a frame the ring holds
 *
 * The `id: <id>` frame of the event at @seq (see cdviz_sse_frame_id()),
 * formatted once per event, when a client first asks for it, and shared.
 *
 * Returns: (transfer full) (nullable): the frame, or %NULL when the event
 *   has no valid id
 */
GBytes *
cdviz_sse_ring_id_frame (CdvizSseRing *ring,
                         guint64       seq)
{
  Slot *slot;

  g_return_val_if_fail (seq >= ring->oldest && seq < ring->next, NULL);

  slot = slot_at (ring, seq);
  if (slot->id_frame == NULL)
    slot->id_frame = cdviz_sse_frame_id (slot->id);
  return slot->id_frame != NULL ? g_bytes_ref (slot->id_frame) : NULL;
}
