/* SPDX-License-Identifier: MIT */
/* Prints every keyword the USB policy parser accepts, one per line (for man_pages.sh). */
#include <stdio.h>

#include "broker/usb_policy.h"

int main(void)
{
	const char *word;

	for (unsigned int i = 0; (word = usb_policy_keyword(i)) != NULL; i++)
		printf("%s\n", word);
	return 0;
}
