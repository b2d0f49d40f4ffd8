/* SPDX-License-Identifier: MIT */
/* The command line as a user types it: accepted forms, and usage errors (exit status 2). */
#include <criterion/criterion.h>
#include <string.h>

#include "cli/args.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static struct cli cli;
static char err[256];

static int parse(int argc, char **argv)
{
	return cli_parse(argc, argv, &cli, err, sizeof(err));
}

Test(cli, the_users_attach_line_word_for_word)
{
	char *argv[] = { "svmm", "usb", "attach", "00:00:00:00", "/dev/bus/usb/002/022", "/run/svmm.sock" };

	cr_assert_eq(parse(ARGC(argv), argv), 0, "%s", err);
	cr_assert_eq(cli.command, CLI_USB_ATTACH);
	cr_assert_str_eq(cli.u.attach.path, "/dev/bus/usb/002/022");
	cr_assert_str_eq(cli.u.attach.socket, "/run/svmm.sock");
	cr_assert_eq(cli.u.attach.target, CONTROL_TARGET_NODE);
}

Test(cli, attach_placeholder_is_ignored_whatever_it_says)
{
	char *argv[] = { "svmm", "usb", "attach", "garbage", "/dev/bus/usb/001/002", "s" };

	cr_assert_eq(parse(ARGC(argv), argv), 0, "%s", err);
	cr_assert_str_eq(cli.u.attach.path, "/dev/bus/usb/001/002");
}

Test(cli, attach_image_and_id_forms)
{
	char *a1[] = { "svmm", "usb", "attach", "--image", "--read-only", "x", "disk.img", "s" };
	char *a2[] = { "svmm", "usb", "attach", "--id", "x", "0525:a4a5", "s" };
	char *a3[] = { "svmm", "usb", "attach", "--image", "--id", "x", "p", "s" };
	char *a4[] = { "svmm", "usb", "attach", "--read-only", "x", "/dev/bus/usb/001/002", "s" };

	cr_assert_eq(parse(ARGC(a1), a1), 0, "%s", err);
	cr_assert_eq(cli.u.attach.target, CONTROL_TARGET_IMAGE);
	cr_assert(cli.u.attach.read_only);
	cr_assert_str_eq(cli.u.attach.path, "disk.img");
	cr_assert_eq(parse(ARGC(a2), a2), 0, "%s", err);
	cr_assert_eq(cli.u.attach.target, CONTROL_TARGET_ID);
	cr_assert_eq(parse(ARGC(a3), a3), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(a4), a4), CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "--read-only applies to --image only");
}

Test(cli, attach_argument_count)
{
	char *few[] = { "svmm", "usb", "attach", "00:00:00:00", "/dev/bus/usb/002/022" };
	char *many[] = { "svmm", "usb", "attach", "a", "b", "c", "d" };
	char *empty[] = { "svmm", "usb", "attach", "a", "", "c" };

	cr_assert_eq(parse(ARGC(few), few), CLI_EXIT_USAGE);
	cr_assert_eq(cli.command, CLI_USB_ATTACH);	/* so main prints attach's usage */
	cr_assert_eq(parse(ARGC(many), many), CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "too many arguments");
	cr_assert_eq(parse(ARGC(empty), empty), CLI_EXIT_USAGE);
}

Test(cli, detach_port_range)
{
	char *ok[] = { "svmm", "usb", "detach", "9", "/run/svmm.sock" };
	char *zero[] = { "svmm", "usb", "detach", "0", "s" };
	char *big[] = { "svmm", "usb", "detach", "256", "s" };
	char *junk[] = { "svmm", "usb", "detach", "9x", "s" };
	char *neg[] = { "svmm", "usb", "detach", "-1", "s" };
	char *huge[] = { "svmm", "usb", "detach", "99999999999999999999999", "s" };

	cr_assert_eq(parse(ARGC(ok), ok), 0, "%s", err);
	cr_assert_eq(cli.u.detach.port, 9);
	cr_assert_str_eq(cli.u.detach.socket, "/run/svmm.sock");
	cr_assert_eq(parse(ARGC(zero), zero), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(big), big), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(junk), junk), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(neg), neg), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(huge), huge), CLI_EXIT_USAGE);
}

