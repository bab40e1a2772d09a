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
 * Each channel keeps a per-CPU pointer to its buffers, so that a write finds its CPU's buffer
 * the way the C relay does (one this_cpu_ptr), with interrupts or preemption off.
 */
__rust_helper void __percpu *rust_helper_relay_alloc_bufs(void)
{
	return alloc_percpu(void *);
}

__rust_helper void rust_helper_relay_free_bufs(void __percpu *bufs)
{
	free_percpu(bufs);
}

__rust_helper void rust_helper_relay_set_buf(void __percpu *bufs, unsigned int cpu, void *buf)
{
	*per_cpu_ptr((void * __percpu *)bufs, cpu) = buf;
}

/*
 * Disables local interrupts: the start of every relay write, followed by
 * rust_helper_relay_this_cpu_buf(). Two helpers rather than one with an out parameter, so that
 * with CONFIG_RUST_INLINE_HELPERS the flags stay in a register.
 */
__rust_helper unsigned long rust_helper_relay_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

/* This CPU's buffer; called with interrupts or preemption off. */
__rust_helper void *rust_helper_relay_this_cpu_buf(void __percpu *bufs)
{
	return *this_cpu_ptr((void * __percpu *)bufs);
}

__rust_helper void rust_helper_relay_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

/* Disables preemption and returns this CPU's buffer. */
__rust_helper void *rust_helper_relay_get_buf(void __percpu *bufs)
{
	preempt_disable();
	return *this_cpu_ptr((void * __percpu *)bufs);
}

__rust_helper void rust_helper_relay_put_buf(void)
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
