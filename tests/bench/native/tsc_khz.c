/* SPDX-License-Identifier: MIT */
/*
 * Prints this host's TSC rate in kHz, measured against CLOCK_MONOTONIC over
 * 200 ms: the benchmark guest reports rdtsc cycles, and on this host the
 * guest's TSC runs at the host's rate (under svmm and QEMU alike).
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
	double t0 = now(), t1;
	uint64_t c0 = __rdtsc(), c1;

	nanosleep(&pause, NULL);
	t1 = now();
	c1 = __rdtsc();
	if (t1 <= t0 || c1 <= c0) {
		fprintf(stderr, "tsc_khz: the TSC or the clock did not advance\n");
		return 1;
	}
	printf("%.0f\n", (double)(c1 - c0) / (t1 - t0) / 1000.0);
	return 0;
}
