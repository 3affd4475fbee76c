/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The fuzz harnesses' assertion: abort (a crash libFuzzer keeps) with the condition. */
#ifndef EXITMON_FUZZ_CHECK_H
#define EXITMON_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

#endif
