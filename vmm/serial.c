/* SPDX-License-Identifier: MIT */
#include "vmm/serial.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Register offsets and bits, as Linux's <linux/serial_reg.h> names them. */
#define UART_RX 0
#define UART_TX 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO_BITS 0xc0
#define UART_FCR_ENABLE_FIFO 0x01
#define UART_FCR_CLEAR_RCVR 0x02
#define UART_LCR_DLAB 0x80
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

void serial_init(struct serial *s, int out_fd, void (*set_irq)(void *opaque, int level),
		 void *irq_opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->set_irq = set_irq;
	s->irq_opaque = irq_opaque;
	s->iir = UART_IIR_NO_INT;
	s->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	s->mcr = UART_MCR_OUT2;
}

/*
 * Transmission is instantaneous, so the transmitter is always empty: the
 * THRE interrupt stands for as long as the guest enables it, and the
 * 8250 driver turns it off when it has nothing left to send (as kvmtool).
 */
static void serial_update_irq(struct serial *s)
{
	uint8_t iir = 0;

	if ((s->ier & UART_IER_RDI) && s->rx_count)
		iir = UART_IIR_RDI;
	else if ((s->ier & UART_IER_THRI) && (s->lsr & UART_LSR_TEMT))
		iir = UART_IIR_THRI;
	s->iir = iir ? iir : UART_IIR_NO_INT;
	/* OUT2 gates the interrupt line on PC UARTs. */
	bool level = iir && (s->mcr & UART_MCR_OUT2);
	if (level != s->irq_level) {
		s->irq_level = level;
		if (s->set_irq)
			s->set_irq(s->irq_opaque, level);
	}
}

static void serial_push_rx(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_FIFO_SIZE)
		return;	/* overrun: the byte is lost, as on hardware */
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = c;
	s->rx_count++;
}

/* The bytes one access sends out, written after the lock is dropped. */
struct serial_tx {
	uint8_t bytes[SERIAL_PORTS];
	uint32_t n;
};

static void serial_transmit(struct serial *s, uint8_t c, struct serial_tx *tx)
{
	if (s->mcr & UART_MCR_LOOP) {
		serial_push_rx(s, c);
		return;
	}
	if (s->out_fd >= 0 && tx->n < sizeof(tx->bytes))
		tx->bytes[tx->n++] = c;
}

/*
 * Outside the lock: a stalled output (a paused terminal, a pipe no one
 * reads) holds up the vCPU that wrote, never the main thread's input.
 */
static void serial_flush(const struct serial *s, const struct serial_tx *tx)
{
	uint32_t done = 0;

	while (done < tx->n) {
		ssize_t n = write(s->out_fd, tx->bytes + done, tx->n - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		done += (uint32_t)n;
	}
}

static uint8_t serial_msr(const struct serial *s)
{
	uint8_t msr = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return s->msr;
	/* Loopback wires the modem outputs back to the inputs; Linux's probe checks this. */
	if (s->mcr & UART_MCR_OUT2)
		msr |= UART_MSR_DCD;
	if (s->mcr & UART_MCR_OUT1)
		msr |= UART_MSR_RI;
	if (s->mcr & UART_MCR_RTS)
		msr |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		msr |= UART_MSR_DSR;
	return msr;
}

static uint8_t serial_read(struct serial *s, unsigned int reg)
{
	uint8_t v = 0;

	switch (reg) {
	case UART_RX:
		if (s->lcr & UART_LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
			s->rx_count--;
		}
		return v;
	case UART_IER:
		return (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		return s->iir | ((s->fcr & UART_FCR_ENABLE_FIFO) ? UART_IIR_FIFO_BITS : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return s->lsr | (s->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		return serial_msr(s);
	default:
		return s->scr;
	}
}

static void serial_write(struct serial *s, unsigned int reg, uint8_t v, struct serial_tx *tx)
{
	switch (reg) {
	case UART_TX:
		if (s->lcr & UART_LCR_DLAB)
			s->dll = v;
		else
			serial_transmit(s, v, tx);
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case UART_FCR:
		s->fcr = v & (UART_FCR_ENABLE_FIFO | 0xc0);
		if (v & UART_FCR_CLEAR_RCVR)
			s->rx_head = s->rx_count = 0;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_LSR:
	case UART_MSR:
		break;	/* read-only */
	default:
		s->scr = v;
		break;
	}
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;
	struct serial_tx tx = { .n = 0 };

	pthread_mutex_lock(&s->lock);
	/* Byte registers; a wider access touches consecutive ones. */
	for (uint32_t i = 0; i < len && offset + i < SERIAL_PORTS; i++) {
		if (is_write)
			serial_write(s, (unsigned int)(offset + i), data[i], &tx);
		else
			data[i] = serial_read(s, (unsigned int)(offset + i));
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	serial_flush(s, &tx);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t done = 0;

	pthread_mutex_lock(&s->lock);
	while (done < n && s->rx_count < SERIAL_FIFO_SIZE)
		serial_push_rx(s, buf[done++]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return done;
}

size_t serial_rx_room(struct serial *s)
{
	size_t room;

	pthread_mutex_lock(&s->lock);
	room = SERIAL_FIFO_SIZE - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return room;
}
