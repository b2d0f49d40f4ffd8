/* SPDX-License-Identifier: MIT */
#include "cli/args.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/broker_protocol.h"

static const char usage_overview[] =
	"usage: svmm COMMAND [OPTIONS] ...\n"
	"\n"
	"commands:\n"
	"  run      boot a Linux guest with an xHCI controller\n"
	"  usb      attach, detach, list or watch USB devices of a running VM\n"
	"  stop     stop a running VM\n"
	"  broker   run the privileged USB broker as a system service\n"
	"\n"
	"  svmm --version | svmm --help | svmm COMMAND --help\n";

static const char usage_run[] =
	"usage: svmm run --control SOCK [OPTIONS] KERNEL\n"
	"\n"
	"  -s, --control SOCK   serve the control socket at SOCK (required)\n"
	"  -m, --mem MIB        guest memory in MiB (default 512)\n"
	"  -c, --cpus N         virtual CPUs (default 1)\n"
	"  -i, --initrd FILE    initial ramdisk\n"
	"  -p, --params TEXT    kernel command line (may be repeated)\n"
	"      --broker SOCK    use the system broker at SOCK instead of forking one\n"
	"      --policy FILE    USB policy for the VM's own broker\n"
	"      --usb DEVICE     attach DEVICE before the guest starts (repeatable): a\n"
	"                       /dev/bus/usb node, VID:PID[:SERIAL] or a port path (1-2.3)\n"
	"      --usb-image FILE attach a disk image as USB mass storage (repeatable)\n"
	"      --usb-image-ro FILE  the same, read-only for the guest\n"
	"      --name NAME      what the broker's policy calls this VM: its `to NAME`\n"
	"                       rules give it matching devices as they are plugged in\n"
	"  -v, --verbose        log more\n"
	"  -h, --help           this text\n";

static const char usage_usb[] =
	"usage: svmm usb attach [--image [--read-only] | --id] PLACEHOLDER PATH SOCK\n"
	"       svmm usb attach --follow ID SOCK\n"
	"       svmm usb detach PORT SOCK\n"
	"       svmm usb list [--json] SOCK\n"
	"       svmm usb watch [--json] SOCK\n"
	"\n"
	"PLACEHOLDER is accepted and ignored (crosvm's BUS:ADDR:VID:PID).\n"
	"PATH is a node under /dev/bus/usb; with --image a disk image attached as\n"
	"mass storage; with --id VID:PID[:SERIAL] or a port path such as 1-2.3.\n";

static const char usage_attach[] =
	"usage: svmm usb attach [OPTIONS] PLACEHOLDER PATH SOCK\n"
	"       svmm usb attach --follow ID SOCK\n"
	"\n"
	"Attaches a USB device to the VM whose control socket is SOCK and prints\n"
	"\"ok PORT\". PLACEHOLDER is accepted and ignored (crosvm compatibility).\n"
	"\n"
	"      --image        PATH is a disk image, attached as USB mass storage\n"
	"      --read-only    with --image: the guest cannot write the image\n"
	"      --id           PATH is VID:PID[:SERIAL] or a port path (1-2.3)\n"
	"      --follow       as --id, and whenever the device leaves the host and\n"
	"                     comes back (replug, reset, re-enumeration) it is\n"
	"                     attached again on the same port, until usb detach;\n"
	"                     as another id only if a policy rule says it follows\n"
	"  -h, --help         this text\n";

static const char usage_detach[] =
	"usage: svmm usb detach PORT SOCK\n"
	"\n"
	"Detaches the device on PORT and prints \"ok PORT\".\n";

static const char usage_list[] =
	"usage: svmm usb list [--json] SOCK\n"
	"\n"
	"Lists the devices attached to the VM, one port per line.\n"
	"      --json         print a JSON array instead\n";

static const char usage_watch[] =
	"usage: svmm usb watch [--json] SOCK\n"
	"\n"
	"Prints the devices attached now (as `usb list`, each line starting with\n"
	"\"present\"), then one line per event until the VM ends: attached, detached,\n"
	"gone (the host device left), refused (an attach failed, with the reason),\n"
	"stopped. Exits 0 when the VM ends, 1 if the connection is lost.\n"
	"      --json         one JSON object per line instead\n";

