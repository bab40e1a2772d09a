// SPDX-License-Identifier: GPL-2.0

//! The `main()` of every guest tool: arguments in, one line of error out, and the exit
//! status the guest scripts test: 0 on success, 1 when the work failed (a check, a system
//! call), 2 on bad usage (with the usage after the error). `-h` or `--help` anywhere prints
//! the usage and exits 0.

use std::{
    process::ExitCode,
    str::FromStr, //
};

/// Why a tool failed.
#[derive(Debug, PartialEq)]
pub enum Error {
    /// The command line is wrong: exit status 2. An empty message prints only the usage.
    Usage(String),
    /// The work failed: exit status 1.
    Failed(String),
}

impl From<String> for Error {
    fn from(e: String) -> Self {
        Self::Failed(e)
    }
}

impl From<&str> for Error {
    fn from(e: &str) -> Self {
        Self::Failed(e.into())
    }
}

/// The result of a tool's command.
pub type Result<T = ()> = std::result::Result<T, Error>;

/// The arguments of tool `name` (without the program name) to `run`, and its result to the
/// exit status.
pub fn main(name: &str, usage: &str, run: impl FnOnce(&[&str]) -> Result) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if args.iter().any(|a| matches!(*a, "-h" | "--help")) {
        println!("{usage}");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Failed(e)) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
        Err(Error::Usage(e)) => {
            if !e.is_empty() {
                eprintln!("{name}: {e}");
            }
            eprintln!("{usage}");
            ExitCode::from(2)
        }
    }
}

/// Parses a decimal or `0x` hexadecimal number.
pub fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parses the argument `what` (as the usage names it), or fails with a usage error.
pub fn arg<T: FromStr>(s: &str, what: &str) -> Result<T> {
    s.parse()
        .map_err(|_| Error::Usage(format!("bad {what} '{s}'")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_num("0x50"), Some(0x50));
        assert_eq!(parse_num("0X68"), Some(0x68));
        assert_eq!(parse_num("200"), Some(200));
        assert_eq!(parse_num("0x"), None);
        assert_eq!(parse_num("-1"), None);
    }

    #[test]
    fn arguments() {
        assert_eq!(arg::<u64>("12", "N"), Ok(12));
        assert_eq!(arg::<u64>("x", "N"), Err(Error::Usage("bad N 'x'".into())));
        assert_eq!(Error::from("no"), Error::Failed("no".into()));
    }
}
