/* SPDX-License-Identifier: MIT */
#include "vmm/pci_proxy.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "common/log.h"

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_BAR0 0x10
#define PCI_BAR1 0x14
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_BAR_MEM_TYPE_64 0x4
#define PCI_BAR_MEM_MASK (~(uint64_t)0xf)

static uint32_t all_ones(unsigned int size)
{
	return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

/*
 * Doorbells (docs/protocol.md, "Doorbells"): the first nbare have a bare
 * ioeventfd from the start; a value doorbell's first write of each value is
 * a posted BAR write, after which that (register, value) pair gets an
 * ioeventfd with datamatch, if one of the PCI_PROXY_VALUE_DOORBELLS eventfds
 * made at setup is left (the VMM makes none once locked down). The doorbell
 * page, when the device declares it its own, reads as a read-only page of
 * zeros that needs no exit.
 */
static uint64_t doorbell_addr(const struct pci_proxy *p, unsigned int index)
{
	return p->bar_addr + p->db_offset + ((uint64_t)index << p->db_shift);
}

static int proxy_cfg_read(struct pci_proxy *p, unsigned int offset, unsigned int size, uint32_t *v)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_READ, 0);
	struct devproto_reply reply;
	int r;

	m.u.cfg.offset = offset;
	m.u.cfg.size = size;
	r = device_process_request(p->dev, &m, -1, &reply);
	if (r < 0)
		return r;
	if (reply.status != SVMM_OK)
		return -EIO;
	*v = (uint32_t)reply.value;
	return 0;
}

static int proxy_cfg_write(struct pci_proxy *p, unsigned int offset, unsigned int size, uint32_t v)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_CFG_WRITE, 0);
	struct devproto_reply reply;
	int r;

	m.u.cfg.offset = offset;
	m.u.cfg.size = size;
	m.u.cfg.value = v;
	r = device_process_request(p->dev, &m, -1, &reply);
	if (r < 0)
		return r;
	return reply.status == SVMM_OK ? 0 : -EIO;
}

static int proxy_bar_access(struct pci_proxy *p, bool write, uint64_t offset, uint32_t size,
			    uint64_t *value)
{
	struct devproto_msg m = devproto_bar_msg(write, offset, size, write ? *value : 0);
	struct devproto_reply reply;
	int r;

	r = device_process_request(p->dev, &m, -1, &reply);
	if (r < 0)
		return r;
	if (reply.status != SVMM_OK)
		return -EIO;
	if (!write)
		*value = reply.value;
	return 0;
}

/* A guest write: posted, as on PCI; a later read or doorbell runs after it (docs/protocol.md). */
static void proxy_bar_post(struct pci_proxy *p, uint64_t offset, uint32_t size, uint64_t value)
{
	struct devproto_msg m = devproto_bar_msg(true, offset, size, value);

	m.type = DEVPROTO_BAR_WRITE_POSTED;
	if (device_process_post(p->dev, &m) == 0)
		bar_mirror_posted(&p->mirror, m.seq, offset, size);
}

static bool is_doorbell(const struct pci_proxy *p, uint64_t offset)
{
	return offset - p->db_offset < p->db_len;	/* unsigned: below db_offset wraps past it */
}

/* offset and len are within the BAR (at most 1 MiB): no sum wraps. */
static bool is_posted(const struct pci_proxy *p, uint64_t offset, uint32_t len)
{
	return offset >= p->posted_offset && offset + len <= p->posted_end;
}

static struct proxy_value_doorbell *value_doorbell_find(struct pci_proxy *p, unsigned int index,
							uint32_t value, bool used)
{
	for (unsigned int i = 0; i < PCI_PROXY_VALUE_DOORBELLS; i++) {
		struct proxy_value_doorbell *db = &p->value_dbs[i];

		if (db->fd >= 0 && db->used == used &&
		    (!used || (db->index == index && db->value == value)))
			return db;
	}
	return NULL;
}

