// SPDX-License-Identifier: GPL-2.0
/*
 * Counted disabling of local interrupts, for Rust guards that may be dropped in any order
 * (rust/kernel/sync/lock/spinlock_irqsave.rs, rust/kernel/relay.rs).
 *
 * local_irq_save()/local_irq_restore() pairs must nest: restoring the flags of an outer
 * section while an inner one is still held re-enables interrupts under it. Here each CPU
 * counts the sections it is in: the first one saves the interrupt state, the last one to end
 * restores it, whatever the order in which they end. This is the shape of the upstream
 * proposal for SpinLockIrq (local_interrupt_disable()/local_interrupt_enable()), with the
 * count in a per-CPU variable instead of in preempt_count.
 *
 * While the count is not zero, interrupts are off on this CPU, so the task cannot migrate and
 * nothing else runs here that could change the count without restoring it first (an
 * interrupt handler that disables and enables again sees interrupts already off and leaves
 * them so).
 *
 * It is defined here, not in rust/helpers/, because with CONFIG_RUST_INLINE_HELPERS the
 * helpers are compiled into each Rust object that calls them: the state must exist once.
 */

#include <linux/bug.h>
#include <linux/export.h>
#include <linux/irqflags.h>
#include <linux/lockdep.h>
#include <linux/percpu.h>

#include "local_interrupt.h"

struct rust_local_interrupt {
	/* Sections of rust_local_interrupt_disable() this CPU is in. */
	unsigned long count;
	/* The interrupt state before the first of them. */
	unsigned long flags;
};

static DEFINE_PER_CPU(struct rust_local_interrupt, rust_local_interrupt);

void rust_local_interrupt_disable(void)
{
	unsigned long flags;

	local_irq_save(flags);
	if (__this_cpu_inc_return(rust_local_interrupt.count) == 1)
		__this_cpu_write(rust_local_interrupt.flags, flags);
}
EXPORT_SYMBOL_GPL(rust_local_interrupt_disable);

void rust_local_interrupt_enable(void)
{
	lockdep_assert_irqs_disabled();
	if (WARN_ON_ONCE(!__this_cpu_read(rust_local_interrupt.count)))
		return;
	if (__this_cpu_dec_return(rust_local_interrupt.count) == 0)
		local_irq_restore(__this_cpu_read(rust_local_interrupt.flags));
}
EXPORT_SYMBOL_GPL(rust_local_interrupt_enable);
