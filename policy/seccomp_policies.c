/* SPDX-License-Identifier: MIT */
#include "policy/seccomp_policies.h"

/* In a sanitizer build, what the ASan/UBSan runtime itself calls. */
static int add_sanitizer_runtime(int r, struct seccomp_policy *p, char *err, size_t errlen)
{
#ifdef SVMM_SANITIZER_RUNTIME
	if (!r)
		r = seccomp_policy_append(seccomp_policy_sanitizer_runtime,
					  seccomp_policy_sanitizer_runtime_len,
					  "sanitizer_runtime.policy", p, err, errlen);
#else
	(void)p;
	(void)err;
	(void)errlen;
#endif
	return r;
}

int seccomp_policies_xhci_device(struct seccomp_policy *p, char *err, size_t errlen)
{
	int r = seccomp_policy_parse(seccomp_policy_xhci_device, seccomp_policy_xhci_device_len,
				     "xhci_device.policy", p, err, errlen);

	return add_sanitizer_runtime(r, p, err, errlen);
}

int seccomp_policies_vmm(const struct seccomp_runtime_value *runtime, size_t nruntime,
			 struct seccomp_policy *p, char *err, size_t errlen)
{
	int r = seccomp_policy_parse_runtime(seccomp_policy_vmm, seccomp_policy_vmm_len, "vmm.policy",
					     runtime, nruntime, p, err, errlen);

	return add_sanitizer_runtime(r, p, err, errlen);
}

int seccomp_policies_broker(const struct seccomp_runtime_value *runtime, size_t nruntime,
			    struct seccomp_policy *p, char *err, size_t errlen)
{
	int r = seccomp_policy_parse_runtime(seccomp_policy_broker, seccomp_policy_broker_len,
					     "broker.policy", runtime, nruntime, p, err, errlen);

	return add_sanitizer_runtime(r, p, err, errlen);
}