static const char usage_stop[] =
	"usage: svmm stop SOCK\n"
	"\n"
	"Stops the VM whose control socket is SOCK.\n";

static const char usage_broker[] =
	"usage: svmm broker [--socket PATH] [--policy FILE] [--verbose]\n"
	"\n"
	"Runs the privileged USB broker for many VMs: it checks each attach\n"
	"request against the policy and passes the opened device node.\n"
	"      --socket PATH  listen on PATH (without it: the socket systemd\n"
	"                     passes, as svmm-broker.socket does)\n"
	"      --policy FILE  USB policy (default: any non-hub device; keyboards,\n"
	"                     mice and internal devices only by a rule naming them)\n"
	"  -v, --verbose      log more\n"
	"  -h, --help         this text\n";

const char *cli_usage(enum cli_command command)
{
	switch (command) {
	case CLI_RUN: return usage_run;
	case CLI_USB: return usage_usb;
	case CLI_USB_ATTACH: return usage_attach;
	case CLI_USB_DETACH: return usage_detach;
	case CLI_USB_LIST: return usage_list;
	case CLI_USB_WATCH: return usage_watch;
	case CLI_STOP: return usage_stop;
	case CLI_BROKER: return usage_broker;
	default: return usage_overview;
	}
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CLI_EXIT_USAGE;
}

int cli_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Reports an option getopt refused: unknown, or missing its argument. */
static int bad_option(char *const *argv, int c, char *err, size_t errlen)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		return fail(err, errlen, "option %s needs an argument", arg);
	if (optopt)
		return fail(err, errlen, "unknown option -%c", optopt);
	return fail(err, errlen, "unknown option %s", arg);
}

static int need_positionals(int argc, int want, const char *what, char *err, size_t errlen)
{
	if (argc - optind < want)
		return fail(err, errlen, "missing %s", what);
	if (argc - optind > want)
		return fail(err, errlen, "too many arguments");
	return 0;
}

static int append_params(struct run_options *o, const char *p, char *err, size_t errlen)
{
	size_t have = strlen(o->params);
	size_t add = strlen(p);

	if (have + (have ? 1 : 0) + add >= sizeof(o->params))
		return fail(err, errlen, "kernel command line longer than %u bytes",
			    VMM_PARAMS_MAX - 1);
	if (have)
		o->params[have++] = ' ';
	memcpy(o->params + have, p, add + 1);
	return 0;
}

enum { OPT_BROKER = 256, OPT_POLICY, OPT_IMAGE, OPT_READ_ONLY, OPT_ID, OPT_JSON, OPT_SOCKET,
       OPT_USB, OPT_USB_IMAGE, OPT_USB_IMAGE_RO, OPT_FOLLOW, OPT_NAME };

/* One more --usb, --usb-image or --usb-image-ro; the VMM checks the device itself. */
static int add_boot_usb(struct run_options *o, int kind, bool read_only, const char *path,
			char *err, size_t errlen)
{
	const char *opt = kind == RUN_USB_HOST ? "--usb" : read_only ? "--usb-image-ro" : "--usb-image";

	if (o->nusb == VMM_MAX_BOOT_USB)
		return fail(err, errlen, "%s: at most %u devices at boot", opt, VMM_MAX_BOOT_USB);
	if (!*path)
		return fail(err, errlen, "%s: empty argument", opt);
	if (strlen(path) >= CONTROL_PATH_MAX)
		return fail(err, errlen, "%s: longer than %u bytes", opt, CONTROL_PATH_MAX - 1);
	o->usb[o->nusb].kind = kind;
	o->usb[o->nusb].read_only = read_only;
	o->usb[o->nusb].path = path;
	o->nusb++;
	return 0;
}

