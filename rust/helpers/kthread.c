// SPDX-License-Identifier: GPL-2.0

#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/nodemask.h>
#include <linux/sched.h>
#include <uapi/linux/sched/types.h>

__rust_helper void rust_helper_set_current_state(unsigned int state)
{
	set_current_state(state);
}

__rust_helper bool rust_helper_try_to_freeze(void)
{
	return try_to_freeze();
}

__rust_helper int rust_helper_cond_resched(void)
{
	return cond_resched();
}

__rust_helper int rust_helper_sched_set_idle(struct task_struct *p)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = SCHED_IDLE,
	};

	return sched_setattr_nocheck(p, &attr);
}

__rust_helper bool rust_helper_node_online(int nid)
{
	return node_online(nid);
}