Test(cli, list_and_stop)
{
	char *l1[] = { "svmm", "usb", "list", "--json", "s" };
	char *l2[] = { "svmm", "usb", "list" };
	char *s1[] = { "svmm", "stop", "s" };
	char *s2[] = { "svmm", "stop", "s", "t" };

	cr_assert_eq(parse(ARGC(l1), l1), 0, "%s", err);
	cr_assert(cli.u.list.json);
	cr_assert_eq(parse(ARGC(l2), l2), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(s1), s1), 0, "%s", err);
	cr_assert_eq(cli.command, CLI_STOP);
	cr_assert_eq(parse(ARGC(s2), s2), CLI_EXIT_USAGE);
}

Test(cli, run_long_and_short_options)
{
	char *a1[] = { "svmm", "run", "--control", "/run/svmm.sock", "--mem", "1024", "--cpus", "2",
		       "--initrd", "initrd.img", "--params", "console=ttyS0", "--params", "quiet", "bzImage" };
	char *a2[] = { "svmm", "run", "-s", "c.sock", "-m", "256", "-c", "1", "-i", "i", "-p", "a=b", "k" };

	cr_assert_eq(parse(ARGC(a1), a1), 0, "%s", err);
	cr_assert_eq(cli.command, CLI_RUN);
	cr_assert_str_eq(cli.u.run.control, "/run/svmm.sock");
	cr_assert_eq(cli.u.run.mem_mib, 1024);
	cr_assert_eq(cli.u.run.cpus, 2);
	cr_assert_str_eq(cli.u.run.initrd, "initrd.img");
	cr_assert_str_eq(cli.u.run.params, "console=ttyS0 quiet");
	cr_assert_str_eq(cli.u.run.kernel, "bzImage");
	cr_assert_eq(parse(ARGC(a2), a2), 0, "%s", err);
	cr_assert_str_eq(cli.u.run.control, "c.sock");
	cr_assert_eq(cli.u.run.mem_mib, 256);
	cr_assert_str_eq(cli.u.run.params, "a=b");
}

Test(cli, run_defaults)
{
	char *a[] = { "svmm", "run", "--control", "s", "k" };

	cr_assert_eq(parse(ARGC(a), a), 0, "%s", err);
	cr_assert_eq(cli.u.run.mem_mib, VMM_DEFAULT_MEM_MIB);
	cr_assert_eq(cli.u.run.cpus, VMM_DEFAULT_CPUS);
	cr_assert_null(cli.u.run.initrd);
	cr_assert_str_eq(cli.u.run.params, "");
}

Test(cli, run_usage_errors)
{
	char *nokernel[] = { "svmm", "run", "--control", "s" };
	char *nocontrol[] = { "svmm", "run", "k" };
	char *badmem[] = { "svmm", "run", "-s", "s", "-m", "63", "k" };
	char *junkmem[] = { "svmm", "run", "-s", "s", "-m", "1G", "k" };
	char *badcpus[] = { "svmm", "run", "-s", "s", "-c", "0", "k" };
	char *unknown[] = { "svmm", "run", "--frobnicate", "-s", "s", "k" };
	char *noarg[] = { "svmm", "run", "k", "--mem" };
	char *two[] = { "svmm", "run", "-s", "s", "k1", "k2" };
	char *both[] = { "svmm", "run", "-s", "s", "--broker", "b", "--policy", "p", "k" };

	cr_assert_eq(parse(ARGC(nokernel), nokernel), CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "missing KERNEL");
	cr_assert_eq(cli.command, CLI_RUN);
	cr_assert_eq(parse(ARGC(nocontrol), nocontrol), CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "missing --control SOCK");
	cr_assert_eq(parse(ARGC(badmem), badmem), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(junkmem), junkmem), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(badcpus), badcpus), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(unknown), unknown), CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "unknown option --frobnicate");
	cr_assert_eq(parse(ARGC(noarg), noarg), CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "option --mem needs an argument");
	cr_assert_eq(parse(ARGC(two), two), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(both), both), CLI_EXIT_USAGE);
}

