/* SPDX-License-Identifier: MIT */
/* svmm: one binary, one subcommand per role (docs/architecture.md). */
#include <stdio.h>
#include <unistd.h>

#include "cli/args.h"
#include "broker/broker.h"
#include "cli/control_client.h"
#include "vmm/vmm.h"

#if defined(__SANITIZE_ADDRESS__)
#define SVMM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SVMM_ASAN 1
#endif
#endif

/*
 * The VMM and the broker end under their seccomp filters. LeakSanitizer's
 * check at exit stops the world with clone, prctl and ptrace, which both
 * filters forbid: a sanitizer build ends them without it (their parts are
 * leak-checked by their unit tests).
 */
static int end_filtered(int status)
{
#ifdef SVMM_ASAN
	fflush(NULL);
	_exit(status);
#endif
	return status;
}

int main(int argc, char **argv)
{
	struct cli cli;
	char err[256];

	if (cli_parse(argc, argv, &cli, err, sizeof(err))) {
		fprintf(stderr, "svmm: %s\n\n%s", err, cli_usage(cli.command));
		return CLI_EXIT_USAGE;
	}
	if (cli.help) {
		fputs(cli_usage(cli.command), stdout);
		return 0;
	}
	switch (cli.command) {
	case CLI_VERSION:
		printf("svmm %s\n", SVMM_VERSION);
		return 0;
	case CLI_RUN:
		return end_filtered(vmm_main(&cli.u.run));
	case CLI_USB_ATTACH:
		return control_client_attach(&cli.u.attach);
	case CLI_USB_DETACH:
		return control_client_detach(&cli.u.detach);
	case CLI_USB_LIST:
		return control_client_list(&cli.u.list);
	case CLI_USB_WATCH:
		return control_client_watch(&cli.u.list);
	case CLI_STOP:
		return control_client_stop(&cli.u.stop);
	case CLI_BROKER:
		return end_filtered(broker_main(&cli.u.broker));
	default:
		fputs(cli_usage(CLI_NONE), stderr);
		return CLI_EXIT_USAGE;
	}
}
