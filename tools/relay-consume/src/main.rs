// SPDX-License-Identifier: GPL-2.0

//! User-space consumer of a relayfs channel that checks the sample producer's records (std
//! only, linked statically for the guest).
//!
//! ```text
//! relay-consume [--mmap] [--out DIR] [--count N] [--duration SECS] [--timeout SECS]
//!               [--slow USECS] [--expect-no-gaps] [--check-lost] [--overwrite] BASE
//! relay-consume --probe FILE
//! ```
//!
//! BASE is the channel's path in the mount, e.g. `/sys/kernel/relayfs/kt298/events`: the per-CPU files
//! `BASE0`, `BASE1`, ... (up to 256, missing ones skipped) are read with non-blocking `read()`
//! and `poll()`, or with `--mmap` through `mmap()`, `poll()` and the `RELAYFS_IOC_*` ioctls.
//! Every 64-byte record must have the magic, the file's cpu, the payload of its seq, and a seq
//! above the one before; missing seqs are gaps. `--out DIR` saves each CPU's stream as
//! `DIR/cpuN`; `--slow USECS` sleeps after each read or sub-buffer.
//!
//! Reading stops when every file has hung up and been drained (`stop=hup`); with `--count N`
//! when every producing CPU is through its N events (`stop=count`: seq N-1 arrived, or the
//! stats show all N tried and every stored one read); after `--duration` (`stop=duration`); or
//! at the timeout (default 60 s, `stop=timeout`, an error). Then `BASE.stats` (held open, so it
//! reads even after the channel closed) gives the kernel's lost counts:
//!
//! ```text
//! cpuN records=R gaps=G lost=L bytes=B [skipped=K] [first_seq=F last_seq=S]
//! total records=R gaps=G lost=L bytes=B [skipped=K]
//! mode=read|mmap
//! stop=hup|count|duration|timeout
//! ```
//!
//! `lost` is lost_full+lost_too_big+lost_busy (0 without stats), `skipped` (`--mmap`) the
//! sub-buffers given up because the writer lapped the reader, `first_seq`/`last_seq`
//! (`--overwrite`, `-` without records) the seqs received. With `--count N`, `gaps` counts the
//! seqs below N not received (those at the very end too) on a CPU that produced anything.
//! Checks: `--expect-no-gaps` (no gaps), `--check-lost` (on every CPU every stored event was
//! read, and gaps == lost; without `--count`, gaps <= lost, as trailing losses leave no gap),
//! `--overwrite` (gaps allowed; with `--count N` the newest record, seq N-1, must arrive).
//!
//! `--probe FILE` tries bad inputs on one CPU file and prints `ok` or the errno name for each:
//! `mmap_size` (a page too long), `mmap_offset` (offset 4096), `mmap_write` (`PROT_WRITE`),
//! `mmap_whole` (the right one), `ioctl_unknown` (`_IOR('R', 0x7f, u64)`), `padding_future`
//! (`RELAYFS_IOC_PADDING` of the sub-buffer `produced`), after the `RELAYFS_IOC_INFO` values.
//!
//! Errors go to stderr; exit status 1 on a bad record or a failed check, 2 on bad usage.

use std::{
    collections::BTreeMap,
    env,
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
    ops::Range,
    os::{
        fd::AsRawFd,
        raw::{
            c_int,
            c_long,
            c_ulong, //
        },
        unix::fs::{
            FileExt,
            OpenOptionsExt, //
        },
    },
    process::ExitCode,
    thread,
    time::{
        Duration,
        Instant, //
    },
};

