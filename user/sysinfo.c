// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>
#include "sysinfo.h"

#ifndef EXITMON_VERSION
#define EXITMON_VERSION "dev"
#endif

static void cpuinfo_field(const char *key, char *out, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, key, strlen(key)) || !colon)
			continue;
		colon++;
		colon += strspn(colon, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, len, "%s", colon);
		break;
	}
	fclose(f);
}

int em_kernel_version(const char *release, unsigned *major, unsigned *minor)
{
	char dot;

	if (!release || sscanf(release, "%u%c%u", major, &dot, minor) != 3 || dot != '.')
		return -1;
	return 0;
}

uint32_t em_host_isa(void)
{
	char vendor[64];

	cpuinfo_field("vendor_id", vendor, sizeof(vendor));
	if (!strcmp(vendor, "GenuineIntel") || !strcmp(vendor, "CentaurHauls") ||
	    !strcmp(vendor, "  Shanghai  "))
		return EM_ISA_VMX;
	if (!strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine"))
		return EM_ISA_SVM;
	return 0;
}

/* Parameters whose value changes which exits happen or what they cost. */
static const char *const vmx_params[] = { "ept", "unrestricted_guest", "enable_shadow_vmcs",
					  "enable_apicv", "nested", "vpid", "pml", NULL };
static const char *const svm_params[] = { "npt", "nested", "avic", "nrips", "vgif", "vls",
					  "lbrv", "pause_filter_count", NULL };
static const char *const kvm_params[] = { "halt_poll_ns", "tdp_mmu", NULL };

static void add_params(struct em_meta *m, const char *root, const char *mod,
		       const char *const *names)
{
	char path[512], val[sizeof(((struct em_param *)0)->value)];

	for (; *names && m->nparams < EM_MAX_PARAMS; names++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s/parameters/%s", root, mod, *names);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(val, sizeof(val), f)) {
			struct em_param *p = &m->params[m->nparams++];

			val[strcspn(val, "\n")] = '\0';
			snprintf(p->name, sizeof(p->name), "%s", *names);
			snprintf(p->value, sizeof(p->value), "%s", val);
		}
		fclose(f);
	}
}

void em_sysinfo_params(struct em_meta *m, const char *root)
{
	m->nparams = 0;
	add_params(m, root, "kvm_intel", vmx_params);
	add_params(m, root, "kvm_amd", svm_params);
	add_params(m, root, "kvm", kvm_params);
}

void em_sysinfo_fill(struct em_meta *m)
{
	struct utsname u;

	snprintf(m->exitmon_version, sizeof(m->exitmon_version), "%s", EXITMON_VERSION);
	if (gethostname(m->hostname, sizeof(m->hostname)))
		m->hostname[0] = '\0';
	m->hostname[sizeof(m->hostname) - 1] = '\0';
	if (!uname(&u))
		snprintf(m->kernel, sizeof(m->kernel), "%s", u.release);
	cpuinfo_field("vendor_id", m->cpu_vendor, sizeof(m->cpu_vendor));
	cpuinfo_field("model name", m->cpu_model, sizeof(m->cpu_model));
	if (!m->isa)
		m->isa = em_host_isa();
	em_sysinfo_params(m, "/sys/module");
}
