/* SPDX-License-Identifier: MIT */
/*
 * `svmm run`: checks the input, forks the device process, builds the VM
 * (memory, irqchip, devices, boot state), runs the vCPUs and serves the
 * console, the device's events and the control socket until the VM ends;
 * then takes everything down again, whichever way it ended.
 */
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/boot_linux.h"
#include "vmm/cmos.h"
#include "vmm/control_server.h"
#include "common/device_main.h"
#include "vmm/device_process.h"
#include "vmm/guest_memory.h"
#include "vmm/i8042.h"
#include "vmm/io_bus.h"
#include "vmm/kvm.h"
#include "vmm/layout.h"
#include "common/log.h"
#include "common/monotonic.h"
#include "vmm/mptable.h"
#include "vmm/pci_bus.h"
#include "vmm/vmm_lockdown.h"
#include "vmm/pci_proxy.h"
#include "broker/broker_client.h"
#include "vmm/serial.h"
#include "vmm/terminal.h"
#include "vmm/usb_control.h"
#include "vmm/vcpu.h"

/* Used when --params is not given: the console on our serial port, reboot through the i8042. */
#define VMM_DEFAULT_PARAMS "console=ttyS0 reboot=k panic=-1"
/* How much longer than a device request a vCPU gets to stop (vmm_stop_vcpus). */
#define VMM_VCPU_STOP_MARGIN_MS 2000
/* A bzImage larger than this is not one. */
#define VMM_KERNEL_MAX (256u << 20)

/*
 * Lock order (docs/architecture.md, "Locks"), outermost first: proxy.lock,
 * then dev.lock, then the leaves, which are held while no other lock is
 * taken: pio.lock and mmio.lock (never around a handler), pci.lock,
 * serial.lock, i8042.lock, cmos.lock, vm.routing_lock, gate.lock.
 */
struct vmm {
	const struct run_options *o;
	uint8_t *kernel;
	size_t kernel_len;
	struct bzimage img;
	int initrd_fd;
	int boot_image_fd[VMM_MAX_BOOT_USB];
	bool broker_gone;			/* its socket hung up: not polled any more */	/* --usb-image: opened at start, -1 once attached */
	uint64_t initrd_size;

	int sig_fd;
	int exit_fd;		/* eventfd: somebody wants the VM to end */
	/*
	 * The first vmm_request_exit claims the exit, stores its status, then
	 * sets exit_requested: whoever sees it set (acquire) sees that status.
	 */
	bool exit_claimed;
	int exit_status;
	bool exit_requested;

	struct kvm_vm vm;
	bool vm_created;
	struct guest_memory mem;
	bool mem_created;
	struct io_bus pio, mmio;
	struct serial serial;
	struct i8042 i8042;
	struct cmos cmos;
	struct pci_bus pci;
	struct device_process dev;
	bool dev_spawned;
	struct pci_proxy proxy;
	bool proxy_ready;
	struct usb_control usb;
	struct broker_child broker;	/* our own broker; pid 0 with a system broker */
	int broker_sock;		/* either broker's socket, -1 before it exists */
	struct control_server control;
	bool control_open;
	struct terminal term;
	bool stdin_open;

	struct vcpu_env env;
	struct vcpu_gate gate;		/* vCPUs wait at it until the VMM is locked down */
	struct vcpu vcpus[VMM_MAX_CPUS];
	unsigned int nvcpus;
};

static void vmm_request_exit(void *opaque, int status, const char *why)
{
	struct vmm *v = opaque;
	uint64_t one = 1;

	/* The first reason wins: it is the one the exit status tells. */
	if (!__atomic_exchange_n(&v->exit_claimed, true, __ATOMIC_ACQ_REL)) {
		v->exit_status = status;
		__atomic_store_n(&v->exit_requested, true, __ATOMIC_RELEASE);
		log_info("%s", why);
	}
	if (write(v->exit_fd, &one, sizeof(one)) < 0)
		log_debug("exit eventfd: %s", strerror(errno));
}

static bool vmm_exit_requested(struct vmm *v)
{
	return __atomic_load_n(&v->exit_requested, __ATOMIC_ACQUIRE);
}

