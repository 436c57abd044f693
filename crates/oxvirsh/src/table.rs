//! virsh's column tables (` Id   Name   State` and a dashed rule).

use crate::out::{snake, Cell, J};

/// A table with a header row. Each cell also holds its JSON value; the
/// JSON keys are the headers in snake_case unless [`Table::keys`] names
/// them (for a column whose text carries a unit).
pub struct Table {
    rows: Vec<Vec<String>>,
    keys: Vec<String>,
    json: Vec<Vec<J>>,
}

fn encode(s: &str) -> (String, usize) {
    let mut out = String::new();
    let mut width = 0;
    let b = s.as_bytes();
    for (i, c) in s.char_indices() {
        if (c == '\\' && b.get(i + 1) == Some(&b'x')) || c.is_ascii_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
            width += 4;
        } else {
            out.push(c);
            width += 1;
        }
    }
    (out, width)
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
            keys: header.iter().map(|h| snake(h)).collect(),
            json: Vec::new(),
        }
    }

    /// The JSON keys of the columns, in order.
    pub fn keys(mut self, keys: &[&str]) -> Table {
        self.keys = keys.iter().map(|k| k.to_string()).collect();
        self
    }

    pub fn row<S: Into<Cell>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let (text, json): (Vec<String>, Vec<J>) = cells
            .into_iter()
            .map(|c| {
                let c = c.into();
                (c.text, c.json)
            })
            .unzip();
        self.rows.push(text);
        self.json.push(json);
    }

    /// The rows as a JSON array of objects.
    pub fn to_json(&self) -> J {
        J::Arr(
            self.json
                .iter()
                .map(|r| J::Obj(self.keys.iter().cloned().zip(r.iter().cloned()).collect()))
                .collect(),
        )
    }

    /// The table as text; the header and rule only when `header`.
    pub fn render(&self, header: bool) -> String {
        let n = self.rows[0].len();
        let enc: Vec<Vec<(String, usize)>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|c| encode(c)).collect())
            .collect();
        let mut max = vec![0usize; n];
        for (ri, r) in enc.iter().enumerate() {
            if ri == 0 && !header {
                continue;
            }
            for (i, (_, w)) in r.iter().enumerate().take(n) {
                max[i] = max[i].max(*w);
            }
        }
        let mut out = String::new();
        let print_row = |out: &mut String, r: &Vec<(String, usize)>| {
            for (i, (s, w)) in r.iter().enumerate() {
                out.push(' ');
                out.push_str(s);
                if i + 1 < r.len() {
                    for _ in 0..(max[i] - w + 2) {
                        out.push(' ');
                    }
                }
            }
            out.push('\n');
        };
        if header {
            print_row(&mut out, &enc[0]);
            for m in &max {
                out.push_str(&"-".repeat(m + 3));
            }
            out.push('\n');
        }
        for r in &enc[1..] {
            print_row(&mut out, r);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_virsh_layout() {
        let mut t = Table::new(&["Id", "Name", "State"]);
        t.row(["1", "test", "running"]);
        assert_eq!(
            t.render(true),
            " Id   Name   State\n----------------------\n 1    test   running\n"
        );
    }
}
