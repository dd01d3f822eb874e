/*
 * commands.h - the subcommands of the avfuse tool and what they share (the
 * extractors and the model come from daemon/setup.h, the options of the commands
 * that analyze from tools/options.h).
 */
#ifndef AVF_COMMANDS_H
#define AVF_COMMANDS_H

#include "daemon/setup.h"

#define EXIT_INPUT_FAILED 1
#define EXIT_USAGE        2

int avf_cmd_train(int argc, char **argv);
int avf_cmd_eval(int argc, char **argv);
int avf_cmd_watch(int argc, char **argv);
int avf_cmd_proxy(int argc, char **argv);
int avf_cmd_ctl(int argc, char **argv);
int avf_cmd_report(int argc, char **argv);

/*
 * Connects (bind = 0) or binds the ZeroMQ socket to every endpoint of a
 * comma-separated list. Returns 0, or a negative errno after one line on stderr
 * naming the command and the endpoint; avf_zmq_attach_status() turns that into
 * the exit status (a malformed endpoint is a usage error).
 */
int avf_zmq_attach(void *sock, const char *endpoints, int bind, const char *cmd);
int avf_zmq_attach_status(int err);

int avf_cmd_keygen(int argc, char **argv);
/*
 * Makes sock a CURVE client with the key pair at key_path and the server's public
 * key at server_key_path; nothing when both are NULL. Returns 0, or a negative
 * error after one line on stderr (one path without the other is an error).
 */
int avf_zmq_curve(void *sock, const char *key_path, const char *server_key_path, const char *cmd);

#endif