const MAGIC: u32 = 0x5954_4b52;
const REC: usize = 64;
const PAYLOAD: usize = 40;
const MAX_CPUS: u32 = 256;
const O_NONBLOCK: c_int = 0o4000;
const POLLIN: i16 = 0x1;
const POLLERR: i16 = 0x8;
const POLLHUP: i16 = 0x10;
const POLLNVAL: i16 = 0x20;
const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const MAP_SHARED: c_int = 1;
const MAP_FAILED: *mut u8 = !0usize as *mut u8;
/// Poll period: files are also tried without an event (read() may hand out a partial
/// sub-buffer) and the stats file is re-read this often.
const TICK: Duration = Duration::from_millis(100);
const USAGE: &str = "usage: relay-consume [--mmap] [--out DIR] [--count N] [--duration SECS] \
                     [--timeout SECS] [--slow USECS] [--expect-no-gaps] [--check-lost] \
                     [--overwrite] BASE | relay-consume --probe BASEn";

/// `_IOC(dir, magic, nr, size)` in the generic ioctl encoding (x86 and arm).
const fn ioc(dir: c_ulong, magic: u8, nr: c_ulong, size: usize) -> c_ulong {
    (dir << 30) | ((size as c_ulong) << 16) | ((magic as c_ulong) << 8) | nr
}

// `Info` (`struct relayfs_info`) and the `RELAYFS_IOC_*` numbers, from the uapi header.
include!(concat!(env!("OUT_DIR"), "/relayfs_uapi.rs"));

#[repr(C)]
struct PollFd {
    fd: c_int,
    events: i16,
    revents: i16,
}

extern "C" {
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    fn mmap(
        addr: *mut u8,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: c_long,
    ) -> *mut u8;
    fn munmap(addr: *mut u8, len: usize) -> c_int;
}

/// Checks one record from CPU `cpu`'s file and returns its seq.
fn parse_record(r: &[u8], cpu: u32) -> Result<u64, String> {
    let magic = u32::from_le_bytes(r[0..4].try_into().unwrap());
    if magic != MAGIC {
        return Err(format!("magic {magic:#x}"));
    }
    let c = u32::from_le_bytes(r[4..8].try_into().unwrap());
    if c != cpu {
        return Err(format!("cpu {c} in cpu{cpu}'s file"));
    }
    let seq = u64::from_le_bytes(r[8..16].try_into().unwrap());
    if let Some(i) = (0..PAYLOAD).find(|&i| r[24 + i] != (seq as u8).wrapping_add(i as u8)) {
        return Err(format!("seq {seq}: payload byte {i} is {:#x}", r[24 + i]));
    }
    Ok(seq)
}

/// Sequence accounting of one CPU.
#[derive(Default, Debug)]
struct Seqs {
    /// `--count` N, if given.
    limit: Option<u64>,
    records: u64,
    /// Records with seq below `limit`.
    below: u64,
    /// Seqs missing before and between the records received.
    gaps: u64,
    first: Option<u64>,
    last: Option<u64>,
}

impl Seqs {
    fn push(&mut self, seq: u64) -> Result<(), String> {
        let next = self.reached();
        if seq < next {
            return Err(format!("seq {seq} after {}", next - 1));
        }
        self.gaps += seq - next;
        self.records += 1;
        if self.limit.is_some_and(|n| seq < n) {
            self.below += 1;
        }
        self.first.get_or_insert(seq);
        self.last = Some(seq);
        Ok(())
    }

    /// Records plus gaps: how many events the producer got to, as far as is known.
    fn reached(&self) -> u64 {
        self.last.map_or(0, |l| l.saturating_add(1))
    }

    /// The gaps to report: with a limit N, the seqs below N not received on a CPU that
    /// produced anything; without one, the seqs missing before and between the records.
    fn gaps(&self, producing: bool) -> u64 {
        match self.limit {
            Some(n) if producing => n - self.below,
            _ => self.gaps,
        }
    }
}

/// One CPU's byte stream, cut into records (which a read() may split).
#[derive(Default, Debug)]
struct Stream {
    cpu: u32,
    /// Bytes of an incomplete record.
    carry: Vec<u8>,
    bytes: u64,
    seqs: Seqs,
}

impl Stream {
    fn new(cpu: u32, limit: Option<u64>) -> Self {
        let seqs = Seqs {
            limit,
            ..Default::default()
        };
        Self {
            cpu,
            seqs,
            ..Default::default()
        }
    }

    fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        let base = self.bytes - self.carry.len() as u64;
        self.bytes += data.len() as u64;
        self.carry.extend_from_slice(data);
        let whole = self.carry.len() / REC * REC;
        for (i, r) in self.carry[..whole].chunks_exact(REC).enumerate() {
            parse_record(r, self.cpu)
                .and_then(|seq| self.seqs.push(seq))
                .map_err(|e| {
                    let off = base + (i * REC) as u64;
                    format!("cpu{}: bad record at offset {off}: {e}", self.cpu)
                })?;
        }
        self.carry.drain(..whole);
        Ok(())
    }

    /// Fails if the stream stopped inside a record.
    fn check_end(&self) -> Result<(), String> {
        match self.carry.len() {
            0 => Ok(()),
            n => Err(format!(
                "cpu{}: stream ends inside a record at offset {} ({n} bytes)",
                self.cpu,
                self.bytes - n as u64
            )),
        }
    }
}

/// Lost counts of one CPU in the stats file.
#[derive(Default, Debug, PartialEq)]
struct CpuStats {
    events: u64,
    /// lost_full + lost_too_big + lost_busy.
    lost: u64,
}

#[derive(Default, Debug, PartialEq)]
struct Stats {
    subbuf_size: Option<u64>,
    n_subbufs: Option<u64>,
    overwrite: Option<bool>,
    cpus: BTreeMap<u32, CpuStats>,
}

fn parse_stats(s: &str) -> Stats {
    let mut st = Stats::default();
    for line in s.lines() {
        let mut w = line.split_whitespace();
        let key = w.next().unwrap_or("");
        let num = |v: Option<&str>| v.and_then(|v| v.parse().ok());
        match key {
            "subbuf_size" => st.subbuf_size = num(w.next()),
            "n_subbufs" => st.n_subbufs = num(w.next()),
            "mode" => st.overwrite = w.next().map(|m| m == "overwrite"),
            _ => {
                let Some(cpu) = key.strip_prefix("cpu").and_then(|n| n.parse().ok()) else {
                    continue;
                };
                let c = st.cpus.entry(cpu).or_default();
                for (k, v) in w.filter_map(|kv| kv.split_once('=')) {
                    let Ok(v) = v.parse::<u64>() else { continue };
                    match k {
                        "events" => c.events = v,
                        "lost_full" | "lost_too_big" | "lost_busy" => c.lost += v,
                        _ => {}
                    }
                }
            }
        }
    }
    st
}

/// `BASE.stats`, held open from the start: it still reads after the channel closed and the
/// file went away.
struct StatsFile {
    path: String,
    file: Option<File>,
}

impl StatsFile {
    fn open(path: String) -> Self {
        let file = File::open(&path).ok();
        Self { path, file }
    }

    /// Reads the whole text in one read() (every read() makes it afresh).
    fn read(&self) -> Option<Stats> {
        let mut buf = vec![0u8; 1 << 16];
        let held = self.file.as_ref().and_then(|f| f.read_at(&mut buf, 0).ok());
        let n = held.or_else(|| {
            File::open(&self.path)
                .and_then(|mut f| f.read(&mut buf))
                .ok()
        })?;
        Some(parse_stats(&String::from_utf8_lossy(&buf[..n])))
    }
}

/// The sub-buffers to take after an INFO: `(first, skipped)`. At most `n_subbufs` are left;
/// older ones (the writer lapped the reader in overwrite mode) are skipped.
fn to_take(i: &Info) -> Result<(u64, u64), String> {
    if i.produced < i.consumed {
        return Err(format!("produced {} < consumed {}", i.produced, i.consumed));
    }
    let first = i.consumed.max(i.produced.saturating_sub(i.n_subbufs));
    Ok((first, first - i.consumed))
}

