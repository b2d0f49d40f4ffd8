/* SPDX-License-Identifier: MIT */
/* The seccomp policies of policy/seccomp/, linted and embedded into the binary at build time. */
#ifndef SVMM_SECCOMP_POLICIES_H
#define SVMM_SECCOMP_POLICIES_H

#include <stddef.h>

#include "jail/seccomp_policy.h"

extern const char seccomp_policy_xhci_device[];
extern const size_t seccomp_policy_xhci_device_len;
extern const char seccomp_policy_vmm[];
extern const size_t seccomp_policy_vmm_len;
extern const char seccomp_policy_broker[];
extern const size_t seccomp_policy_broker_len;
extern const char seccomp_policy_sanitizer_runtime[];
extern const size_t seccomp_policy_sanitizer_runtime_len;

/*
 * The xHCI device process's policy as this build enforces it: xhci_device.policy,
 * plus sanitizer_runtime.policy in a sanitizer build. 0, or -EINVAL with err.
 */
int seccomp_policies_xhci_device(struct seccomp_policy *p, char *err, size_t errlen);

/* The VMM's policy as this build enforces it, with its runtime values ('@control_dir'). */
int seccomp_policies_vmm(const struct seccomp_runtime_value *runtime, size_t nruntime,
			 struct seccomp_policy *p, char *err, size_t errlen);

/* The broker's policy as this build enforces it, with its runtime values ('@socket_dir'). */
int seccomp_policies_broker(const struct seccomp_runtime_value *runtime, size_t nruntime,
			    struct seccomp_policy *p, char *err, size_t errlen);

#endif
