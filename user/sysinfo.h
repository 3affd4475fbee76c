/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Facts about the host that runs exitmon: vendor, kernel, KVM parameters. */
#ifndef EXITMON_SYSINFO_H
#define EXITMON_SYSINFO_H

#include "model.h"

/* EM_ISA_VMX on GenuineIntel (and Zhaoxin/Centaur), EM_ISA_SVM on AuthenticAMD/Hygon, else 0. */
uint32_t em_host_isa(void);
/* Fills hostname, kernel, cpu vendor/model, isa and KVM parameters that change exit behaviour. */
void em_sysinfo_fill(struct em_meta *m);
/* Reads the KVM vendor module's parameters under root (for tests: a fake /sys/module). */
void em_sysinfo_params(struct em_meta *m, const char *module_root);

/* "5.15.0-91-generic" -> 5, 15. 0 on success, -1 if it does not start with N.N. */
int em_kernel_version(const char *release, unsigned *major, unsigned *minor);

#endif