/// Where the data of absolute sub-buffer `k` with `padding` bytes of padding is in the mapping.
fn subbuf_range(k: u64, padding: u64, size: u64, n: u64) -> Result<Range<usize>, String> {
    if padding > size {
        return Err(format!("sub-buffer {k}: padding {padding} > {size}"));
    }
    let off = (k % n) * size;
    Ok(off as usize..(off + size - padding) as usize)
}

/// Whether the writer may have started overwriting sub-buffer `k` (in overwrite mode) once
/// `produced` sub-buffers are complete: it writes sub-buffer `produced`, in `k`'s slot if
/// `produced` is `k + n` (or it has gone past).
fn overwritten(k: u64, produced: u64, n: u64) -> bool {
    produced >= k + n
}

/// A relayfs ioctl on the `T` (`Info` or u64) at `v`.
fn relay_ioctl<T>(fd: c_int, req: c_ulong, what: &str, v: &mut T) -> Result<(), String> {
    // SAFETY: Each relayfs ioctl reads and/or writes one `T` at the pointer.
    if unsafe { ioctl(fd, req, v as *mut T) } < 0 {
        return Err(format!("{what}: {}", io::Error::last_os_error()));
    }
    Ok(())
}

fn info(fd: c_int) -> Result<Info, String> {
    let mut i = Info::default();
    relay_ioctl(fd, RELAYFS_IOC_INFO, "RELAYFS_IOC_INFO", &mut i)?;
    Ok(i)
}

/// A read-only shared mapping of a per-CPU file, unmapped on drop.
struct Map {
    ptr: *mut u8,
    len: usize,
    size: u64,
    n: u64,
}

impl Map {
    fn new(f: &File) -> Result<Self, String> {
        let i = info(f.as_raw_fd())?;
        let len = i.subbuf_size.checked_mul(i.n_subbufs).unwrap_or(0);
        if len == 0 || len > isize::MAX as u64 {
            return Err(format!("bad geometry {} x {}", i.subbuf_size, i.n_subbufs));
        }
        let len = len as usize;
        // SAFETY: A fresh mapping at an address chosen by the kernel.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                PROT_READ,
                MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == MAP_FAILED {
            return Err(format!(
                "mmap of {len} bytes: {}",
                io::Error::last_os_error()
            ));
        }
        Ok(Self {
            ptr,
            len,
            size: i.subbuf_size,
            n: i.n_subbufs,
        })
    }

    /// Copies `r` out of the mapping (the writer may be changing it meanwhile).
    fn copy(&self, r: Range<usize>) -> Vec<u8> {
        assert!(r.start <= r.end && r.end <= self.len);
        let mut v = vec![0u8; r.len()];
        // SAFETY: `r` is inside the mapping, which lives as long as `self`.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.add(r.start), v.as_mut_ptr(), r.len()) };
        v
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: We own the mapping.
        unsafe { munmap(self.ptr, self.len) };
    }
}

#[derive(Debug, Default, PartialEq)]
struct Opts {
    mmap: bool,
    out: Option<String>,
    count: Option<u64>,
    duration: Option<u64>,
    timeout: u64,
    slow: u64,
    no_gaps: bool,
    check_lost: bool,
    overwrite: bool,
    probe: bool,
    base: String,
}

fn parse_args(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        timeout: 60,
        ..Default::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |what: &str| {
            it.next()
                .ok_or_else(|| format!("{a} needs {what}"))
                .cloned()
        };
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("bad number for {a}: {v}"))
        };
        match a.as_str() {
            "--mmap" => o.mmap = true,
            "--out" => o.out = Some(val("DIR")?),
            "--count" => o.count = Some(num(val("N")?)?),
            "--duration" => o.duration = Some(num(val("SECS")?)?),
            "--timeout" => o.timeout = num(val("SECS")?)?,
            "--slow" => o.slow = num(val("USECS")?)?,
            "--expect-no-gaps" => o.no_gaps = true,
            "--check-lost" => o.check_lost = true,
            "--overwrite" => o.overwrite = true,
            "--probe" => o.probe = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if o.base.is_empty() => o.base = s.to_string(),
            s => return Err(format!("extra argument {s}")),
        }
    }
    if o.base.is_empty() {
        return Err("missing BASE".into());
    }
    Ok(o)
}