static int parse_run(int argc, char **argv, struct cli *cli, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "control", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 's' },	/* crosvm's older name */
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "params", required_argument, NULL, 'p' },
		{ "broker", required_argument, NULL, OPT_BROKER },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "usb", required_argument, NULL, OPT_USB },
		{ "usb-image", required_argument, NULL, OPT_USB_IMAGE },
		{ "usb-image-ro", required_argument, NULL, OPT_USB_IMAGE_RO },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct run_options *o = &cli->u.run;
	int c, r;

	o->mem_mib = VMM_DEFAULT_MEM_MIB;
	o->cpus = VMM_DEFAULT_CPUS;
	while ((c = getopt_long(argc, argv, ":s:m:c:i:p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->control = optarg; break;
		case 'm':
			if (cli_parse_u32(optarg, VMM_MIN_MEM_MIB, VMM_MAX_MEM_MIB, &o->mem_mib))
				return fail(err, errlen, "--mem: '%s' is not a size in MiB between %u and %u",
					    optarg, VMM_MIN_MEM_MIB, VMM_MAX_MEM_MIB);
			break;
		case 'c':
			if (cli_parse_u32(optarg, 1, VMM_MAX_CPUS, &o->cpus))
				return fail(err, errlen, "--cpus: '%s' is not a number between 1 and %u",
					    optarg, VMM_MAX_CPUS);
			break;
		case 'i': o->initrd = optarg; break;
		case 'p':
			r = append_params(o, optarg, err, errlen);
			if (r)
				return r;
			break;
		case OPT_BROKER: o->broker = optarg; break;
		case OPT_POLICY: o->policy = optarg; break;
		case OPT_NAME:
			if (!broker_vm_name_ok(optarg))
				return fail(err, errlen, "--name: '%.64s' is not 1 to 64 of A-Z a-z 0-9 . _ -",
					    optarg);
			o->name = optarg;
			break;
		case OPT_USB:
		case OPT_USB_IMAGE:
		case OPT_USB_IMAGE_RO:
			r = add_boot_usb(o, c == OPT_USB ? RUN_USB_HOST : RUN_USB_IMAGE,
					 c == OPT_USB_IMAGE_RO, optarg, err, errlen);
			if (r)
				return r;
			break;
		case 'v': o->verbose = true; break;
		case 'h': cli->help = true; return 0;
		default: return bad_option(argv, c, err, errlen);
		}
	}
	r = need_positionals(argc, 1, "KERNEL", err, errlen);
	if (r)
		return r;
	if (!o->control)
		return fail(err, errlen, "missing --control SOCK");
	if (o->broker && o->policy)
		return fail(err, errlen, "--policy is the system broker's business when --broker is given");
	o->kernel = argv[optind];
	return 0;
}

static int parse_attach(int argc, char **argv, struct cli *cli, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "image", no_argument, NULL, OPT_IMAGE },
		{ "read-only", no_argument, NULL, OPT_READ_ONLY },
		{ "id", no_argument, NULL, OPT_ID },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct usb_attach_options *o = &cli->u.attach;
	int c, r;

	o->target = CONTROL_TARGET_NODE;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_IMAGE:
			if (o->target == CONTROL_TARGET_ID)
				return fail(err, errlen, "--image and --id exclude each other");
			o->target = CONTROL_TARGET_IMAGE;
			break;
		case OPT_ID:
			if (o->target == CONTROL_TARGET_IMAGE)
				return fail(err, errlen, "--image and --id exclude each other");
			o->target = CONTROL_TARGET_ID;
			break;
		case OPT_READ_ONLY: o->read_only = true; break;
		case OPT_FOLLOW: o->follow = true; break;
		case 'h': cli->help = true; return 0;
		default: return bad_option(argv, c, err, errlen);
		}
	}
	if (o->read_only && o->target != CONTROL_TARGET_IMAGE)
		return fail(err, errlen, "--read-only applies to --image only");
	if (o->follow && o->target == CONTROL_TARGET_IMAGE)
		return fail(err, errlen, "--follow applies to host devices named by id or port, not images");
	if (o->follow) {
		/* `usb attach --follow ID SOCK`; crosvm's placeholder may still come first. */
		o->target = CONTROL_TARGET_ID;
		if (argc - optind == 2) {
			o->path = argv[optind];
			o->socket = argv[optind + 1];
			goto check_path;
		}
	}
	r = need_positionals(argc, 3, "PLACEHOLDER, PATH or SOCK", err, errlen);
	if (r)
		return r;
	/* argv[optind] is crosvm's BUS:ADDR:VID:PID, deprecated there and ignored here. */
	o->path = argv[optind + 1];
	o->socket = argv[optind + 2];
