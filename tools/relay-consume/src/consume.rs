// SPDX-License-Identifier: GPL-2.0

//! The consuming loop: the per-CPU files, read with `read()` or through their mappings,
//! polled until the stop condition.

use crate::{
    args::Opts,
    mmap::{self, Map},
    stats::{
        CpuStats,
        Stats,
        StatsFile, //
    },
    stream::{
        Seqs,
        Stream, //
    },
};
use kt298_guest::{
    relayfs::{
        RELAYFS_IOC_CONSUMED,
        RELAYFS_IOC_PADDING, //
    },
    sys::{
        self,
        c_int,
        c_ulong,
        PollFd,
        O_NONBLOCK,
        POLLERR,
        POLLHUP,
        POLLIN,
        POLLNVAL, //
    },
};
use std::{
    fs::{
        self,
        File,
        OpenOptions, //
    },
    io::{
        self,
        ErrorKind,
        Read,
        Write, //
    },
    os::{
        fd::AsRawFd,
        unix::fs::OpenOptionsExt, //
    },
    thread,
    time::{
        Duration,
        Instant, //
    },
};

/// The most per-CPU files looked for.
const MAX_CPUS: u32 = 256;
/// Poll period: files are also tried without an event (read() may hand out a partial
/// sub-buffer) and the stats file is re-read this often.
const TICK: Duration = Duration::from_millis(100);

/// One per-CPU file being consumed.
pub(crate) struct Cpu {
    /// The file, opened non-blocking.
    file: File,
    /// Where its stream is saved (`--out`).
    out: Option<File>,
    /// Its mapping (`--mmap`).
    map: Option<Map>,
    /// What was read of it.
    pub(crate) stream: Stream,
    /// The sub-buffers given up because the writer lapped the reader (`--mmap`).
    pub(crate) skipped: u64,
    /// Whether it hung up and was drained.
    done: bool,
}

impl Cpu {
    /// This CPU's line of `stats`.
    pub(crate) fn stats<'a>(&self, stats: Option<&'a Stats>) -> Option<&'a CpuStats> {
        stats.and_then(|st| st.cpus.get(&self.stream.cpu))
    }

    /// Saves `data` (with `--out`) and checks its records.
    fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        Self::save(&mut self.out, self.stream.cpu, data)?;
        self.stream.feed(data)
    }

    /// Appends `data` to `out`, if any, the stream of CPU `cpu` (`--out`).
    fn save(out: &mut Option<File>, cpu: u32, data: &[u8]) -> Result<(), String> {
        match out {
            Some(out) => out
                .write_all(data)
                .map_err(|e| format!("cpu{cpu} out: {e}")),
            None => Ok(()),
        }
    }

    /// Marks the file drained; fails if its stream stopped inside a record.
    fn finish(&mut self) -> Result<(), String> {
        self.done = true;
        self.stream.check_end()
    }

    /// Reads what is there (up to 64 reads, not to starve the other CPUs).
    fn drain_read(&mut self, buf: &mut [u8], slow: Duration, hup: bool) -> Result<(), String> {
        for _ in 0..64 {
            match self.file.read(buf) {
                Ok(0) => return self.finish(),
                Ok(len) => {
                    self.feed(&buf[..len])?;
                    thread::sleep(slow);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return if hup { self.finish() } else { Ok(()) };
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("cpu{}: read: {e}", self.stream.cpu)),
            }
        }
        Ok(())
    }

    /// Takes the complete sub-buffers out of the mapping and hands them back to the kernel.
    fn drain_mmap(&mut self, slow: Duration, overwrite: bool, hup: bool) -> Result<(), String> {
        let f = &self.file;
        let cpu = self.stream.cpu;
        let i = mmap::info(f).map_err(|e| format!("cpu{cpu}: {e}"))?;
        let (first, skipped) = mmap::to_take(&i).map_err(|e| format!("cpu{cpu}: {e}"))?;
        self.skipped += skipped;
        for k in first..i.produced {
            let ctx = |e: String| format!("cpu{cpu}: sub-buffer {k}: {e}");
            let map = self.map.as_ref().expect("mapped");
            let (size, n) = (map.size, map.n);
            let mut pad = k;
            let data = mmap::relay_ioctl(f, RELAYFS_IOC_PADDING, "RELAYFS_IOC_PADDING", &mut pad)
                .and_then(|()| mmap::subbuf_range(k, pad, size, n))
                .map(|r| map.mapping.copy(r));
            // In overwrite mode the writer may have taken the sub-buffer back meanwhile: given
            // up like the lapped ones (its data may be torn, its padding gone).
            if overwrite && mmap::overwritten(k, mmap::info(f).map_err(ctx)?.produced, n) {
                self.skipped += 1;
                continue;
            }
            // `self.feed()`, field by field while `f` borrows `self.file`.
            let data = data.map_err(ctx)?;
            Self::save(&mut self.out, cpu, &data)?;
            self.stream.feed(&data)?;
            if self.stream.mid_record() {
                return Err(ctx("ends inside a record".into()));
            }
            thread::sleep(slow);
        }
        let mut n = i.produced - i.consumed;
        if n > 0 {
            mmap::relay_ioctl(f, RELAYFS_IOC_CONSUMED, "RELAYFS_IOC_CONSUMED", &mut n)
                .map_err(|e| format!("cpu{cpu}: {e}"))?;
        }
        if hup {
            self.finish()?;
        }
        Ok(())
    }
}

