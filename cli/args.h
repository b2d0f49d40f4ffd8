/* SPDX-License-Identifier: MIT */
/*
 * The svmm command line: subcommands and their options, parsed into plain
 * structs without side effects (no I/O, no exit), so the parser is testable.
 */
#ifndef SVMM_ARGS_H
#define SVMM_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "common/control_protocol.h"
#include "vmm/vmm.h"

/* Exit status for a usage error, as getopt-based tools use. */
#define CLI_EXIT_USAGE 2

enum cli_command {
	CLI_NONE,
	CLI_VERSION,
	CLI_RUN,
	CLI_USB_ATTACH,
	CLI_USB_DETACH,
	CLI_USB_LIST,
	CLI_USB_WATCH,
	CLI_STOP,
	CLI_BROKER,
	CLI_USB,	/* only for help: `svmm usb --help` */
};

struct usb_attach_options {
	const char *socket;
	const char *path;
	enum control_target target;
	bool read_only;
	bool follow;	/* --follow: re-attached when the device comes back */
};

struct usb_detach_options {
	const char *socket;
	uint32_t port;
};

/* usb list and usb watch */
struct usb_list_options {
	const char *socket;
	bool json;
};

struct stop_options {
	const char *socket;
};

struct cli {
	enum cli_command command;
	bool help;	/* print the command's usage and exit 0 */
	union {
		struct run_options run;
		struct usb_attach_options attach;
		struct usb_detach_options detach;
		struct usb_list_options list;
		struct stop_options stop;
		struct broker_options broker;
	} u;
};

/*
 * Parses argv (argv[0] is the program). Returns 0, or CLI_EXIT_USAGE with a
 * one-line reason in err; cli->command then names the subcommand whose usage
 * to print (CLI_NONE for the top level). getopt may permute argv.
 */
int cli_parse(int argc, char **argv, struct cli *cli, char *err, size_t errlen);

/* The usage text of a subcommand (CLI_NONE: the overview). */
const char *cli_usage(enum cli_command command);

/* Parses a decimal number in [min, max]; 0 or -1. */
int cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

#endif
