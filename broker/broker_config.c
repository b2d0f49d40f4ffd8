/* SPDX-License-Identifier: MIT */
#include "broker/broker_config.h"

#include "broker/usbfs.h"

void broker_config_init(struct broker_config *c)
{
	c->dev_root = BROKER_DEV_ROOT;
	c->sys_root = BROKER_SYS_ROOT;
	c->usb_major = BROKER_USB_DEVICE_MAJOR;
	c->usbfs = &usbfs_kernel;
}
