/*
 * commands.h - the subcommands of the avfuse tool and what they share: the
 * registry of feature plugins and the model.
 */
#ifndef AVF_COMMANDS_H
#define AVF_COMMANDS_H

#include "fusion/model.h"
#include "fusion/vector.h"
#include "plugins/loader.h"

#define EXIT_INPUT_FAILED 1
#define EXIT_USAGE        2

int avf_cmd_train(int argc, char **argv);
int avf_cmd_eval(int argc, char **argv);
int avf_cmd_watch(int argc, char **argv);
int avf_cmd_proxy(int argc, char **argv);
int avf_cmd_ctl(int argc, char **argv);

/*
 * Connects (bind = 0) or binds the ZeroMQ socket to every endpoint of a
 * comma-separated list. Returns 0, or a negative errno after one line on stderr
 * naming the command and the endpoint; avf_zmq_attach_status() turns that into
 * the exit status (a malformed endpoint is a usage error).
 */
int avf_zmq_attach(void *sock, const char *endpoints, int bind, const char *cmd);
int avf_zmq_attach_status(int err);

/*
 * Registers the built-in extractors and the plugins of each folder (a refused
 * plugin or folder is reported and skipped). On success *plugins is the caller's
 * to free() and the count is returned; *pr must outlive the descriptors' use.
 */
int avf_load_plugins(avf_plugin_registry **pr, const char *const *dirs, int nb_dirs,
                     const avf_plugin_descriptor ***plugins);

/*
 * Loads the model at path, or when path is NULL the first that exists of
 * $AVFUSE_MODEL, the installed default and the source tree's models/default.model,
 * and checks that every feature it needs is in `available` (the registered
 * plugins' layout; more is fine). Returns 0 with *pm and *playout (the model's own
 * fused layout, to run the pipeline with; free with avf_fused_layout_free()) set,
 * 1 when path is NULL and no model exists (*pm NULL), or a negative error already
 * reported.
 */
int avf_load_model(avf_model **pm, avf_fused_layout **playout, const char *path,
                   const avf_fused_layout *available);

#endif
