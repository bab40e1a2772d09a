// SPDX-License-Identifier: GPL-2.0

//! A KTAP (v1) parser that reduces a document to its leaf results.
//!
//! KUnit nests suites and parameterised tests by indentation; a test with
//! subtests prints its own result line after theirs. Only leaves are
//! counted, so a suite of ten tests counts ten, not eleven. A parent that
//! fails although none of its children did (a suite whose init failed) is
//! counted as one failure of its own. Plans are checked at every level, and
//! the outermost one is required, so a test that stopped half way fails.

/// The outcome of one test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

/// One leaf result, with the diagnostics printed just before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Result {
    pub name: String,
    pub outcome: Outcome,
    pub diag: Vec<String>,
}

/// A parsed document: its leaf results and what was wrong with its shape.
#[derive(Debug, Default)]
pub struct Document {
    pub results: Vec<Result>,
    pub errors: Vec<String>,
}

struct ResultLine<'a> {
    ok: bool,
    number: usize,
    desc: &'a str,
    skip: bool,
}

fn parse_result(line: &str) -> Option<ResultLine<'_>> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("ok ") {
        (true, r)
    } else if let Some(r) = line.strip_prefix("not ok ") {
        (false, r)
    } else {
        return None;
    };
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let number = rest[..digits].parse().ok()?;
    let mut desc = rest[digits..].trim_start();
    desc = desc.strip_prefix("- ").unwrap_or(desc);
    let (desc, directive) = match desc.find(" # ") {
        Some(i) => (&desc[..i], desc[i + 3..].trim()),
        None => match desc.strip_prefix("# ") {
            Some(d) => ("", d.trim()),
            None => (desc, ""),
        },
    };
    let skip = directive.len() >= 4 && directive[..4].eq_ignore_ascii_case("skip");
    Some(ResultLine {
        ok,
        number,
        desc: desc.trim(),
        skip,
    })
}

fn parse_plan(line: &str) -> Option<usize> {
    line.strip_prefix("1..")?.trim().parse().ok()
}

fn indent_of(line: &str) -> usize {
    let mut n = 0;
    for c in line.chars() {
        match c {
            ' ' => n += 1,
            '\t' => n += 4,
            _ => break,
        }
    }
    n
}

#[derive(Default)]
struct Level {
    plan: Option<usize>,
    count: usize,
    /// A result at a deeper level was seen since this level's last result.
    children: bool,
    /// A leaf failed below this level since its last result.
    child_failed: bool,
    subtest: Option<String>,
}

/// Parses one KTAP document.
pub fn parse(text: &str) -> Document {
    let mut doc = Document::default();
    let mut levels: Vec<(usize, Level)> = Vec::new();
    let mut diag: Vec<String> = Vec::new();
    let mut seen_version = false;

    fn close_deeper(levels: &mut Vec<(usize, Level)>, indent: usize, errors: &mut Vec<String>) {
        while let Some((i, _)) = levels.last() {
            if *i <= indent {
                break;
            }
            if let Some((i, l)) = levels.pop() {
                check_plan(i, &l, errors);
            }
        }
    }

    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let indent = indent_of(line);
        let body = line.trim();
        if body.starts_with("KTAP version") || body.starts_with("TAP version") {
            // A new block at this indent: forget the previous one's name.
            seen_version = true;
            close_deeper(&mut levels, indent, &mut doc.errors);
            if let Some(p) = levels.iter().position(|(i, _)| *i == indent) {
                if levels[p].1.count > 0 || levels[p].1.plan.is_some() {
                    let (i, l) = levels.remove(p);
                    check_plan(i, &l, &mut doc.errors);
                }
            }
            continue;
        }
        if let Some(name) = body.strip_prefix("# Subtest:") {
            level_at(&mut levels, indent).subtest = Some(name.trim().to_string());
            continue;
        }
        if let Some(d) = body.strip_prefix('#') {
            diag.push(d.trim().to_string());
            continue;
        }
        if let Some(n) = parse_plan(body) {
            level_at(&mut levels, indent).plan = Some(n);
            continue;
        }
        let Some(r) = parse_result(body) else {
            continue;
        };
        close_deeper(&mut levels, indent, &mut doc.errors);
        let prefix: Vec<String> = levels
            .iter()
            .filter(|(i, _)| *i <= indent)
            .filter_map(|(_, l)| l.subtest.clone())
            .collect();
        let level = level_at(&mut levels, indent);
        level.count += 1;
        if r.number != level.count {
            doc.errors.push(format!(
                "test '{}' is numbered {} but is result {} at its level",
                r.desc, r.number, level.count
            ));
        }
        let was_parent = level.children;
        let child_failed = level.child_failed;
        level.children = false;
        level.child_failed = false;
        let mut name = prefix;
        name.push(r.desc.to_string());
        let name = name.join(".");
        let outcome = if r.skip {
            Outcome::Skip
        } else if r.ok {
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        let leaf = !was_parent || (outcome == Outcome::Fail && !child_failed);
        if leaf {
            doc.results.push(Result {
                name,
                outcome,
                diag: std::mem::take(&mut diag),
            });
        } else {
            diag.clear();
        }
        let failed = leaf && outcome == Outcome::Fail || child_failed;
        for (i, l) in levels.iter_mut() {
            if *i < indent {
                l.children = true;
                l.child_failed |= failed;
            }
        }
    }
    close_deeper(&mut levels, 0, &mut doc.errors);
    match levels.pop() {
        Some((i, l)) => {
            if l.plan.is_none() {
                doc.errors
                    .push("no plan at the top level: the test ended early".to_string());
            }
            check_plan(i, &l, &mut doc.errors);
        }
        None => doc.errors.push("no KTAP results at all".to_string()),
    }
    if !seen_version {
        doc.errors.push("no 'KTAP version' line".to_string());
    }
    doc
}