Test(cli, run_params_longer_than_linux_takes)
{
	static char big[VMM_PARAMS_MAX + 1];
	char *a[] = { "svmm", "run", "-s", "s", "-p", big, "k" };

	memset(big, 'x', VMM_PARAMS_MAX);
	cr_assert_eq(parse(ARGC(a), a), CLI_EXIT_USAGE);
}

Test(cli, help_and_version)
{
	char *h1[] = { "svmm", "--help" };
	char *h2[] = { "svmm", "run", "--help" };
	char *h3[] = { "svmm", "usb", "attach", "-h" };
	char *h4[] = { "svmm", "usb", "--help" };
	char *v[] = { "svmm", "--version" };
	char *vx[] = { "svmm", "--version", "x" };

	cr_assert_eq(parse(ARGC(h1), h1), 0);
	cr_assert(cli.help);
	cr_assert_eq(cli.command, CLI_NONE);
	cr_assert_eq(parse(ARGC(h2), h2), 0);
	cr_assert(cli.help);
	cr_assert_eq(cli.command, CLI_RUN);
	cr_assert_eq(parse(ARGC(h3), h3), 0);
	cr_assert_eq(cli.command, CLI_USB_ATTACH);
	cr_assert(cli.help);
	cr_assert_eq(parse(ARGC(h4), h4), 0);
	cr_assert_eq(cli.command, CLI_USB);
	cr_assert_eq(parse(ARGC(v), v), 0);
	cr_assert_eq(cli.command, CLI_VERSION);
	cr_assert_eq(parse(ARGC(vx), vx), CLI_EXIT_USAGE);
	cr_assert_not_null(strstr(cli_usage(CLI_USB_ATTACH), "PLACEHOLDER PATH SOCK"));
}

Test(cli, unknown_commands)
{
	char *a1[] = { "svmm" };
	char *a2[] = { "svmm", "launch" };
	char *a3[] = { "svmm", "usb", "frob" };
	char *a4[] = { "svmm", "usb" };
	char *a5[] = { "svmm", "broker" };
	char *a6[] = { "svmm", "broker", "--socket", "/run/b.sock", "--policy", "p" };

	cr_assert_eq(parse(ARGC(a1), a1), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(a2), a2), CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "unknown command 'launch'");
	cr_assert_eq(parse(ARGC(a3), a3), CLI_EXIT_USAGE);
	cr_assert_eq(parse(ARGC(a4), a4), CLI_EXIT_USAGE);
	/* Without --socket: the socket systemd passes (broker_main says when there is none). */
	cr_assert_eq(parse(ARGC(a5), a5), 0, "%s", err);
	cr_assert_null(cli.u.broker.socket);
	cr_assert_eq(parse(ARGC(a6), a6), 0, "%s", err);
	cr_assert_str_eq(cli.u.broker.policy, "p");
}

Test(cli, run_boot_devices_in_order)
{
	char *argv[] = { "svmm", "run", "--control", "s", "--usb", "/dev/bus/usb/002/022", "--usb-image",
			 "a.img", "--usb", "0525:a4a5", "--usb-image-ro", "b.img", "k" };

	cr_assert_eq(parse(ARGC(argv), argv), 0, "%s", err);
	cr_assert_eq(cli.u.run.nusb, 4);
	cr_assert_eq(cli.u.run.usb[0].kind, RUN_USB_HOST);
	cr_assert_str_eq(cli.u.run.usb[0].path, "/dev/bus/usb/002/022");
	cr_assert_eq(cli.u.run.usb[1].kind, RUN_USB_IMAGE);
	cr_assert_not(cli.u.run.usb[1].read_only);
	cr_assert_str_eq(cli.u.run.usb[2].path, "0525:a4a5");
	cr_assert_eq(cli.u.run.usb[3].kind, RUN_USB_IMAGE);
	cr_assert(cli.u.run.usb[3].read_only);
}