/* Gives (index, value) an ioeventfd of its own, if one is left; the write itself was posted. */
static void proxy_learn_doorbell(struct pci_proxy *p, unsigned int index, uint32_t value)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_DOORBELL_FD, 0);
	struct proxy_value_doorbell *db;
	struct devproto_reply reply;
	int r;

	if (index < p->nbare)
		return;
	pthread_mutex_lock(&p->lock);
	if (!p->mapped || p->value_dbs_off || value_doorbell_find(p, index, value, true) ||
	    !(db = value_doorbell_find(p, 0, 0, false)))
		goto out;
	m.u.doorbell.index = index;
	m.u.doorbell.flags = DEVPROTO_DOORBELL_VALUE;
	m.u.doorbell.value = value;
	r = device_process_request(p->dev, &m, db->fd, &reply);
	if (r == 0 && reply.status == SVMM_OK)
		r = kvm_vm_ioeventfd_value(p->vm, db->fd, doorbell_addr(p, index), 4, value, true);
	else if (r == 0)
		r = -EPROTO;
	if (r < 0) {
		/* The device may hold the fd now: this one is never handed out again. */
		log_warn("doorbell %u value 0x%x: no ioeventfd (%s); doorbells stay BAR writes",
			 index, value, strerror(-r));
		p->value_dbs_off = true;
		goto out;
	}
	db->used = true;
	db->index = index;
	db->value = value;
	log_debug("doorbell %u value 0x%x: its own ioeventfd", index, value);
out:
	pthread_mutex_unlock(&p->lock);
}

static void proxy_mmio(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_proxy *p = opaque;
	uint64_t v = 0;

	/* The protocol takes naturally aligned 1/2/4/8-byte accesses only; x86 MMIO is that. */
	if ((len != 1 && len != 2 && len != 4 && len != 8) || offset % len) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, len);
		if (!is_posted(p, offset, len))
			proxy_bar_access(p, true, offset, len, &v);
		else
			proxy_bar_post(p, offset, len, v);
		if (len == 4 && is_doorbell(p, offset) &&
		    ((offset - p->db_offset) & ((1ull << p->db_shift) - 1)) == 0)
			proxy_learn_doorbell(p, (unsigned int)((offset - p->db_offset) >> p->db_shift),
					     (uint32_t)v);
		return;
	}
	if (device_process_is_dead(p->dev))
		v = ~(uint64_t)0;	/* a dead function reads as all ones */
	else if (is_doorbell(p, offset))
		v = 0;			/* the doorbell region reads as 0 (docs/protocol.md) */
	else if (!bar_mirror_read(&p->mirror, device_process_sent_seq(p->dev), offset, len, &v) &&
		 proxy_bar_access(p, false, offset, len, &v) < 0)
		v = ~(uint64_t)0;
	memcpy(data, &v, len);
}

static void proxy_unmap_locked(struct pci_proxy *p)
{
	if (!p->mapped)
		return;
	for (unsigned int i = 0; i < p->nbare; i++)
		kvm_vm_ioeventfd(p->vm, p->db_fds[i], doorbell_addr(p, i), 4, false);
	for (unsigned int i = 0; i < PCI_PROXY_VALUE_DOORBELLS; i++) {
		struct proxy_value_doorbell *db = &p->value_dbs[i];

		if (db->used)
			kvm_vm_ioeventfd_value(p->vm, db->fd, doorbell_addr(p, db->index), 4, db->value,
					       false);
	}
	if (p->db_zero_page)
		kvm_vm_readonly_slot(p->vm, LAYOUT_KVM_SLOT_DOORBELL_PAGE, 0, 0, NULL);
	io_bus_remove(p->mmio, p->bar_addr, p);
	p->mapped = false;
	log_debug("%s BAR 0 unmapped from 0x%" PRIx64, p->dev->name, p->bar_addr);
}