check_path:
	if (!*o->path)
		return fail(err, errlen, "empty PATH");
	if (strlen(o->path) >= CONTROL_PATH_MAX)
		return fail(err, errlen, "PATH longer than %u bytes", CONTROL_PATH_MAX - 1);
	return 0;
}

static int parse_simple(int argc, char **argv, struct cli *cli, const struct option *opts,
			char *err, size_t errlen)
{
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': cli->help = true; return 0;
		case OPT_JSON: cli->u.list.json = true; break;
		default: return bad_option(argv, c, err, errlen);
		}
	}
	return 0;
}

static int parse_usb(int argc, char **argv, struct cli *cli, char *err, size_t errlen)
{
	static const struct option help_only[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const struct option list_opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sub;
	int r;

	cli->command = CLI_USB;
	if (argc < 2)
		return fail(err, errlen, "missing usb command (attach, detach, list or watch)");
	sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		cli->help = true;
		return 0;
	}
	argc--;
	argv++;
	optind = 0;
	if (!strcmp(sub, "attach")) {
		cli->command = CLI_USB_ATTACH;
		return parse_attach(argc, argv, cli, err, errlen);
	}
	if (!strcmp(sub, "detach")) {
		cli->command = CLI_USB_DETACH;
		r = parse_simple(argc, argv, cli, help_only, err, errlen);
		if (r || cli->help)
			return r;
		r = need_positionals(argc, 2, "PORT or SOCK", err, errlen);
		if (r)
			return r;
		if (cli_parse_u32(argv[optind], 1, 255, &cli->u.detach.port))
			return fail(err, errlen, "PORT '%s' is not a number between 1 and 255",
				    argv[optind]);
		cli->u.detach.socket = argv[optind + 1];
		return 0;
	}
	if (!strcmp(sub, "list") || !strcmp(sub, "watch")) {
		cli->command = !strcmp(sub, "list") ? CLI_USB_LIST : CLI_USB_WATCH;
		r = parse_simple(argc, argv, cli, list_opts, err, errlen);
		if (r || cli->help)
			return r;
		r = need_positionals(argc, 1, "SOCK", err, errlen);
		if (r)
			return r;
		cli->u.list.socket = argv[optind];
		return 0;
	}
	return fail(err, errlen, "unknown usb command '%s'", sub);
}

static int parse_broker(int argc, char **argv, struct cli *cli, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct broker_options *o = &cli->u.broker;
	int c;

	while ((c = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET: o->socket = optarg; break;
		case OPT_POLICY: o->policy = optarg; break;
		case 'v': o->verbose = true; break;
		case 'h': cli->help = true; return 0;
		default: return bad_option(argv, c, err, errlen);
		}
	}
	/* Without --socket the broker serves the socket systemd passes, or says it has none. */
	return need_positionals(argc, 0, "", err, errlen);
}

int cli_parse(int argc, char **argv, struct cli *cli, char *err, size_t errlen)
{
	static const struct option help_only[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd;
	int r;

	memset(cli, 0, sizeof(*cli));
	err[0] = '\0';
	opterr = 0;
	if (argc < 2)
		return fail(err, errlen, "missing command");
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		cli->help = true;
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		cli->command = CLI_VERSION;
		return argc == 2 ? 0 : fail(err, errlen, "--version takes no arguments");
	}
	/* Each subcommand parses argv from its own name on; optind = 0 resets getopt fully. */
	argc--;
	argv++;
	optind = 0;
	if (!strcmp(cmd, "run")) {
		cli->command = CLI_RUN;
		return parse_run(argc, argv, cli, err, errlen);
	}
	if (!strcmp(cmd, "usb"))
		return parse_usb(argc, argv, cli, err, errlen);
	if (!strcmp(cmd, "stop")) {
		cli->command = CLI_STOP;
		r = parse_simple(argc, argv, cli, help_only, err, errlen);
		if (r || cli->help)
			return r;
		r = need_positionals(argc, 1, "SOCK", err, errlen);
		if (r)
			return r;
		cli->u.stop.socket = argv[optind];
		return 0;
	}
	if (!strcmp(cmd, "broker")) {
		cli->command = CLI_BROKER;
		return parse_broker(argc, argv, cli, err, errlen);
	}
	return fail(err, errlen, "unknown command '%s'", cmd);
}