pub(crate) fn producing(s: &Seqs, cs: Option<&CpuStats>) -> bool {
    s.records > 0 || cs.is_some_and(|cs| cs.events + cs.lost > 0)
}

/// Whether a CPU is through its `n` events: seq n-1 arrived, or the stats show that the
/// producer tried them all and every one stored was read (the last ones may have been lost).
pub(crate) fn count_done(s: &Seqs, cs: Option<&CpuStats>, n: u64) -> bool {
    s.reached() >= n || cs.is_some_and(|cs| cs.events + cs.lost >= n && s.records >= cs.events)
}

pub(crate) fn open_cpus(o: &Opts) -> Result<Vec<Cpu>, String> {
    if let Some(dir) = &o.out {
        fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    }
    let mut cpus = Vec::new();
    for n in 0..MAX_CPUS {
        let path = format!("{}{n}", o.base);
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{path}: {e}")),
        };
        let out = match &o.out {
            Some(dir) => {
                let p = format!("{dir}/cpu{n}");
                Some(File::create(&p).map_err(|e| format!("{p}: {e}"))?)
            }
            None => None,
        };
        let map = if o.mmap {
            Some(Map::new(&file).map_err(|e| format!("{path}: {e}"))?)
        } else {
            None
        };
        let stream = Stream::new(n, o.count);
        let (skipped, done) = (0, false);
        cpus.push(Cpu {
            file,
            out,
            map,
            stream,
            skipped,
            done,
        });
    }
    if cpus.is_empty() {
        return Err(format!("no {}N files", o.base));
    }
    Ok(cpus)
}

/// Consumes until every file hung up, the count was reached, the duration or the timeout;
/// returns why, and the last stats read.
pub(crate) fn consume(
    o: &Opts,
    cpus: &mut [Cpu],
    sf: &StatsFile,
) -> Result<(&'static str, Option<Stats>), String> {
    let mut stats = sf.read();
    // The mode from the stats file, or else from the command line.
    let mode = stats.as_ref().and_then(|s| s.overwrite);
    let overwrite = mode.unwrap_or(o.overwrite);
    let mut buf = vec![0u8; stats.as_ref().and_then(|s| s.subbuf_size).unwrap_or(16384) as usize];
    let slow = Duration::from_micros(o.slow);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.timeout);
    let mut stats_time = start;
    loop {
        let now = Instant::now();
        if now - stats_time >= TICK {
            stats = sf.read().or(stats);
            stats_time = now;
        }
        if cpus.iter().all(|c| c.done) {
            return Ok(("hup", stats));
        }
        if let Some(n) = o.count {
            let mut busy = cpus
                .iter()
                .map(|c| (&c.stream.seqs, c.stats(stats.as_ref())))
                .filter(|&(s, cs)| producing(s, cs))
                .peekable();
            if busy.peek().is_some() && busy.all(|(s, cs)| count_done(s, cs, n)) {
                return Ok(("count", stats));
            }
        }
        if o.duration
            .is_some_and(|d| now - start >= Duration::from_secs(d))
        {
            return Ok(("duration", stats));
        }
        if now >= deadline {
            return Ok(("timeout", stats));
        }
        let mut active: Vec<&mut Cpu> = cpus.iter_mut().filter(|c| !c.done).collect();
        let mut fds: Vec<PollFd> = active
            .iter()
            .map(|c| PollFd {
                fd: c.file.as_raw_fd(),
                events: POLLIN,
                revents: 0,
            })
            .collect();
        let wait = TICK.min(deadline - now).as_millis() as c_int;
        // SAFETY: `fds` is an array of `fds.len()` pollfds.
        let r = unsafe { sys::poll(fds.as_mut_ptr(), fds.len() as c_ulong, wait) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        for (c, p) in active.iter_mut().zip(&fds) {
            if p.revents & (POLLERR | POLLNVAL) != 0 {
                return Err(format!(
                    "cpu{}: poll revents {:#x}",
                    c.stream.cpu, p.revents
                ));
            }
            // Without any event, try all of them anyway.
            if p.revents != 0 || r == 0 {
                let hup = p.revents & POLLHUP != 0;
                if o.mmap {
                    c.drain_mmap(slow, overwrite, hup)?;
                } else {
                    c.drain_read(&mut buf, slow, hup)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_stop() {
        let mut s = Seqs::new(Some(10));
        let cs = |events, lost| CpuStats { events, lost };
        assert!(!producing(&s, None) && !producing(&s, Some(&cs(0, 0))));
        assert!(producing(&s, Some(&cs(0, 1))));
        for seq in [0, 1, 2, 5, 6] {
            s.push(seq).unwrap();
        }
        assert!(producing(&s, None));
        assert!(!count_done(&s, None, 10));
        // Still writing, or not all stored ones read yet.
        assert!(!count_done(&s, Some(&cs(5, 3)), 10));
        assert!(!count_done(&s, Some(&cs(6, 4)), 10));
        // 7..=9 lost at the end.
        assert!(count_done(&s, Some(&cs(5, 5)), 10));
        s.push(9).unwrap();
        assert!(count_done(&s, None, 10));
    }
}
