/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counted disabling of local interrupts for Rust guards (rust/local_interrupt.c). Not for C
 * code: C takes local_irq_save()/local_irq_restore() pairs, which nest by construction.
 */
#ifndef _RUST_LOCAL_INTERRUPT_H
#define _RUST_LOCAL_INTERRUPT_H

void rust_local_interrupt_disable(void);
void rust_local_interrupt_enable(void);

#endif /* _RUST_LOCAL_INTERRUPT_H */