static void proxy_map_locked(struct pci_proxy *p, uint64_t addr)
{
	int r = io_bus_add(p->mmio, addr, p->bar_size, proxy_mmio, p);

	if (r < 0) {
		log_warn("guest placed %s BAR 0 at 0x%" PRIx64 " where it cannot go: %s", p->dev->name,
			 addr, strerror(-r));
		return;
	}
	p->mapped = true;
	p->bar_addr = addr;
	for (unsigned int i = 0; i < p->nbare; i++) {
		r = kvm_vm_ioeventfd(p->vm, p->db_fds[i], doorbell_addr(p, i), 4, true);
		if (r < 0)
			log_warn("doorbell %u ioeventfd: %s (it goes through the VMM instead)", i,
				 strerror(-r));
	}
	for (unsigned int i = 0; i < PCI_PROXY_VALUE_DOORBELLS; i++) {
		struct proxy_value_doorbell *db = &p->value_dbs[i];

		if (db->used && (r = kvm_vm_ioeventfd_value(p->vm, db->fd, doorbell_addr(p, db->index),
							    4, db->value, true)) < 0) {
			log_warn("doorbell %u value 0x%x ioeventfd: %s (it goes through the VMM instead)",
				 db->index, db->value, strerror(-r));
			db->used = false;
			p->value_dbs_off = true;
		}
	}
	/* A guest may place the BAR over its RAM: KVM refuses the overlap, and reads exit. */
	if (p->db_zero_page &&
	    (r = kvm_vm_readonly_slot(p->vm, LAYOUT_KVM_SLOT_DOORBELL_PAGE, addr + p->db_offset,
				      DEVPROTO_PAGE_SIZE, p->db_zero_page)) < 0)
		log_warn("doorbell page at 0x%" PRIx64 " as read-only memory: %s (reads exit instead)",
			 addr + p->db_offset, strerror(-r));
	else if (p->db_zero_page)
		log_debug("doorbell page at 0x%" PRIx64 ": read-only memory", addr + p->db_offset);
	log_debug("%s BAR 0 mapped at 0x%" PRIx64 " (%" PRIu64 " KiB)", p->dev->name, addr,
		  p->bar_size >> 10);
}

/*
 * Follows the guest's BAR and command register programming. The registers
 * are read under the lock: of two vCPUs programming the BAR at once, the
 * last to get here reads the last values written, and the mapping ends as
 * the function's registers say.
 */
static void proxy_update_bar(struct pci_proxy *p)
{
	uint32_t cmd = 0, lo = 0, hi = 0;
	uint64_t addr;
	bool decode;

	pthread_mutex_lock(&p->lock);
	if (proxy_cfg_read(p, PCI_COMMAND, 2, &cmd) < 0 || proxy_cfg_read(p, PCI_BAR0, 4, &lo) < 0 ||
	    (p->bar64 && proxy_cfg_read(p, PCI_BAR1, 4, &hi) < 0))
		goto out;
	addr = (((uint64_t)hi << 32) | lo) & PCI_BAR_MEM_MASK;
	/* While sizing, the BAR reads back its mask; decoding is off then (Linux makes sure). */
	decode = (cmd & PCI_COMMAND_MEMORY) && addr != 0 && addr + p->bar_size > addr;
	if (p->mapped && (!decode || addr != p->bar_addr))
		proxy_unmap_locked(p);
	if (decode && !p->mapped)
		proxy_map_locked(p, addr);
out:
	pthread_mutex_unlock(&p->lock);
}

static uint32_t pci_proxy_cfg_read(void *opaque, unsigned int offset, unsigned int size)
{
	struct pci_proxy *p = opaque;
	uint32_t v;

	if (device_process_is_dead(p->dev))
		return all_ones(size);	/* a dead function reads as an empty slot */
	if (bar_mirror_cfg_read(&p->mirror, device_process_sent_seq(p->dev), offset, size, &v))
		return v;
	if (proxy_cfg_read(p, offset, size, &v) < 0)
		return all_ones(size);
	return v;
}

static void pci_proxy_cfg_write(void *opaque, unsigned int offset, unsigned int size, uint32_t value)
{
	struct pci_proxy *p = opaque;
	unsigned int end = offset + size;

	if (proxy_cfg_write(p, offset, size, value) < 0)
		return;
	if ((offset < PCI_COMMAND + 2 && end > PCI_COMMAND) ||
	    (offset < PCI_BAR0 + (p->bar64 ? 8 : 4) && end > PCI_BAR0))
		proxy_update_bar(p);
}