static void vmm_reset(void *opaque)
{
	vmm_request_exit(opaque, 0, "the guest reset (i8042), the VM ends");
}

static void vmm_stop(void *opaque)
{
	vmm_request_exit(opaque, 0, "stopped on request, the VM ends");
}

static void vmm_serial_irq(void *opaque, int level)
{
	struct vmm *v = opaque;

	kvm_vm_irq_line(&v->vm, LAYOUT_IRQ_SERIAL, level);
}

static void vmm_i8042_irq(void *opaque, unsigned int line)
{
	struct vmm *v = opaque;

	/* ISA edge: a pulse. */
	kvm_vm_irq_line(&v->vm, line, 1);
	kvm_vm_irq_line(&v->vm, line, 0);
}

static int vmm_read_kernel(struct vmm *v)
{
	const char *path = v->o->kernel, *why = NULL;
	struct stat st;
	size_t done = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_err("cannot open kernel %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("kernel %s: not a regular file", path);
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > VMM_KERNEL_MAX) {
		log_err("kernel %s: not a bzImage (%" PRIu64 " MiB is too large)", path,
			(uint64_t)st.st_size >> 20);
		r = -EFBIG;
		goto out;
	}
	v->kernel_len = (size_t)st.st_size;
	v->kernel = malloc(v->kernel_len ? v->kernel_len : 1);
	if (!v->kernel) {
		r = -ENOMEM;
		goto out;
	}
	while (done < v->kernel_len) {
		ssize_t n = read(fd, v->kernel + done, v->kernel_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_err("cannot read kernel %s: %s", path, n < 0 ? strerror(errno) : "short file");
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		done += (size_t)n;
	}
	r = bzimage_parse(v->kernel, v->kernel_len, &v->img, &why);
	if (r < 0)
		log_err("kernel %s: %s", path, why);
out:
	close(fd);
	return r;
}

static int vmm_open_initrd(struct vmm *v)
{
	const char *path = v->o->initrd;
	struct stat st;
	uint8_t probe;
	int r;

	v->initrd_fd = -1;
	if (!path)
		return 0;
	v->initrd_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (v->initrd_fd < 0) {
		r = -errno;
		log_err("cannot open initrd %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(v->initrd_fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("initrd %s: not a regular file", path);
		return -EINVAL;
	}
	/* Reading now, not after the VM is built, makes an unreadable file a clean early error. */
	if (st.st_size > 0 && pread(v->initrd_fd, &probe, 1, 0) != 1) {
		r = -errno;
		log_err("cannot read initrd %s: %s", path, strerror(errno));
		return r ? r : -EIO;
	}
	if (st.st_size == 0) {
		log_err("initrd %s is empty", path);
		return -EINVAL;
	}
	v->initrd_size = (uint64_t)st.st_size;
	return 0;
}

static int vmm_check_memory(const struct run_options *o)
{
	uint64_t host = guest_memory_host_total_mib();

	if (o->mem_mib < VMM_MIN_MEM_MIB) {
		log_err("--mem %u MiB is too small (at least %u MiB)", o->mem_mib, VMM_MIN_MEM_MIB);
		return -EINVAL;
	}
	if (host && o->mem_mib > host) {
		log_err("--mem %u MiB is more than this host has (%" PRIu64 " MiB)", o->mem_mib, host);
		return -ENOMEM;
	}
	return 0;
}

static int vmm_signals(struct vmm *v)
{
	sigset_t set;

	/* Handled in the main loop; every thread and the forked child inherit them blocked. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);	/* the vCPU kick: only vCPU threads unblock it */
	sigaddset(&set, SIGUSR2);	/* "where is the guest?": each vCPU logs its registers */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	sigdelset(&set, SIGUSR1);
	v->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (v->sig_fd < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return vcpu_signal_setup();
}

static int vmm_setup_devices(struct vmm *v)
{
	int r;

	io_bus_init(&v->pio);
	io_bus_init(&v->mmio);
	serial_init(&v->serial, STDOUT_FILENO, vmm_serial_irq, v);
	i8042_init(&v->i8042, vmm_reset, vmm_i8042_irq, v);
	cmos_init(&v->cmos);
	pci_bus_init(&v->pci);
	if ((r = io_bus_add(&v->pio, SERIAL_COM1_BASE, SERIAL_PORTS, serial_io, &v->serial)) < 0 ||
	    (r = io_bus_add(&v->pio, I8042_DATA_PORT, 1, i8042_data_io, &v->i8042)) < 0 ||
	    (r = io_bus_add(&v->pio, I8042_CMD_PORT, 1, i8042_cmd_io, &v->i8042)) < 0 ||
	    (r = io_bus_add(&v->pio, CMOS_PORT, 2, cmos_io, &v->cmos)) < 0 ||
	    (r = io_bus_add(&v->pio, PCI_CONFIG_ADDRESS, 8, pci_bus_io, &v->pci)) < 0)
		return r;
	return 0;
}

/* The device's PCI function: its process gets the memory, the proxy sets up BAR and interrupts. */
static void vmm_setup_device(struct vmm *v)
{
	int r = device_process_send_memory(&v->dev, &v->mem);

	if (r == 0)
		r = pci_proxy_init(&v->proxy, &v->dev, &v->vm, &v->mmio);
	if (r < 0) {
		/* The guest still boots; the slot reads as empty (all-ones). */
		device_process_mark_dead(&v->dev, "setup failed");
		return;
	}
	v->proxy_ready = true;
	pci_bus_register(&v->pci, LAYOUT_PCI_SLOT_DEVICE, &pci_proxy_ops, &v->proxy);
}

static int vmm_build(struct vmm *v)
{
	const struct run_options *o = v->o;
	const char *params = o->params[0] ? o->params : VMM_DEFAULT_PARAMS;
	struct boot_entry entry;
	uint16_t ebda_segment;
	char err[256];
	void *mp;
	int r;

	if ((r = kvm_vm_create(&v->vm)) < 0)
		return r;
	v->vm_created = true;
	if ((r = guest_memory_create(&v->mem, (uint64_t)o->mem_mib << 20)) < 0)
		return r;
	v->mem_created = true;
	if ((r = guest_memory_register(&v->mem, v->vm.vm_fd)) < 0)
		return r;
	r = boot_linux_load(&v->mem, v->kernel, &v->img, v->initrd_fd, v->initrd_size, params,
			    &entry, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return r;
	}
	ebda_segment = (uint16_t)(LAYOUT_EBDA >> 4);
	memcpy(guest_memory_ptr(&v->mem, LAYOUT_BDA_EBDA_PTR, 2), &ebda_segment, 2);
	mp = guest_memory_ptr(&v->mem, LAYOUT_EBDA, LAYOUT_EBDA_END - LAYOUT_EBDA);
	r = mptable_write(mp, LAYOUT_EBDA_END - LAYOUT_EBDA, (uint32_t)LAYOUT_EBDA, o->cpus);
	if (r < 0) {
		log_err("cannot build the MP table for %u CPUs", o->cpus);
		return r;
	}
	log_debug("kernel command line: %s", params);
	if ((r = vmm_setup_devices(v)) < 0) {
		log_err("cannot set up the I/O buses: %s", strerror(-r));
		return r;
	}
	/* Install our routing table (the legacy routes) once, before any MSI route. */
	if ((r = kvm_vm_set_msi_route(&v->vm, 0, false, 0, 0)) < 0) {
		log_err("KVM_SET_GSI_ROUTING: %s", strerror(-r));
		return r;
	}
	vmm_setup_device(v);

	v->env = (struct vcpu_env){
		.vm = &v->vm, .pio = &v->pio, .mmio = &v->mmio, .ncpus = o->cpus, .mem = &v->mem,
		.request_exit = vmm_request_exit, .opaque = v,
	};
	for (unsigned int i = 0; i < o->cpus; i++) {
		if ((r = vcpu_create(&v->vcpus[i], &v->env, i, &entry)) < 0)
			return r;
		v->nvcpus++;
	}
	return 0;
}

/*
 * The broker that opens USB device nodes for this VM: a system broker
 * (--broker SOCK), or our own, forked now, before any thread exists and while
 * the VMM still has the privileges the broker needs; its policy (--policy, or
 * the built-in default) is checked here, so a malformed file stops svmm run.
 */
static int vmm_start_broker(struct vmm *v, char *err, size_t errlen)
{
	int r;

	if (v->o->broker) {
		v->broker_sock = broker_connect(v->o->broker);
		if (v->broker_sock < 0) {
			snprintf(err, errlen, "cannot connect to the broker at %s: %s", v->o->broker,
				 strerror(-v->broker_sock));
			return v->broker_sock;
		}
		return 0;
	}
	r = broker_spawn(v->o->policy, NULL, &v->broker, err, errlen);
	if (r < 0)
		return r;
	v->broker_sock = v->broker.sock;
	return 0;
}

/* --name: the broker's `to` rules give devices to the VM by it; taken names stop the start. */
static int vmm_name_self(struct vmm *v, char *err, size_t errlen)
{
	struct broker_reply reply;
	int r;

	if (!v->o->name)
		return 0;
	r = broker_name(v->broker_sock, v->o->name, &reply);
	if (r < 0) {
		snprintf(err, errlen, "the broker did not take the name %s: %s", v->o->name, strerror(-r));
		return r;
	}
	if (reply.status != SVMM_OK) {
		snprintf(err, errlen, "the broker refused the name %s: %s", v->o->name, reply.reason);
		return -EEXIST;
	}
	return 0;
}

/* Forked before the VM exists: the child inherits no KVM or guest memory fds at all. */
static int vmm_start_device(struct vmm *v)
{
	int r = device_process_spawn(&v->dev, device_name, device_prepare, device_main);

	v->dev_spawned = v->dev.pid > 0;
	if (!v->dev_spawned) {
		log_err("cannot start the device process");
		return r;
	}
	/* A description the VMM cannot use is a broken binary: refuse to start (logged). */
	if (r == -EBADMSG)
		return r;
	/* Started but does not speak: the VM runs without the controller. */
	if (r < 0)
		device_process_mark_dead(&v->dev, "no answer to HELLO");
	v->usb.nports = v->dev.desc.nports;
	return 0;
}

#ifdef __SANITIZE_THREAD__
void __sanitizer_symbolize_pc(void *pc, const char *fmt, char *out, size_t len);

/*
 * ThreadSanitizer names the module of each frame of a report from
 * /proc/self/maps, which it reads once and keeps; the filter forbids open,
 * so it reads it now. Its CI run sets symbolize=0: reports give module and
 * offset (addr2line names them), with no file to open.
 */
static void vmm_sanitizer_before_lockdown(void)
{
	char where[128];

	__sanitizer_symbolize_pc(__builtin_return_address(0), "%m", where, sizeof(where));
}
#else
static void vmm_sanitizer_before_lockdown(void)
{
}
#endif

/*
 * Starts the vCPU threads held at a gate, locks the VMM down (their filter is
 * installed with the main thread's), then lets them run the guest. If the
 * lockdown fails, the vCPUs are told to stop before the gate opens: the guest
 * never runs without the filter.
 */
static void vmm_start_locked_down(struct vmm *v)
{
	const struct vmm_lockdown_targets targets = {
		.control_dir_fd = v->control.file.dir_fd,
		.device_pid = v->dev.pid,
		.broker_pid = v->broker.pid,
	};
	unsigned int started = 0;
	char err[256];

	vcpu_gate_init(&v->gate);
	v->env.start_gate = &v->gate;
	for (unsigned int i = 0; i < v->nvcpus; i++) {
		if (vcpu_start(&v->vcpus[i]) < 0) {
			vmm_request_exit(v, 1, "a vCPU could not start");
			break;
		}
		started++;
	}
	vcpu_gate_wait_arrivals(&v->gate, started);
	vmm_sanitizer_before_lockdown();
	if (!vmm_exit_requested(v) && vmm_lockdown(&targets, err, sizeof(err)) < 0) {
		log_err("%s", err);
		vmm_request_exit(v, 1, "the VMM could not lock itself down");
	}
	if (vmm_exit_requested(v)) {
		for (unsigned int i = 0; i < v->nvcpus; i++)
			vcpu_set_stopping(&v->vcpus[i]);
	}
	vcpu_gate_open(&v->gate);
}

static void vmm_handle_signals(struct vmm *v)
{
	struct signalfd_siginfo si;

	while (read(v->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			if (device_process_check_ended(&v->dev) && v->proxy_ready)
				pci_proxy_device_dead(&v->proxy);
			continue;
		}
		if (si.ssi_signo == SIGUSR2) {
			for (unsigned int i = 0; i < v->nvcpus; i++)
				vcpu_ask_report(&v->vcpus[i]);
			continue;
		}
		char why[64];

		snprintf(why, sizeof(why), "%s received, the VM ends", strsignal((int)si.ssi_signo));
		vmm_request_exit(v, 128 + (int)si.ssi_signo, why);
	}
}

static void vmm_handle_device_event(struct vmm *v)
{
	struct devproto_msg m;
	const char *why = NULL;
	/* Events carry no descriptor; the VMM never takes one from its device process. */
	int r = devproto_recv(v->dev.evt_sock, &m, NULL, &why);

	if (r == 0) {
		device_process_mark_dead(&v->dev, "closed its event socket");
	} else if (r < 0) {
		char reason[128];

		snprintf(reason, sizeof(reason), "sent a malformed event (%s)", why ? why : "?");
		device_process_mark_dead(&v->dev, reason);
	} else if (m.type == DEVPROTO_PORT_GONE) {
		usb_control_port_gone(&v->usb, m.u.port.port);
		return;
	} else if (v->proxy_ready) {
		pci_proxy_event(&v->proxy, &m);
		return;
	} else {
		return;
	}
	if (v->proxy_ready)
		pci_proxy_device_dead(&v->proxy);
}

static void vmm_handle_stdin(struct vmm *v)
{
	uint8_t buf[SERIAL_FIFO_SIZE];
	size_t room = serial_rx_room(&v->serial);
	ssize_t n;

	if (room > sizeof(buf))
		room = sizeof(buf);
	n = read(STDIN_FILENO, buf, room);
	if (n > 0)
		serial_receive(&v->serial, buf, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		v->stdin_open = false;
}

enum { PFD_SIGNAL, PFD_EXIT, PFD_STDIN, PFD_DEVICE, PFD_BROKER, PFD_CONTROL,
       PFD_MAX = PFD_CONTROL + 1 + CONTROL_SERVER_MAX_CLIENTS + CONTROL_SERVER_MAX_WATCHERS };

static void vmm_loop(struct vmm *v)
{
	while (!vmm_exit_requested(v)) {
		struct pollfd pfd[PFD_MAX];
		bool stdin_waits = v->stdin_open && serial_rx_room(&v->serial) == 0;
		size_t nctl;
		int r;

		pfd[PFD_SIGNAL] = (struct pollfd){ .fd = v->sig_fd, .events = POLLIN };
		pfd[PFD_EXIT] = (struct pollfd){ .fd = v->exit_fd, .events = POLLIN };
		/* A full receive FIFO: leave the bytes in the tty until the guest reads some. */
		pfd[PFD_STDIN] = (struct pollfd){
			.fd = v->stdin_open && !stdin_waits ? STDIN_FILENO : -1, .events = POLLIN };
		pfd[PFD_DEVICE] = (struct pollfd){
			.fd = device_process_is_dead(&v->dev) ? -1 : v->dev.evt_sock, .events = POLLIN };
		/*
		 * A reply that came after its request timed out (read, and a device it
		 * granted given back), or a followed device back (attached).
		 */
		pfd[PFD_BROKER] = (struct pollfd){
			.fd = !v->broker_gone && (broker_client_replies_owed() || v->o->name ||
						  usb_control_has_leases(&v->usb)) ? v->broker_sock : -1,
			.events = POLLIN };
		nctl = control_server_pollfds(&v->control, pfd + PFD_CONTROL, PFD_MAX - PFD_CONTROL);
		r = poll(pfd, PFD_CONTROL + nctl, stdin_waits ? 20 : -1);
		if (r < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			vmm_request_exit(v, 1, "the main loop failed");
			break;
		}
		if (r <= 0)
			continue;
		if (pfd[PFD_SIGNAL].revents)
			vmm_handle_signals(v);
		if (pfd[PFD_STDIN].revents)
			vmm_handle_stdin(v);
		if (pfd[PFD_DEVICE].revents)
			vmm_handle_device_event(v);
		if (pfd[PFD_BROKER].revents && broker_client_drain(v->broker_sock) == -ECONNRESET) {
			log_warn("the broker closed its connection: no USB device can be attached");
			v->broker_gone = true;
		}
		usb_control_take_backs(&v->usb);
		control_server_service(&v->control, pfd + PFD_CONTROL, nctl);
	}
}

/*
 * Stops every vCPU by one deadline; false if one is stuck. A vCPU waits in
 * the VMM for no lock forever (docs/architecture.md, "Locks"); the longest
 * it may stay out of KVM_RUN is a request the device process does not
 * answer (DEVICE_REPLY_TIMEOUT_MS). Past that, a stuck vCPU is a VMM bug,
 * and the VMM must end all the same: `svmm stop` and SIGTERM are how a user
 * gets rid of it.
 */
static bool vmm_stop_vcpus(struct vmm *v)
{
	int64_t deadline_ms = monotonic_ms() + DEVICE_REPLY_TIMEOUT_MS + VMM_VCPU_STOP_MARGIN_MS;
	bool all = true;

	for (unsigned int i = 0; i < v->nvcpus; i++) {
		vcpu_set_stopping(&v->vcpus[i]);
		if (v->vcpus[i].started)
			pthread_kill(v->vcpus[i].thread, SIGUSR1);
	}
	for (unsigned int i = 0; i < v->nvcpus; i++) {
		if (vcpu_stop(&v->vcpus[i], deadline_ms) < 0)
			all = false;
	}
	return all;
}

/* Returns false if a vCPU was stuck: then what it may still use is left to the process's exit. */
static bool vmm_teardown(struct vmm *v)
{
	bool vcpus_ended;

	terminal_restore(&v->term);
	vcpus_ended = vmm_stop_vcpus(v);
	if (!vcpus_ended)
		log_err("the VMM ends with a vCPU stuck in it");
	if (v->dev_spawned)
		device_process_shutdown(&v->dev);
	/* A stuck vCPU may hold the proxy's lock, or be about to touch its BAR or guest memory. */
	if (v->proxy_ready && vcpus_ended)
		pci_proxy_destroy(&v->proxy);
	if (v->control_open)
		control_server_close(&v->control);
	/* Closing the connection releases what the VM held; our own broker then exits. */
	if (v->broker.pid > 0)
		broker_stop(&v->broker);
	else if (v->broker_sock >= 0)
		close(v->broker_sock);
	if (!vcpus_ended)
		return false;
	for (unsigned int i = 0; i < v->nvcpus; i++)
		vcpu_destroy(&v->vcpus[i]);
	if (v->mem_created)
		guest_memory_destroy(&v->mem);
	if (v->vm_created)
		kvm_vm_destroy(&v->vm);
	if (v->initrd_fd >= 0)
		close(v->initrd_fd);
	for (uint32_t i = 0; i < VMM_MAX_BOOT_USB; i++) {
		if (v->boot_image_fd[i] >= 0)
			close(v->boot_image_fd[i]);
	}
	if (v->sig_fd >= 0)
		close(v->sig_fd);
	if (v->exit_fd >= 0)
		close(v->exit_fd);
	free(v->kernel);
	return true;
}

static void vmm_usb_event(void *opaque, const struct control_event *e)
{
	control_server_broadcast(opaque, e);
}

/* The images the user named on the command line, opened with the user's own rights. */
static int vmm_open_boot_images(struct vmm *v)
{
	for (uint32_t i = 0; i < v->o->nusb; i++) {
		const struct run_usb *u = &v->o->usb[i];
		const char *opt = u->read_only ? "--usb-image-ro" : "--usb-image";
		struct stat st;
		int fd;

		if (u->kind != RUN_USB_IMAGE)
			continue;
		/* Stat first: a directory is named as such, not as EISDIR from the open. */
		if (stat(u->path, &st) == 0 && !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
			log_err("%s %s: not a regular file or block device", opt, u->path);
			return -1;
		}
		fd = open(u->path, (u->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			log_err("%s %s: %s", opt, u->path, strerror(errno));
			return -1;
		}
		v->boot_image_fd[i] = fd;
		if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
			log_err("%s %s: not a regular file or block device", opt, u->path);
			return -1;
		}
	}
	return 0;
}

/*
 * --usb and --usb-image: attached before the guest runs, through the same
 * path as a control request (the broker decides on host devices). The
 * controller reports them to the guest's driver once it starts the
 * controller (connect status after its reset). Any failure stops the start.
 */
static int vmm_attach_at_boot(struct vmm *v)
{
	for (uint32_t i = 0; i < v->o->nusb; i++) {
		const struct run_usb *u = &v->o->usb[i];
		enum control_target target = u->kind == RUN_USB_IMAGE ? CONTROL_TARGET_IMAGE :
					     u->path[0] == '/' ? CONTROL_TARGET_NODE : CONTROL_TARGET_ID;
		struct control_request req;
		struct control_reply rep;
		int fd = -1;

		if (!v->proxy_ready) {
			log_err("cannot attach %s at boot: the USB controller did not start", u->path);
			return -1;
		}
		if (control_request_attach(&req, target, u->read_only ? CONTROL_ATTACH_READONLY : 0,
					   u->path) < 0) {
			log_err("cannot attach %s at boot: invalid path", u->path);
			return -1;
		}
		fd = v->boot_image_fd[i];
		v->boot_image_fd[i] = -1;
		control_reply_init(&rep, CONTROL_USB_ATTACH);
		usb_control_attach(&v->usb, &req, fd, &rep);
		if (fd >= 0)
			close(fd);
		if (rep.status != SVMM_OK) {
			log_err("cannot attach %s at boot: %s: %s", u->path, svmm_status_name(rep.status),
				rep.message);
			return -1;
		}
		log_info("attached %s at boot on port %u", u->path, rep.port);
	}
	return 0;
}

int vmm_main(const struct run_options *o)
{
	static struct vmm vmm;	/* large (vCPU array); one VM per process */
	struct vmm *v = &vmm;
	char err[512];
	int status = 1;

	log_set_role("vmm");
	if (o->verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	memset(v, 0, sizeof(*v));
	v->o = o;
	v->initrd_fd = v->sig_fd = v->exit_fd = v->broker_sock = -1;
	for (uint32_t i = 0; i < VMM_MAX_BOOT_USB; i++)
		v->boot_image_fd[i] = -1;

	/* Everything the user can get wrong is checked before anything starts. */
	if (vmm_check_memory(o) < 0 || vmm_read_kernel(v) < 0 || vmm_open_initrd(v) < 0 ||
	    vmm_open_boot_images(v) < 0)
		goto out;
	if (vmm_start_broker(v, err, sizeof(err)) < 0 || vmm_name_self(v, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	v->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->exit_fd < 0 || vmm_signals(v) < 0) {
		log_err("cannot set up signal handling: %s", strerror(errno));
		goto out;
	}
	v->usb = (struct usb_control){ .dev = &v->dev, .broker_sock = v->broker_sock, .stop = vmm_stop,
				       .stop_opaque = v, .event = vmm_usb_event, .event_opaque = &v->control };
	if (control_server_open(&v->control, o->control, &usb_control_ops, &v->usb, err,
				sizeof(err)) < 0) {
		log_err("%s", err);
		goto out;
	}
	v->control_open = true;

	if (vmm_start_device(v) < 0)
		goto out;
	if (vmm_build(v) < 0 || vmm_attach_at_boot(v) < 0)
		goto out;

	v->stdin_open = terminal_raw(&v->term, STDIN_FILENO);
	vmm_start_locked_down(v);
	vmm_loop(v);
	status = v->exit_status;
out:
	if (!vmm_teardown(v))
		status = 1;
	return status;
}
