/* SPDX-License-Identifier: MIT */
/* The emulated devices: 16550 serial, i8042, PCI config mechanism #1, the I/O bus. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "vmm/i8042.h"
#include "vmm/io_bus.h"
#include "vmm/pci_bus.h"
#include "vmm/serial.h"

static int irq_level = -1, irq_changes;

static void set_irq(void *opaque, int level)
{
	(void)opaque;
	irq_level = level;
	irq_changes++;
}

static uint8_t rd(struct serial *s, unsigned int reg)
{
	uint8_t v = 0;

	serial_io(s, reg, &v, 1, false);
	return v;
}

static void wr(struct serial *s, unsigned int reg, uint8_t v)
{
	serial_io(s, reg, &v, 1, true);
}

Test(serial, transmits_to_the_output_fd)
{
	struct serial s;
	int p[2];
	char buf[8] = "";

	cr_assert_eq(pipe(p), 0);
	serial_init(&s, p[1], set_irq, NULL);
	wr(&s, 0, 'h');
	wr(&s, 0, 'i');
	cr_assert_eq(read(p[0], buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "hi");
	cr_assert_eq(rd(&s, 5) & 0x60, 0x60, "THRE and TEMT: always ready");
	close(p[0]);
	close(p[1]);
}

static void *write_one_byte(void *opaque)
{
	wr(opaque, 0, 'x');
	return NULL;
}

/*
 * A vCPU whose byte cannot go out (a paused terminal, a pipe no one reads)
 * waits in write(); the main thread's input must not wait behind it.
 */
Test(serial, a_stalled_output_holds_up_only_the_writer, .timeout = 20)
{
	struct serial s;
	pthread_t writer;
	int p[2];
	char buf[4096];

	cr_assert_eq(pipe(p), 0);
	serial_init(&s, p[1], set_irq, NULL);
	memset(buf, 'f', sizeof(buf));
	/* Fill the pipe, then leave it blocking, as a console is. */
	cr_assert_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	while (write(p[1], buf, sizeof(buf)) > 0)
		;
	cr_assert_eq(fcntl(p[1], F_SETFL, 0), 0);
	cr_assert_eq(pthread_create(&writer, NULL, write_one_byte, &s), 0);
	usleep(100 * 1000);	/* let it reach write() */
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"k", 1), 1);
	cr_assert_gt(serial_rx_room(&s), 0);
	while (read(p[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		;
	cr_assert_eq(pthread_join(writer, NULL), 0);
	close(p[0]);
	close(p[1]);
}

Test(serial, loopback_as_the_linux_probe_checks)
{
	struct serial s;

	serial_init(&s, -1, set_irq, NULL);
	wr(&s, 4, 0x10 | 0x0a);	/* LOOP | OUT2 | RTS */
	cr_assert_eq(rd(&s, 6) & 0xf0, 0x90);
	wr(&s, 0, 'x');
	cr_assert(rd(&s, 5) & 0x01, "looped byte is received");
	cr_assert_eq(rd(&s, 0), 'x');
	/* Scratch register and the divisor latch. */
	wr(&s, 7, 0xa5);
	cr_assert_eq(rd(&s, 7), 0xa5);
	wr(&s, 3, 0x80);
	wr(&s, 0, 0x01);
	wr(&s, 1, 0x00);
	cr_assert_eq(rd(&s, 0), 0x01);
	wr(&s, 3, 0x03);
	wr(&s, 2, 0x01);	/* FIFO on: a 16550A reports 0xc0 in IIR */
	cr_assert_eq(rd(&s, 2) & 0xc0, 0xc0);
}

Test(serial, receive_raises_and_lowers_the_interrupt)
{
	struct serial s;
	uint8_t many[100];

	irq_level = -1;
	irq_changes = 0;
	serial_init(&s, -1, set_irq, NULL);
	wr(&s, 4, 0x08);	/* OUT2 gates the line */
	wr(&s, 1, 0x01);	/* receive interrupt */
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"ab", 2), 2);
	cr_assert_eq(irq_level, 1);
	cr_assert_eq(rd(&s, 2) & 0x0f, 0x04, "IIR: received data");
	cr_assert_eq(rd(&s, 0), 'a');
	cr_assert_eq(rd(&s, 0), 'b');
	cr_assert_eq(irq_level, 0);
	cr_assert_eq(rd(&s, 2) & 0x0f, 0x01, "IIR: nothing pending");
	memset(many, 'z', sizeof(many));
	cr_assert_eq(serial_receive(&s, many, sizeof(many)), SERIAL_FIFO_SIZE);
	cr_assert_eq(serial_rx_room(&s), 0);
	/* THRE interrupt while enabled, none without OUT2. */
	wr(&s, 2, 0x02);	/* clear the receive FIFO */
	wr(&s, 1, 0x02);
	cr_assert_eq(irq_level, 1);
	cr_assert_eq(rd(&s, 2) & 0x0f, 0x02);
	wr(&s, 4, 0x00);
	cr_assert_eq(irq_level, 0);
}

