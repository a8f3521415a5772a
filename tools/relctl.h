/*
 * relctl.h - what relctl.c (main, the store's life, publish, events,
 * fetch) and relctl_model.c (the release model's commands) share.
 */
#ifndef RELFS_RELCTL_H
#define RELFS_RELCTL_H

#include <stdio.h>

#include "store.h"

extern int relctl_json_out;

/* What a command returns when used wrongly: main prints the usage, exit 2. */
#define RELCTL_USAGE (-2)

/* relctl_common.c: the error of a failed call, the caller, a store. */
int relctl_fail(int rc);
void relctl_me(struct store_user *u);
int relctl_open_store(const char *path, struct store **st);
/* Take "--at WHEN" out of argv: WHEN, or NULL when it is not there. */
const char *relctl_take_at(int *argc, char **argv);
/* The store at path, or (when != NULL) its view at when (store_view_find). */
int relctl_open_at(const char *path, const char *when, struct store **st);

/* The release model's commands (relctl_model.c). */
int relctl_done(struct store *st, int rc, const char *what);
int cmd_stage(int argc, char **argv);
int cmd_criteria(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_why(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_waive(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_scenario(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_unhold(int argc, char **argv);
int cmd_gate(int argc, char **argv);

#endif
