/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * relayfs: the ioctls of a channel's per-CPU file, for consumers that read its buffer
 * through mmap(). See Documentation/filesystems/relayfs.rst.
 */
#ifndef _UAPI_LINUX_RELAYFS_H
#define _UAPI_LINUX_RELAYFS_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * The buffer's geometry, and the sub-buffers completed (produced) and consumed so far, as
 * absolute counts: sub-buffer k is at offset (k % n_subbufs) * subbuf_size of the mapping.
 */
struct relayfs_info {
	__u64 subbuf_size;
	__u64 n_subbufs;
	__u64 produced;
	__u64 consumed;
};

/* Out: the file's struct relayfs_info. */
#define RELAYFS_IOC_INFO	_IOR('R', 0x70, struct relayfs_info)
/*
 * In: a sub-buffer number k (consumed <= k < produced); out: the padding at its end.
 * EINVAL if k is not complete or no longer in the buffer.
 */
#define RELAYFS_IOC_PADDING	_IOWR('R', 0x71, __u64)
/* In: how many more sub-buffers the caller consumed (through its mapping). */
#define RELAYFS_IOC_CONSUMED	_IOW('R', 0x72, __u64)

#endif /* _UAPI_LINUX_RELAYFS_H */
