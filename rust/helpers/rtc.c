// SPDX-License-Identifier: GPL-2.0

#include <linux/rtc.h>

__rust_helper int rust_helper_rtc_ops_lock(struct rtc_device *rtc)
{
	return mutex_lock_interruptible(&rtc->ops_lock);
}
