/* SPDX-License-Identifier: MIT */
#include "vmm/guest_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/layout.h"
#include "common/log.h"

unsigned int guest_memory_layout(uint64_t size, struct guest_region regions[GUEST_MEMORY_MAX_REGIONS])
{
	uint64_t low = size < LAYOUT_PCI_HOLE ? size : LAYOUT_PCI_HOLE;

	regions[0] = (struct guest_region){ .gpa = 0, .size = low, .offset = 0 };
	if (size <= LAYOUT_PCI_HOLE)
		return 1;
	regions[1] = (struct guest_region){ .gpa = LAYOUT_4G, .size = size - low, .offset = low };
	return 2;
}

int guest_memory_create(struct guest_memory *mem, uint64_t size)
{
	int r;

	memset(mem, 0, sizeof(*mem));
	mem->memfd = -1;
	mem->host = MAP_FAILED;
	mem->size = size;
	mem->nregions = guest_memory_layout(size, mem->regions);
	mem->memfd = memfd_create("svmm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mem->memfd < 0) {
		r = -errno;
		log_err("memfd_create: %s", strerror(errno));
		goto fail;
	}
	if (ftruncate(mem->memfd, (off_t)size) < 0) {
		r = -errno;
		log_err("cannot size guest memory to %" PRIu64 " MiB: %s", size >> 20, strerror(errno));
		goto fail;
	}
	/* The device process maps it too: it must never be able to shrink it under us (SIGBUS). */
	if (fcntl(mem->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		log_err("cannot seal guest memory: %s", strerror(errno));
		goto fail;
	}
	mem->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem->memfd, 0);
	if (mem->host == MAP_FAILED) {
		r = -errno;
		log_err("cannot map %" PRIu64 " MiB of guest memory: %s", size >> 20, strerror(errno));
		goto fail;
	}
	/*
	 * 2 MiB pages where the host allows them for shared memory
	 * (/sys/kernel/mm/transparent_hugepage/shmem_enabled "advise" or more;
	 * Debian's default is "never"): KVM then maps the guest 2 MiB at a
	 * time, one nested page fault where there would be 512. QEMU asks the
	 * same for its (anonymous) guest RAM. Without it, 4 KiB pages: slower,
	 * not wrong.
	 */
	if (madvise(mem->host, size, MADV_HUGEPAGE) < 0)
		log_debug("guest memory stays in 4 KiB pages: madvise: %s", strerror(errno));
	return 0;
fail:
	guest_memory_destroy(mem);
	return r;
}

int guest_memory_register(const struct guest_memory *mem, int vm_fd)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (uintptr_t)(mem->host + mem->regions[i].offset),
		};

		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			int r = -errno;

			log_err("KVM_SET_USER_MEMORY_REGION %u: %s", i, strerror(errno));
			return r;
		}
	}
	return 0;
}

void guest_memory_destroy(struct guest_memory *mem)
{
	if (mem->host != MAP_FAILED && mem->host)
		munmap(mem->host, mem->size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	mem->host = MAP_FAILED;
	mem->memfd = -1;
}

void *guest_memory_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct guest_region *g = &mem->regions[i];

		if (gpa >= g->gpa && len <= g->size && gpa - g->gpa <= g->size - len)
			return mem->host + g->offset + (gpa - g->gpa);
	}
	return NULL;
}

uint64_t guest_memory_low_end(const struct guest_memory *mem)
{
	return mem->regions[0].size;
}

uint64_t guest_memory_host_total_mib(void)
{
	unsigned long long kib = 0;
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib / 1024;
}
