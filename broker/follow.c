/* SPDX-License-Identifier: MIT */
#include "broker/follow.h"

#include <errno.h>
#include <string.h>

void follow_init(struct follow_table *t)
{
	memset(t, 0, sizeof(*t));
}

unsigned int follow_count(const struct follow_table *t, unsigned int client)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FOLLOW_MAX_LEASES; i++)
		n += t->leases[i].id && t->leases[i].client == client;
	return n;
}

/* The index of a free entry, or FOLLOW_MAX_LEASES when the table is full. */
static unsigned int free_entry(const struct follow_table *t)
{
	unsigned int i = 0;

	while (i < FOLLOW_MAX_LEASES && t->leases[i].id)
		i++;
	return i;
}

bool follow_has_room(const struct follow_table *t, unsigned int client)
{
	return follow_count(t, client) < FOLLOW_MAX_PER_CLIENT && free_entry(t) < FOLLOW_MAX_LEASES;
}

int follow_add(struct follow_table *t, unsigned int client, const struct usb_spec *spec,
	       const struct broker_device *device, uint32_t handle, uint32_t *id)
{
	unsigned int free = free_entry(t);
	struct follow_lease *l;

	if (follow_count(t, client) >= FOLLOW_MAX_PER_CLIENT)
		return -EUSERS;
	if (free == FOLLOW_MAX_LEASES)
		return -ENOSPC;
	l = &t->leases[free];
	memset(l, 0, sizeof(*l));
	if (++t->last_id == 0)
		t->last_id = 1;
	l->id = t->last_id;
	l->client = client;
	l->handle = handle;
	l->spec = *spec;
	l->device = *device;
	*id = l->id;
	return 0;
}

struct follow_lease *follow_by_handle(struct follow_table *t, unsigned int client, uint32_t handle)
{
	for (unsigned int i = 0; i < FOLLOW_MAX_LEASES && handle; i++) {
		struct follow_lease *l = &t->leases[i];

		if (l->id && l->client == client && l->handle == handle)
			return l;
	}
	return NULL;
}

void follow_end(struct follow_lease *l)
{
	memset(l, 0, sizeof(*l));
}

unsigned int follow_end_client(struct follow_table *t, unsigned int client)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FOLLOW_MAX_LEASES; i++) {
		if (t->leases[i].id && t->leases[i].client == client) {
			follow_end(&t->leases[i]);
			n++;
		}
	}
	return n;
}

enum follow_relation follow_relation(const struct follow_lease *l, const struct broker_device *d)
{
	/* Its id and serial (both may lack one), and where the VM's spec says it must be. */
	if (d->vendor == l->device.vendor && d->product == l->device.product &&
	    !strcmp(d->serial, l->device.serial) && usb_spec_matches(&l->spec, d))
		return FOLLOW_SAME;
	if (!strcmp(d->port_path, l->device.port_path))
		return FOLLOW_OTHER_HERE;
	return FOLLOW_OTHER_ELSEWHERE;
}