static int resets, irqs;

static void on_reset(void *o)
{
	(void)o;
	resets++;
}

static void on_irq(void *o, unsigned int line)
{
	(void)o;
	cr_assert_eq(line, 1);
	irqs++;
}

static uint8_t kbd(struct i8042 *k, bool cmd, bool write, uint8_t v)
{
	if (cmd)
		i8042_cmd_io(k, 0, &v, 1, write);
	else
		i8042_data_io(k, 0, &v, 1, write);
	return v;
}

Test(i8042, probe_answers_and_reset_ends)
{
	struct i8042 k;

	resets = irqs = 0;
	i8042_init(&k, on_reset, on_irq, NULL);
	cr_assert_eq(kbd(&k, true, false, 0) & 0x01, 0, "output buffer empty");
	cr_assert(kbd(&k, true, false, 0) & 0x10, "not keylocked");
	kbd(&k, true, true, 0xaa);
	cr_assert(kbd(&k, true, false, 0) & 0x01);
	cr_assert_eq(kbd(&k, false, false, 0), 0x55, "self test passed");
	kbd(&k, true, true, 0x60);	/* write CTR */
	kbd(&k, false, true, 0x00);
	kbd(&k, true, true, 0x20);	/* read it back */
	cr_assert_eq(kbd(&k, false, false, 0), 0x00);
	cr_assert_eq(resets, 0);
	kbd(&k, true, true, 0xd3);	/* AUX loop */
	kbd(&k, false, true, 0x5a);
	cr_assert_eq(kbd(&k, true, false, 0) & 0x21, 0x21, "AUX data waiting");
	cr_assert_eq(kbd(&k, false, false, 0), 0x5a);
	kbd(&k, true, true, 0xfe);
	cr_assert_eq(resets, 1);
	kbd(&k, true, true, 0xd1);	/* output port with the reset line low */
	kbd(&k, false, true, 0x00);
	cr_assert_eq(resets, 2);
}

static uint32_t fn_cfg[64];
static const uint32_t *last_write;

static uint32_t fn_read(void *o, unsigned int off, unsigned int size)
{
	uint32_t v = 0;

	(void)o;
	memcpy(&v, (uint8_t *)fn_cfg + off, size);
	return v;
}

static void fn_write(void *o, unsigned int off, unsigned int size, uint32_t v)
{
	(void)o;
	memcpy((uint8_t *)fn_cfg + off, &v, size);
	last_write = &fn_cfg[off / 4];
}

static const struct pci_function_ops fn_ops = { fn_read, fn_write };

static uint32_t cfg(struct pci_bus *bus, uint32_t addr, unsigned int port_off, unsigned int len)
{
	uint32_t v = 0;

	pci_bus_io(bus, 0, (uint8_t *)&addr, 4, true);
	pci_bus_io(bus, 4 + port_off, (uint8_t *)&v, len, false);
	return v;
}