const struct pci_function_ops pci_proxy_ops = {
	.cfg_read = pci_proxy_cfg_read,
	.cfg_write = pci_proxy_cfg_write,
};

/* What firmware does: find the BAR's size (write all-ones, read back the mask). */
static int proxy_size_bar(struct pci_proxy *p)
{
	uint32_t lo, hi = 0xffffffffu, mask_lo, mask_hi = 0xffffffffu;
	uint64_t mask;
	int r;

	if ((r = proxy_cfg_read(p, PCI_BAR0, 4, &lo)) < 0)
		return r;
	if (lo & 0x1) {
		log_err("%s BAR 0 is an I/O BAR", p->dev->name);
		return -EPROTO;
	}
	p->bar64 = (lo & 0x6) == PCI_BAR_MEM_TYPE_64;
	if ((r = proxy_cfg_write(p, PCI_BAR0, 4, 0xffffffffu)) < 0 ||
	    (r = proxy_cfg_read(p, PCI_BAR0, 4, &mask_lo)) < 0 ||
	    (r = proxy_cfg_write(p, PCI_BAR0, 4, lo)) < 0)
		return r;
	if (p->bar64) {
		if ((r = proxy_cfg_read(p, PCI_BAR1, 4, &hi)) < 0 ||
		    (r = proxy_cfg_write(p, PCI_BAR1, 4, 0xffffffffu)) < 0 ||
		    (r = proxy_cfg_read(p, PCI_BAR1, 4, &mask_hi)) < 0 ||
		    (r = proxy_cfg_write(p, PCI_BAR1, 4, hi)) < 0)
			return r;
	}
	mask = (((uint64_t)mask_hi << 32) | mask_lo) & PCI_BAR_MEM_MASK;
	p->bar_size = ~mask + 1;
	if (!mask || p->bar_size != p->dev->desc.bar_size) {
		log_err("%s BAR 0 sizes as mask 0x%" PRIx64 ", not the %u bytes it declared",
			p->dev->name, mask, p->dev->desc.bar_size);
		return -EPROTO;
	}
	return 0;
}

static int proxy_send_fd(struct pci_proxy *p, enum devproto_type type, uint32_t index, int fd)
{
	struct devproto_msg m = devproto_msg_init(type, 0);
	struct devproto_reply reply;
	int r;

	if (type == DEVPROTO_DOORBELL_FD)
		m.u.doorbell.index = index;
	else
		m.u.irq.vector = index;
	r = device_process_request(p->dev, &m, fd, &reply);
	if (r < 0)
		return r;
	return reply.status == SVMM_OK ? 0 : -EPROTO;
}

