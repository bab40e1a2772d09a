// SPDX-License-Identifier: GPL-2.0

//! One CPU's stream: records reassembled from the pieces that reads hand out, checked (see
//! [`kt298_guest::record`]), and counted by sequence number.

use kt298_guest::record;

/// Sequence accounting of one CPU.
#[derive(Default, Debug)]
pub(crate) struct Seqs {
    /// `--count` N, if given.
    limit: Option<u64>,
    pub(crate) records: u64,
    /// Records with seq below `limit`.
    below: u64,
    /// Seqs missing before and between the records received.
    gaps: u64,
    pub(crate) first: Option<u64>,
    pub(crate) last: Option<u64>,
}

impl Seqs {
    /// No records yet; `limit` is `--count` N, if given.
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Self {
            limit,
            ..Default::default()
        }
    }

    pub(crate) fn push(&mut self, seq: u64) -> Result<(), String> {
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
    pub(crate) fn reached(&self) -> u64 {
        self.last.map_or(0, |l| l.saturating_add(1))
    }

    /// The gaps to report: with a limit N, the seqs below N not received on a CPU that
    /// produced anything; without one, the seqs missing before and between the records.
    pub(crate) fn gaps(&self, producing: bool) -> u64 {
        match self.limit {
            Some(n) if producing => n - self.below,
            _ => self.gaps,
        }
    }
}

/// One CPU's byte stream, cut into records (which a read() may split).
#[derive(Default, Debug)]
pub(crate) struct Stream {
    pub(crate) cpu: u32,
    /// Bytes of an incomplete record.
    carry: Vec<u8>,
    pub(crate) bytes: u64,
    pub(crate) seqs: Seqs,
}

impl Stream {
    pub(crate) fn new(cpu: u32, limit: Option<u64>) -> Self {
        Self {
            cpu,
            seqs: Seqs::new(limit),
            ..Default::default()
        }
    }

    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), String> {
        let base = self.bytes - self.carry.len() as u64;
        self.bytes += data.len() as u64;
        self.carry.extend_from_slice(data);
        let whole = self.carry.len() / record::SIZE * record::SIZE;
        for (i, r) in self.carry[..whole].chunks_exact(record::SIZE).enumerate() {
            let r = r.try_into().expect("chunks of a record's size");
            record::parse(r, self.cpu)
                .and_then(|seq| self.seqs.push(seq))
                .map_err(|e| {
                    let off = base + (i * record::SIZE) as u64;
                    format!("cpu{}: bad record at offset {off}: {e}", self.cpu)
                })?;
        }
        self.carry.drain(..whole);
        Ok(())
    }

    /// Whether the stream is inside a record.
    pub(crate) fn mid_record(&self) -> bool {
        !self.carry.is_empty()
    }

    /// Fails if the stream stopped inside a record.
    pub(crate) fn check_end(&self) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cpu: u32, seq: u64) -> Vec<u8> {
        record::make(cpu, seq, seq * 1000).to_vec()
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
        let mut s = Seqs::new(Some(10));
        for seq in [0, 1, 4, 5] {
            s.push(seq).unwrap();
        }
        // 2, 3 and the undelivered 6..=9.
        assert_eq!(s.gaps(true), 6);
        s.push(12).unwrap();
        assert_eq!((s.gaps(true), s.records, s.reached()), (6, 5, 13));
        let idle = Seqs::new(Some(10));
        assert_eq!((idle.gaps(false), idle.gaps(true)), (0, 10));
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
}
