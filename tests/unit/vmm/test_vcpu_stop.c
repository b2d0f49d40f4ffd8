/* SPDX-License-Identifier: MIT */
/* vcpu_stop of a vCPU thread stuck outside KVM_RUN, where its kick cannot reach it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "common/monotonic.h"
#include "vmm/vcpu.h"

/*
 * The thread waits at a closed start gate: blocked in the VMM as a vCPU in a
 * lock is. Stop gives up at its deadline (the VMM then ends without it), and
 * joins the thread once it can end.
 */
Test(vcpu, stop_gives_up_on_a_thread_stuck_outside_kvm_run)
{
	struct vcpu_gate gate;
	struct vcpu_env env = { .start_gate = &gate };
	struct vcpu v = { .id = 1, .fd = -1, .env = &env };

	v.run = calloc(1, sizeof(*v.run));
	cr_assert_not_null(v.run);
	cr_assert_eq(vcpu_signal_setup(), 0);
	vcpu_gate_init(&gate);
	cr_assert_eq(vcpu_start(&v), 0);
	vcpu_gate_wait_arrivals(&gate, 1);

	cr_assert_eq(vcpu_stop(&v, monotonic_ms() + 200), -ETIMEDOUT);
	cr_assert(v.started, "the stuck thread is still there");
	cr_assert(vcpu_is_stopping(&v));

	vcpu_gate_open(&gate);
	cr_assert_eq(vcpu_stop(&v, monotonic_ms() + 60000), 0);
	cr_assert_not(v.started);
	free(v.run);
}