/// One per-CPU file being consumed.
struct Cpu {
    file: File,
    out: Option<File>,
    map: Option<Map>,
    stream: Stream,
    skipped: u64,
    done: bool,
}

impl Cpu {
    fn stats<'a>(&self, stats: Option<&'a Stats>) -> Option<&'a CpuStats> {
        stats.and_then(|st| st.cpus.get(&self.stream.cpu))
    }

    fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        if let Some(out) = &mut self.out {
            out.write_all(data)
                .map_err(|e| format!("cpu{} out: {e}", self.stream.cpu))?;
        }
        self.stream.feed(data)
    }

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
        let fd = self.file.as_raw_fd();
        let cpu = self.stream.cpu;
        let i = info(fd).map_err(|e| format!("cpu{cpu}: {e}"))?;
        let (first, skipped) = to_take(&i).map_err(|e| format!("cpu{cpu}: {e}"))?;
        self.skipped += skipped;
        for k in first..i.produced {
            let ctx = |e: String| format!("cpu{cpu}: sub-buffer {k}: {e}");
            let map = self.map.as_ref().expect("mapped");
            let (size, n) = (map.size, map.n);
            let mut pad = k;
            let data = relay_ioctl(fd, RELAYFS_IOC_PADDING, "RELAYFS_IOC_PADDING", &mut pad)
                .and_then(|()| subbuf_range(k, pad, size, n))
                .map(|r| map.copy(r));
            // In overwrite mode the writer may have taken the sub-buffer back meanwhile: given
            // up like the lapped ones (its data may be torn, its padding gone).
            if overwrite && overwritten(k, info(fd).map_err(ctx)?.produced, n) {
                self.skipped += 1;
                continue;
            }
            self.feed(&data.map_err(ctx)?)?;
            if !self.stream.carry.is_empty() {
                return Err(ctx("ends inside a record".into()));
            }
            thread::sleep(slow);
        }
        let mut n = i.produced - i.consumed;
        if n > 0 {
            relay_ioctl(fd, RELAYFS_IOC_CONSUMED, "RELAYFS_IOC_CONSUMED", &mut n)
                .map_err(|e| format!("cpu{cpu}: {e}"))?;
        }
        if hup {
            self.finish()?;
        }
        Ok(())
    }
}

fn producing(s: &Seqs, cs: Option<&CpuStats>) -> bool {
    s.records > 0 || cs.is_some_and(|cs| cs.events + cs.lost > 0)
}

/// Whether a CPU is through its `n` events: seq n-1 arrived, or the stats show that the
/// producer tried them all and every one stored was read (the last ones may have been lost).
fn count_done(s: &Seqs, cs: Option<&CpuStats>, n: u64) -> bool {
    s.reached() >= n || cs.is_some_and(|cs| cs.events + cs.lost >= n && s.records >= cs.events)
}

