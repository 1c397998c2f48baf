/* One file per subcommand, as git does with builtin/. Each returns the
 * process exit code (enum ph_exit). */
#ifndef PYHEAP_BUILTIN_H
#define PYHEAP_BUILTIN_H

#include "pyheap/error.h"

int cmd_snap(int argc, char **argv);
int cmd_chain(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_layout(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_suspects(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