Test(pci_bus, config_mechanism_one)
{
	struct pci_bus bus;
	uint32_t v = 0x80000000;

	pci_bus_init(&bus);
	fn_cfg[0] = 0x000d1b36;
	cr_assert_eq(pci_bus_register(&bus, 1, &fn_ops, NULL), 0);
	cr_assert_neq(pci_bus_register(&bus, 1, &fn_ops, NULL), 0, "slot taken");
	cr_assert_neq(pci_bus_register(&bus, 0, &fn_ops, NULL), 0, "slot 0 is the host bridge");
	/* Linux's type 1 check: the address register reads back. */
	pci_bus_io(&bus, 0, (uint8_t *)&v, 4, true);
	v = 0;
	pci_bus_io(&bus, 0, (uint8_t *)&v, 4, false);
	cr_assert_eq(v, 0x80000000);
	cr_assert_eq(cfg(&bus, 0x80000000, 0, 4), (PCI_HOST_BRIDGE_DEVICE << 16) | PCI_HOST_BRIDGE_VENDOR);
	cr_assert_eq(cfg(&bus, 0x80000008, 2, 2), 0x0600, "host bridge class");
	cr_assert_eq(cfg(&bus, 0x80000800, 0, 4), 0x000d1b36);
	cr_assert_eq(cfg(&bus, 0x80000800, 2, 2), 0x000d);
	cr_assert_eq(cfg(&bus, 0x80001000, 0, 4), 0xffffffff, "empty slot");
	cr_assert_eq(cfg(&bus, 0x80000900, 0, 4), 0xffffffff, "function 1");
	cr_assert_eq(cfg(&bus, 0x80010800, 0, 4), 0xffffffff, "bus 1");
	cr_assert_eq(cfg(&bus, 0x00000800, 0, 4), 0xffffffff, "enable bit clear");
	v = 0x12345678;
	cfg(&bus, 0x80000810, 0, 4);
	pci_bus_io(&bus, 4, (uint8_t *)&v, 4, true);
	cr_assert_eq(fn_cfg[4], 0x12345678);
	cr_assert_eq(last_write, &fn_cfg[4]);
}

static int hits;

static void count(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	(void)o;
	(void)d;
	(void)len;
	(void)w;
	hits += (int)off + 1;
}

Test(io_bus, dispatch_overlap_and_removal)
{
	struct io_bus bus;
	uint8_t d[4];

	io_bus_init(&bus);
	hits = 0;
	cr_assert_eq(io_bus_add(&bus, 0x1000, 0x10, count, &bus), 0);
	cr_assert_eq(io_bus_add(&bus, 0x100f, 0x10, count, &bus), -EBUSY);
	cr_assert_eq(io_bus_add(&bus, 0xffffffffffffff00ull, 0x200, count, &bus), -EINVAL);
	cr_assert(io_bus_dispatch(&bus, 0x1003, d, 1, false));
	cr_assert_eq(hits, 4);
	cr_assert_not(io_bus_dispatch(&bus, 0x1010, d, 1, false));
	io_bus_remove(&bus, 0x1000, &bus);
	cr_assert_not(io_bus_dispatch(&bus, 0x1003, d, 1, false));
}

/* A BAR that moves itself: the handler of a write moves its own range, as the PCI proxy does. */
struct moving_bar {
	struct io_bus *bus;
	uint64_t base;
};

static void move_on_write(void *o, uint64_t off, uint8_t *d, uint32_t len, bool w)
{
	struct moving_bar *m = o;
	uint64_t to;

	(void)off;
	(void)len;
	if (!w)
		return;
	memcpy(&to, d, sizeof(to));
	io_bus_remove(m->bus, m->base, m);
	cr_assert_eq(io_bus_add(m->bus, to, 0x10, move_on_write, m), 0);
	m->base = to;
}

/* Until fbe6788 the handler ran under the bus's read lock: the move waited for itself forever. */
Test(io_bus, a_handler_may_move_its_own_range, .timeout = 30)
{
	struct io_bus bus;
	struct moving_bar m = { &bus, 0x1000 };
	uint64_t to = 0x2000;

	io_bus_init(&bus);
	cr_assert_eq(io_bus_add(&bus, 0x1000, 0x10, move_on_write, &m), 0);
	cr_assert(io_bus_dispatch(&bus, 0x1000, (uint8_t *)&to, sizeof(to), true));
	cr_assert_eq(m.base, 0x2000);
	cr_assert_not(io_bus_dispatch(&bus, 0x1000, (uint8_t *)&to, sizeof(to), false));
	cr_assert(io_bus_dispatch(&bus, 0x2008, (uint8_t *)&to, sizeof(to), false));
}
