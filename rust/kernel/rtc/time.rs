// SPDX-License-Identifier: GPL-2.0

//! [`Time`]: a validated `struct rtc_time`, and the bounds of common RTC ranges.

use crate::{bindings, ffi::c_int, prelude::*};

/// 2000-01-01 00:00:00 UTC in seconds since the epoch (C `RTC_TIMESTAMP_BEGIN_2000`).
pub const TIMESTAMP_BEGIN_2000: i64 = 946684800;

/// 2099-12-31 23:59:59 UTC in seconds since the epoch (C `RTC_TIMESTAMP_END_2099`).
pub const TIMESTAMP_END_2099: i64 = 4102444799;

/// 2199-12-31 23:59:59 UTC in seconds since the epoch (C `RTC_TIMESTAMP_END_2199`).
pub const TIMESTAMP_END_2199: i64 = 7258118399;

/// Returns the number of days in `month` (1-12) of `year`, or 0 if `month` is out of range.
const fn days_in_month(month: u32, year: u32) -> u32 {
    let leap = matches!(
        (year % 400, year % 100, year % 4),
        (0, _, _) | (1.., 1.., 0)
    );
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    }
}

/// A calendar time as kept by a real-time clock, in UTC.
///
/// Wraps a C `struct rtc_time`. Months are 1-12 and days 1-31 in this API
/// (the C structure counts months from 0 and years from 1900).
///
/// # Invariants
///
/// The wrapped time is valid in the sense of the C `rtc_valid_tm()`: the year
/// is 1970 or later, every field is in range for its month and year, and
/// `tm_wday` and `tm_yday` agree with the date.
///
/// # Examples
///
/// ```
/// use kernel::rtc::Time;
///
/// let t = Time::new(2005, 2, 28, 23, 59, 59)?;
/// assert_eq!((t.year(), t.month(), t.day()), (2005, 2, 28));
/// assert_eq!((t.hour(), t.minute(), t.second()), (23, 59, 59));
/// // 2005-02-28 was a Monday.
/// assert_eq!(t.weekday(), 1);
/// assert_eq!(t.year_day(), 58);
///
/// // One second later it is March: 2005 is not a leap year.
/// let next = Time::from_time64(t.to_time64() + 1)?;
/// assert_eq!((next.month(), next.day(), next.hour()), (3, 1, 0));
///
/// // Out-of-range fields are refused.
/// assert!(Time::new(2005, 2, 29, 0, 0, 0).is_err());
/// assert!(Time::new(2004, 2, 29, 0, 0, 0).is_ok());
/// assert!(Time::new(1969, 12, 31, 23, 59, 59).is_err());
/// assert!(Time::new(2026, 13, 1, 0, 0, 0).is_err());
/// assert!(Time::new(2026, 1, 1, 24, 0, 0).is_err());
/// assert!(Time::from_time64(-1).is_err());
///
/// assert_eq!(Time::new(1970, 1, 1, 0, 0, 0)?.to_time64(), 0);
/// assert_eq!(Time::new(2000, 1, 1, 0, 0, 0)?.to_time64(), kernel::rtc::TIMESTAMP_BEGIN_2000);
/// assert_eq!(Time::new(2099, 12, 31, 23, 59, 59)?.to_time64(), kernel::rtc::TIMESTAMP_END_2099);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Time(pub(super) bindings::rtc_time);

impl Time {
    /// Creates a time from its calendar fields.
    ///
    /// `month` is 1-12 and `day` 1-31. The weekday and the day of the year are
    /// computed from the date. Returns [`EINVAL`] if a field is out of range
    /// or the year is not in 1970-9999.
    pub fn new(
        year: u32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Result<Self> {
        if !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(month, year)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(EINVAL);
        }
        // CAST: every value was checked above to fit in a `c_int`.
        let mut tm = bindings::rtc_time {
            tm_sec: second as c_int,
            tm_min: minute as c_int,
            tm_hour: hour as c_int,
            tm_mday: day as c_int,
            tm_mon: (month - 1) as c_int,
            tm_year: (year - 1900) as c_int,
            ..Default::default()
        };
        // SAFETY: `tm` is a valid `struct rtc_time`; the function only reads it.
        let secs = unsafe { bindings::rtc_tm_to_time64(&mut tm) };
        // SAFETY: `tm` is valid for writes.
        unsafe { bindings::rtc_time64_to_tm(secs, &mut tm) };
        // INVARIANT: the fields were checked above; `rtc_time64_to_tm` filled in the weekday
        // and the day of the year for the same date.
        Ok(Self(tm))
    }

