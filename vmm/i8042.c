/* SPDX-License-Identifier: MIT */
#include "vmm/i8042.h"

#include <string.h>

#define STATUS_OBF 0x01
#define STATUS_SYS 0x04
#define STATUS_CMD 0x08
#define STATUS_UNLOCKED 0x10	/* set: the keyboard is not inhibited by a keylock */
#define STATUS_AUXDATA 0x20
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

void i8042_init(struct i8042 *k, void (*reset)(void *opaque),
		void (*irq)(void *opaque, unsigned int line), void *opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->irq = irq;
	k->opaque = opaque;
	k->ctr = CTR_KBDINT | CTR_SYS | CTR_XLATE;
}

/* Returns the IRQ line to pulse after unlocking, or 0. */
static unsigned int i8042_output(struct i8042 *k, uint8_t v, bool aux)
{
	k->out = v;
	k->out_full = true;
	k->out_aux = aux;
	if (aux && (k->ctr & CTR_AUXINT))
		return 12;
	if (!aux && (k->ctr & CTR_KBDINT))
		return 1;
	return 0;
}

/* Returns true if the guest asked for a reset. */
static bool i8042_command(struct i8042 *k, uint8_t cmd, unsigned int *irq)
{
	switch (cmd) {
	case 0x20:	/* read command byte */
		*irq = i8042_output(k, k->ctr, false);
		break;
	case 0x60:	/* write command byte */
	case 0xd1:	/* write output port */
	case 0xd2:	/* write keyboard output buffer */
	case 0xd3:	/* write AUX output buffer */
	case 0xd4:	/* write to the AUX device */
		k->pending = cmd;
		break;
	case 0xa7:
		k->ctr |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->ctr &= (uint8_t)~CTR_AUXDIS;
		break;
	case 0xa9:	/* AUX interface test: passed */
	case 0xab:	/* keyboard interface test: passed */
		*irq = i8042_output(k, 0x00, false);
		break;
	case 0xaa:	/* controller self test: passed */
		*irq = i8042_output(k, 0x55, false);
		break;
	case 0xad:
		k->ctr |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	case 0xd0:	/* read output port: reset line high, A20 on */
		*irq = i8042_output(k, 0x03, false);
		break;
	case 0xfe:	/* pulse the reset line */
		return true;
	default:
		break;
	}
	return false;
}

static bool i8042_data(struct i8042 *k, uint8_t v, unsigned int *irq)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	switch (cmd) {
	case 0x60:
		k->ctr = v;
		break;
	case 0xd1:
		return !(v & 0x01);	/* bit 0 is the CPU reset line, active low */
	case 0xd2:
		*irq = i8042_output(k, v, false);
		break;
	case 0xd3:
		*irq = i8042_output(k, v, true);
		break;
	default:
		break;	/* to the keyboard or mouse, neither of which is there */
	}
	return false;
}

static uint8_t i8042_status(const struct i8042 *k)
{
	return STATUS_UNLOCKED | (k->out_full ? STATUS_OBF : 0) | (k->out_full && k->out_aux ? STATUS_AUXDATA : 0) |
	       (k->ctr & CTR_SYS ? STATUS_SYS : 0) | (k->last_was_cmd ? STATUS_CMD : 0);
}

static void i8042_io(struct i8042 *k, bool cmd_port, uint8_t *data, uint32_t len, bool is_write)
{
	unsigned int irq = 0;
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	if (is_write) {
		k->last_was_cmd = cmd_port;
		reset = cmd_port ? i8042_command(k, data[0], &irq) : i8042_data(k, data[0], &irq);
	} else if (cmd_port) {
		data[0] = i8042_status(k);
	} else {
		data[0] = k->out;
		k->out_full = false;
	}
	for (uint32_t i = 1; i < len && !is_write; i++)
		data[i] = 0xff;
	pthread_mutex_unlock(&k->lock);
	/* Outside the lock: a reset tears the VM down, an IRQ goes to KVM. */
	if (irq && k->irq)
		k->irq(k->opaque, irq);
	if (reset && k->reset)
		k->reset(k->opaque);
}

void i8042_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)offset;
	i8042_io(opaque, false, data, len, is_write);
}

void i8042_cmd_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	(void)offset;
	i8042_io(opaque, true, data, len, is_write);
}
