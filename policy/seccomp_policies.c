/* SPDX-License-Identifier: MIT */
#include "seccomp_policies.h"

int seccomp_policies_xhci_device(struct seccomp_policy *p, char *err, size_t errlen)
{
	int r = seccomp_policy_parse(seccomp_policy_xhci_device, seccomp_policy_xhci_device_len,
				     "xhci_device.policy", p, err, errlen);
#ifdef SVMM_SANITIZER_RUNTIME
	if (!r)
		r = seccomp_policy_append(seccomp_policy_sanitizer_runtime,
					  seccomp_policy_sanitizer_runtime_len,
					  "sanitizer_runtime.policy", p, err, errlen);
#endif
	return r;
}
