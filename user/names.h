/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * VM and vCPU names for the pids and vCPU ids that the BPF side counts.
 * Read from /proc, /run/libvirt and KVM's debugfs in user space, never on
 * the hot path, and cached per VM by (pid, start time) so a reused pid
 * never inherits an old name. Every file is treated as hostile: reads are
 * bounded, only regular files are read, symlinks are not followed, and
 * names come out as valid UTF-8 without control characters.
 *
 * root is "/" in production; unit tests pass a fixture tree that has
 * proc/, run/ and sys/kernel/debug/ under it.
 */
#ifndef EXITMON_NAMES_H
#define EXITMON_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest name kept, in bytes with the NUL; longer names are cut at a character. */
#define EM_NAME_MAX 128

/* Where a VM name came from, in the order they are tried. */
enum em_name_src {
	EM_NAME_NONE = 0,    /* unresolved: show the pid */
	EM_NAME_LIBVIRT,     /* /run/libvirt/qemu/NAME.pid */
	EM_NAME_QEMU,        /* -name NAME / -name guest=NAME in /proc/PID/cmdline */
	EM_NAME_CGROUP,      /* machine-qemu\x2dN\x2dNAME.scope */
	EM_NAME_FIRECRACKER, /* firecracker/jailer --id ID */
	EM_NAME_CROSVM,      /* crosvm run --name NAME */
};

/* Where a vCPU's index came from. */
enum em_vcpu_src {
	EM_VCPU_NONE = 0,
	EM_VCPU_THREAD,  /* thread name: "CPU n/KVM", "fc_vcpu n", "vcpun", "crosvm_vcpun" */
	EM_VCPU_LIBVIRT, /* <vcpu id='n' pid='tid'/> in libvirt's status XML */
	EM_VCPU_DEBUGFS, /* KVM debugfs kvm/<pid>-<fd>/vcpuN: N is KVM's vcpu_id */
};

struct em_vcpu_info {
	uint32_t tid;   /* vCPU thread, 0 = unknown */
	int32_t index;  /* the VMM's vCPU index (QEMU's cpu_index), -1 = unknown */
	int32_t kvm_id; /* KVM's vcpu_id (the tracepoint's vcpu_id, the APIC ID on x86), -1 = unknown */
	enum em_vcpu_src index_src;
};

struct em_names;

/* NULL or "/" = the real system. NULL on ENOMEM. */
struct em_names *em_names_new(const char *root);
void em_names_free(struct em_names *n);
/* Tests: fn(arg) runs after each name resolution, before its start time is read again. */
void em_names_set_resolved_hook(struct em_names *n, void (*fn)(void *), void *arg);
/* How long an unresolved name or a vCPU-table miss waits before it is tried again (default 1 s). */
void em_names_set_retry_ns(struct em_names *n, uint64_t ns);

/*
 * Name of the VM whose VMM process is pid, or NULL when none is found
 * (callers then show the pid). The string lives until the next call on n.
 * A process that has exited keeps the name it had; a pid that now belongs
 * to a process with another start time is resolved anew.
 */
const char *em_names_vm(struct em_names *n, uint32_t pid, enum em_name_src *src);

/*
 * vCPU of VM pid whose KVM vcpu_id (as in the kvm_exit tracepoint) is
 * kvm_id. Fills out (index -1 when unknown) and returns true when the
 * thread or the index is known. Only for a VM em_names_vm() has seen
 * (call it first: it notices a reused pid; these do not read /proc/PID/stat).
 */
bool em_names_vcpu_by_id(struct em_names *n, uint32_t pid, uint32_t kvm_id,
			 struct em_vcpu_info *out);
/* vCPU of VM pid that runs on thread tid; as above. */
bool em_names_vcpu_by_tid(struct em_names *n, uint32_t pid, uint32_t tid,
			  struct em_vcpu_info *out);

/*
 * Pids of the running VMMs, sorted: the kvm/<pid>-<fd> entries of KVM's
 * debugfs or, where that cannot be read, the processes holding an
 * anon_inode:kvm-vm fd. malloc'd (free it); NULL with *count 0 if none.
 */
uint32_t *em_names_vmms(struct em_names *n, size_t *count);
/*
 * Whether pid holds an anon_inode:kvm-vm fd (a KVM VM): 1 yes, 0 no,
 * -errno when its fds cannot be read (-ENOENT: no such process).
 */
int em_names_vm_open(const struct em_names *n, uint32_t pid);
/* True when name (may be NULL) matches one of the globs. */
bool em_names_glob_any(const char *const *globs, size_t nglobs, const char *name);

const char *em_name_src_str(enum em_name_src s);
const char *em_vcpu_src_str(enum em_vcpu_src s);

/* --- parsers, exposed for the unit tests ------------------------------- */

/* Copies src[0..len) into out as valid UTF-8: control characters (C0, DEL,
 * C1) and invalid bytes become '?', cut at a character to fit outlen. */
void em_names_sanitize(char *out, size_t outlen, const char *src, size_t len);
/* Name in a QEMU -name argument ("web01", "guest=web01,debug-threads=on",
 * ",," is a comma; a plain name beats guest=). False if it has none. */
bool em_names_parse_qemu(const char *arg, char *out, size_t outlen);
/* VM name in /proc/PID/cgroup text (machine-qemu\x2dN\x2dNAME.scope). */
bool em_names_parse_cgroup(const char *text, char *out, size_t outlen);
/* vCPU index in a thread name, or -1. */
int32_t em_names_parse_thread(const char *comm);
/* Start time (field 22) in /proc/PID/stat text; false if malformed. */
bool em_names_parse_start(const char *stat, uint64_t *start);

#endif