fn level_at(levels: &mut Vec<(usize, Level)>, indent: usize) -> &mut Level {
    let pos = levels.iter().position(|(i, _)| *i >= indent);
    match pos {
        Some(p) if levels[p].0 == indent => {}
        Some(p) => levels.insert(p, (indent, Level::default())),
        None => levels.push((indent, Level::default())),
    }
    let p = levels.iter().position(|(i, _)| *i == indent).unwrap_or(0);
    &mut levels[p].1
}

fn check_plan(indent: usize, l: &Level, errors: &mut Vec<String>) {
    if let Some(plan) = l.plan {
        if plan != l.count {
            errors.push(format!(
                "plan says {plan} tests at indent {indent}, {} ran",
                l.count
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcomes(d: &Document) -> Vec<(&str, Outcome)> {
        d.results
            .iter()
            .map(|r| (r.name.as_str(), r.outcome))
            .collect()
    }

    #[test]
    fn kunit_boot_format_counts_leaves_only() {
        let d = parse(
            "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: example\n    # module: m\n    1..2\n    ok 1 a\n    # b: expected 1\n    not ok 2 b\nnot ok 1 example\n",
        );
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(
            outcomes(&d),
            vec![("example.a", Outcome::Pass), ("example.b", Outcome::Fail)]
        );
        assert_eq!(d.results[1].diag, vec!["b: expected 1".to_string()]);
    }

    #[test]
    fn nested_parameterised_tests() {
        let d = parse(
            "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: suite\n    1..2\n        KTAP version 1\n        # Subtest: p\n        ok 1 x\n        ok 2 y # SKIP no hw\n    ok 1 p\n    ok 2 q\nok 1 suite\n",
        );
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(
            outcomes(&d),
            vec![
                ("suite.p.x", Outcome::Pass),
                ("suite.p.y", Outcome::Skip),
                ("suite.q", Outcome::Pass)
            ]
        );
    }

    #[test]
    fn sibling_suites_keep_their_own_names_and_plans() {
        let d = parse(
            "KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: s1\n    1..1\n    ok 1 a\nok 1 s1\n    KTAP version 1\n    # Subtest: s2\n    1..2\n    ok 1 b\n    ok 2 c\nok 2 s2\n",
        );
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(
            outcomes(&d),
            vec![
                ("s1.a", Outcome::Pass),
                ("s2.b", Outcome::Pass),
                ("s2.c", Outcome::Pass)
            ]
        );
    }

    #[test]
    fn failed_parent_without_failed_children_counts() {
        let d = parse("KTAP version 1\n1..1\n    1..1\n    ok 1 a\nnot ok 1 suite\n");
        assert_eq!(
            outcomes(&d),
            vec![("a", Outcome::Pass), ("suite", Outcome::Fail)]
        );
    }

    #[test]
    fn trailing_plan_and_diagnostics() {
        let d =
            parse("KTAP version 1\nok 1 first\n# expected 'x', got 'y'\nnot ok 2 second\n1..2\n");
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(d.results[1].diag, vec!["expected 'x', got 'y'".to_string()]);
    }

    #[test]
    fn missing_plan_is_an_error() {
        let d = parse("KTAP version 1\nok 1 first\n");
        assert_eq!(d.errors.len(), 1);
    }

    #[test]
    fn empty_document_is_an_error() {
        assert!(!parse("").errors.is_empty());
    }

    #[test]
    fn wrong_plan_is_an_error() {
        let d = parse("KTAP version 1\n1..3\nok 1 a\nok 2 b\n");
        assert_eq!(d.errors.len(), 1);
    }
}
