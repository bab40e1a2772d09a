// SPDX-License-Identifier: GPL-2.0

#include <linux/irqflags.h>
#include <linux/spinlock.h>

#include "../local_interrupt.h"

__rust_helper void rust_helper_local_interrupt_disable(void)
{
	rust_local_interrupt_disable();
}

__rust_helper void rust_helper_local_interrupt_enable(void)
{
	rust_local_interrupt_enable();
}

__rust_helper bool rust_helper_irqs_disabled(void)
{
	return irqs_disabled();
}