    /// Creates a time from seconds since 1970-01-01 00:00:00 UTC.
    ///
    /// Returns [`EINVAL`] for a negative time or one after the year 9999.
    pub fn from_time64(secs: i64) -> Result<Self> {
        if secs < 0 {
            return Err(EINVAL);
        }
        let mut tm = bindings::rtc_time::default();
        // SAFETY: `tm` is valid for writes.
        unsafe { bindings::rtc_time64_to_tm(secs, &mut tm) };
        Self::from_raw(&tm)
    }

    /// Creates a time from a C `struct rtc_time`, checking it like `rtc_valid_tm()` does.
    ///
    /// The weekday and day of the year are recomputed from the date. Returns
    /// [`EINVAL`] if the time is not valid.
    pub fn from_raw(tm: &bindings::rtc_time) -> Result<Self> {
        let field = |v: c_int| u32::try_from(v).map_err(|_| EINVAL);
        Self::new(
            field(tm.tm_year)?.checked_add(1900).ok_or(EINVAL)?,
            field(tm.tm_mon)?.checked_add(1).ok_or(EINVAL)?,
            field(tm.tm_mday)?,
            field(tm.tm_hour)?,
            field(tm.tm_min)?,
            field(tm.tm_sec)?,
        )
    }

    /// Returns the C `struct rtc_time`.
    pub fn as_raw(&self) -> &bindings::rtc_time {
        &self.0
    }

    /// Returns the number of seconds since 1970-01-01 00:00:00 UTC.
    pub fn to_time64(&self) -> i64 {
        let mut tm = self.0;
        // SAFETY: `tm` is a valid `struct rtc_time`; the function only reads it.
        unsafe { bindings::rtc_tm_to_time64(&mut tm) }
    }

    /// Returns the year, for example 2005.
    pub fn year(&self) -> u32 {
        // CAST: by the type invariant the year is at least 1970.
        (self.0.tm_year + 1900) as u32
    }

    /// Returns the month, 1-12.
    pub fn month(&self) -> u32 {
        // CAST: by the type invariant the month is 0-11.
        (self.0.tm_mon + 1) as u32
    }

    /// Returns the day of the month, 1-31.
    pub fn day(&self) -> u32 {
        // CAST: by the type invariant the day is 1-31.
        self.0.tm_mday as u32
    }

    /// Returns the hour, 0-23.
    pub fn hour(&self) -> u32 {
        // CAST: by the type invariant the hour is 0-23.
        self.0.tm_hour as u32
    }

    /// Returns the minute, 0-59.
    pub fn minute(&self) -> u32 {
        // CAST: by the type invariant the minute is 0-59.
        self.0.tm_min as u32
    }

    /// Returns the second, 0-59.
    pub fn second(&self) -> u32 {
        // CAST: by the type invariant the second is 0-59.
        self.0.tm_sec as u32
    }

    /// Returns the day of the week, 0 (Sunday) to 6.
    pub fn weekday(&self) -> u32 {
        // CAST: by the type invariant the weekday is 0-6.
        self.0.tm_wday as u32
    }

    /// Returns the day of the year, 0 (January 1) to 365.
    pub fn year_day(&self) -> u32 {
        // Computed here rather than read from `tm_yday`, which `rtc_time64_to_tm()` counts
        // from 1.
        // SAFETY: `rtc_year_days` only computes; by the type invariant the fields are in range.
        let yday = unsafe { bindings::rtc_year_days(self.day(), self.month() - 1, self.year()) };
        // CAST: by the type invariant the result is 0-365.
        yday as u32
    }
}

impl PartialEq for Time {
    fn eq(&self, other: &Self) -> bool {
        self.to_time64() == other.to_time64()
    }
}

impl Eq for Time {}

impl core::fmt::Debug for Time {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year(),
            self.month(),
            self.day(),
            self.hour(),
            self.minute(),
            self.second()
        )
    }
}
