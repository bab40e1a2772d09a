// SPDX-License-Identifier: GPL-2.0

#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/fs.h>
#include <linux/irq_work.h>
#include <linux/irqflags.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/relay.h>
#include <linux/smp.h>
#include <linux/sysfs.h>
#include <linux/wait.h>

/* Defined in rust/relay_registry.c. */
extern struct mutex rust_relay_registry_mutex;

__rust_helper void rust_helper_relay_registry_lock(void)
{
	mutex_lock(&rust_relay_registry_mutex);
}

__rust_helper void rust_helper_relay_registry_unlock(void)
{
	mutex_unlock(&rust_relay_registry_mutex);
}

/*
 * Each channel keeps the writer side of its buffers (struct Slot in rust/kernel/relay.rs) in
 * per-CPU memory, so that a write reaches its CPU's slot with this_cpu operations, which on
 * x86 are single %gs-relative instructions, safe against interrupts on this CPU.
 */
__rust_helper void __percpu *rust_helper_relay_alloc_percpu(size_t size, size_t align)
{
	return __alloc_percpu(size, align);
}

__rust_helper void rust_helper_relay_free_percpu(void __percpu *p)
{
	free_percpu(p);
}

__rust_helper void *rust_helper_relay_per_cpu_ptr(void __percpu *p, unsigned int cpu)
{
	return per_cpu_ptr(p, cpu);
}

/* Called with interrupts or preemption off. */
__rust_helper void *rust_helper_relay_this_cpu_ptr(void __percpu *p)
{
	return this_cpu_ptr(p);
}

/* Fields of this CPU's slot: @p is the per-CPU address of the field. */
__rust_helper void *rust_helper_relay_pcpu_read_ptr(void __percpu *p)
{
	return this_cpu_read(*(void * __percpu *)p);
}

__rust_helper void rust_helper_relay_pcpu_write_ptr(void __percpu *p, void *v)
{
	this_cpu_write(*(void * __percpu *)p, v);
}

__rust_helper unsigned long rust_helper_relay_pcpu_read(void __percpu *p)
{
	return this_cpu_read(*(unsigned long __percpu *)p);
}

__rust_helper void rust_helper_relay_pcpu_write(void __percpu *p, unsigned long v)
{
	this_cpu_write(*(unsigned long __percpu *)p, v);
}

__rust_helper void rust_helper_relay_pcpu_inc(void __percpu *p)
{
	this_cpu_inc(*(unsigned long __percpu *)p);
}

/*
 * Disables local interrupts: the start of every interrupt-safe relay write. It returns the
 * flags rather than storing them through a pointer, so that with CONFIG_RUST_INLINE_HELPERS
 * they stay in a register.
 */
__rust_helper unsigned long rust_helper_relay_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

__rust_helper void rust_helper_relay_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

__rust_helper void rust_helper_relay_preempt_disable(void)
{
	preempt_disable();
}

__rust_helper void rust_helper_relay_preempt_enable(void)
{
	preempt_enable();
}

__rust_helper bool rust_helper_cpu_online(unsigned int cpu)
{
	return cpu_online(cpu);
}

__rust_helper bool rust_helper_cpu_possible(unsigned int cpu)
{
	return cpu_possible(cpu);
}

/* Without CONFIG_HOTPLUG_CPU these are inline no-ops. */
__rust_helper void rust_helper_relay_cpus_read_lock(void)
{
	cpus_read_lock();
}

__rust_helper void rust_helper_relay_cpus_read_unlock(void)
{
	cpus_read_unlock();
}

/*
 * Makes path walks that enter a relayfs mount call ->d_manage() on its root (as autofs marks
 * its dentries), so relayfs can hold the mount while channels exist.
 */
__rust_helper void rust_helper_relay_dentry_manage_transit(struct dentry *dentry)
{
	spin_lock(&dentry->d_lock);
	dentry->d_flags |= DCACHE_MANAGE_TRANSIT;
	spin_unlock(&dentry->d_lock);
}

__rust_helper bool rust_helper_relay_wq_has_sleeper(struct wait_queue_head *wq_head)
{
	return wq_has_sleeper(wq_head);
}

/* i_fop sits in an anonymous union whose bindgen name depends on the configuration. */
__rust_helper void rust_helper_relay_inode_set_fops(struct inode *inode,
						    const struct file_operations *fops)
{
	inode->i_fop = fops;
}

__rust_helper void rust_helper_init_irq_work(struct irq_work *work,
					     void (*func)(struct irq_work *))
{
	init_irq_work(work, func);
}

/*
 * The kernel's own C relay, for side-by-side benchmarks: relay_write() and __relay_write()
 * are inline in <linux/relay.h>.
 */
#ifdef CONFIG_RELAY
__rust_helper void rust_helper_c_relay_write(struct rchan *chan, const void *data,
					     size_t length)
{
	relay_write(chan, data, length);
}

__rust_helper void rust_helper_c___relay_write(struct rchan *chan, const void *data,
					       size_t length)
{
	__relay_write(chan, data, length);
}
#endif

/* relayfs's standard mount point, /sys/kernel/relayfs, as debugfs and tracefs have theirs. */
__rust_helper int rust_helper_relayfs_create_mount_point(void)
{
	return sysfs_create_mount_point(kernel_kobj, "relayfs");
}

__rust_helper void rust_helper_relayfs_remove_mount_point(void)
{
	sysfs_remove_mount_point(kernel_kobj, "relayfs");
}
