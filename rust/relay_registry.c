// SPDX-License-Identifier: GPL-2.0
/*
 * The lock of the relay channel registry (rust/kernel/relay.rs), which must exist before any
 * channel or relayfs does: Rust cannot initialise a kernel mutex statically.
 *
 * It is defined here, not in rust/helpers/relay.c, because with CONFIG_RUST_INLINE_HELPERS
 * the helpers are compiled into each Rust object that calls them, so a static mutex there
 * would be one mutex per module.
 */

#include <linux/export.h>
#include <linux/mutex.h>

extern struct mutex rust_relay_registry_mutex;
/* Protects the registry of open relay channels and the registered relayfs. */
DEFINE_MUTEX(rust_relay_registry_mutex);
EXPORT_SYMBOL_GPL(rust_relay_registry_mutex);
