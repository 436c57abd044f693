//! Completion for the interactive shell: command names at the start of a
//! command, then the current command's `--options` (vshReadlineCompletion,
//! without the driver-backed value completers).

use crate::cmd::{self, OptKind};

/// Candidates for the word that ends at `pos` in `line`; returns the start
/// of that word and the candidates.
pub fn complete(line: &str, pos: usize) -> (usize, Vec<String>) {
    let upto = &line[..pos.min(line.len())];
    // The current command starts after the last ';' or newline.
    let cmd_start = upto.rfind([';', '\n']).map(|i| i + 1).unwrap_or(0);
    let cur = &upto[cmd_start..];
    let word_start = cur.rfind([' ', '\t']).map(|i| i + 1).unwrap_or(0);
    let word = &cur[word_start..];
    let start = cmd_start + word_start;
    let mut words = cur[..word_start].split_whitespace();
    match words.next() {
        None => {
            let mut v: Vec<String> = crate::defs::GROUPS
                .iter()
                .flat_map(|g| g.cmds.iter())
                .filter(|c| !c.is_hidden() && c.name.starts_with(word))
                .map(|c| c.name.to_string())
                .collect();
            v.sort();
            (start, v)
        }
        Some(name) => {
            let Some(def) = cmd::search(name) else {
                return (start, Vec::new());
            };
            if !word.is_empty() && !word.starts_with('-') {
                return (start, Vec::new());
            }
            let given: Vec<&str> = cur[..word_start].split_whitespace().collect();
            let v = def
                .opts
                .iter()
                .filter(|o| o.kind != OptKind::Alias)
                .map(|o| format!("--{}", o.name))
                .filter(|o| o.starts_with(word) && !given.contains(&o.as_str()))
                .collect();
            (start, v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_then_options() {
        let (s, v) = complete("domst", 5);
        assert_eq!(s, 0);
        assert!(v.contains(&"domstate".to_string()) && v.contains(&"domstats".to_string()));
        let (s, v) = complete("list --in", 9);
        assert_eq!(s, 5);
        assert_eq!(v, ["--inactive"]);
        let (_, v) = complete("list --all; dom", 15);
        assert!(v.iter().all(|c| c.starts_with("dom")));
    }
}