fn open_cpus(o: &Opts) -> Result<Vec<Cpu>, String> {
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
fn consume(
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
        let r = unsafe { poll(fds.as_mut_ptr(), fds.len() as c_ulong, wait) };
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

/// Prints the summary and returns the failed checks.
fn report(o: &Opts, cpus: &[Cpu], stats: Option<&Stats>, stop: &str) -> Vec<String> {
    let mut fail = Vec::new();
    if stop == "timeout" {
        fail.push(format!("timeout after {} s", o.timeout));
    }
    if stats.is_none() && o.check_lost {
        fail.push("no stats file to check lost counts".into());
    }
    let (mut records, mut gaps, mut lost, mut bytes, mut skipped) = (0, 0, 0, 0, 0);
    for c in cpus {
        let (n, s) = (c.stream.cpu, &c.stream.seqs);
        let cs = c.stats(stats);
        let l = cs.map_or(0, |cs| cs.lost);
        let g = s.gaps(producing(s, cs));
        let b = c.stream.bytes;
        print!("cpu{n} records={} gaps={g} lost={l} bytes={b}", s.records);
        if o.mmap {
            print!(" skipped={}", c.skipped);
        }
        if o.overwrite {
            let seq = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            print!(" first_seq={} last_seq={}", seq(s.first), seq(s.last));
            if let (Some(want), Some(last)) = (o.count, s.last) {
                if last + 1 != want {
                    fail.push(format!(
                        "cpu{n}: newest record is seq {last}, not {}",
                        want - 1
                    ));
                }
            }
        }
        println!();
        if o.no_gaps && g > 0 {
            fail.push(format!("cpu{n}: {g} gaps"));
        }
        if o.check_lost {
            if let Some(cs) = cs {
                // Every stored event was read exactly once, and every missing number is a
                // lost event. Without --count, events lost after the last one read leave no
                // gap, so gaps may only fall short of the lost count.
                if s.records != cs.events {
                    fail.push(format!(
                        "cpu{n}: read {} records, {} stored",
                        s.records, cs.events
                    ));
                }
                if (o.count.is_some() && g != l) || g > l {
                    fail.push(format!("cpu{n}: gaps={g} but lost={l}"));
                }
            }
        }
        (records, gaps, lost, bytes) = (records + s.records, gaps + g, lost + l, bytes + b);
        skipped += c.skipped;
    }
    print!("total records={records} gaps={gaps} lost={lost} bytes={bytes}");
    if o.mmap {
        print!(" skipped={skipped}");
    }
    println!();
    println!("mode={}", if o.mmap { "mmap" } else { "read" });
    println!("stop={stop}");
    fail
}

/// The name of the error of a failed call, or `ok`.
fn outcome(failed: bool) -> String {
    if !failed {
        return "ok".into();
    }
    let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let names = [
        (1, "EPERM"),
        (2, "ENOENT"),
        (11, "EAGAIN"),
        (12, "ENOMEM"),
        (13, "EACCES"),
        (14, "EFAULT"),
        (16, "EBUSY"),
        (19, "ENODEV"),
        (22, "EINVAL"),
        (25, "ENOTTY"),
    ];
    names
        .iter()
        .find(|n| n.0 == e)
        .map_or(format!("errno{e}"), |n| n.1.into())
}

/// Tries the bad inputs on one CPU file and prints what each gave (`ok` or the errno name).
fn probe(path: &str) -> Result<(), String> {
    let f = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let fd = f.as_raw_fd();
    let i = info(fd)?;
    let len = (i.subbuf_size * i.n_subbufs) as usize;
    println!(
        "subbuf_size={} n_subbufs={} produced={} consumed={}",
        i.subbuf_size, i.n_subbufs, i.produced, i.consumed
    );
    let tries: [(&str, usize, c_int, c_long); 4] = [
        ("mmap_size", len + 4096, PROT_READ, 0),
        ("mmap_offset", len, PROT_READ, 4096),
        ("mmap_write", len, PROT_READ | PROT_WRITE, 0),
        ("mmap_whole", len, PROT_READ, 0),
    ];
    for (name, len, prot, off) in tries {
        // SAFETY: A fresh mapping at an address chosen by the kernel, unmapped right away.
        let p = unsafe { mmap(std::ptr::null_mut(), len, prot, MAP_SHARED, fd, off) };
        println!("{name}={}", outcome(p == MAP_FAILED));
        if p != MAP_FAILED {
            // SAFETY: We own the mapping.
            unsafe { munmap(p, len) };
        }
    }
    let mut v = 0u64;
    // SAFETY: The kernel writes at most one u64 at the pointer (it knows no such ioctl).
    let r = unsafe { ioctl(fd, ioc(2, b'R', 0x7f, 8), &mut v as *mut u64) };
    println!("ioctl_unknown={}", outcome(r < 0));
    // The sub-buffer being written (or the next one) is not complete.
    let mut k = i.produced;
    // SAFETY: RELAYFS_IOC_PADDING reads and writes one u64 at the pointer.
    let r = unsafe { ioctl(fd, RELAYFS_IOC_PADDING, &mut k as *mut u64) };
    println!("padding_future={}", outcome(r < 0));
    Ok(())
}

fn run(o: &Opts) -> Result<(), String> {
    if o.probe {
        return probe(&o.base);
    }
    let sf = StatsFile::open(format!("{}.stats", o.base));
    let mut cpus = open_cpus(o)?;
    let (stop, last) = consume(o, &mut cpus, &sf)?;
    let fail = report(o, &cpus, sf.read().or(last).as_ref(), stop);
    match fail.len() {
        0 => Ok(()),
        _ => Err(fail.join("; ")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("relay-consume: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay-consume: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cpu: u32, seq: u64) -> Vec<u8> {
        let mut r = Vec::with_capacity(REC);
        r.extend_from_slice(&MAGIC.to_le_bytes());
        r.extend_from_slice(&cpu.to_le_bytes());
        r.extend_from_slice(&seq.to_le_bytes());
        r.extend_from_slice(&(seq * 1000).to_le_bytes());
        r.extend((0..PAYLOAD).map(|i| (seq as u8).wrapping_add(i as u8)));
        r
    }

    #[test]
    fn ioctl_numbers() {
        assert_eq!(size_of::<Info>(), 32);
        assert_eq!(RELAYFS_IOC_INFO, 0x8020_5270);
        assert_eq!(RELAYFS_IOC_PADDING, 0xc008_5271);
        assert_eq!(RELAYFS_IOC_CONSUMED, 0x4008_5272);
    }

    #[test]
    fn records() {
        assert_eq!(parse_record(&rec(3, 0x1_0000_00ff), 3), Ok(0x1_0000_00ff));
        let mut r = rec(1, 7);
        assert!(parse_record(&r, 2).unwrap_err().contains("cpu 1"));
        r[24 + 39] ^= 1;
        assert!(parse_record(&r, 1).unwrap_err().contains("payload byte 39"));
        r = rec(1, 7);
        r[0] = 0;
        assert!(parse_record(&r, 1).unwrap_err().contains("magic"));
    }

    #[test]
    fn seq_gaps() {
        let mut s = Seqs::default();
        for seq in [2, 3, 7, 8] {
            s.push(seq).unwrap();
        }
        assert_eq!((s.records, s.gaps, s.reached()), (4, 5, 9));
        assert_eq!((s.first, s.last), (Some(2), Some(8)));
        assert_eq!(s.gaps(true), 5);
        assert!(s.push(8).is_err());
        assert!(s.push(1).is_err());
        assert_eq!(Seqs::default().gaps(false), 0);
    }

    #[test]
    fn seq_gaps_with_count() {
        let mut s = Seqs {
            limit: Some(10),
            ..Default::default()
        };
        for seq in [0, 1, 4, 5] {
            s.push(seq).unwrap();
        }
        // 2, 3 and the undelivered 6..=9.
        assert_eq!(s.gaps(true), 6);
        s.push(12).unwrap();
        assert_eq!((s.gaps(true), s.records, s.reached()), (6, 5, 13));
        let idle = Seqs {
            limit: Some(10),
            ..Default::default()
        };
        assert_eq!((idle.gaps(false), idle.gaps(true)), (0, 10));
    }

    #[test]
    fn count_stop() {
        let mut s = Seqs {
            limit: Some(10),
            ..Default::default()
        };
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

    #[test]
    fn stream_reassembles() {
        let mut data = Vec::new();
        for seq in [0, 1, 3, 4, 5] {
            data.extend(rec(2, seq));
        }
        let mut s = Stream::new(2, None);
        // Odd-sized pieces, records split across them.
        for piece in data.chunks(37) {
            s.feed(piece).unwrap();
        }
        s.check_end().unwrap();
        assert_eq!((s.bytes, s.seqs.records, s.seqs.gaps), (320, 5, 1));
        s.feed(&rec(2, 6)[..10]).unwrap();
        assert!(s.check_end().unwrap_err().contains("offset 320 (10 bytes)"));
    }

    #[test]
    fn stream_bad_record_offset() {
        let mut s = Stream::new(0, None);
        s.feed(&rec(0, 0)).unwrap();
        s.feed(&rec(0, 1)[..20]).unwrap();
        let mut bad = rec(0, 1);
        bad[30] = 0;
        let e = s.feed(&bad[20..]).unwrap_err();
        assert!(e.contains("cpu0: bad record at offset 64:"), "{e}");
        let mut s = Stream::new(0, None);
        s.feed(&[rec(0, 5), rec(0, 4)].concat()).unwrap_err();
        assert_eq!(s.seqs.records, 1);
    }

    #[test]
    fn stats() {
        let s = parse_stats(
            "subbuf_size 16384\nn_subbufs 8\nmode no-overwrite\n\
             cpu0 events=123 bytes=7872 lost_full=2 lost_too_big=1 lost_busy=4 produced=3 consumed=2\n\
             cpu1 lost_busy=1 new=9 events=5 junk lost_full=x\n\
             something else\ncpux events=1\n",
        );
        assert_eq!(s.subbuf_size, Some(16384));
        assert_eq!(s.n_subbufs, Some(8));
        assert_eq!(s.overwrite, Some(false));
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(
            s.cpus[&0],
            CpuStats {
                events: 123,
                lost: 7
            }
        );
        assert_eq!(s.cpus[&1], CpuStats { events: 5, lost: 1 });
        assert_eq!(parse_stats("mode overwrite\n").overwrite, Some(true));
        assert_eq!(parse_stats(""), Stats::default());
    }

    #[test]
    fn subbuf_walk() {
        let i = |produced, consumed| Info {
            subbuf_size: 4096,
            n_subbufs: 4,
            produced,
            consumed,
        };
        assert_eq!(to_take(&i(3, 1)), Ok((1, 0)));
        assert_eq!(to_take(&i(4, 0)), Ok((0, 0)));
        // Lapped: 0..=5 skipped, 6..10 left.
        assert_eq!(to_take(&i(10, 0)), Ok((6, 6)));
        assert_eq!(to_take(&i(10, 7)), Ok((7, 0)));
        assert!(to_take(&i(1, 2)).is_err());
        assert_eq!(subbuf_range(0, 0, 4096, 4), Ok(0..4096));
        assert_eq!(subbuf_range(6, 96, 4096, 4), Ok(8192..12192));
        assert_eq!(subbuf_range(7, 4096, 4096, 4), Ok(12288..12288));
        assert!(subbuf_range(7, 4097, 4096, 4).is_err());
        assert!(!overwritten(6, 9, 4));
        assert!(overwritten(6, 10, 4));
        assert!(overwritten(6, 11, 4));
    }

    #[test]
    fn args() {
        let a = |s: &str| parse_args(&s.split_whitespace().map(String::from).collect::<Vec<_>>());
        let o = a(
            "--mmap --count 100 --slow 50 --out /tmp/o --expect-no-gaps /mnt/relay/kt298/events",
        )
        .unwrap();
        assert_eq!(
            o,
            Opts {
                mmap: true,
                out: Some("/tmp/o".into()),
                count: Some(100),
                timeout: 60,
                slow: 50,
                no_gaps: true,
                base: "/mnt/relay/kt298/events".into(),
                ..Default::default()
            }
        );
        let o = a("--check-lost --overwrite --timeout 5 --duration 3 b").unwrap();
        assert!(o.check_lost && o.overwrite && o.timeout == 5 && !o.mmap);
        assert_eq!(o.duration, Some(3));
        assert!(a("--probe /mnt/relay/kt298/events0").unwrap().probe);
        assert!(a("").is_err());
        assert!(a("--count").is_err());
        assert!(a("--count x b").is_err());
        assert!(a("--bogus b").is_err());
        assert!(a("b c").is_err());
    }
}