/* The read-only page of zeros the doorbell page maps (value doorbells, above). */
static void proxy_setup_doorbell_page(struct pci_proxy *p)
{
	static const uint8_t zeros[DEVPROTO_PAGE_SIZE];
	void *page;
	int fd;

	if (!p->vm->readonly_mem || !(p->dev->desc.flags & DEVPROTO_DESC_DB_PAGE)) {
		log_debug("doorbell reads exit to the VMM (%s)",
			  p->vm->readonly_mem ? "the doorbells share their page" :
						"KVM has no read-only memory");
		return;
	}
	fd = memfd_create("svmm-doorbell-page", MFD_CLOEXEC);
	/* Written, not only sized: KVM maps a page that exists. */
	if (fd < 0 || pwrite(fd, zeros, sizeof(zeros), 0) != (ssize_t)sizeof(zeros)) {
		log_warn("doorbell page: %s (reads exit to the VMM)", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	page = mmap(NULL, DEVPROTO_PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (page == MAP_FAILED) {
		log_warn("doorbell page: %s (reads exit to the VMM)", strerror(errno));
		return;
	}
	p->db_zero_page = page;
}

/* The doorbells and posted writes of the checked description (devproto_desc_check). */
static int proxy_setup_doorbells(struct pci_proxy *p)
{
	const struct devproto_desc *d = &p->dev->desc;
	int r;

	p->ndoorbells = d->db_count;
	p->nbare = d->db_value_first;
	p->db_offset = d->db_offset;
	p->db_len = (uint64_t)d->db_stride * d->db_count;
	p->db_shift = d->db_count ? (unsigned int)__builtin_ctz(d->db_stride) : 0;
	p->posted_offset = d->posted_offset;
	p->posted_end = (uint64_t)d->posted_offset + d->posted_size;
	for (unsigned int i = 0; i < p->nbare; i++) {
		p->db_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->db_fds[i] < 0)
			return -errno;
		if ((r = proxy_send_fd(p, DEVPROTO_DOORBELL_FD, i, p->db_fds[i])) < 0)
			return r;
	}
	for (unsigned int i = 0; p->nbare < p->ndoorbells && i < PCI_PROXY_VALUE_DOORBELLS; i++) {
		p->value_dbs[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->value_dbs[i].fd < 0)
			return -errno;
	}
	proxy_setup_doorbell_page(p);
	return 0;
}

/* Without a mirror every read is a round trip: slower, not wrong. */
static void proxy_setup_mirror(struct pci_proxy *p)
{
	struct devproto_msg m = devproto_msg_init(DEVPROTO_REG_MIRROR, 0);
	struct devproto_reply reply;
	int fd, r;

	r = bar_mirror_create(&p->mirror, &fd);
	if (r < 0) {
		log_warn("no %s register mirror (%s): every register read goes to the device",
			 p->dev->name, strerror(-r));
		return;
	}
	m.u.mirror.size = DEVPROTO_MIRROR_SIZE;
	r = device_process_request(p->dev, &m, fd, &reply);
	close(fd);
	if (r < 0 || reply.status != SVMM_OK) {
		log_warn("the %s device process refused the register mirror", p->dev->name);
		bar_mirror_destroy(&p->mirror);
		return;
	}
	bar_mirror_set_rules(&p->mirror, &p->dev->desc);
}

static int proxy_setup_vectors(struct pci_proxy *p)
{
	int r;

	/* devproto_desc_check capped it at DEVPROTO_MAX_VECTORS; KVM's routes are the other cap. */
	p->nvectors = p->dev->desc.nvectors;
	if (p->nvectors > KVM_MSI_ROUTES_MAX)
		p->nvectors = KVM_MSI_ROUTES_MAX;
	for (unsigned int v = 0; v < p->nvectors; v++) {
		p->irq_fds[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->irq_fds[v] < 0)
			return -errno;
		if ((r = kvm_vm_irqfd(p->vm, p->irq_fds[v], LAYOUT_GSI_MSI_BASE + v, true)) < 0) {
			log_err("irqfd for MSI-X vector %u: %s", v, strerror(-r));
			return r;
		}
		if ((r = proxy_send_fd(p, DEVPROTO_IRQ_FD, v, p->irq_fds[v])) < 0)
			return r;
	}
	return 0;
}

int pci_proxy_init(struct pci_proxy *p, struct device_process *dev, struct kvm_vm *vm,
		   struct io_bus *mmio)
{
	uint32_t cmd;
	int r;

	memset(p, 0, sizeof(*p));
	p->dev = dev;
	p->vm = vm;
	p->mmio = mmio;
	pthread_mutex_init(&p->lock, NULL);
	for (unsigned int i = 0; i < DEVPROTO_MAX_DOORBELLS; i++)
		p->db_fds[i] = -1;
	for (unsigned int i = 0; i < DEVPROTO_MAX_VECTORS; i++)
		p->irq_fds[i] = -1;
	for (unsigned int i = 0; i < PCI_PROXY_VALUE_DOORBELLS; i++)
		p->value_dbs[i].fd = -1;

	if ((r = proxy_size_bar(p)) < 0)
		goto fail;
	if ((r = proxy_setup_doorbells(p)) < 0)
		goto fail;
	if ((r = proxy_setup_vectors(p)) < 0)
		goto fail;
	proxy_setup_mirror(p);
	/* Firmware's placement; Linux keeps an assignment that fits its windows. */
	if ((r = proxy_cfg_write(p, PCI_BAR0, 4, (uint32_t)LAYOUT_DEVICE_BAR0)) < 0 ||
	    (p->bar64 && (r = proxy_cfg_write(p, PCI_BAR1, 4, (uint32_t)(LAYOUT_DEVICE_BAR0 >> 32))) < 0) ||
	    (r = proxy_cfg_write(p, PCI_INTERRUPT_LINE, 1, LAYOUT_IRQ_PCI_INTX)) < 0 ||
	    (r = proxy_cfg_read(p, PCI_COMMAND, 2, &cmd)) < 0 ||
	    (r = proxy_cfg_write(p, PCI_COMMAND, 2, cmd | PCI_COMMAND_MEMORY)) < 0)
		goto fail;
	proxy_update_bar(p);
	if (!p->mapped) {
		log_err("%s BAR 0 did not take its address", dev->name);
		r = -EPROTO;
		goto fail;
	}
	log_info("%s at 00:%02x.0: BAR 0 at 0x%" PRIx64 " (%" PRIu64 " KiB), %u doorbells, "
		 "%u MSI-X vectors, %u ports", dev->name, LAYOUT_PCI_SLOT_DEVICE, p->bar_addr,
		 p->bar_size >> 10, p->ndoorbells, p->nvectors, dev->desc.nports);
	return 0;
fail:
	if (r == -ENODEV || device_process_is_dead(dev))
		log_err("the %s device process failed during setup", dev->name);
	pci_proxy_destroy(p);
	return r;
}

void pci_proxy_destroy(struct pci_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	proxy_unmap_locked(p);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < DEVPROTO_MAX_DOORBELLS; i++) {
		if (p->db_fds[i] >= 0)
			close(p->db_fds[i]);
		p->db_fds[i] = -1;
	}
	for (unsigned int i = 0; i < PCI_PROXY_VALUE_DOORBELLS; i++) {
		if (p->value_dbs[i].fd >= 0)
			close(p->value_dbs[i].fd);
		p->value_dbs[i].fd = -1;
		p->value_dbs[i].used = false;
	}
	if (p->db_zero_page)
		munmap((void *)p->db_zero_page, DEVPROTO_PAGE_SIZE);
	p->db_zero_page = NULL;
	for (unsigned int v = 0; v < DEVPROTO_MAX_VECTORS; v++) {
		if (p->irq_fds[v] >= 0) {
			kvm_vm_irqfd(p->vm, p->irq_fds[v], LAYOUT_GSI_MSI_BASE + v, false);
			close(p->irq_fds[v]);
		}
		p->irq_fds[v] = -1;
	}
	bar_mirror_destroy(&p->mirror);
}

void pci_proxy_event(struct pci_proxy *p, const struct devproto_msg *m)
{
	int r;

	switch (m->type) {
	case DEVPROTO_MSIX_ROUTE:
		if (m->u.msix.vector >= p->nvectors) {
			log_warn("%s routed MSI-X vector %u, which it does not have", p->dev->name,
				 m->u.msix.vector);
			return;
		}
		r = kvm_vm_set_msi_route(p->vm, m->u.msix.vector, !m->u.msix.masked,
					 m->u.msix.address, m->u.msix.data);
		if (r < 0)
			log_warn("MSI-X vector %u route: %s", m->u.msix.vector, strerror(-r));
		else if (!m->u.msix.masked && !p->msix_seen) {
			p->msix_seen = true;
			log_info("the guest enabled %s MSI-X (vector %u to 0x%" PRIx64 "/0x%x): "
				 "interrupts go through KVM irqfds", p->dev->name, m->u.msix.vector,
				 m->u.msix.address, m->u.msix.data);
		}
		break;
	case DEVPROTO_INTX_LEVEL:
		p->intx_level = m->u.intx.level;
		kvm_vm_irq_line(p->vm, LAYOUT_IRQ_PCI_INTX, (int)m->u.intx.level);
		break;
	default:
		log_warn("unexpected %s event from the %s device process", devproto_type_name(m->type),
			 p->dev->name);
		break;
	}
}

void pci_proxy_device_dead(struct pci_proxy *p)
{
	if (p->intx_level) {
		p->intx_level = false;
		kvm_vm_irq_line(p->vm, LAYOUT_IRQ_PCI_INTX, 0);
	}
}
