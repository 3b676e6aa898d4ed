/* SPDX-License-Identifier: Apache-2.0 */
/* The nats plugin's pure units: subject validation and matching, the
 * `servers` list. Compiled in; no server needed. */
#include "cdviz-nats-common.h"

static void
test_subject_matches (void)
{
  g_assert_true (cdviz_nats_subject_matches ("a.b", "a.b"));
  g_assert_false (cdviz_nats_subject_matches ("a.b", "a.c"));
  g_assert_false (cdviz_nats_subject_matches ("a.b", "a.b.c"));
  g_assert_false (cdviz_nats_subject_matches ("a.b.c", "a.b"));
  g_assert_true (cdviz_nats_subject_matches ("a.*", "a.b"));
  g_assert_false (cdviz_nats_subject_matches ("a.*", "a.b.c"));
  g_assert_true (cdviz_nats_subject_matches ("a.*.c", "a.x.c"));
  g_assert_true (cdviz_nats_subject_matches ("a.>", "a.b"));
  g_assert_true (cdviz_nats_subject_matches ("a.>", "a.b.c.d"));
  g_assert_false (cdviz_nats_subject_matches ("a.>", "a"));
  g_assert_true (cdviz_nats_subject_matches (">", "anything.at.all"));
  g_assert_false (cdviz_nats_subject_matches ("ab", "a"));
  g_assert_false (cdviz_nats_subject_matches ("a.b", "a..b"));
}

static void
test_subject_valid (void)
{
  g_assert_true (cdviz_nats_subject_is_valid ("cdevents.out", FALSE));
  g_assert_false (cdviz_nats_subject_is_valid ("cdevents.>", FALSE));
  g_assert_true (cdviz_nats_subject_is_valid ("cdevents.>", TRUE));
  g_assert_true (cdviz_nats_subject_is_valid ("a.*.c", TRUE));
  g_assert_false (cdviz_nats_subject_is_valid ("a.>.c", TRUE));
  g_assert_false (cdviz_nats_subject_is_valid ("a.b*", TRUE));
  g_assert_false (cdviz_nats_subject_is_valid ("a..b", TRUE));
  g_assert_false (cdviz_nats_subject_is_valid ("a b", TRUE));
  g_assert_false (cdviz_nats_subject_is_valid ("", TRUE));
  g_assert_false (cdviz_nats_subject_is_valid (".a", FALSE));
}

static void
test_servers (void)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) list = cdviz_nats_split_servers (" nats://a:4222 ,nats://b:4222,, ", &error);
  g_auto(GStrv) none = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (list), ==, 2);
  g_assert_cmpstr (list[0], ==, "nats://a:4222");
  g_assert_cmpstr (list[1], ==, "nats://b:4222");
  none = cdviz_nats_split_servers (" , ", &error);
  g_assert_null (none);
  g_assert_error (error, CDVIZ_CONFIG_ERROR, CDVIZ_CONFIG_ERROR_INVALID_VALUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nats/subject/matches", test_subject_matches);
  g_test_add_func ("/nats/subject/valid", test_subject_valid);
  g_test_add_func ("/nats/servers", test_servers);
  return g_test_run ();
}
