// SPDX-License-Identifier: GPL-2.0

//! The known upstream kernel reports, from `tests/known-upstream-splats`.
//!
//! The list is compiled in, so every subcommand sees the same one; its format is
//! described at the top of the file.

/// The list, as the repository has it.
pub const LIST: &str = include_str!("../../../tests/known-upstream-splats");

/// When in a run a known report counts as known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Only before /init starts the suite.
    Boot,
    /// Anywhere.
    Any,
}

/// One known upstream report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub name: String,
    pub machines: Vec<String>,
    pub phase: Phase,
    pub pattern: String,
    pub why: String,
    pub evidence: String,
}

impl Known {
    /// Does a splat whose report is `block`, seen on `machine`, match this entry? `at_boot`
    /// says whether it came before /init started the suite (`None`: not known).
    pub fn matches(&self, machine: &str, at_boot: Option<bool>, block: &[String]) -> bool {
        self.machines.iter().any(|m| m == machine)
            && (self.phase == Phase::Any || at_boot == Some(true))
            && block.iter().any(|l| l.contains(&self.pattern))
    }
}

/// Parses the list; an entry without a name, a pattern, machines or evidence is an error.
pub fn parse(text: &str) -> Result<Vec<Known>, String> {
    let mut blocks: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if blocks.last().is_some_and(|b| !b.is_empty()) {
                blocks.push(Vec::new());
            }
            continue;
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        if line.starts_with([' ', '\t']) {
            match block.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => return Err(format!("line {}: continues no field", n + 1)),
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("line {}: not 'field: value'", n + 1));
        };
        block.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut list = Vec::new();
    for b in blocks.into_iter().filter(|b| !b.is_empty()) {
        let get = |k: &str| {
            b.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let name = get("name");
        let known = Known {
            machines: get("machines")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            phase: match get("phase").as_str() {
                "boot" => Phase::Boot,
                "any" => Phase::Any,
                p => return Err(format!("{name}: phase '{p}' is not boot or any")),
            },
            pattern: get("match"),
            why: get("why"),
            evidence: get("evidence"),
            name,
        };
        for (field, value) in [
            ("name", &known.name),
            ("match", &known.pattern),
            ("why", &known.why),
            ("evidence", &known.evidence),
        ] {
            if value.is_empty() {
                return Err(format!("entry '{}' has no {field}", known.name));
            }
        }
        if known.machines.is_empty() {
            return Err(format!("entry '{}' names no machines", known.name));
        }
        if let Some((k, _)) = b.iter().find(|(k, _)| {
            !["name", "machines", "phase", "match", "why", "evidence"].contains(&k.as_str())
        }) {
            return Err(format!("entry '{}': unknown field '{k}'", known.name));
        }
        list.push(known);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_list_parses_and_every_entry_has_evidence() {
        let list = parse(LIST).expect("tests/known-upstream-splats");
        assert!(!list.is_empty());
        for k in &list {
            assert!(k.evidence.len() > 40, "{}: evidence too thin", k.name);
        }
    }

    #[test]
    fn fields_continue_and_evidence_is_required() {
        let text = "# c\nname: a\nmachines: x86_64\nphase: boot\nmatch: foo\nwhy: one\n  two\nevidence: seen\n\nname: b\nmachines: arm\nphase: any\nmatch: bar\nwhy: w\n";
        let err = parse(text).unwrap_err();
        assert!(err.contains("'b' has no evidence"), "{err}");
        let list = parse(&text.replace("why: w\n", "why: w\nevidence: e\n")).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].why, "one two");
        assert_eq!(list[0].phase, Phase::Boot);
        assert_eq!(list[1].machines, vec!["arm".to_string()]);
        assert!(parse("name: a\nmachines: x\nphase: later\n").is_err());
        assert!(
            parse("name: a\nmachines: x\nphase: any\nmatch: m\nwhy: w\nevidence: e\nsee: x\n")
                .is_err()
        );
    }

    #[test]
    fn phase_and_machine_restrict_a_match() {
        let k = Known {
            name: "n".into(),
            machines: vec!["x86_64".into()],
            phase: Phase::Boot,
            pattern: "hrtimer_rs".into(),
            why: String::new(),
            evidence: String::new(),
        };
        let block = vec![
            "WARNING: x".to_string(),
            " doctest_hrtimer_rs+0x1".to_string(),
        ];
        assert!(k.matches("x86_64", Some(true), &block));
        assert!(!k.matches("x86_64", Some(false), &block));
        assert!(!k.matches("x86_64", None, &block));
        assert!(!k.matches("arm", Some(true), &block));
        assert!(!k.matches("x86_64", Some(true), &block[..1]));
        let any = Known {
            phase: Phase::Any,
            ..k
        };
        assert!(any.matches("x86_64", None, &block));
    }
}