Test(cli, run_boot_device_errors)
{
	char *empty[] = { "svmm", "run", "--control", "s", "--usb", "", "k" };
	char *many[VMM_MAX_BOOT_USB * 2 + 8] = { "svmm", "run", "--control", "s" };
	int n = 4;

	cr_assert_eq(parse(ARGC(empty), empty), CLI_EXIT_USAGE);
	cr_assert(strstr(err, "--usb: empty"), "%s", err);
	for (unsigned int i = 0; i <= VMM_MAX_BOOT_USB; i++) {
		many[n++] = "--usb-image";
		many[n++] = "x.img";
	}
	many[n++] = "k";
	cr_assert_eq(parse(n, many), CLI_EXIT_USAGE);
	cr_assert(strstr(err, "at most 16 devices"), "%s", err);
}

Test(cli, watch_forms)
{
	char *a1[] = { "svmm", "usb", "watch", "/run/svmm.sock" };
	char *a2[] = { "svmm", "usb", "watch", "--json", "s" };
	char *a3[] = { "svmm", "usb", "watch" };

	cr_assert_eq(parse(ARGC(a1), a1), 0, "%s", err);
	cr_assert_eq(cli.command, CLI_USB_WATCH);
	cr_assert_str_eq(cli.u.list.socket, "/run/svmm.sock");
	cr_assert_not(cli.u.list.json);
	cr_assert_eq(parse(ARGC(a2), a2), 0, "%s", err);
	cr_assert(cli.u.list.json);
	cr_assert_eq(parse(ARGC(a3), a3), CLI_EXIT_USAGE);
}

Test(cli, run_name_is_checked)
{
	char *ok[] = { "svmm", "run", "--control", "s", "--name", "build-vm.2", "k" };
	char *bad[] = { "svmm", "run", "--control", "s", "--name", "../x", "k" };
	char *empty[] = { "svmm", "run", "--control", "s", "--name", "", "k" };

	cr_assert_eq(parse(ARGC(ok), ok), 0, "%s", err);
	cr_assert_str_eq(cli.u.run.name, "build-vm.2");
	cr_assert_eq(parse(ARGC(bad), bad), CLI_EXIT_USAGE);
	cr_assert(strstr(err, "--name"), "%s", err);
	cr_assert_eq(parse(ARGC(empty), empty), CLI_EXIT_USAGE);
}

Test(cli, attach_follow_forms)
{
	char *a1[] = { "svmm", "usb", "attach", "--follow", "0525:a4a5", "s" };
	char *a2[] = { "svmm", "usb", "attach", "--follow", "x", "1-2.3", "s" };
	char *a3[] = { "svmm", "usb", "attach", "--follow", "--image", "x", "d.img", "s" };

	cr_assert_eq(parse(ARGC(a1), a1), 0, "%s", err);
	cr_assert(cli.u.attach.follow);
	cr_assert_eq(cli.u.attach.target, CONTROL_TARGET_ID);
	cr_assert_str_eq(cli.u.attach.path, "0525:a4a5");
	cr_assert_str_eq(cli.u.attach.socket, "s");
	cr_assert_eq(parse(ARGC(a2), a2), 0, "%s", err);
	cr_assert_str_eq(cli.u.attach.path, "1-2.3");
	cr_assert_eq(parse(ARGC(a3), a3), CLI_EXIT_USAGE);
	cr_assert(strstr(err, "--follow applies to host devices"), "%s", err);
}
