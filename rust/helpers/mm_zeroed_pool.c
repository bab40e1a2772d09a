// SPDX-License-Identifier: GPL-2.0

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/topology.h>

__rust_helper void rust_helper_clear_pages(void *addr, unsigned int npages)
{
	clear_pages(addr, npages);
}

__rust_helper void *rust_helper_lowmem_page_address(const struct page *page)
{
	return lowmem_page_address(page);
}

__rust_helper struct page *rust_helper_alloc_pages_node(int nid, gfp_t gfp_mask,
							unsigned int order)
{
	return alloc_pages_node(nid, gfp_mask, order);
}

__rust_helper struct pglist_data *rust_helper_NODE_DATA(int nid)
{
	return NODE_DATA(nid);
}

__rust_helper int rust_helper_numa_node_id(void)
{
	return numa_node_id();
}

__rust_helper const struct cpumask *rust_helper_cpumask_of_node(int nid)
{
	return cpumask_of_node(nid);
}

__rust_helper bool rust_helper_in_task(void)
{
	return in_task();
}
